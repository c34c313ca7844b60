import Foundation
import MailPortCore

/// A profile with its `extends` chain applied: which rules run, at what severity, with which parameters.
public struct ResolvedProfile: Sendable {
    public var id: String
    /// Rules that run, in rule-set order, with the profile's severities and parameters in place.
    public var rules: [RuleDefinition]
    public var adjustments: [Adjustment]
    public var allHostsMX: Bool
}

extension RuleSet {
    /// The profile by name, resolved along its `extends` chain (root first, so the named profile has the last word).
    public func resolve(profile name: String) throws -> ResolvedProfile {
        guard profiles[name] != nil else {
            throw MailPortError.invalidInput(
                "unknown profile '\(printable(name))'; expected one of: \(profiles.keys.sorted().joined(separator: ", "))"
            )
        }
        var chain: [Profile] = []
        var cursor: String? = name
        while let id = cursor, let profile = profiles[id] {
            chain.insert(profile, at: 0)
            cursor = profile.extends
        }
        var enabled = Dictionary(uniqueKeysWithValues: rules.map { ($0.id, $0.enabled) })
        var adjusted = Dictionary(uniqueKeysWithValues: rules.map { ($0.id, $0) })
        var adjustments: [Adjustment] = []
        var allHostsMX = false
        for profile in chain {
            for id in profile.enable { enabled[id] = true }
            for id in profile.disable { enabled[id] = false }
            for (id, severity) in profile.severities { adjusted[id]?.severity = severity }
            for (id, values) in profile.parameters {
                for (key, value) in values { adjusted[id]?.parameters.values[key] = value }
            }
            adjustments += profile.adjustments
            if let flag = profile.allHostsMX { allHostsMX = flag }
        }
        return ResolvedProfile(
            id: name, rules: rules.compactMap { enabled[$0.id] == true ? adjusted[$0.id] : nil },
            adjustments: adjustments, allHostsMX: allHostsMX
        )
    }
}

/// Stages 4 and 5: runs the rules over the facts of a report, applies waivers, grades hosts and the whole scan,
/// and decides the verdict for `--fail-on`. The input's findings and grades are replaced, so a merged or old
/// report can be judged again.
public struct RuleEngine: Sendable {
    public let ruleSet: RuleSet
    public let profile: ResolvedProfile

    public init(ruleSet: RuleSet, profile: String) throws {
        self.ruleSet = ruleSet
        self.profile = try ruleSet.resolve(profile: profile)
    }

    /// `warning` hears what the rules could not decide (a pattern search that used up its step budget): the fact
    /// is left unknown, so the rule does not fire there, and the run says so instead of hanging or guessing.
    public func evaluate(
        _ report: ScanReport, waivers: [Waiver] = [], failOn: FailThreshold, now: Date,
        warning: (String) -> Void = { _ in }
    ) -> ScanReport {
        var report = report
        // One pass over the hosts, one host in hand at a time (a large run's hosts are on disk).
        var judging = startJudging(waivers: waivers, now: now, domains: report.domains ?? [])
        for index in report.hosts.indices {
            report.hosts[index] = judging.judge(report.hosts[index])
        }
        return judging.finish(report, failOn: failOn, warning: warning)
    }

    /// Judging that takes the hosts one at a time, as they are made: a run judges each host as it assembles it,
    /// instead of writing every host to its spool, reading each back to judge it and writing it again.
    public func startJudging(waivers: [Waiver], now: Date, domains: [DomainObservation]) -> HostJudging {
        HostJudging(engine: self, waivers: waivers, now: now, domainHosts: Set(domains.flatMap(\.hosts)))
    }

    /// What judging host by host gathers for the summary and the domains (`evaluate` is one loop over it).
    public struct HostJudging: Sendable {
        let engine: RuleEngine
        let waivers: [Waiver]
        let now: Date
        let domainHosts: Set<String>
        var waiverMatches: [Int]
        var fired: Set<String> = []
        var undecided: [String] = []
        var tally = FindingTally()
        var grades: [Grade] = []
        /// The hosts the domains' rules look at (only those: the others are on disk).
        var hostsByAddress: [String: ScanReport.Host] = [:]

        init(engine: RuleEngine, waivers: [Waiver], now: Date, domainHosts: Set<String>) {
            self.engine = engine
            self.waivers = waivers
            self.now = now
            self.domainHosts = domainHosts
            waiverMatches = Array(repeating: 0, count: waivers.count)
        }

        /// The host with its findings, waivers and grade; what the summary needs is counted on the way.
        public mutating func judge(_ host: ScanReport.Host) -> ScanReport.Host {
            let host = engine.judge(host, waivers: waivers, matches: &waiverMatches, now: now, undecided: &undecided)
            for endpoint in host.endpoints {
                fired.formUnion(endpoint.findings.map(\.rule))
                tally.count(endpoint.findings)
            }
            if let grade = host.grade { grades.append(grade) }
            if domainHosts.contains(host.address), hostsByAddress[host.address] == nil {
                hostsByAddress[host.address] = host
            }
            return host
        }

