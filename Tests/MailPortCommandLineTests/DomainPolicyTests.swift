import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

/// MTA-STS and TLS-RPT in domain mode, end to end: a scripted resolver (scripts/dnslab.py) with the policy records,
/// scripted HTTPS policy servers (scripts/policylab.py) that serve, redirect, stall, overflow or show the wrong
/// certificate, and real Postfix MXs (scripts/mailbed.py) whose port-25 certificates match the MX name or do not.
/// Everything lives inside the bed's namespaces.
@Suite("Domain mode: transport policies", .rootTier, .enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct DomainPolicyTests {
    static let resolver = "198.18.50.53"
    static let goodPolicy = "version: STSv1\r\nmode: enforce\r\nmx: lab.mailport.test\r\nmax_age: 604800\r\n"

    /// One policy host per behaviour: its address, the domain it serves, the behaviour, the body.
    static let policyHosts: [(address: String, domain: String, behaviour: String, body: String)] = [
        ("198.18.50.60", "sts-good.test", "serve", goodPolicy),
        (
            "198.18.50.61", "sts-testing.test", "serve",
            "version: STSv1\nmode: testing\nmx: *.mailport.test\nmax_age: 86400\n"
        ),
        (
            "198.18.50.62", "sts-uncovered.test", "serve",
            "version: STSv1\nmode: enforce\nmx: mx.elsewhere.test\nmax_age: 604800\n"
        ),
        (
            "198.18.50.63", "sts-badmx.test", "serve",
            "version: STSv1\nmode: enforce\nmx: mx.sts-badmx.test\nmax_age: 604800\n"
        ),
        ("198.18.50.64", "sts-badcert.test", "badcert", goodPolicy),
        ("198.18.50.65", "sts-redirect.test", "redirect", ""),
        ("198.18.50.66", "sts-big.test", "big", ""),
        ("198.18.50.67", "sts-slow.test", "slow", ""),
        ("198.18.50.68", "sts-html.test", "html", goodPolicy),
        (
            "198.18.50.69", "sts-broken.test", "serve",
            "version: STSv1\nmode: strict\nmx: lab.mailport.test\n\u{1b}[31mred\n"
        ),
    ]

    /// The zone. Behind the MX names: .13 modern (its certificate names lab.mailport.test, as the policies expect)
    /// and .10 strict (the same certificate, so mx.sts-badmx.test is not covered by it).
    static var zone: [String: Any] {
        var records: [[Any]] = [
            ["lab.mailport.test", "A", "198.18.50.13"], ["mx.sts-badmx.test", "A", "198.18.50.10"],
        ]
        for host in policyHosts {
            let mx = host.domain == "sts-badmx.test" ? "mx.sts-badmx.test" : "lab.mailport.test"
            records.append([host.domain, "MX", [10, mx]])
            records.append(["_mta-sts.\(host.domain)", "TXT", "v=STSv1; id=20261202"])
            records.append(["mta-sts.\(host.domain)", "A", host.address])
        }
        records += [
            ["_smtp._tls.sts-good.test", "TXT", "v=TLSRPTv1; rua=mailto:tlsrpt@sts-good.test"],
            // Two STSv1 records (senders ignore both) and a TLS-RPT record whose report address is plain HTTP.
            ["sts-double.test", "MX", [10, "lab.mailport.test"]],
            ["_mta-sts.sts-double.test", "TXT", "v=STSv1; id=1"],
            ["_mta-sts.sts-double.test", "TXT", ["v=STSv1; ", "id=2"]],
            ["_smtp._tls.sts-double.test", "TXT", "v=TLSRPTv1; rua=http://reports.sts-double.test/"],
        ]
        return ["records": records]
    }

    /// Domain rules each domain must get (baseline profile: the "missing" rules are off).
    static let expected: [String: Set<String>] = [
        "sts-good.test": [],
        "sts-testing.test": ["MP-MTASTS-NOT-ENFORCED"],
        "sts-uncovered.test": ["MP-MTASTS-MX-NOT-COVERED"],
        "sts-badmx.test": ["MP-MTASTS-MX-CERT-INVALID", "MP-MX-CERT-NAME"],
        "sts-badcert.test": ["MP-MTASTS-POLICY-UNAVAILABLE"],
        "sts-redirect.test": ["MP-MTASTS-POLICY-UNAVAILABLE"],
        "sts-big.test": ["MP-MTASTS-POLICY-UNAVAILABLE"],
        "sts-slow.test": ["MP-MTASTS-POLICY-UNAVAILABLE"],
        "sts-html.test": ["MP-MTASTS-POLICY-UNAVAILABLE"],
        "sts-broken.test": ["MP-MTASTS-POLICY-INVALID"],
        "sts-double.test": ["MP-MTASTS-RECORD-INVALID", "MP-TLSRPT-INVALID"],
    ]

    /// Why each unavailable policy was unavailable.
    static let expectedOutcome: [String: MTASTSPolicyFetch.Outcome] = [
        "sts-good.test": .fetched, "sts-testing.test": .fetched, "sts-uncovered.test": .fetched,
        "sts-badmx.test": .fetched, "sts-broken.test": .fetched, "sts-badcert.test": .certificateInvalid,
        "sts-redirect.test": .redirected, "sts-big.test": .tooLarge, "sts-slow.test": .timeout,
        "sts-html.test": .wrongContentType,
    ]

    @Test("policies fetched as senders fetch them, and held against what each MX serves on port 25")
    func policies() async throws {
        try await MailBed.with(name: "mppolicy") { bed in
            let directory = makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let zoneFile = directory + "/zone.json"
            try JSONSerialization.data(withJSONObject: Self.zone).write(to: URL(fileURLWithPath: zoneFile))
            let policyFile = directory + "/policies.json"
            let hosts = Self.policyHosts.map {
                ["address": $0.address, "name": "mta-sts.\($0.domain)", "behaviour": $0.behaviour, "body": $0.body]
            }
            try JSONSerialization.data(withJSONObject: ["hosts": hosts]).write(to: URL(fileURLWithPath: policyFile))
            let policyCA = directory + "/policy-ca.pem"

            let resolver = try await ScriptedServer(
                "/usr/sbin/ip",
                [
                    "netns", "exec", bed.name + "-t", "python3", ProjectPaths.root + "/scripts/dnslab.py", zoneFile,
                    "--address", Self.resolver,
                ])
            defer { resolver.stop() }
            let policyServers = try await ScriptedServer(
                "/usr/sbin/ip",
                [
                    "netns", "exec", bed.name + "-t", "python3", ProjectPaths.root + "/scripts/policylab.py",
                    policyFile,
                    "--ca-out", policyCA,
                ], keepStandardError: true)
            defer { policyServers.stop() }
            try #require(resolver.isReady && policyServers.isReady)
            // The scanner trusts the bed's certificate (the MXs) and the policy servers' CA.
            let trust = directory + "/trust.pem"
            try
                (String(contentsOfFile: bed.certificateFile, encoding: .utf8)
                + String(contentsOfFile: policyCA, encoding: .utf8))
                .write(toFile: trust, atomically: true, encoding: .utf8)

            let output = directory + "/out"
            let domains = Self.expected.keys.sorted()
            let started = Date()
            let outcome = try await bed.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "--resolver", Self.resolver, "--output-dir", output, "--ca-file", trust, "--read-timeout",
                    "3",
                    "--format", "json,html,md", "--fail-on", "critical",
                ]
                    + domains.flatMap { ["--domain", $0] }, timeLimit: 240)
            let elapsed = Date().timeIntervalSince(started)
            #expect(outcome.status == 0, "nothing critical: \(outcome.standardError)")
            #expect(try await schemaViolation(ofJSONFile: output + "/latest.json") == nil)
            let report = try JSONDecoder().decode(
                ScanReport.self, from: Data(contentsOf: URL(fileURLWithPath: output + "/latest.json")))
            let byName = Dictionary(uniqueKeysWithValues: (report.domains ?? []).map { ($0.name, $0) })
            #expect(Set(byName.keys) == Set(domains))
            for (name, rules) in Self.expected {
                let found = Set(byName[name]?.findings.map(\.rule) ?? [])
                #expect(found == rules, "\(name): \(found)")
            }
            for (name, expectedOutcome) in Self.expectedOutcome {
                let policy = byName[name]?.mtaSTS?.policy
                #expect(policy?.outcome == expectedOutcome, "\(name): \(String(describing: policy))")
            }

            // The good policy, field by field, and where it came from.
            let good = try #require(byName["sts-good.test"]?.mtaSTS)
            #expect(good.id == "20261202" && good.records == ["v=STSv1; id=20261202"])
            #expect(good.policy?.address == "198.18.50.60" && good.policy?.mode == .enforce)
            #expect(good.policy?.mx == ["lab.mailport.test"] && good.policy?.maxAge == 604_800)
            #expect(byName["sts-good.test"]?.tlsRPT?.rua == ["mailto:tlsrpt@sts-good.test"])
            #expect(byName["sts-testing.test"]?.tlsRPT?.records == [], "no TLS-RPT record, and no finding for it")
            // The mta-sts hosts are fetched from, never scanned.
            #expect(report.hosts.map(\.address).sorted() == ["198.18.50.10", "198.18.50.13"])
            // The evidence names the reason; the hostile policy's escape sequence reached no report raw.
            let badcert = byName["sts-badcert.test"]?.findings.first?.evidence ?? ""
            #expect(
                badcert.contains("certificateInvalid") && badcert.contains("does not cover mta-sts.sts-badcert.test"))
            let badmx =
                byName["sts-badmx.test"]?.findings.first { $0.rule == "MP-MTASTS-MX-CERT-INVALID" }?.evidence ?? ""
            #expect(badmx.contains("does not cover mx.sts-badmx.test"), "\(badmx)")
            #expect(byName["sts-double.test"]?.mtaSTS?.records == ["v=STSv1; id=1", "v=STSv1; id=2"])
            for file in ["latest.json", "latest.html", "latest.md"] {
                let text = try String(contentsOfFile: output + "/" + file, encoding: .utf8)
                #expect(!text.contains("\u{1b}"), "\(file) holds a raw escape byte")
            }
            // The slow server was given up on within the bound (twice --read-timeout), and every server was asked.
            #expect(elapsed < 60, "\(elapsed) s")
            let log = policyServers.standardError()
            for host in Self.policyHosts where host.behaviour != "badcert" {
                #expect(log.contains("GET \(host.address) mta-sts.\(host.domain) /.well-known/mta-sts.txt"), "\(log)")
            }
            #expect(!log.contains("GET 198.18.50.64"), "a policy behind a bad certificate is not even requested")

            // Reports show the policies.
            let html = try String(contentsOfFile: output + "/latest.html", encoding: .utf8)
            #expect(html.contains("data-policy=\"mta-sts\">mode enforce, max_age 604800, mx lab.mailport.test"))
            let markdown = try String(contentsOfFile: output + "/latest.md", encoding: .utf8)
            // Markdown escapes what would format: max\_age, \*.
            #expect(markdown.contains("| sts-testing.test | mode testing, max\\_age 86400, mx \\*.mailport.test"))

            // Under the mx profile a domain that receives mail is expected to publish both.
            let mxRun = try await bed.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "--resolver", Self.resolver, "--output-dir", directory + "/mx", "--ca-file", trust,
                    "--format", "json", "--profile", "mx", "--fail-on", "critical", "--domain", "sts-testing.test",
                ],
                timeLimit: 120)
            #expect(mxRun.status == 0, "\(mxRun.standardError)")
            let mxReport = try JSONDecoder().decode(
                ScanReport.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/mx/latest.json")))
            #expect(
                Set(mxReport.domains?.first?.findings.map(\.rule) ?? []) == [
                    "MP-MTASTS-NOT-ENFORCED", "MP-TLSRPT-MISSING",
                ])
        }
    }

    /// DANE against real Postfix: TLSA records made from the bed certificate's key (3 1 1) match port 25 of the modern
    /// host; a stale key's record does not (critical); records without the AD bit, PKIX-only records and a signed MX
    /// without TLSA each get their finding. Then the same zone from a resolver that does not validate: nothing about
    /// DANE is concluded, and the run says why.
    @Test("DANE TLSA records held against the chains Postfix serves on port 25, with and without a validating resolver")
    func dane() async throws {
        try await MailBed.with(name: "mpdane") { bed in
            let directory = makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // 3 1 1: SHA-256 of the DER SubjectPublicKeyInfo of the bed's certificate, as administrators compute it.
            let digest = try await runProgram(
                "/bin/sh",
                [
                    "-c",
                    "openssl x509 -in \(bed.certificateFile) -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum",
                ])
            let spki = String(digest.standardOutput.prefix(64))
            try #require(spki.count == 64 && digest.status == 0, "\(digest.standardError)")
            let stale = String(repeating: "5a", count: 32)
            let records: [[Any]] = [
                // dane-good.test: signed, 3 1 1 of the key in use (beside a stale one, as during a rollover).
                ["dane-good.test", "MX", [10, "lab.mailport.test"]], ["lab.mailport.test", "A", "198.18.50.13"],
                ["_25._tcp.lab.mailport.test", "TLSA", [3, 1, 1, stale]],
                ["_25._tcp.lab.mailport.test", "TLSA", [3, 1, 1, spki]],
                // dane-stale.test: signed, only the stale key's record: DANE senders will not deliver.
                ["dane-stale.test", "MX", [10, "mx.dane-stale.test"]], ["mx.dane-stale.test", "A", "198.18.50.10"],
                ["_25._tcp.mx.dane-stale.test", "TLSA", [3, 1, 1, stale]],
                // dane-unsigned.test: the right record, but no AD bit.
                ["dane-unsigned.test", "MX", [10, "mx.unsigned-host.test"]],
                ["mx.unsigned-host.test", "A", "198.18.50.13"],
                ["_25._tcp.mx.unsigned-host.test", "TLSA", [3, 1, 1, spki]],
                // dane-pkix.test: signed, PKIX-EE only (unusable for SMTP).
                ["dane-pkix.test", "MX", [10, "mx.dane-pkix.test"]], ["mx.dane-pkix.test", "A", "198.18.50.13"],
                ["_25._tcp.mx.dane-pkix.test", "TLSA", [1, 1, 1, spki]],
                // dane-none.test: a signed MX answer, no TLSA.
                ["dane-none.test", "MX", [10, "mx.dane-none.test"]], ["mx.dane-none.test", "A", "198.18.50.13"],
            ]
            let signed = [
                "dane-good.test", "lab.mailport.test", "dane-stale.test", "dane-pkix.test", "dane-none.test",
                "dane-unsigned.test",
            ]
            func writeZone(_ name: String, validating: Bool) throws -> String {
                let path = directory + "/" + name
                // The MX answer of dane-unsigned.test is signed, its MX host's zone is not.
                let zone: [String: Any] = ["records": records, "authenticated": (validating ? ["."] : []) + signed]
                try JSONSerialization.data(withJSONObject: zone).write(to: URL(fileURLWithPath: path))
                return path
            }
            let expected: [String: Set<String>] = [
                "dane-good.test": [],
                "dane-stale.test": ["MP-DANE-TLSA-MISMATCH", "MP-MX-CERT-NAME"],
                "dane-unsigned.test": ["MP-DANE-TLSA-UNSIGNED", "MP-MX-CERT-NAME"],
                "dane-pkix.test": ["MP-DANE-TLSA-UNUSABLE", "MP-MX-CERT-NAME"],
                "dane-none.test": ["MP-DANE-MISSING", "MP-MX-CERT-NAME"],
            ]
            for validating in [true, false] {
                let zoneFile = try writeZone(validating ? "validating.json" : "plain.json", validating: validating)
                let resolver = try await ScriptedServer(
                    "/usr/sbin/ip",
                    [
                        "netns", "exec", bed.name + "-t", "python3", ProjectPaths.root + "/scripts/dnslab.py", zoneFile,
                        "--address", Self.resolver,
                    ])
                defer { resolver.stop() }
                try #require(resolver.isReady)
                let output = directory + (validating ? "/validating" : "/plain")
                let outcome = try await bed.runInScanner(
                    ProjectPaths.mailport,
                    [
                        "scan", "--resolver", Self.resolver, "--output-dir", output, "--ca-file", bed.certificateFile,
                        "--format", "json,html,md", "--fail-on", "critical",
                    ] + expected.keys.sorted().flatMap { ["--domain", $0] }, timeLimit: 240)
                #expect(try await schemaViolation(ofJSONFile: output + "/latest.json") == nil)
                let report = try JSONDecoder().decode(
                    ScanReport.self, from: Data(contentsOf: URL(fileURLWithPath: output + "/latest.json")))
                let byName = Dictionary(uniqueKeysWithValues: (report.domains ?? []).map { ($0.name, $0) })
                #expect(byName.count == expected.count)
                if validating {
                    #expect(outcome.status == 1, "the stale TLSA record is critical: \(outcome.standardError)")
                    for (name, rules) in expected {
                        let found = Set(byName[name]?.findings.map(\.rule) ?? [])
                        #expect(found == rules, "\(name): \(found)")
                    }
                    let good = byName["dane-good.test"]
                    #expect(good?.dnssec == DNSSECObservation(resolverValidates: true, mxAuthenticated: true))
                    #expect(good?.mx.first?.tlsa?.records.map(\.data) == [stale, spki])
                    #expect(good?.mx.first?.tlsa?.authenticated == true)
                    let mismatch = byName["dane-stale.test"]?.findings.first { $0.rule == "MP-DANE-TLSA-MISMATCH" }
                    #expect(mismatch?.severity == .critical)
                    #expect(
                        mismatch?.evidence.contains("SPKI SHA-256 \(spki.prefix(16))") == true,
                        "\(String(describing: mismatch))")
                    let html = try String(contentsOfFile: output + "/latest.html", encoding: .utf8)
                    #expect(html.contains("data-policy=\"dane\">MX signed; lab.mailport.test: 3 1 1 5a5a"))
                } else {
                    #expect(outcome.status == 0, "nothing about DANE is concluded: \(outcome.standardError)")
                    #expect(
                        outcome.standardError.contains("the resolver does not validate DNSSEC"),
                        "\(outcome.standardError)")
                    for (name, rules) in expected {
                        let found = Set(byName[name]?.findings.map(\.rule) ?? []).filter { $0.hasPrefix("MP-DANE") }
                        #expect(found.isEmpty, "\(name): \(found) without a validating resolver")
                        #expect(byName[name]?.dnssec?.resolverValidates == false)
                        _ = rules
                    }
                    let markdown = try String(contentsOfFile: output + "/latest.md", encoding: .utf8)
                    #expect(markdown.contains("unknown: the resolver does not validate DNSSEC"))
                }
            }
        }
    }
}
