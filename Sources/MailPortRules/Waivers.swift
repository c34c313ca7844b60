import Foundation
import MailPortCore
import MailPortTargets
import MailPortYAML

/// An accepted finding (`--waivers FILE`): this rule on this host (address, CIDR, range or name) and port is known
/// and accepted until a date, for a reason. Waived findings stay in the report, marked, and count toward neither
/// the grade nor `--fail-on`. An expired waiver covers nothing and is itself reported (MP-WAIVER-EXPIRED).
public struct Waiver: Sendable, Equatable {
    public enum HostMatch: Sendable, Equatable {
        case addresses(AddressRange)
        case name(String)
    }

    /// As written in the file.
    public var host: String
    public var hostMatch: HostMatch
    /// Nil: every port of the host.
    public var port: UInt16?
    public var rule: String
    public var reason: String
    /// YYYY-MM-DD, as written.
    public var expires: String
    /// The first instant after the expiry day (UTC): the waiver holds through the whole day it names.
    public var expiresAt: Date

    public func isActive(at now: Date) -> Bool { now < expiresAt }

    /// A domain finding is waived by a waiver whose host is the domain's name, without a port.
    func covers(domain: String, rule: String) -> Bool {
        guard self.rule == rule, port == nil, case .name(let name) = hostMatch else { return false }
        return name.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".")) == domain
    }

    func covers(host: ScanReport.Host, port: UInt16, rule: String) -> Bool {
        guard self.rule == rule, self.port == nil || self.port == port else { return false }
        switch hostMatch {
        case .name(let name):
            return host.names.contains { $0.caseInsensitiveCompare(name) == .orderedSame }
        case .addresses(let range):
            return IPAddress(host.address).map(range.contains) ?? false
        }
    }
}

public enum WaiverLoader {
    static let keys = ["host", "port", "rule", "reason", "expires"]

    /// Reads a waivers file; rule ids are checked against the rule set in force (a typo would waive nothing).
    public static func load(path: String, ruleSet: RuleSet) throws -> [Waiver] {
        try parse(try YAMLNode.load(path: path), ruleSet: ruleSet)
    }

    public static func parse(_ root: YAMLNode, ruleSet: RuleSet) throws -> [Waiver] {
        let top = try root.mapping("a waivers file", allowed: ["waivers"], required: ["waivers"])
        return try top["waivers"]!.list("'waivers'").map { node in
            let fields = try node.mapping("a waiver", allowed: keys, required: ["host", "rule", "reason", "expires"])
            let hostNode = fields["host"]!
            let host = try hostNode.nonEmptyString("the waiver's host")
            let hostMatch: Waiver.HostMatch
            do {
                switch try TargetSpec.parse(host) {
                case .hostname(let name): hostMatch = .name(name)
                case let spec: hostMatch = .addresses(AddressRange(spec))
                }
            } catch {
                throw hostNode.error(
                    "invalid waiver host '\(printable(host))'; expected an address, CIDR, range or host name")
            }
            let ruleNode = fields["rule"]!
            let rule = try ruleNode.nonEmptyString("the waiver's rule")
            guard ruleSet.rule(rule) != nil else {
                throw ruleNode.error(
                    "waiver names unknown rule '\(printable(rule))'; expected a rule id of the rule set (mailport rules list)"
                )
            }
            let expiresNode = fields["expires"]!
            let expires = try expiresNode.nonEmptyString("the waiver's expiry date")
            guard let day = parseDay(expires) else {
                throw expiresNode.error("invalid expiry date '\(printable(expires))'; expected YYYY-MM-DD")
            }
            return Waiver(
                host: host, hostMatch: hostMatch,
                port: try fields["port"].map { UInt16(try $0.int("the waiver's port", in: 1...65535)) },
                rule: rule,
                reason: try fields["reason"]!.nonEmptyString("the waiver's reason"),
                expires: expires,
                expiresAt: day.addingTimeInterval(86_400)
            )
        }
    }

    /// Midnight UTC at the start of a YYYY-MM-DD day; nil for anything else (including impossible dates).
    static func parseDay(_ text: String) -> Date? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: day)
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }
}
