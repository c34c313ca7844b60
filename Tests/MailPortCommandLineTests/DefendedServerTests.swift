import Foundation
import MailPortCore
import MailPortLab
import MailPortTestSupport
import Testing

/// The open endpoints of a report by "address:port".
private func endpoints(of report: ScanReport) -> [String: ScanReport.Endpoint] {
    var found: [String: ScanReport.Endpoint] = [:]
    for host in report.hosts {
        for endpoint in host.endpoints where endpoint.state == .open {
            found["\(host.address):\(endpoint.port)"] = endpoint
        }
    }
    return found
}

private func rules(_ endpoint: ScanReport.Endpoint) -> [String] { endpoint.findings.map(\.rule) }

/// What every endpoint's record must hold whatever the server did (issue 17): an unanswered question is listed with
/// its reason and makes the endpoint incomplete; a version or cipher class is never both accepted and unknown.
private func expectHonestRecord(_ endpoint: ScanReport.Endpoint, _ place: String) {
    let unknown = endpoint.dialog?.unknownProbes ?? []
    for probe in unknown {
        #expect(!probe.probe.isEmpty && !probe.reason.isEmpty, "\(place): \(probe)")
    }
    if !unknown.isEmpty {
        #expect(endpoint.dialog?.complete == false, "\(place): unanswered questions make the endpoint incomplete")
        #expect(endpoint.dialog?.incompleteReason?.isEmpty == false, "\(place)")
    }
    let facts = endpoint.dialog?.tls
    let versionsAccepted = Set(facts?.versionsAccepted ?? [])
    let classesAccepted = Set(facts?.cipherClassesAccepted ?? [])
    #expect(versionsAccepted.isDisjoint(with: facts?.versionsUnknown ?? []), "\(place)")
    #expect(classesAccepted.isDisjoint(with: facts?.cipherClassesUnknown ?? []), "\(place)")
    #expect(endpoint.dialog?.connections != nil, "\(place): connections are counted")
}

