import MailPortCore

/// Views of a judged report that several writers share.
struct LocatedFinding {
    enum Place {
        case endpoint(ScanReport.Host, ScanReport.Endpoint)
        /// A finding of the domain rules (`--domain`).
        case domain(DomainObservation)
    }

    var place: Place
    var finding: ScanReport.Finding

    /// `192.0.2.1:25`, `[2001:db8::1]:25`, or the domain's name.
    var location: String {
        switch place {
        case .endpoint(let host, let endpoint): return ScanReport.location(host.address, endpoint.port)
        case .domain(let domain): return domain.name
        }
    }

    /// The location as a relative URI reference, for SARIF's `artifactLocation.uri` (GitHub code scanning wants one):
    /// `hosts/192.0.2.1/25`, `hosts/2001:db8::1/25` (a colon is allowed after the first path segment, never in it,
    /// where `mail.example.org:25` would read as a URI scheme), `domains/example.org`. Anything outside RFC 3986's
    /// unreserved characters and ":" is percent-encoded, so a hostile name cannot make it something else.
    var uri: String {
        func segment(_ text: String) -> String {
            var encoded = ""
            for byte in text.utf8 {
                let character = Character(Unicode.Scalar(byte))
                if byte < 0x80, character.isLetter || character.isNumber || "-._~:".contains(character) {
                    encoded.append(character)
                } else {
                    encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
                }
            }
            return encoded
        }
        switch place {
        case .endpoint(let host, let endpoint): return "hosts/\(segment(host.address))/\(endpoint.port)"
        case .domain(let domain): return "domains/\(segment(domain.name))"
        }
    }

    /// What the location is: the endpoint's service, or `dns` for a domain.
    var kind: String {
        switch place {
        case .endpoint(_, let endpoint): return endpoint.service.rawValue
        case .domain: return "dns"
        }
    }

    /// The grade of the host or domain the finding belongs to.
    var grade: Grade? {
        switch place {
        case .endpoint(let host, _): return host.grade
        case .domain(let domain): return domain.grade
        }
    }
}

extension ScanReport {
    /// Whether this finding is one that fails the run (counted and at or above `--fail-on`).
    func fails(_ finding: Finding) -> Bool { !finding.waived && summary.failOn.isMet(by: finding.severity) }

    /// Scan duration in seconds: the measured wall time, or for reports without it (merged, older) the span of the
    /// time stamps (0 when they cannot be read).
    public var durationSeconds: Double {
        if let measured = scan.durationSeconds { return measured }
        guard let start = ReportTime.parse(scan.startedAt), let end = ReportTime.parse(scan.finishedAt) else {
            return 0
        }
        return max(0, end.timeIntervalSince(start))
    }
}
