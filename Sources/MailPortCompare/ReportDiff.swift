import MailPortCore

/// `mailport diff OLD NEW`: what changed between two reports, for people and for CI (worse → exit status 1).
public struct ReportDiff: Sendable {
    public struct EndpointChange: Sendable, Equatable {
        public var location: String
        public var service: String
    }

    public struct FindingChange: Sendable, Equatable {
        public var location: String
        public var rule: String
        public var severity: Severity
        public var title: String
        public var waived: Bool
    }

    /// A grade that changed; nil is "no grade" (no open port, or rules did not run).
    public struct GradeChange: Sendable, Equatable {
        public var host: String
        public var old: Grade?
        public var new: Grade?
    }

    public struct CertificateChange: Sendable, Equatable {
        public var location: String
        public var old: String
        public var new: String
    }

    public var openedEndpoints: [EndpointChange] = []
    public var closedEndpoints: [EndpointChange] = []
    public var newFindings: [FindingChange] = []
    public var resolvedFindings: [FindingChange] = []
    public var severityChanges: [(FindingChange, Severity)] = []
    public var gradeChanges: [GradeChange] = []
    public var certificateChanges: [CertificateChange] = []
    public var overallGrade: (old: Grade?, new: Grade?)?

    /// What the two scans covered differently (targets, exclusions, ports, mail domains), as one line; nil when they
    /// covered the same. Opened and closed ports between such reports may only reflect the change of scope.
    public var coverageDifference: String?

    /// A grade as the change list writes it.
    static func label(_ grade: Grade?) -> String { grade?.rawValue ?? "–" }

    static func coverageDifference(old: ScanReport, new: ScanReport) -> String? {
        func list(_ items: [String]) -> String {
            let shown = items.prefix(5).map { printable($0, limit: 60) }.joined(separator: " ")
            return items.isEmpty ? "none" : shown + (items.count > 5 ? " … (\(items.count) in all)" : "")
        }
        var parts: [String] = []
        func compare(_ what: String, _ before: [String], _ after: [String]) {
            if Set(before) != Set(after) { parts.append("\(what) \(list(before)) then \(list(after))") }
        }
        compare("targets", old.scan.targets, new.scan.targets)
        compare("exclusions", old.scan.excludes, new.scan.excludes)
        compare("ports", old.scan.ports.map(\.description), new.scan.ports.map(\.description))
        compare("domains", (old.domains ?? []).map(\.name), (new.domains ?? []).map(\.name))
        guard !parts.isEmpty else { return nil }
        return "the reports cover different scopes (" + parts.joined(separator: "; ")
            + "): ports and findings outside either may show as opened, closed, new or resolved"
    }

    /// Something got worse: a new counted finding, a finding that became more severe, or a worse grade (a report
    /// carries no rule set, so grades rank by the built-in scale; none, or one outside it, ranks worst).
    public var isWorse: Bool {
        newFindings.contains { !$0.waived }
            || severityChanges.contains { $0.1 > $0.0.severity }
            || gradeChanges.contains { Grade.builtinRank($0.new) > Grade.builtinRank($0.old) }
            || overallGrade.map { Grade.builtinRank($0.new) > Grade.builtinRank($0.old) } ?? false
    }

    public var isEmpty: Bool {
        openedEndpoints.isEmpty && closedEndpoints.isEmpty && newFindings.isEmpty && resolvedFindings.isEmpty
            && severityChanges.isEmpty && gradeChanges.isEmpty && certificateChanges.isEmpty && overallGrade == nil
    }