        /// Adds what `later`, started from the same `startJudging` and given the hosts that follow these, gathered:
        /// a run's hosts can be judged in parts at once, and merged in report order.
        public mutating func merge(_ later: HostJudging) {
            for index in waiverMatches.indices { waiverMatches[index] += later.waiverMatches[index] }
            fired.formUnion(later.fired)
            undecided += later.undecided
            tally.merge(later.tally)
            grades += later.grades
            hostsByAddress.merge(later.hostsByAddress) { first, _ in first }
        }

        /// Once every host of `report` went through `judge`: the domains, the summary, the verdict, the rules and
        /// waivers that apply.
        public mutating func finish(
            _ report: ScanReport, failOn: FailThreshold, warning: (String) -> Void = { _ in }
        ) -> ScanReport {
            var report = report
            for note in undecided.prefix(RuleEngine.undecidedShown) { warning(note) }
            if undecided.count > RuleEngine.undecidedShown {
                warning(
                    "\(undecided.count - RuleEngine.undecidedShown) more rule conditions were left undecided the same way"
                )
            }
            if var domains = report.domains {
                for index in domains.indices {
                    let context = DomainContext(
                        domain: domains[index], hosts: hostsByAddress,
                        scannedPorts: Set(report.scan.ports.map(\.port)),
                        // A shard or an interrupted scan did not probe every pair: unheard is not closed.
                        discoveryComplete: report.scan.complete && report.scan.shard == nil
                    )
                    domains[index] = engine.judge(context, waivers: waivers, matches: &waiverMatches, now: now)
                    fired.formUnion(domains[index].findings.map(\.rule))
                    tally.count(domains[index].findings)
                    if let grade = domains[index].grade { grades.append(grade) }
                }
                report.domains = domains
            }

            report.summary.findingsBySeverity = tally.bySeverity
            report.summary.waivedFindings = tally.waived
            report.summary.grade = grades.max { engine.rank($0) < engine.rank($1) }
            report.summary.failOn = failOn
            report.summary.failed = tally.bySeverity.contains { name, count in
                count > 0 && Severity(rawValue: name).map(failOn.isMet(by:)) == true
            }
            report.scan.profile = engine.profile.id
            report.rules = Dictionary(
                uniqueKeysWithValues: fired.sorted().compactMap { id in
                    engine.ruleSet.rule(id).map { (id, $0.reportDescription) }
                })
            report.waivers = waivers.enumerated().map { index, waiver in
                ScanReport.WaiverState(
                    host: waiver.host, port: waiver.port, rule: waiver.rule, reason: waiver.reason,
                    expires: waiver.expires, status: waiver.isActive(at: now) ? .active : .expired,
                    matched: waiverMatches[index])
            }
            return report
        }
    }

    /// Counted findings by severity (every severity present) and waived ones.
    struct FindingTally {
        var bySeverity = Dictionary(uniqueKeysWithValues: Severity.allCases.map { ($0.rawValue, 0) })
        var waived = 0

        mutating func count(_ findings: [ScanReport.Finding]) {
            for finding in findings {
                if finding.waived { waived += 1 } else { bySeverity[finding.severity.rawValue, default: 0] += 1 }
            }
        }

        mutating func merge(_ other: FindingTally) {
            bySeverity.merge(other.bySeverity, uniquingKeysWith: +)
            waived += other.waived
        }
    }

    /// Undecided conditions told one by one; the rest are counted.
    static let undecidedShown = 10

    /// A grade's position in the scale, best first; unknown grades sort last.
    fileprivate func rank(_ grade: Grade) -> Int {
        ruleSet.grades.order.firstIndex(of: grade) ?? ruleSet.grades.order.count
    }

    fileprivate func judge(
        _ host: ScanReport.Host, waivers: [Waiver], matches: inout [Int], now: Date,
        undecided: inout [String]
    ) -> ScanReport.Host {
        var host = host
        for index in host.endpoints.indices { host.endpoints[index].findings = [] }
        var context = HostContext(host: host, isMX: host.declaredMX || profile.allHostsMX, now: now)

        var findings: [(port: UInt16, finding: ScanReport.Finding)] = []
        for rule in profile.rules where rule.id != "MP-WAIVER-EXPIRED" {
            for hit in hits(of: rule, on: context) {
                findings.append((hit.port, finding(rule, hit, host: context)))
            }
        }

        // Waivers: the first waiver that covers a finding decides; an expired one leaves it counted and is reported.
        for index in findings.indices {
            let (port, finding) = findings[index]
            guard let waiverIndex = waivers.firstIndex(where: { $0.covers(host: host, port: port, rule: finding.rule) })
            else { continue }
            let waiver = waivers[waiverIndex]
            matches[waiverIndex] += 1
            if waiver.isActive(at: now) {
                findings[index].finding.waived = true
                findings[index].finding.waiverReason = waiver.reason
                findings[index].finding.waiverExpires = waiver.expires
            } else {
                context.expiredWaivers.append(
                    ExpiredWaiverMatch(
                        port: port, rule: finding.rule, reason: waiver.reason,
                        expires: waiver.expires))
            }
        }
        if let rule = profile.rules.first(where: { $0.id == "MP-WAIVER-EXPIRED" }), !context.expiredWaivers.isEmpty {
            for hit in hits(of: rule, on: context) { findings.append((hit.port, finding(rule, hit, host: context))) }
        }

        for (port, finding) in findings {
            if let index = host.endpoints.firstIndex(where: { $0.port == port }) {
                host.endpoints[index].findings.append(finding)
            }
        }
        host.grade = grade(host)
        undecided += context.undecided.all
        return host
    }

