import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

/// The relay check against real Postfix (scripts/mailbed.py --relay): hosts that refuse the plain form but are
/// configured to miss one bypass form, and a submission port that relays only after a login.
@Suite(
    "Real Postfix: relay bypass forms and relaying after AUTH", .rootTier,
    .enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)), .serialized)
struct RelayBypassTests {
    /// The form each --relay host is configured to miss (see scripts/mailbed.py) and the recipient MailPort sends in it.
    static let missedForms: [String: (form: String, recipient: String)] = [
        "198.18.50.14": ("percent-hack", "<relaytest%example.org@[198.18.50.14]>"),  // allow_percent_hack = no
        // resolve_dequoted_address = no
        "198.18.50.15": ("quoted-with-literal", "<\"relaytest@example.org\"@[198.18.50.15]>"),
        "198.18.50.16": ("bang-path", "<example.org!relaytest@[198.18.50.16]>"),  // swap_bangpath = no
        // resolve_dequoted_address = no, the literal not local: only the form routed through the EHLO name passes.
        "198.18.50.17": ("quoted-with-name", "<\"relaytest@example.org\"@lab.mailport.test>"),
    ]

    /// Whatever the server said, no message was sent: no DATA, every transaction reset before the next.
    static func sentNoMessage(_ dialog: DialogObservation, _ place: String) {
        let sent = dialog.transcript.filter { $0.direction == .client }.map(\.text)
        #expect(sent.contains { $0.hasPrefix("RCPT TO:") }, "\(place): the relay question was asked")
        #expect(!sent.contains { $0.uppercased().hasPrefix("DATA") }, "\(place) sent DATA: \(sent)")
        let mails = sent.filter { $0.hasPrefix("MAIL FROM:") }.count
        #expect(mails > 0 && mails == sent.filter { $0 == "RSET" }.count, "\(place): \(sent)")
    }