/// Scripted loopback servers (MailPortLab) that behave as defended or odd servers do, audited by the real command
/// line. High ports with an explicit service stand for 25 and 993/995 (the service, not the number, decides how a
/// port is audited and judged), so no root is needed.
@Suite("Defended servers: scripted", .rootTier, .serialized)
struct ScriptedDefendedServerTests {
    @Test(
        "a service that waits for the client is identified from one client-first probe; a silent one stays unresponsive"
    )
    func clientFirstService() async throws {
        let http = "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        let lab = try await LoopbackLab.start([
            LabEndpoint(address: "127.99.0.1", port: 27025, behaviour: .answersRequest(http)),
            LabEndpoint(address: "127.99.0.2", port: 27025, behaviour: .silent),
        ])
        let directory = makeTemporaryDirectory()
        let started = Date()
        // Short waits keep the test short: the default greeting wait (30 s) is what the late-greeting test relies on.
        let outcome = try await runProgram(
            ProjectPaths.mailport,
            [
                "scan", "127.99.0.1-2", "--ports", "27025=smtp", "--greeting-timeout", "2", "--read-timeout", "2",
                "--output-dir", directory, "--fail-on", "never",
            ])
        let seconds = Date().timeIntervalSince(started)
        let labConnections = ["127.99.0.1", "127.99.0.2"].map { lab.stats.connections($0) }
        await lab.shutdown()
        print("client-first services: \(String(format: "%.1f", seconds)) s")
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
        let found = endpoints(of: try latestReport(in: directory))

        let web = try #require(found["127.99.0.1:27025"])
        #expect(web.dialog?.identifiedAs.rawValue == "http", "\(web)")
        #expect(web.dialog?.clientFirstProbe == "GET / HTTP/1.0")
        #expect(web.dialog?.banner?.hasPrefix("HTTP/1.1 400 Bad Request") == true, "\(web.dialog?.banner ?? "")")
        #expect(web.dialog?.unresponsive == false)
        #expect(
            web.dialog?.complete == true, "another protocol is a complete fact: \(web.dialog?.incompleteReason ?? "")")
        #expect(rules(web).contains("MP-SERVICE-UNEXPECTED"), "\(rules(web))")
        #expect(
            !rules(web).contains("MP-SERVICE-UNRESPONSIVE") && !rules(web).contains("MP-STARTTLS-MISSING"),
            "\(rules(web))")
        let sent = (web.dialog?.transcript ?? []).filter { $0.direction == .client }.map(\.text)
        #expect(sent.first == "GET / HTTP/1.0", "one harmless request, nothing else: \(sent)")
        #expect(!sent.contains { $0.hasPrefix("EHLO") || $0.hasPrefix("HELO") }, "\(sent)")
        #expect(
            web.dialog?.connections == 1 && labConnections[0] == 2, "discovery and the one dialog: \(labConnections)"
        )

        let mute = try #require(found["127.99.0.2:27025"])
        #expect(mute.dialog?.identifiedAs.rawValue == "none")
        #expect(mute.dialog?.unresponsive == true)
        #expect(mute.dialog?.clientFirstProbe == "GET / HTTP/1.0", "the probe was tried before giving up")
        #expect(mute.dialog?.attempts == 1, "silence is a fact, not retried: another wait would say the same")
        #expect(
            rules(mute).contains("MP-SERVICE-UNRESPONSIVE") && !rules(mute).contains("MP-SERVICE-UNEXPECTED"),
            "\(rules(mute))")
        for (place, endpoint) in found { expectHonestRecord(endpoint, place) }
        #expect(seconds < 15, "one greeting wait (2 s) and one read (2 s) for the probe's answer")
    }

    @Test(
        "a late greeting (7 s, beyond the 5 s read timeout) is waited for with the default options and audited completely"
    )
    func lateGreeting() async throws {
        let tls = LabTLS(
            certificateChainFile: try DemoCertificates.write(DemoCertificates.leafCertificate, named: "leaf.pem"),
            privateKeyFile: try DemoCertificates.write(DemoCertificates.leafKey, named: "leaf.key"), implicit: false)
        let extensions = ["PIPELINING", "SIZE 10240000", "STARTTLS", "8BITMIME"]
        let lab = try await LoopbackLab.start([
            // sendmail's greet_pause: silence, then the whole greeting.
            LabEndpoint(
                address: "127.99.0.3", port: 27025,
                behaviour: .smtp(SMTPScript(extensions: extensions, greetingDelayMilliseconds: 7000)), tls: tls),
            // postscreen: "220-" at once, the final "220 " after the greet wait; a client that speaks early is lost.
            LabEndpoint(
                address: "127.99.0.4", port: 27025,
                behaviour: .smtp(
                    SMTPScript(
                        greeting: ["lab.mailport.test ESMTP screening", "lab.mailport.test ESMTP"],
                        extensions: extensions, finalGreetingLineDelayMilliseconds: 7000)),
                tls: tls),
        ])
        let directory = makeTemporaryDirectory()
        let started = Date()
        let outcome = try await runProgram(
            ProjectPaths.mailport,
            [
                "scan", "127.99.0.3-4", "--ports", "27025=smtp",
                "--output-dir", directory, "--fail-on", "never",
            ])
        let seconds = Date().timeIntervalSince(started)
        let labConnections = [
            "127.99.0.3": lab.stats.connections("127.99.0.3"), "127.99.0.4": lab.stats.connections("127.99.0.4"),
        ]
        await lab.shutdown()
        print("late greetings: \(String(format: "%.1f", seconds)) s, lab connections \(labConnections)")
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
        let found = endpoints(of: try latestReport(in: directory))
        #expect(found.count == 2)
        for (place, endpoint) in found {
            expectHonestRecord(endpoint, place)
            #expect(endpoint.dialog?.complete == true, "\(place): \(endpoint.dialog?.incompleteReason ?? "")")
            #expect(endpoint.dialog?.unknownProbes == nil, "\(place): every extra question waited for its greeting too")
            #expect(endpoint.dialog?.attempts == 1, "\(place): the first dialog waited long enough")
            #expect(
                endpoint.dialog?.identifiedAs.rawValue == "smtp" && endpoint.dialog?.clientFirstProbe == nil, "\(place)"
            )
            #expect(endpoint.dialog?.unresponsive == false, "\(place)")
            let starttls = endpoint.dialog?.starttls
            #expect(starttls?.upgraded == true, "\(place)")
            #expect(starttls?.injectionAnsweredInsideTLS == false, "\(place)")
            #expect(endpoint.dialog?.tls?.negotiatedVersion == "TLSv1.3", "\(place)")
            #expect(
                (endpoint.dialog?.tls?.versionsAccepted ?? []) == ["TLSv1.3"],
                "\(place): the lab refuses TLS 1.1 and older")
            #expect(endpoint.dialog?.capabilitiesAfterTLS != nil, "\(place)")
            let fired = rules(endpoint)
            #expect(
                !fired.contains("MP-SERVICE-UNRESPONSIVE") && !fired.contains("MP-STARTTLS-MISSING")
                    && !fired.contains("MP-STARTTLS-FAILED"), "\(place): \(fired)")
            // Client lines before the greeting's last line would be "talking early": the first one follows it.
            let transcript = endpoint.dialog?.transcript ?? []
            let firstClient = transcript.firstIndex { $0.direction == .client } ?? 0
            #expect(
                transcript[..<firstClient].last?.text.hasPrefix("220 ") == true, "\(place): \(transcript.prefix(4))"
            )
            let connections = endpoint.dialog?.connections ?? 0
            #expect(
                connections + 1 == labConnections[String(place.split(separator: ":")[0])],
                "\(place): the report counts every connection after discovery")
            #expect(
                connections <= 4,
                "\(place): a healthy endpoint's budget: dialog, legacy hello, weak hello, injection check")
        }
        #expect(
            found["127.99.0.4:27025"]?.dialog?.banner
                == "lab.mailport.test ESMTP screening\nlab.mailport.test ESMTP")
        #expect(seconds < 45, "one greeting wait per connection, the connections of an endpoint in sequence")
    }

    @Test(
        "plaintext on implicit-TLS ports is audited as the plaintext dialog it is: whole banner, capabilities, judged")
    func plaintextOnImplicitTLSPorts() async throws {
        let imapCapabilities = [
            "IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "LITERAL+", "AUTH=PLAIN",
        ]
        let lab = try await LoopbackLab.start([
            LabEndpoint(
                address: "127.99.0.5", port: 27993, behaviour: .imap(IMAPScript(capabilities: imapCapabilities))),
            LabEndpoint(
                address: "127.99.0.5", port: 27995, behaviour: .pop3(POP3Script(capabilities: ["TOP", "UIDL", "USER"]))),
        ])
        let directory = makeTemporaryDirectory()
        let outcome = try await runProgram(
            ProjectPaths.mailport,
            [
                "scan", "127.99.0.5", "--ports", "27993=imaps,27995=pop3s",
                "--output-dir", directory, "--fail-on", "never",
            ])
        let labConnections = lab.stats.connections("127.99.0.5")
        await lab.shutdown()
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
        let found = endpoints(of: try latestReport(in: directory))
        #expect(found.count == 2, "\(found.keys.sorted())")
        for (place, endpoint) in found {
            expectHonestRecord(endpoint, place)
            #expect(endpoint.transport.rawValue == "plain", "\(place): \(endpoint.transport.rawValue)")
            #expect(endpoint.dialog?.tls == nil, "\(place)")
            #expect(endpoint.dialog?.complete == true, "\(place): \(endpoint.dialog?.incompleteReason ?? "")")
            #expect(rules(endpoint).contains("MP-TLS-ABSENT"), "\(place): \(rules(endpoint))")
            #expect(!rules(endpoint).contains("MP-SERVICE-UNEXPECTED"), "\(place): \(rules(endpoint))")
            #expect(endpoint.dialog?.connections == 2, "\(place): the TLS attempt, then the plaintext dialog")
            // Issue 17: credentials offered in clear there are judged too (AUTH=PLAIN and no LOGINDISABLED; USER).
            #expect(rules(endpoint).contains("MP-AUTH-CLEARTEXT"), "\(place): \(rules(endpoint))")
        }
        #expect(labConnections == 6, "per port: discovery, the TLS attempt and the plaintext dialog")
        let imap = try #require(found["127.99.0.5:27993"])
        #expect(imap.dialog?.identifiedAs.rawValue == "imap")
        // Far longer than the ~64 bytes a TLS library reads before it gives up on a plaintext answer.
        let greeting = "* OK [CAPABILITY \(imapCapabilities.joined(separator: " "))] MailPort lab IMAP ready"
        #expect(imap.dialog?.banner == greeting, "\(imap.dialog?.banner ?? "")")
        #expect((imap.dialog?.capabilities ?? []) == imapCapabilities, "\(imap.dialog?.capabilities ?? [])")
        #expect((imap.dialog?.authMechanisms ?? []) == ["PLAIN"])
        let pop3 = try #require(found["127.99.0.5:27995"])
        #expect(pop3.dialog?.identifiedAs.rawValue == "pop3")
        #expect(pop3.dialog?.capabilities.contains("USER") == true, "\(pop3.dialog?.capabilities ?? [])")
    }
}

