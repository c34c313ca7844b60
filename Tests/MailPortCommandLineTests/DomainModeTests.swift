import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

/// Domain mode against a scripted resolver (scripts/dnslab.py) inside the real-server bed's namespace, with real
/// Postfix and Dovecot behind the names: MX, SRV, CNAME, address literals, NXDOMAIN, SERVFAIL, a silent resolver and
/// a truncated UDP answer, and the domain and endpoint findings each must produce.
@Suite("Domain mode", .rootTier, .enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)), .serialized)
struct DomainModeTests {
    static let resolver = "198.18.50.53"

    /// The zones. Behind the names: .10 strict, .12 plain, .13 modern (scripts/mailbed.py); every bed certificate
    /// names lab.mailport.test only.
    static var zone: [String: Any] {
        [
            "records": [
                // good.test: done right. MX and SRV point at the modern host by the name its certificate has.
                ["good.test", "MX", [10, "lab.mailport.test"]],
                ["lab.mailport.test", "A", "198.18.50.13"],
                ["_submission._tcp.good.test", "SRV", [0, 1, 587, "lab.mailport.test"]],
                ["_submissions._tcp.good.test", "SRV", [0, 1, 465, "lab.mailport.test"]],
                ["_imaps._tcp.good.test", "SRV", [0, 1, 993, "lab.mailport.test"]],
                ["_pop3s._tcp.good.test", "SRV", [0, 1, 995, "lab.mailport.test"]],
                ["_imap._tcp.good.test", "SRV", [0, 0, 0, "."]],
                ["_pop3._tcp.good.test", "SRV", [0, 0, 0, "."]],
                // weak.test: everything an MX and SRV set can get wrong.
                ["weak.test", "MX", [10, "mx.weak.test"]],
                ["mx.weak.test", "A", "198.18.50.10"],
                ["weak.test", "MX", [20, "alias.weak.test"]],
                ["alias.weak.test", "CNAME", "mx.weak.test"],
                ["weak.test", "MX", [30, "198.18.50.11"]],
                ["weak.test", "MX", [40, "gone.weak.test"]],
                ["_imap._tcp.weak.test", "SRV", [0, 1, 143, "mx.weak.test"]],
                ["_submission._tcp.weak.test", "SRV", [0, 1, 2525, "mx.weak.test"]],
                ["_submissions._tcp.weak.test", "SRV", [0, 1, 465, "lab.mailport.test"]],
                // nomx.test: no MX, mail falls back to the address; nullmx.test says it takes no mail.
                ["nomx.test", "A", "198.18.50.12"],
                ["mail.nomx.test", "A", "198.18.50.12"],
                ["nullmx.test", "MX", [0, "."]],
                // refused.test: its MX does not take its mail (Postfix on .13 has it outside relay_domains).
                ["refused.test", "MX", [10, "lab.mailport.test"]],
            ],
            "servfail": ["broken.test"],
            "drop": ["slow.test"],
            "truncate": ["_imap._tcp.weak.test"],
        ]
    }

    static let expectedDomainRules: [String: Set<String>] = [
        "good.test": [],
        "weak.test": [
            "MP-MX-CERT-NAME", "MP-MX-CNAME", "MP-MX-ADDRESS-LITERAL", "MP-MX-NO-ADDRESS",
            "MP-SRV-CLEARTEXT-ONLY", "MP-SRV-UNREACHABLE",
        ],
        "nomx.test": ["MP-MX-MISSING"],
        "nullmx.test": [],
        "refused.test": ["MP-MX-REFUSES-DOMAIN"],
        "missing.test": ["MP-DOMAIN-NXDOMAIN"],
        "broken.test": ["MP-DNS-LOOKUP-FAILED"],
        "slow.test": ["MP-DNS-LOOKUP-FAILED"],
    ]

