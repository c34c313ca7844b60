import MailPortCore

/// The TXT records of the mail transport policies, read the way sending servers read them. The texts come from DNS
/// already escaped (`DNSWire`: bytes outside printable ASCII as `\DDD`); here they are bounded once more before they
/// reach a report.
public enum PolicyRecords {
    /// At most this many records of one kind are kept, each cut to this many characters.
    static let recordLimit = 8
    static let recordLength = 512

    static func bounded(_ records: [String]) -> [String] {
        records.prefix(recordLimit).map { String($0.prefix(recordLength)) }
    }

    /// RFC 8461 §3.1: records that do not begin with `v=STSv1` are discarded; exactly one must remain, and it must be
    /// valid, or senders assume the domain has no policy.
    public static func mtaSTS(lookup: DomainObservation.LookupOutcome, texts: [String]) -> MTASTSObservation {
        let (records, single) = soleRecord(texts, version: "v=STSv1")
        var observation = MTASTSObservation(lookup: lookup, records: records)
        guard case .fields(let fields) = single else {
            if case .problem(let problem) = single { observation.recordProblems.append(problem) }
            return observation
        }
        var ids: [String] = []
        for field in fields {
            if field.hasPrefix("id=") {
                ids.append(String(field.dropFirst(3)))
            } else if !isExtension(field, valueAllowed: { $0 >= 0x21 && $0 <= 0x7E && $0 != 0x3B && $0 != 0x3D }) {
                observation.recordProblems.append("\(quote(field)) is not a field (name=value)")
            }
        }
        if ids.isEmpty {
            observation.recordProblems.append("the record has no id field")
        } else if ids.count > 1 {
            observation.recordProblems.append("the record has \(ids.count) id fields")
        } else if let id = ids.first {
            if (1...32).contains(id.utf8.count) && id.utf8.allSatisfy(isAlphanumeric) {
                observation.id = id
            } else {
                observation.recordProblems.append("id \(quote(id)) is not 1 to 32 letters and digits")
            }
        }
        return observation
    }

    /// RFC 8460 §3: `v=TLSRPTv1; rua=URI[,URI...]`, exactly one such record, every URI `mailto:` or `https:`.
    public static func tlsRPT(lookup: DomainObservation.LookupOutcome, texts: [String]) -> TLSRPTObservation {
        let (records, single) = soleRecord(texts, version: "v=TLSRPTv1")
        var observation = TLSRPTObservation(lookup: lookup, records: records)
        guard case .fields(let fields) = single else {
            if case .problem(let problem) = single { observation.problems.append(problem) }
            return observation
        }
        var ruaFields = 0
        for field in fields {
            if field.hasPrefix("rua=") {
                ruaFields += 1
                for uri in field.dropFirst(4).split(separator: ",", omittingEmptySubsequences: false) {
                    let uri = uri.trimmingWhitespace()
                    let lowered = uri.lowercased()
                    if (lowered.hasPrefix("mailto:") && uri.count > 7 && uri.contains("@"))
                        || (lowered.hasPrefix("https://") && uri.count > 8)
                    {
                        if observation.rua.count < 8 { observation.rua.append(String(uri.prefix(256))) }
                    } else {
                        observation.problems.append(
                            "rua \(quote(uri)) is not a mailto: address or an https: URI")
                    }
                }
            } else if !isExtension(field, valueAllowed: { $0 >= 0x21 && $0 <= 0x7E && $0 != 0x3B && $0 != 0x3D }) {
                observation.problems.append("\(quote(field)) is not a field (name=value)")
            }
        }
        if ruaFields == 0 {
            observation.problems.append("the record has no rua field: reports have nowhere to go")
        } else if ruaFields > 1 {
            observation.problems.append("the record has \(ruaFields) rua fields")
        }
        return observation
    }

    enum SoleRecord {
        case none
        case problem(String)
        /// The one record's fields after the version field.
        case fields(ArraySlice<String>)
    }

    /// Both RFCs read a record set the same way: the TXT records that begin with the version are the candidates
    /// (bounded for the report), there must be exactly one, and its first field must be the version itself.
    static func soleRecord(_ texts: [String], version: String) -> (records: [String], SoleRecord) {
        let records = texts.filter { $0.hasPrefix(version) }
        guard !records.isEmpty else { return ([], .none) }
        guard records.count == 1 else {
            return (
                bounded(records),
                .problem(
                    "\(records.count) TXT records begin with \(version); senders ignore them all unless there is exactly one"
                )
            )
        }
        let fields = splitFields(records[0])
        guard fields.first == version else {
            return (
                bounded(records),
                .problem("the record does not begin with the field \(version): \(quote(fields.first ?? ""))")
            )
        }
        return (bounded(records), .fields(fields.dropFirst()))
    }

    /// Fields between `;` delimiters with the white space around them dropped, and an empty last field (a trailing
    /// delimiter, which both RFCs allow) left out.
    static func splitFields(_ record: String) -> [String] {
        var fields = record.split(separator: ";", omittingEmptySubsequences: false).map {
            String($0).trimmingWhitespace()
        }
        if fields.count > 1, fields.last?.isEmpty == true { fields.removeLast() }
        return fields
    }

    /// `name=value` with a name of a letter or digit and up to 31 more of letters, digits, `_`, `-` and `.`.
    static func isExtension(_ field: String, valueAllowed: (UInt8) -> Bool) -> Bool {
        guard let equals = field.firstIndex(of: "=") else { return false }
        let name = field[..<equals].utf8
        let value = field[field.index(after: equals)...].utf8
        guard let first = name.first, isAlphanumeric(first), name.count <= 32,
            name.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == 0x2E }),
            !value.isEmpty, value.allSatisfy(valueAllowed)
        else { return false }
        return true
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    static func quote<S: StringProtocol>(_ text: S) -> String {
        "'" + printable(String(text.prefix(80)), limit: 80) + "'"
    }
}
