import MailPortCore

/// MP-SRV-UNREACHABLE: an SRV target with no address, or whose advertised port was closed or filtered on every
/// address in this scan. Only judged when discovery ran to its end over that port.
struct DomainSRVUnreachableCheck: DomainCheck {
    let id = "MP-SRV-UNREACHABLE"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        context.domain.srv.filter { !$0.declaresUnavailable }.compactMap { srv -> String? in
            let record = "_\(srv.service)._tcp.\(context.domain.name) → \(srv.target):\(srv.port)"
            if srv.addresses.isEmpty {
                guard !srv.resolution.isFailure else { return nil }
                return "\(record): the target has no A or AAAA record"
            }
            guard context.discoveryComplete, context.scannedPorts.contains(srv.port) else { return nil }
            let states = srv.addresses.map { address -> String in
                let endpoint = context.hosts[address]?.endpoints.first { $0.port == srv.port }
                return endpoint?.state.rawValue ?? "closed or filtered"
            }
            guard !states.contains(PortState.open.rawValue) else { return nil }
            let detail = zip(srv.addresses, states).map { "\(ScanReport.location($0, srv.port)) \($1)" }
            return "\(record): no address answers (\(detail.joined(separator: ", ")))"
        }
    }
}