    @Test("MX, SRV and well-known names lead to the real servers; domain findings and host findings as configured")
    func domainsFromDNS() async throws {
        try await MailBed.with(name: "mpmaild") { bed in
            let directory = makeTemporaryDirectory()
            let zoneFile = directory + "/zone.json"
            try JSONSerialization.data(withJSONObject: Self.zone).write(to: URL(fileURLWithPath: zoneFile))

            let server = try await ScriptedServer(
                "/usr/sbin/ip",
                [
                    "netns", "exec", bed.name + "-t", "python3",
                    ProjectPaths.root + "/scripts/dnslab.py", zoneFile, "--address", Self.resolver,
                ],
                keepStandardError: true)
            defer { server.stop() }
            #expect(server.isReady)

            let outputDirectory = directory + "/out"
            let outcome = try await bed.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "--resolver", Self.resolver, "--output-dir", outputDirectory, "--ca-file",
                    bed.certificateFile,
                    "--format", "json,html,sarif,junit,md", "--fail-on", "high", "--read-timeout", "5",
                ] + Self.expectedDomainRules.keys.sorted().flatMap { ["--domain", $0] }, timeLimit: 240)
            #expect(
                outcome.status == 1, "NXDOMAIN (high) and the plain host fail --fail-on high: \(outcome.standardError)")
            #expect(try await schemaViolation(ofJSONFile: outputDirectory + "/latest.json") == nil)
            #expect(outcome.standardOutput.contains("domain missing.test (nxdomain)"), "\(outcome.standardOutput)")

            let report = try latestReport(in: outputDirectory)
            let dnsSeconds = report.scan.timings?.dnsSeconds ?? 0
            #expect(
                dnsSeconds >= 4 && dnsSeconds < 15, "the silent resolver costs two 2 s attempts, no more: \(dnsSeconds)"
            )
            let domains = Dictionary(uniqueKeysWithValues: (report.domains ?? []).map { ($0.name, $0) })
            #expect(Set(domains.keys) == Set(Self.expectedDomainRules.keys))
            for (name, expected) in Self.expectedDomainRules {
                let rules = Set((domains[name]?.findings ?? []).map(\.rule))
                #expect(rules == expected, "\(name): \(rules)")
            }
            #expect(domains["missing.test"]?.status == .nxdomain)
            #expect(domains["broken.test"]?.status == .servfail)
            #expect(domains["slow.test"]?.status == .timeout)
            #expect(domains["nullmx.test"]?.nullMX == true)

            // weak.test's MX set, as recorded: the alias, the literal (not looked up), the dangling name.
            let weakMX = domains["weak.test"]?.mx ?? []
            #expect(weakMX.map(\.exchange) == ["mx.weak.test", "alias.weak.test", "198.18.50.11", "gone.weak.test"])
            try #require(weakMX.count == 4)
            #expect(weakMX[1].cname == "mx.weak.test")
            #expect(weakMX[2].addressLiteral)
            #expect(weakMX[3].resolution == .nxdomain)
            // The truncated UDP answer was asked again over TCP, and its record was used.
            let lookups = domains["weak.test"]?.lookups ?? []
            let imapLookup = lookups.first { $0.name == "_imap._tcp.weak.test" }
            #expect(imapLookup?.detail?.contains("TCP") == true, "\(String(describing: imapLookup))")
            let dnsLog = server.standardError()
            #expect(dnsLog.contains("tcp _imap._tcp.weak.test SRV rcode=0"), "\(dnsLog)")

            // Hosts: found by their DNS names, MX ones judged as MX, and the address literal never scanned.
            let hosts = Dictionary(uniqueKeysWithValues: report.hosts.map { ($0.address, $0) })
            #expect(hosts["198.18.50.11"] == nil, "an MX address literal is not scanned")
            let modern = try #require(hosts["198.18.50.13"])
            #expect(modern.declaredMX)
            #expect(modern.names.contains("lab.mailport.test"))
            #expect(modern.grade?.rawValue == "A", "the modern host behind good.test")
            #expect(domains["good.test"]?.grade?.rawValue == "A")
            #expect(domains["good.test"]?.hosts == ["198.18.50.13"])
            // Port 25 of the modern MX was asked for postmaster of each domain it is MX of: good.test taken in,
            // refused.test turned away (never DATA: the questions end in RSET).
            let modern25 = modern.endpoints.first { $0.port == 25 }
            let ownOutcomes = Dictionary(
                uniqueKeysWithValues: (modern25?.dialog?.smtpChecks?.ownDomains ?? []).map { ($0.question, $0.outcome) }
            )
            #expect(ownOutcomes["own domain good.test"] == .accepted, "\(ownOutcomes)")
            #expect(ownOutcomes["own domain refused.test"] == .refused, "\(ownOutcomes)")
            let strict = try #require(hosts["198.18.50.10"])
            #expect(strict.declaredMX)
            #expect(Set(strict.names).isSuperset(of: ["mx.weak.test", "alias.weak.test"]))
            let strictRules = strict.endpoints.flatMap(\.findings).map(\.rule)
            #expect(strictRules.contains("MP-CERT-NAME-MISMATCH"), "mx.weak.test is not in the certificate")
            // The SRV port outside the seven was scanned (and found closed).
            let strict2525 = strict.endpoints.first { $0.port == 2525 }
            #expect(strict2525?.state == .closed)
            let plain = try #require(hosts["198.18.50.12"])
            #expect(Set(plain.names) == ["nomx.test", "mail.nomx.test"])
            #expect(!plain.declaredMX)

            // Every format carries the domain findings.
            let html = try String(contentsOfFile: outputDirectory + "/latest.html", encoding: .utf8)
            #expect(html.contains("id=\"domains-section\"") && html.contains("data-domain=\"weak.test\""))
            #expect(html.contains("MP-MX-CNAME"))
            // In a real browser: each domain shows its grade and findings, and its host links land on host details.
            let browser = try await runProgram(
                "/usr/bin/env",
                [
                    "python3", ProjectPaths.root + "/scripts/htmlcheck.py",
                    outputDirectory + "/latest.html", "--screenshot", directory + "/domains.png",
                ], timeLimit: 120)
            #expect(browser.status == 0, "\(browser.standardError)")
            let seen = try #require(
                try JSONSerialization.jsonObject(with: Data(browser.standardOutput.utf8)) as? [String: Any],
                "htmlcheck.py prints one JSON object: \(browser.standardOutput)")
            let shown = seen["domains"] as? [String: [String: Any]] ?? [:]
            #expect(Set(shown.keys) == Set(Self.expectedDomainRules.keys))
            for (name, expected) in Self.expectedDomainRules {
                #expect(Set(shown[name]?["findings"] as? [String] ?? []) == expected, "\(name) in the browser")
                #expect(shown[name]?["grade"] as? String == domains[name]?.grade?.rawValue, "\(name)")
                #expect(shown[name]?["hostLinksResolve"] as? Bool == true, "\(name)")
            }
            #expect(shown["good.test"]?["hostLinks"] as? Int == 1)
            #expect((seen["consoleErrors"] as? [Any])?.isEmpty == true && seen["resourceRequests"] as? Int == 0)
            let sarif = try String(contentsOfFile: outputDirectory + "/latest.sarif", encoding: .utf8)
            #expect(sarif.contains("MP-DOMAIN-NXDOMAIN|missing.test"))
            #expect(
                try await xmlSchemaViolation(
                    ofFile: outputDirectory + "/latest.junit.xml",
                    xsd: ProjectPaths.root + "/Tests/Fixtures/schemas/junit-10.xsd") == nil)
            let junit = try String(contentsOfFile: outputDirectory + "/latest.junit.xml", encoding: .utf8)
            #expect(junit.contains("<testsuite name=\"weak.test\""))
            let markdown = try String(contentsOfFile: outputDirectory + "/latest.md", encoding: .utf8)
            #expect(markdown.contains("| weak.test | "))

            // The same from a config file (cron): `domains:` and `resolver:`.
            let config = directory + "/audit.yaml"
            try
                "domains: [good.test, nullmx.test]\nresolver: \(Self.resolver)\nca-file: \(bed.certificateFile)\nformats: [json]\nfail-on: medium\n"
                .write(toFile: config, atomically: true, encoding: .utf8)
            let fromConfig = try await bed.runInScanner(
                ProjectPaths.mailport, ["scan", "--config", config, "--output-dir", directory + "/cron"])
            #expect(
                fromConfig.status == 0,
                "good.test and nullmx.test have nothing at or above medium: \(fromConfig.standardOutput)\(fromConfig.standardError)"
            )
            let cron = try latestReport(in: directory + "/cron")
            #expect(cron.domains?.map(\.name) == ["good.test", "nullmx.test"])
            #expect(cron.hosts.map(\.address) == ["198.18.50.13"])
        }
    }
}
