import MailPortCore

/// Parses `--ports`: a comma-separated list of standard mail ports (`25,587`) and `PORT=SERVICE` entries
/// (`2525=submission`). A port that is not one of the seven needs its service named.
public func parsePortList(_ text: String) throws(MailPortError) -> [PortSpec] {
    let services = MailService.allCases.map(\.rawValue).joined(separator: ", ")
    var specs: [PortSpec] = []
    for rawEntry in text.split(separator: ",", omittingEmptySubsequences: false) {
        let entry = rawEntry.trimmingWhitespace()
        func bad(_ why: String) -> MailPortError {
            .invalidInput("invalid port '\(printable(entry))' in --ports: \(why)")
        }
        guard !entry.isEmpty else { throw bad("empty entry; expected PORT or PORT=SERVICE separated by commas") }
        let pieces = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let portText = pieces[0].trimmingWhitespace()
        guard portText.count <= 5, !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let number = Int(portText), (1...65535).contains(number)
        else { throw bad("expected a port number from 1 to 65535") }
        let port = UInt16(number)
        let service: MailService
        if pieces.count == 2 {
            guard let named = MailService.named(pieces[1].trimmingWhitespace()) else {
                throw bad("unknown service '\(printable(pieces[1]))'; expected one of \(services)")
            }
            service = named
        } else if let standard = MailService.standard(forPort: port) {
            service = standard
        } else {
            throw bad("port \(port) is not a standard mail port; expected PORT=SERVICE with one of \(services)")
        }
        guard !specs.contains(where: { $0.port == port }) else { throw bad("port \(port) is listed twice") }
        specs.append(PortSpec(port: port, service: service))
    }
    return specs
}