    public init(old: ScanReport, new: ScanReport) {
        coverageDifference = Self.coverageDifference(old: old, new: new)
        func endpoints(_ report: ScanReport) -> [String: (ScanReport.Host, ScanReport.Endpoint)] {
            var map: [String: (ScanReport.Host, ScanReport.Endpoint)] = [:]
            for host in report.hosts {
                for endpoint in host.endpoints {
                    map[ScanReport.location(host.address, endpoint.port)] = (host, endpoint)
                }
            }
            return map
        }
        let before = endpoints(old)
        let after = endpoints(new)
        for key in Set(before.keys).union(after.keys).sorted() {
            let wasOpen = before[key]?.1.state == .open
            let isOpen = after[key]?.1.state == .open
            let service = (after[key] ?? before[key])!.1.service.rawValue
            if isOpen && !wasOpen { openedEndpoints.append(EndpointChange(location: key, service: service)) }
            if wasOpen && !isOpen { closedEndpoints.append(EndpointChange(location: key, service: service)) }
            compareFindings(at: key, old: before[key]?.1.findings ?? [], new: after[key]?.1.findings ?? [])
            let oldCertificate = before[key]?.1.dialog?.tls?.certificate
            let newCertificate = after[key]?.1.dialog?.tls?.certificate
            if let oldCertificate, let newCertificate, oldCertificate.sha256 != newCertificate.sha256 {
                certificateChanges.append(
                    CertificateChange(
                        location: key,
                        old:
                            "\(oldCertificate.subject), expires \(oldCertificate.notAfter), sha256 \(oldCertificate.sha256.prefix(16))…",
                        new:
                            "\(newCertificate.subject), expires \(newCertificate.notAfter), sha256 \(newCertificate.sha256.prefix(16))…"
                    ))
            }
        }
        let oldGrades = Dictionary(old.hosts.map { ($0.address, $0.grade) }, uniquingKeysWith: { first, _ in first })
        for host in new.hosts {
            if let previous = oldGrades[host.address], previous != host.grade {
                gradeChanges.append(GradeChange(host: host.address, old: previous, new: host.grade))
            }
        }
        // Domain mode: domain findings and grades, under `domain NAME`.
        let oldDomains = Dictionary((old.domains ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let newDomains = Dictionary((new.domains ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for name in Set(oldDomains.keys).union(newDomains.keys).sorted() {
            let location = ScanReport.domainLocation(name)
            compareFindings(at: location, old: oldDomains[name]?.findings ?? [], new: newDomains[name]?.findings ?? [])
            if let previous = oldDomains[name]?.grade, let current = newDomains[name]?.grade, previous != current {
                gradeChanges.append(GradeChange(host: location, old: previous, new: current))
            }
        }
        if old.summary.grade != new.summary.grade { overallGrade = (old.summary.grade, new.summary.grade) }
        newFindings.sort { $0.severity > $1.severity }
        resolvedFindings.sort { $0.severity > $1.severity }
    }

    /// New, resolved and re-rated findings at one place (an endpoint or a domain), by rule.
    private mutating func compareFindings(at location: String, old: [ScanReport.Finding], new: [ScanReport.Finding]) {
        let oldFindings = Dictionary(old.map { ($0.rule, $0) }, uniquingKeysWith: { first, _ in first })
        let newFindingsHere = Dictionary(new.map { ($0.rule, $0) }, uniquingKeysWith: { first, _ in first })
        for (rule, finding) in newFindingsHere.sorted(by: { $0.key < $1.key }) {
            if let previous = oldFindings[rule] {
                if previous.severity != finding.severity {
                    severityChanges.append(
                        (
                            FindingChange(
                                location: location, rule: rule, severity: previous.severity,
                                title: previous.title, waived: previous.waived), finding.severity
                        ))
                }
            } else {
                newFindings.append(
                    FindingChange(
                        location: location, rule: rule, severity: finding.severity,
                        title: finding.title, waived: finding.waived))
            }
        }
        for (rule, finding) in oldFindings.sorted(by: { $0.key < $1.key }) where newFindingsHere[rule] == nil {
            resolvedFindings.append(
                FindingChange(
                    location: location, rule: rule, severity: finding.severity,
                    title: finding.title, waived: finding.waived))
        }
    }

    /// The change list as text, one item per line (server text made printable).
    public func describe() -> String {
        guard !isEmpty else { return "no changes" }
        var lines: [String] = []
        if let overallGrade {
            lines.append(
                "overall grade: \(Self.label(overallGrade.old)) -> \(Self.label(overallGrade.new))\(Grade.builtinRank(overallGrade.new) > Grade.builtinRank(overallGrade.old) ? " (worse)" : " (better)")"
            )
        }
        func section(_ title: String, _ items: [String]) {
            guard !items.isEmpty else { return }
            lines.append("\(title) (\(items.count)):")
            lines += items.map { "  " + printable($0, limit: 300) }
        }
        section("new open ports", openedEndpoints.map { "\($0.location) \($0.service)" })
        section("closed ports", closedEndpoints.map { "\($0.location) \($0.service)" })
        section(
            "new findings",
            newFindings.map {
                "\($0.severity.rawValue) \($0.rule) \($0.location): \($0.title)\($0.waived ? " (waived)" : "")"
            })
        section(
            "resolved findings",
            resolvedFindings.map { "\($0.severity.rawValue) \($0.rule) \($0.location): \($0.title)" })
        section(
            "severity changes",
            severityChanges.map { "\($0.0.rule) \($0.0.location): \($0.0.severity.rawValue) -> \($0.1.rawValue)" })
        section("grade changes", gradeChanges.map { "\($0.host): \(Self.label($0.old)) -> \(Self.label($0.new))" })
        section("certificate changes", certificateChanges.map { "\($0.location): \($0.old) -> \($0.new)" })
        lines.append(isWorse ? "verdict: worse" : "verdict: not worse")
        return lines.joined(separator: "\n")
    }
}
