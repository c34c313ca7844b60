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

    /// What `diff` needs of one report: per endpoint its state, service, findings (rule, severity, title, waived)
    /// and certificate; per host its grade; and the report without its hosts. Built host by host as the report is
    /// read (`add`, then `finish`), so two reports of 100,000 endpoints are compared without holding either whole.
    public struct Side: Sendable {
        struct FindingFact: Sendable {
            var rule: String
            var severity: Severity
            var title: String
            var waived: Bool
        }

        struct EndpointFacts: Sendable {
            var state: PortState
            var service: MailService
            var findings: [FindingFact]
            /// The certificate's SHA-256 and how a change line describes it.
            var certificate: (sha256: String, text: String)?
        }

        /// By `ScanReport.location` (a later listing of the same endpoint wins, as in a dictionary of the hosts).
        var endpoints: [String: EndpointFacts] = [:]
        /// Each host's grade, in report order.
        var grades: [(address: String, grade: Grade?)] = []
        /// The report without its hosts (set by `finish`).
        var frame: ScanReport?
        /// Rule ids and titles repeat across hosts: one copy of each is kept.
        private var texts: Set<String> = []

        public init() {}

        /// A whole report held in memory.
        public init(_ report: ScanReport) {
            for host in report.hosts { add(host) }
            finish(report)
        }

        private mutating func shared(_ text: String) -> String { texts.insert(text).memberAfterInsert }

        func facts(_ findings: [ScanReport.Finding]) -> [FindingFact] {
            findings.map {
                FindingFact(rule: $0.rule, severity: $0.severity, title: $0.title, waived: $0.waived)
            }
        }

        public mutating func add(_ host: ScanReport.Host) {
            grades.append((host.address, host.grade))
            for endpoint in host.endpoints {
                let certificate = endpoint.dialog?.tls?.certificate.map {
                    (
                        $0.sha256,
                        "\($0.subject), expires \($0.notAfter), sha256 \($0.sha256.prefix(16))…"
                    )
                }
                endpoints[ScanReport.location(host.address, endpoint.port)] = EndpointFacts(
                    state: endpoint.state, service: endpoint.service,
                    findings: endpoint.findings.map {
                        FindingFact(
                            rule: shared($0.rule), severity: $0.severity, title: shared($0.title), waived: $0.waived)
                    },
                    certificate: certificate)
            }
        }

        /// The report without its hosts (they were added one by one).
        public mutating func finish(_ report: ScanReport) {
            var frame = report
            frame.hosts = []
            self.frame = frame
        }
    }

    public init(old: ScanReport, new: ScanReport) {
        self.init(old: Side(old), new: Side(new))
    }

    /// Both sides finished (`Side.finish`).
    public init(old: Side, new: Side) {
        guard let oldFrame = old.frame, let newFrame = new.frame else {
            preconditionFailure("a side of a diff compared before its report was finished")
        }
        coverageDifference = Self.coverageDifference(old: oldFrame, new: newFrame)
        let before = old.endpoints
        let after = new.endpoints
        for key in Set(before.keys).union(after.keys).sorted() {
            let wasOpen = before[key]?.state == .open
            let isOpen = after[key]?.state == .open
            let service = (after[key] ?? before[key])!.service.rawValue
            if isOpen && !wasOpen { openedEndpoints.append(EndpointChange(location: key, service: service)) }
            if wasOpen && !isOpen { closedEndpoints.append(EndpointChange(location: key, service: service)) }
            compareFindings(at: key, old: before[key]?.findings ?? [], new: after[key]?.findings ?? [])
            if let oldCertificate = before[key]?.certificate, let newCertificate = after[key]?.certificate,
                oldCertificate.sha256 != newCertificate.sha256
            {
                certificateChanges.append(
                    CertificateChange(location: key, old: oldCertificate.text, new: newCertificate.text))
            }
        }
        let oldGrades = Dictionary(old.grades.map { ($0.address, $0.grade) }, uniquingKeysWith: { first, _ in first })
        for host in new.grades {
            if let previous = oldGrades[host.address], previous != host.grade {
                gradeChanges.append(GradeChange(host: host.address, old: previous, new: host.grade))
            }
        }
        // Domain mode: domain findings and grades, under `domain NAME`.
        let oldDomains = Dictionary(
            (oldFrame.domains ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let newDomains = Dictionary(
            (newFrame.domains ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for name in Set(oldDomains.keys).union(newDomains.keys).sorted() {
            let location = ScanReport.domainLocation(name)
            compareFindings(
                at: location, old: old.facts(oldDomains[name]?.findings ?? []),
                new: new.facts(newDomains[name]?.findings ?? []))
            if let previous = oldDomains[name]?.grade, let current = newDomains[name]?.grade, previous != current {
                gradeChanges.append(GradeChange(host: location, old: previous, new: current))
            }
        }
        if oldFrame.summary.grade != newFrame.summary.grade {
            overallGrade = (oldFrame.summary.grade, newFrame.summary.grade)
        }
        newFindings.sort { $0.severity > $1.severity }
        resolvedFindings.sort { $0.severity > $1.severity }
    }

    /// New, resolved and re-rated findings at one place (an endpoint or a domain), by rule.
    private mutating func compareFindings(at location: String, old: [Side.FindingFact], new: [Side.FindingFact]) {
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