    @Test("a Postfix that misses one bypass form is an open relay with that form as evidence; the plain form refused")
    func missedBypassForms() async throws {
        try await MailBed.with(name: "mprelay", relay: true) { bed in
            let directory = makeTemporaryDirectory()
            let outcome = try await bed.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "198.18.50.14-17", "--ports", "25", "--output-dir", directory, "--ca-file",
                    bed.certificateFile, "--read-timeout", "15",
                ])
            #expect(outcome.status == 1, "open relays are critical: \(outcome.standardError)")
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let report = try latestReport(in: directory)
            var seen = 0
            for host in report.hosts {
                let want = try #require(Self.missedForms[host.address], "unexpected host \(host.address)")
                let endpoint = try #require(host.endpoints.first { $0.port == 25 }, "\(host.address):25")
                let place = "\(host.address):25"
                let dialog = try #require(endpoint.dialog, "\(place): a dialog ran")
                #expect(dialog.starttls?.upgraded == true, "\(place): asked inside TLS, as a sender would")
                let checks = try #require(dialog.smtpChecks, "\(place): the SMTP questions were asked")
                #expect(checks.relay == .accepted, "\(place)")
                let attempts = checks.relayAttempts
                // The plain form first, refused by Postfix's reject_unauth_destination.
                #expect(attempts.count >= 2, "\(place): \(attempts)")
                #expect(attempts.first?.question == "relay plain" && attempts.first?.outcome == .refused, "\(place)")
                #expect(attempts.first?.reply.contains("Relay access denied") == true, "\(place): \(attempts)")
                // Every form before the missed one refused, the missed one accepted, nothing asked after it.
                let accepted = try #require(attempts.last, "\(place)")
                #expect(
                    accepted.question == "relay \(want.form)" && accepted.outcome == .accepted, "\(place): \(attempts)")
                #expect(accepted.command == "RCPT TO:\(want.recipient)", "\(place)")
                #expect(accepted.reply.hasPrefix("250"), "\(place): \(accepted.reply)")
                #expect(attempts.dropLast().allSatisfy { $0.outcome == .refused }, "\(place): \(attempts)")
                if want.form == "quoted-with-name" {
                    #expect(attempts.count == 7, "\(place): all six literal forms refused first")
                }
                // The finding: critical, naming the exact form that passed.
                let findings = endpoint.findings.filter { $0.rule == "MP-SMTP-OPEN-RELAY" }
                #expect(findings.count == 1, "\(place): \(endpoint.findings.map(\.rule))")
                let finding = try #require(findings.first)
                #expect(finding.severity == .critical)
                #expect(finding.evidence.contains(want.recipient), "\(place): \(finding.evidence)")
                #expect(finding.evidence.contains("(relay \(want.form))"), "\(place): \(finding.evidence)")
                Self.sentNoMessage(dialog, place)
                seen += 1
            }
            #expect(seen == Self.missedForms.count, "every bypass host is in the report")
            // The remedy names the one setting all four need (scripts/mailbed.py): without it each is refused.
            #expect(
                report.rules["MP-SMTP-OPEN-RELAY"]?.remediation["postfix"]?.contains("allow_untrusted_routing = no")
                    == true)
        }
    }

    @Test("relaying only after AUTH: a real login relays; MailPort, never logging in, records refused, needs a login")
    func relayingOnlyAfterAuthentication() async throws {
        try await MailBed.with(name: "mprelay") { bed in
            // The server's truth, from a real login (STARTTLS, AUTH PLAIN as a bed user) on the strict host's 587.
            let login = try await bed.runInScanner(
                "/usr/bin/python3",
                [
                    ProjectPaths.root + "/scripts/mailbed.py", "login-relay", "--address", "198.18.50.10",
                    "--ca-file", bed.certificateFile,
                ])
            #expect(login.status == 0, "\(login.standardError)")
            let truth = try #require(
                try JSONSerialization.jsonObject(with: Data(login.standardOutput.utf8)) as? [String: Any],
                "\(login.standardOutput)")
            func code(_ path: [String]) -> Int? {
                var value: Any? = truth
                for key in path { value = (value as? [String: Any])?[key] }
                return (value as? [Any])?.first as? Int
            }
            func text(_ path: [String]) -> String? {
                var value: Any? = truth
                for key in path { value = (value as? [String: Any])?[key] }
                return (value as? [Any])?.last as? String
            }
            #expect(code(["before", "mail"]) == 250)
            #expect(code(["before", "rcpt"]) == 554, "without a login the outside recipient is refused")
            #expect(code(["auth"]) == 235, "AUTH PLAIN as the bed user: \(text(["auth"]) ?? "")")
            #expect(code(["after", "rcpt"]) == 250, "after the login the same server takes the outside recipient")
            let loginSent = try #require(truth["sent"] as? [String])
            #expect(loginSent.last == "QUIT" && loginSent.filter { $0 == "RSET" }.count == 2, "\(loginSent)")
            #expect(!loginSent.contains { $0.uppercased().hasPrefix("DATA") }, "\(loginSent)")

            // MailPort's verdict on the same port: it never logs in.
            let directory = makeTemporaryDirectory()
            let outcome = try await bed.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "198.18.50.10", "--ports", "587", "--output-dir", directory, "--ca-file",
                    bed.certificateFile, "--read-timeout", "15", "--fail-on", "never",
                ])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let report = try latestReport(in: directory)
            let endpoint = try #require(report.host("198.18.50.10")?.endpoints.first { $0.port == 587 })
            let dialog = try #require(endpoint.dialog)
            #expect(dialog.authMechanismsAfterTLS == ["PLAIN", "LOGIN"], "AUTH offered inside TLS")
            let checks = try #require(dialog.smtpChecks)
            #expect(checks.relay == .refused)
            #expect(checks.relayNeedsAuthentication == true)
            #expect(checks.relayAttempts.count == 7 && checks.relayAttempts.allSatisfy { $0.outcome == .refused })
            #expect(
                checks.relayAttempts.first?.reply == text(["before", "rcpt"]).map { "554 " + $0 },
                "the refusal the login saw too: \(checks.relayAttempts)")
            #expect(!endpoint.findings.contains { $0.rule == "MP-SMTP-OPEN-RELAY" }, "\(endpoint.findings)")
            let sent = dialog.transcript.filter { $0.direction == .client }.map(\.text)
            #expect(!sent.contains { $0.uppercased().hasPrefix("AUTH") }, "MailPort never logs in: \(sent)")
            Self.sentNoMessage(dialog, "198.18.50.10:587")
        }
    }
}