/// Lines of the bed's Postfix log that `tag` wrote (its syslog name, e.g. "postfix/ratelimit/smtpd[") and that
/// contain `text`. postlogd writes asynchronously: the count is read until it stops changing.
private func logLines(_ path: String, _ tag: String, containing text: String) -> [String] {
    func read() -> [String] {
        let log = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").map(String.init).filter { $0.contains(" \(tag)") && $0.contains(text) }
    }
    var lines = read()
    for _ in 0..<10 {
        Thread.sleep(forTimeInterval: 0.2)
        let again = read()
        if again.count == lines.count { return again }
        lines = again
    }
    return lines
}

/// Real Postfix from Debian that defends itself (scripts/mailbed.py --defended): anvil's connection rate limit and
/// postscreen. The server's own log is the witness for what the report claims.
@Suite(
    "Defended servers: real Postfix", .rootTier, .enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)),
    .serialized)
struct DefendedPostfixTests {
    @Test("postscreen with its defaults (6 s greet wait, 220- then 220) is audited completely with the default options")
    func postscreen() async throws {
        try await MailBed.with(name: "mpdefp", defended: true) { bed in
            let smtpd = "postfix/postscreen/smtpd["
            let connectsBefore = logLines(bed.postfixLog, smtpd, containing: ": connect from").count
            let directory = makeTemporaryDirectory()
            let started = Date()
            let outcome = try await bed.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "198.18.50.31", "--ports", "25", "--output-dir", directory, "--ca-file",
                    bed.certificateFile,
                    "--fail-on", "never",
                ])
            let seconds = Date().timeIntervalSince(started)
            #expect(outcome.status == 0, "\(outcome.standardError)")
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let endpoint = try #require(endpoints(of: try latestReport(in: directory))["198.18.50.31:25"])
            let place = "postscreen 198.18.50.31:25"
            expectHonestRecord(endpoint, place)
            #expect(endpoint.dialog?.complete == true, "\(place): \(endpoint.dialog?.incompleteReason ?? "")")
            #expect(
                endpoint.dialog?.unknownProbes == nil, "\(place): \(String(describing: endpoint.dialog?.unknownProbes))"
            )
            #expect(endpoint.dialog?.attempts == 1, "\(place): the first dialog waited out the greet wait")
            // postscreen's "220-" teaser, then smtpd's "220 " once the client passed.
            #expect(
                endpoint.dialog?.banner
                    == "lab.mailport.test ESMTP Postfix (Debian/GNU)\nlab.mailport.test ESMTP Postfix (Debian/GNU)",
                "\(endpoint.dialog?.banner ?? "")")
            let starttls = endpoint.dialog?.starttls
            #expect(
                starttls?.offered == true && starttls?.upgraded == true, "\(place): \(String(describing: starttls))")
            #expect(starttls?.injectionAnsweredInsideTLS == false, "\(place)")
            let facts = endpoint.dialog?.tls
            #expect(
                facts?.negotiatedVersion == "TLSv1.3" && facts?.chainVerified == true, "\(place)")
            #expect(facts?.versionsUnknown == nil && facts?.cipherClassesUnknown == nil, "\(place)")
            #expect((facts?.cipherClassesProbed ?? []).count > 0, "\(place): the weak cipher classes were asked about")
            // Debian's smtpd defaults (smtpd_tls_protocols >=TLSv1, anonymous suites for opportunistic TLS): whatever
            // was found accepted is judged.
            let accepted = (facts?.versionsAccepted ?? [])
            #expect(
                rules(endpoint).contains("MP-TLS-LEGACY-PROTOCOL")
                    == accepted.contains { ["SSLv3", "TLSv1", "TLSv1.1"].contains($0) },
                "\(place): \(accepted) \(rules(endpoint))")
            #expect(
                !rules(endpoint).contains("MP-SERVICE-UNRESPONSIVE") && !rules(endpoint).contains("MP-STARTTLS-MISSING")
            )
            // The witness: postscreen saw nothing before the client's turn and let it pass once; smtpd behind it saw
            // exactly the connections the report counts (discovery's hangs up in postscreen's test).
            let screen = "postfix/postscreen["
            #expect(
                logLines(bed.postfixLog, screen, containing: "PREGREET").isEmpty, "the scanner spoke before its turn")
            #expect(logLines(bed.postfixLog, screen, containing: "PASS NEW").count == 1)
            let seen = logLines(bed.postfixLog, smtpd, containing: ": connect from").count - connectsBefore
            #expect(endpoint.dialog?.connections == seen, "smtpd behind postscreen saw \(seen) connections")
            // Dialog, three legacy hellos and three weak ones (drill-downs after acceptances), the injection check.
            #expect(
                (endpoint.dialog?.connections ?? .max) <= 8,
                "\(place): \(endpoint.dialog?.connections.map(String.init) ?? "?")")
            print(
                "postscreen: \(String(format: "%.1f", seconds)) s, \(endpoint.dialog?.connections.map(String.init) ?? "?") connections, smtpd saw \(seen)"
            )
            #expect(seconds >= 6, "the greet wait was waited out")
        }
    }

    @Test(
        "behind anvil's connection rate limit a 421 is never taken for a refusal: facts gathered after a back-off, or unknown"
    )
    func rateLimit() async throws {
        try await MailBed.with(name: "mpdefr", defended: true) { bed in
            let hosts = ["198.18.50.30": "postfix/ratelimit/smtpd[", "198.18.50.32": "postfix/legacy/smtpd["]
            let connectsBefore = hosts.mapValues { logLines(bed.postfixLog, $0, containing: ": connect from").count }
            let limitBefore = hosts.mapValues { logLines(bed.postfixLog, $0, containing: "rate limit exceeded").count }
            let directory = makeTemporaryDirectory()
            let started = Date()
            let outcome = try await bed.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "198.18.50.30", "198.18.50.32", "--ports", "25", "--retry-pause", "0.5", "--output-dir",
                    directory,
                    "--ca-file", bed.certificateFile, "--fail-on", "never",
                ], timeLimit: 180)
            let seconds = Date().timeIntervalSince(started)
            #expect(outcome.status == 0, "\(outcome.standardError)")
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let found = endpoints(of: try latestReport(in: directory))
            var measured: [String] = []
            for (address, tag) in hosts.sorted(by: { $0.key < $1.key }) {
                let place = "\(address):25"
                guard let endpoint = found[place] else {
                    Issue.record("\(place) is not in the report")
                    continue
                }
                expectHonestRecord(endpoint, place)
                // The witness: the server's own count of connections and of 421s it gave.
                let seen = logLines(bed.postfixLog, tag, containing: ": connect from").count - connectsBefore[address]!
                let refusedBusy =
                    logLines(bed.postfixLog, tag, containing: "rate limit exceeded").count - limitBefore[address]!
                let connections = endpoint.dialog?.connections ?? -1
                measured.append("\(address): \(connections) connections, \(refusedBusy) of them answered 421")
                #expect(refusedBusy >= 1, "\(place): the audit ran into the rate limit (else this test proves nothing)")
                #expect(connections + 1 == seen, "\(place): discovery and \(connections) reported; Postfix saw \(seen)")
                #expect(endpoint.dialog?.attempts == 1, "\(place): the dialog itself came before the limit")
                let starttls = endpoint.dialog?.starttls
                #expect(starttls?.upgraded == true, "\(place): \(String(describing: starttls))")
                let facts = endpoint.dialog?.tls
                let accepted = (facts?.versionsAccepted ?? [])
                let unknownVersions = (facts?.versionsUnknown ?? [])
                let unknown = endpoint.dialog?.unknownProbes ?? []
                // Every unanswered question quotes the server's 421: nothing else stood in the way here.
                for probe in unknown {
                    #expect(probe.reason.contains("421"), "\(place): \(probe)")
                }
                // Anvil's window is 10 s; the back-off after a 421 waits 5 s, then 10 s more: the third attempt always
                // falls in a fresh window, so every question gets its real answer.
                #expect(endpoint.dialog?.complete == true, "\(place): \(endpoint.dialog?.incompleteReason ?? "")")
                let fired = rules(endpoint)
                if address == "198.18.50.32" {
                    // The test that fails if a 421 ever becomes "not accepted": the server accepts TLS 1.0 and 1.1, so
                    // each is accepted, or unknown for a 421 the report quotes; never missing from both.
                    for version in ["TLSv1.1", "TLSv1"] {
                        let quoted421 = unknown.contains {
                            $0.probe.contains("tls-version") && $0.reason.contains("421")
                        }
                        #expect(
                            accepted.contains(version) || (unknownVersions.contains(version) && quoted421),
                            "\(place): \(version) accepted by the server, reported as neither accepted nor unknown (\(facts))"
                        )
                    }
                    #expect(
                        accepted.contains("TLSv1") == fired.contains("MP-TLS-LEGACY-PROTOCOL"), "\(place): \(fired)")
                    #expect(
                        fired.contains("MP-TLS-LEGACY-PROTOCOL"), "\(place): TLS 1.0 is found accepted behind the limit"
                    )
                    // Dialog, three legacy hellos (SSLv3-TLS 1.1 at once, then TLS 1.0 and older, then SSLv3), two weak
                    // hellos (every class, then the classes still open), the injection check; one more for each 421.
                    #expect(connections <= 7 + refusedBusy, "\(place): \(connections) connections, \(refusedBusy) 421s")
                } else {
                    // TLS 1.2+ and no weak class: the refusals the report records are the TLS layer's, in Postfix's words.
                    #expect(accepted == ["TLSv1.3"] && unknownVersions.isEmpty, "\(place): \(facts)")
                    #expect(
                        (facts?.cipherClassesAccepted ?? []).isEmpty && facts?.cipherClassesUnknown == nil, "\(place)")
                    #expect(
                        !logLines(bed.postfixLog, tag, containing: "unsupported protocol").isEmpty,
                        "legacy hello refused by TLS")
                    #expect(
                        !logLines(bed.postfixLog, tag, containing: "no shared cipher").isEmpty,
                        "weak hello refused by TLS")
                    #expect(
                        !fired.contains("MP-TLS-LEGACY-PROTOCOL") && !fired.contains("MP-TLS-WEAK-CIPHER"), "\(fired)")
                    // Four connections for a healthy endpoint (dialog, legacy hello, weak hello, injection check), and one
                    // more for each 421.
                    #expect(connections <= 4 + refusedBusy, "\(place): \(connections) connections, \(refusedBusy) 421s")
                }
                #expect(
                    !fired.contains("MP-STARTTLS-FAILED") && !fired.contains("MP-STARTTLS-MISSING"),
                    "\(place): \(fired)")
            }
            print("rate limit: \(String(format: "%.1f", seconds)) s; " + measured.joined(separator: "; "))
            #expect(seconds < 90, "each 421 costs at most 5 s + 10 s of back-off")
        }
    }
}
