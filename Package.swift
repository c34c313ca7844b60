// swift-tools-version:6.0
// MailPort: a scanner and compliance auditor for mail-server ports.
// The pipeline's stages are separate library targets (see ../shared/spec/STYLE.md); the executable only wires them.
import PackageDescription

let package = Package(
    name: "MailPort",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mailport", targets: ["mailport"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        // Test support only: an async process runner for the root tier (never linked into mailport).
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // System libraries, linked through pkg-config; `providers` tells SwiftPM which apt package supplies each.
        .systemLibrary(name: "CMailPortOpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CMailPortPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),

        // One-line C wrappers for OpenSSL macros Swift cannot call (SNI, negotiated group, X509 stacks, SANs).
        .target(name: "CMailPortOpenSSLShims", dependencies: ["CMailPortOpenSSL"]),
        // Linux headers Swift's Glibc module leaves out (epoll).
        .target(name: "CMailPortSystem"),

        // Value types shared by every stage: addresses, ports, services, observations, the report model, errors.
        .target(name: "MailPortCore"),
        // Stage 1: parse target tokens, expand them lazily, subtract exclusions, visit host×port in a seeded order.
        .target(name: "MailPortTargets", dependencies: ["MailPortCore"]),
        // Stage 1b: domain mode. A DNS client (UDP with TCP fallback, bounded parsing) and the lookups that turn a
        // mail domain into hosts: MX, RFC 6186 SRV, the usual host names.
        .target(name: "MailPortDNS", dependencies: ["MailPortCore"]),
        // Stage 2: layer-4 discovery (non-blocking connect scan over epoll; raw SYN packets with libpcap capture).
        .target(
            name: "MailPortDiscovery",
            dependencies: [
                "MailPortCore",
                "MailPortTargets",
                "CMailPortSystem",
                "CMailPortPcap",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // Stage 3: mail dialogs (SMTP, IMAP, POP3) over SwiftNIO, bounded reads, STARTTLS hand-over.
        .target(
            name: "MailPortProbe",
            dependencies: [
                "MailPortCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Stage 3b: TLS through the system OpenSSL, driven through memory BIOs (implicit TLS and STARTTLS alike).
        .target(
            name: "MailPortTLS",
            dependencies: [
                "MailPortCore", "MailPortProbe", "CMailPortOpenSSL", "CMailPortOpenSSLShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Stage 1c: mail transport policies of a domain (MTA-STS records and the policy fetched over HTTPS with the
        // project's OpenSSL client and SwiftNIO's HTTP/1 parser; TLS-RPT records).
        .target(
            name: "MailPortPolicy",
            dependencies: [
                "MailPortCore", "MailPortDNS", "MailPortTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Strict YAML for files people write (rules, waivers, config): unknown or duplicate keys are errors with
        // file and line.
        .target(name: "MailPortYAML", dependencies: ["MailPortCore", .product(name: "Yams", package: "Yams")]),
        // Regular expressions for rule authors that run in linear time whatever the pattern (Pike VM, no backtracking):
        // a user-written pattern must not hang a run.
        .target(name: "MailPortPattern"),
        // Stages 4 and 5: rules as data (Rules/, compiled in; one Swift check per built-in rule id), profiles,
        // waivers, grades and the --fail-on verdict.
        .target(
            name: "MailPortRules", dependencies: ["MailPortCore", "MailPortTargets", "MailPortYAML", "MailPortPattern"]),
        // Scan options as data: the config file (strict YAML), the defaults, the checks shared with the command line.
        .target(
            name: "MailPortConfig",
            dependencies: ["MailPortCore", "MailPortTargets", "MailPortDNS", "MailPortReport", "MailPortYAML"]),
        // Comparing reports: --baseline marks findings new or unchanged; `mailport diff` lists what changed.
        .target(name: "MailPortCompare", dependencies: ["MailPortCore", "MailPortTargets"]),
        // Last stage: report writers (JSON, HTML through Mustache templates that escape by default, SARIF, JUnit,
        // Markdown, Prometheus) and atomic file output.
        .target(
            name: "MailPortReport",
            dependencies: ["MailPortCore", .product(name: "Mustache", package: "swift-mustache")]
        ),
        // The run as a library: settings, the stages wired in order (plan → discover → dialogs → assemble → judge →
        // write), the run lock and log file. It never prints or handles signals; the command line and the tests drive it.
        .target(
            name: "MailPortScan",
            dependencies: [
                "MailPortCore", "MailPortTargets", "MailPortDNS", "MailPortDiscovery", "MailPortProbe", "MailPortTLS",
                "MailPortPolicy", "MailPortReport", "MailPortRules", "MailPortCompare", "MailPortConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Loopback listeners used by `mailport demo` and by the tests: a lab that needs no root.
        .target(
            name: "MailPortLab",
            dependencies: [
                "MailPortCore",
                "MailPortTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Helpers for the tests only: running the real command line (asynchronously, through swift-subprocess),
        // namespace labs, schema validation.
        .target(
            name: "MailPortTestSupport",
            dependencies: [
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(
            name: "mailport",
            dependencies: [
                "MailPortCore", "MailPortTargets", "MailPortDiscovery", "MailPortReport", "MailPortRules",
                "MailPortCompare",
                "MailPortConfig", "MailPortScan", "MailPortLab", "CMailPortOpenSSL", "CMailPortPcap",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // libFuzzer harnesses for the parsers that read hostile or hand-written input (scripts/fuzz builds them with
        // -sanitize=fuzzer); an ordinary build makes a replayer of saved inputs for the tests.
        .executableTarget(
            name: "mailport-fuzz",
            dependencies: [
                "MailPortCore", "MailPortTargets", "MailPortDNS", "MailPortProbe", "MailPortRules", "MailPortYAML",
                "MailPortConfig", "MailPortPolicy",
                "MailPortPattern",
            ]
        ),

        .testTarget(name: "MailPortPatternTests", dependencies: ["MailPortPattern"]),
        .testTarget(name: "MailPortTargetsTests", dependencies: ["MailPortTargets", "MailPortCore"]),
        // The run as a library, in-process: bad input through the real command-line parser and settings, verdicts
        // through AuditRun against a loopback lab.
        .testTarget(
            name: "MailPortScanTests",
            dependencies: [
                "mailport", "MailPortScan", "MailPortConfig", "MailPortReport", "MailPortTargets", "MailPortLab",
                "MailPortCore", "MailPortTestSupport", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "MailPortPolicyTests",
            dependencies: ["MailPortPolicy", "MailPortDNS", "MailPortCore", "MailPortTestSupport"]),
        .testTarget(name: "MailPortDNSTests", dependencies: ["MailPortDNS", "MailPortCore", "MailPortTestSupport"]),
        .testTarget(
            name: "MailPortCommandLineTests",
            dependencies: ["MailPortCore", "MailPortLab", "MailPortReport", "MailPortTestSupport"]
        ),
        .testTarget(
            name: "MailPortDiscoveryTests",
            dependencies: [
                "MailPortDiscovery", "MailPortTargets", "MailPortCore", "MailPortLab", "MailPortTestSupport",
            ]
        ),
        .testTarget(
            name: "MailPortProbeTests",
            dependencies: ["MailPortProbe", "MailPortCore", "MailPortLab", "MailPortTestSupport"]
        ),
        .testTarget(
            name: "MailPortTLSTests",
            dependencies: [
                "MailPortTLS", "MailPortProbe", "MailPortCore", "MailPortLab", "MailPortTestSupport",
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "MailPortRulesTests",
            dependencies: ["MailPortRules", "MailPortYAML", "MailPortConfig", "MailPortCore", "MailPortTestSupport"]
        ),
        .testTarget(
            name: "MailPortCompareTests",
            dependencies: ["MailPortCompare", "MailPortReport", "MailPortCore", "MailPortTestSupport"]
        ),
        // The scan option table against the real command-line declarations, parsed in-process.
        .testTarget(
            name: "MailPortOptionTests",
            dependencies: [
                "mailport", "MailPortConfig", "MailPortScan", "MailPortYAML", "MailPortCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "MailPortReportTests", dependencies: ["MailPortReport", "MailPortCore", "MailPortTestSupport"]),
        // The test support's own behaviour: the async process runner (time limits, input, side-by-side waits).
        .testTarget(name: "MailPortTestSupportTests", dependencies: ["MailPortTestSupport"]),
    ]
)
