import Foundation
import MailPortCore
import MailPortDNS
import MailPortReport
import MailPortTargets

/// Every scan setting as one source gave it: the command line or a config file. Nil means "not given there", so
/// the command line can override the file, and the file the built-in defaults (`ScanDefaults`). Each field is set,
/// read from a file, checked and merged through its entry in `ScanOptions.all` (a test holds them one to one).
public struct OptionValues: Sendable {
    public init() {}

    public var targets: [String]?
    public var targetsFile: String?
    public var exclude: [String]?
    public var excludeFile: String?
    public var ports: String?
    public var timeout: Double?
    public var concurrency: Int?
    public var rate: Double?
    public var seed: UInt64?
    public var allowLarge: Bool?
    public var discoveryOnly: Bool?
    public var readTimeout: Double?
    public var greetingTimeout: Double?
    public var perHost: Int?
    public var ehloName: String?
    public var caFile: String?
    public var retryPause: Double?
    public var rules: [String]?
    public var profile: String?
    public var waivers: String?
    public var failOn: String?
    public var mx: [String]?
    public var baseline: String?
    public var formats: String?
    public var outputDirectory: String?
    /// `--output FILE` or `-o -`: the one format to a file or standard output instead of the output folder.
    public var output: String?
    public var progress: ProgressMode?
    public var quiet: Bool?
    public var verbose: Bool?
    /// Named target groups (config only): scanned, and recorded on each host for rules (`host.groups`).
    public var groups: [String: [String]]?
    public var keep: Int?
    public var lockFile: String?
    public var logFile: String?
    public var shard: String?
    /// Mail domains to audit from DNS (`--domain`): MX, SRV and the usual host names become targets.
    public var domains: [String]?
    /// `--resolver ADDRESS[:PORT]` for domain mode (default: the nameservers of /etc/resolv.conf).
    public var resolver: String?
    /// `--syn`: raw SYN discovery through libpcap (root or CAP_NET_RAW).
    public var syn: Bool?
    /// `--interface` and `--source-ip` for SYN discovery.
    public var interface: String?
    public var sourceIP: String?

    /// `--config FILE` (command line only).
    public var configFile: String?

    /// These values where given, `base` where not: option by option, through `ScanOptions.all`.
    public func overriding(_ base: OptionValues) -> OptionValues {
        var merged = base
        for spec in ScanOptions.all { spec.copy(givenIn: self, to: &merged) }
        return merged
    }
}

/// The built-in defaults, in one place (help texts quote them).
public enum ScanDefaults {
    public static let ports = PortSpec.defaults.map { String($0.port) }.joined(separator: ",")
    public static let timeout = 1.0
    /// The ceiling of connect discovery's window, which starts at 2048 and grows while answers keep their timing
    /// (ConnectWindow); clamped below the open-file limit.
    public static let concurrency = 16384
    public static let readTimeout = 5.0
    /// Six times postscreen's default greet wait (6 s) and sendmail's usual greet_pause (5 s); RFC 5321 4.5.3.2
    /// allows 5 minutes.
    public static let greetingTimeout = 30.0
    public static let perHost = 2
    public static let ehloName = "mailport.invalid"
    public static let retryPause = 2.0
    /// Where `--syn` without `--rate` starts (the fixed rate it once had); the rate then follows the answers up to
    /// `synRateCeiling` and falls on loss (SynRateControl).
    public static let synRate = 20_000.0
    public static let synRateCeiling = 1_000_000.0
    public static let profile = "baseline"
    public static let failOn = "high"
    public static let formats = ReportFormat.defaults.map(\.rawValue).joined(separator: ",")
    public static let outputDirectory = "Reports"
}

/// Checks shared by the command line and the config file. Each returns nil when the value is acceptable, or what
/// was expected; the caller names the option (`--timeout`) or the file and line (`mailport.yaml:4: timeout`).
public enum OptionChecks {
    public static func timeout(_ value: Double) -> String? {
        value.isFinite && value > 0 && value <= 300 ? nil : "seconds above 0 and at most 300"
    }

    public static func concurrency(_ value: Int) -> String? { (1...1_000_000).contains(value) ? nil : "1 to 1000000" }

    public static func rate(_ value: Double) -> String? {
        value.isFinite && value > 0 && value <= 10_000_000 ? nil : "connections per second above 0 and at most 10000000"
    }

    public static func perHost(_ value: Int) -> String? { (1...64).contains(value) ? nil : "1 to 64" }

    public static func retryPause(_ value: Double) -> String? {
        value.isFinite && (0...600).contains(value) ? nil : "0 to 600 seconds"
    }

    public static func keep(_ value: Int) -> String? {
        (1...100_000).contains(value) ? nil : "a number of runs from 1 to 100000"
    }

    public static func failOn(_ value: String) -> String? {
        FailThreshold(value) == nil ? "info, low, medium, high, critical or never" : nil
    }

    /// `--fail-on` as a threshold, or the input error naming the bad value.
    public static func failThreshold(_ text: String) throws(MailPortError) -> FailThreshold {
        guard let threshold = FailThreshold(text) else {
            throw .invalidInput("invalid --fail-on '\(printable(text))'; expected \(failOn(text)!)")
        }
        return threshold
    }

    public static func ehloName(_ value: String) -> String? {
        let allowed = value.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "[")
                || byte == UInt8(ascii: "]") || byte == UInt8(ascii: ":")
        }
        return allowed && !value.isEmpty && value.utf8.count <= 255 ? nil : "a domain name or address literal"
    }

    public static func target(_ token: String) -> String? {
        do { _ = try TargetSpec.parse(token) } catch { return error.message }
        return nil
    }

    /// A mail domain for `--domain`: a DNS name of letter/digit/hyphen labels, not an address.
    public static func domain(_ text: String) -> String? {
        let name = text.hasSuffix(".") ? String(text.dropLast()) : text
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        let valid =
            !name.isEmpty && name.utf8.count <= 253 && IPAddress(name) == nil
            && labels.allSatisfy { label in
                !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.utf8.allSatisfy { byte in
                        (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
                            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
                    }
            }
        return valid ? nil : "invalid domain '\(printable(text))'; expected a mail domain name such as example.org"
    }

    public static func sourceIP(_ text: String) -> String? {
        IPAddress(text) == nil
            ? "invalid --source-ip '\(printable(text))'; expected an IPv4 or IPv6 address of this machine" : nil
    }

    public static func interface(_ text: String) -> String? {
        let valid =
            !text.isEmpty && text.utf8.count < 16 && !text.contains("/")
            && text.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 32 }
        return valid ? nil : "invalid --interface '\(printable(text))'; expected a network interface name such as eth0"
    }

    public static func resolver(_ text: String) -> String? {
        do { _ = try ResolverAddress(parsing: text) } catch { return error.message }
        return nil
    }

    public static func ports(_ text: String) -> String? {
        do { _ = try parsePortList(text) } catch { return error.message }
        return nil
    }

    public static func shard(_ text: String) -> String? {
        do { _ = try Shard(text) } catch { return error.message }
        return nil
    }

    public static func formats(_ text: String) -> String? {
        do { _ = try ReportFormat.parseList(text) } catch { return error.message }
        return nil
    }
}

/// When the progress line is drawn: auto (stderr is a terminal), always, never.
public enum ProgressMode: String, CaseIterable, Sendable {
    case auto, always, never
}