    /// The domain rules over one domain, its waivers, and its grade: the worse of its own findings and its hosts'.
    fileprivate func judge(
        _ context: DomainContext, waivers: [Waiver], matches: inout [Int], now: Date
    ) -> DomainObservation {
        var domain = context.domain
        domain.findings = []
        for rule in profile.rules {
            guard case .builtin(let check) = rule.logic, let domainCheck = check as? any DomainCheck else { continue }
            for evidence in domainCheck.evaluate(context, rule.parameters) {
                var finding = ScanReport.Finding(
                    rule: rule.id, severity: rule.severity, title: rule.title, evidence: evidence)
                if let waiverIndex = waivers.firstIndex(where: { $0.covers(domain: domain.name, rule: rule.id) }) {
                    matches[waiverIndex] += 1
                    // An expired waiver leaves the finding counted; MP-WAIVER-EXPIRED reports hosts only.
                    if waivers[waiverIndex].isActive(at: now) {
                        finding.waived = true
                        finding.waiverReason = waivers[waiverIndex].reason
                        finding.waiverExpires = waivers[waiverIndex].expires
                    }
                }
                domain.findings.append(finding)
            }
        }
        let scale = ruleSet.grades
        let worst = domain.findings.filter { !$0.waived }.map(\.severity).max()
        var grades = domain.hosts.compactMap { context.hosts[$0]?.grade }
        if let worst, worst > .info, let own = scale.bySeverity[worst] { grades.append(own) }
        domain.grade = grades.max { rank($0) < rank($1) } ?? scale.clean
        return domain
    }

    private func hits(of rule: RuleDefinition, on context: HostContext) -> [Hit] {
        switch rule.logic {
        case .builtin(let check):
            return check.evaluate(context, rule.parameters)
        case .matcher(let matcher):
            return context.openEndpoints.compactMap { endpoint in
                var evidence: [String] = []
                guard matcher.evaluate(endpoint, evidence: &evidence) == true else { return nil }
                return Hit(port: endpoint.port, evidence: "\(endpoint.label): " + evidence.joined(separator: "; "))
            }
        }
    }

    /// The finding with its severity after the check's own choice and the profile's adjustments, in order.
    private func finding(_ rule: RuleDefinition, _ hit: Hit, host: HostContext) -> ScanReport.Finding {
        var severity = hit.severity.map { hit.ruleSeverityIsFloor ? max($0, rule.severity) : $0 } ?? rule.severity
        if let endpoint = host.host.endpoints.first(where: { $0.port == hit.port }) {
            for adjustment in profile.adjustments
            where adjustment.applies(to: rule.id, endpoint: endpoint, isMX: host.isMX) {
                severity = adjustment.severity ?? severity.shifted(by: adjustment.shift ?? 0)
            }
        }
        return ScanReport.Finding(rule: rule.id, severity: severity, title: rule.title, evidence: hit.evidence)
    }

    /// The contract's grades: by the worst counted finding; the best grade only when nothing above info counts and
    /// no plaintext-start port is open except allowed ones (submission) that require TLS before AUTH.
    private func grade(_ host: ScanReport.Host) -> Grade {
        let scale = ruleSet.grades
        let worst = host.endpoints.flatMap(\.findings).filter { !$0.waived }.map(\.severity).max()
        if let worst, worst > .info { return scale.bySeverity[worst] ?? scale.clean }
        let plaintextExposed = host.endpoints.contains { endpoint in
            guard endpoint.state == .open, endpoint.service.expectedTransport == .plain else { return false }
            guard scale.bestAllowsPlaintextStart.contains(endpoint.service), let dialog = endpoint.dialog else {
                return true
            }
            let tlsRequired = dialog.starttls?.upgraded == true && dialog.authMechanisms.isEmpty && !dialog.usedHELO
            return !tlsRequired
        }
        if plaintextExposed { return worst.flatMap { scale.bySeverity[$0] } ?? scale.clean }
        return scale.best
    }
}
