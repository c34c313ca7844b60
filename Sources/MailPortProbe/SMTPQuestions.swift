import MailPortCore

/// SMTP's own questions, asked on the dialog's connection after EHLO: is this an open relay, do VRFY and EXPN
/// answer, does RCPT tell users apart before authentication (submission). No message is ever sent: no DATA, ever; an
/// RSET after each transaction. The addresses are RFC 2606 names, which can never be anyone's mail.
enum SMTPQuestion {
    static let sender = SMTPChecks.relaySender

    /// The recipient forms relay filters have been known to miss (the families nmap's smtp-open-relay tries), each an
    /// outside address on a reserved domain, some routed through the server's own address literal and, when its EHLO
    /// reply names it (`serverName`, a host name), one through that name: a server behind NAT does not take its public
    /// address literal as local (Postfix: only with proxy_interfaces), so the literal forms are refused before any
    /// rewriting, while its own name is local by default (Postfix's mydestination holds $myhostname) and the routed
    /// local part reaches the rewriting that may miss it (scripts/mailbed.py, --relay, has a real Postfix that does).
    /// Only one form goes through the name: each refusal is an error to Postfix, which slows every reply by a second
    /// from its tenth error on (smtpd_soft_error_limit); three name forms cost 2 s on port 25 and 6 s on 587 there.
    static func relayForms(_ address: IPAddress, serverName: String? = nil) -> [(name: String, recipient: String)] {
        let literal = address.family == .v4 ? "[\(address)]" : "[IPv6:\(address)]"
        var forms = [
            ("plain", "<relaytest@example.org>"),
            ("percent-hack", "<relaytest%example.org@\(literal)>"),
            ("source-route", "<@\(literal):relaytest@example.org>"),
            ("quoted-local-part", "<\"relaytest@example.org\">"),
            ("quoted-with-literal", "<\"relaytest@example.org\"@\(literal)>"),
            ("bang-path", "<example.org!relaytest@\(literal)>"),
        ]
        if let name = serverName.flatMap(routableName) {
            forms.append(("quoted-with-name", "<\"relaytest@example.org\"@\(name)>"))
        }
        return forms
    }

    /// The server's name from its EHLO reply (hostile text) when it is a host name a recipient may be routed through:
    /// letters, digits, hyphens, at least two dot-separated labels, not an address. Anything else: nil.
    static func routableName(_ name: String) -> String? {
        guard !name.hasSuffix("."), name.split(separator: ".").count >= 2, HostName.isValid(name) else { return nil }
        return name.lowercased()
    }

    /// 2xx accepted, 5xx refused, anything else (4xx, no reply) unknown.
    static func outcome(_ reply: SMTPReply?) -> ProbeOutcome {
        guard let reply else { return .unknown }
        switch reply.code {
        case 200..<300: return .accepted
        case 500..<600: return .refused
        default: return .unknown
        }
    }

    /// A refusal that says authentication comes first (530 5.7.0 Authentication required, Exim's and Sendmail's
    /// wordings).
    static func needsAuthentication(_ reply: SMTPReply) -> Bool {
        reply.code == 530 || (reply.code / 100 == 5 && reply.text.lowercased().contains("authentica"))
    }
}

/// Sends one command and reads its reply; nil when the connection failed or the reply broke the grammar.
private func ask(_ line: String, _ connection: ProbeConnection, parser: inout SMTPReplyParser) async -> SMTPReply? {
    guard (try? await connection.send(line)) != nil else { return nil }
    var scratch = DialogAttempt(observation: DialogObservation())
    return await readReply(connection, feeding: { parser.feed($0) }, waitingFor: "the reply to \(line)", into: &scratch)
}

private func describe(_ reply: SMTPReply?) -> String {
    reply.map { $0.lines.isEmpty ? "\($0.code)" : $0.text.replacingOccurrences(of: "\n", with: " / ") } ?? "no reply"
}

/// The questions, in order: VRFY, EXPN, the relay forms (stopping at the first acceptance or when the server says it
/// is closing), and on submission ports the RCPT comparison. `authenticationOffered`: the EHLO reply of the session
/// they are asked in listed AUTH.
func askSMTPQuestions(
    _ connection: ProbeConnection, context: DialogContext, serverName: String?, authenticationOffered: Bool,
    parser: inout SMTPReplyParser
) async -> SMTPChecks {
    var checks = SMTPChecks()
    var closing = false
    func ended(_ reply: SMTPReply?) -> Bool { reply == nil || reply?.code == 421 }

    for verb in ["VRFY", "EXPN"] {
        let command = "\(verb) postmaster"
        let reply = await ask(command, connection, parser: &parser)
        var outcome = SMTPQuestion.outcome(reply)
        // 252 ("cannot verify, but will accept") still answers; other 2xx too. 5xx: disabled or refused.
        if let code = reply?.code, ![250, 251, 252].contains(code), outcome == .accepted { outcome = .refused }
        let answer = SMTPAnswer(question: command, command: command, reply: describe(reply), outcome: outcome)
        if verb == "VRFY" { checks.vrfy = answer } else { checks.expn = answer }
        if ended(reply) {
            closing = true
            break
        }
    }

    if !closing {
        for form in SMTPQuestion.relayForms(context.address, serverName: serverName) {
            let mail = await ask("MAIL FROM:<\(SMTPQuestion.sender)>", connection, parser: &parser)
            guard let mail, (200..<300).contains(mail.code) else {
                // Refused (or deferred) before any recipient: the answer holds for every form.
                checks.relayAttempts.append(
                    SMTPAnswer(
                        question: "relay \(form.name)", command: "MAIL FROM:<\(SMTPQuestion.sender)>",
                        reply: describe(mail), outcome: SMTPQuestion.outcome(mail)))
                if let mail, SMTPQuestion.needsAuthentication(mail) { checks.relayNeedsAuthentication = true }
                closing = ended(mail)
                if !closing { _ = await ask("RSET", connection, parser: &parser) }
                break
            }
            let command = "RCPT TO:\(form.recipient)"
            let rcpt = await ask(command, connection, parser: &parser)
            let outcome = SMTPQuestion.outcome(rcpt)
            checks.relayAttempts.append(
                SMTPAnswer(question: "relay \(form.name)", command: command, reply: describe(rcpt), outcome: outcome))
            if let rcpt, SMTPQuestion.needsAuthentication(rcpt) { checks.relayNeedsAuthentication = true }
            if ended(rcpt) {
                closing = true
                break
            }
            _ = await ask("RSET", connection, parser: &parser)
            if outcome == .accepted { break }
        }
        let outcomes = checks.relayAttempts.map(\.outcome)
        checks.relay =
            outcomes.contains(.accepted)
            ? .accepted : (outcomes.contains(.unknown) || outcomes.isEmpty ? .unknown : .refused)
        // Refused on a session that offers AUTH: a login is the way to relay, though the refusal need not say so
        // (Postfix's permit_sasl_authenticated, reject_unauth_destination answers "Relay access denied").
        if checks.relayNeedsAuthentication == nil, checks.relay == .refused {
            checks.relayNeedsAuthentication = authenticationOffered
        }
    } else {
        checks.relay = .unknown
    }

    // An MX (domain mode, port 25): does it take mail for the domains it is an MX of? postmaster must exist there.
    if !closing, context.service == .smtp, !context.mailDomains.isEmpty {
        var answers: [SMTPAnswer] = []
        for domain in context.mailDomains.prefix(3) {
            let mail = await ask("MAIL FROM:<\(SMTPQuestion.sender)>", connection, parser: &parser)
            guard let mail, (200..<300).contains(mail.code) else {
                answers.append(
                    SMTPAnswer(
                        question: "own domain \(domain)", command: "MAIL FROM:<\(SMTPQuestion.sender)>",
                        reply: describe(mail), outcome: SMTPQuestion.outcome(mail) == .refused ? .refused : .unknown))
                closing = ended(mail)
                if !closing { _ = await ask("RSET", connection, parser: &parser) }
                break
            }
            let command = "RCPT TO:<postmaster@\(domain)>"
            let rcpt = await ask(command, connection, parser: &parser)
            answers.append(
                SMTPAnswer(
                    question: "own domain \(domain)", command: command, reply: describe(rcpt),
                    outcome: SMTPQuestion.outcome(rcpt)))
            if ended(rcpt) {
                closing = true
                break
            }
            _ = await ask("RSET", connection, parser: &parser)
        }
        checks.ownDomains = answers
    }

    // Submission: before authentication, RCPT must not tell an existing mailbox from one that cannot exist.
    if !closing, [.submission, .submissions].contains(context.service), let serverName, serverName.contains(".") {
        let unknownUser = "mp-no-such-user-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        let mail = await ask("MAIL FROM:<\(SMTPQuestion.sender)>", connection, parser: &parser)
        var replies: [SMTPReply?] = [mail]
        var outcome: ProbeOutcome = SMTPQuestion.outcome(mail) == .accepted ? .unknown : SMTPQuestion.outcome(mail)
        if let mail, (200..<300).contains(mail.code) {
            let known = await ask("RCPT TO:<postmaster@\(serverName)>", connection, parser: &parser)
            let unknown =
                ended(known) ? nil : await ask("RCPT TO:<\(unknownUser)@\(serverName)>", connection, parser: &parser)
            replies = [known, unknown]
            switch (SMTPQuestion.outcome(known), SMTPQuestion.outcome(unknown)) {
            case (.accepted, .refused), (.refused, .accepted): outcome = .accepted
            case (.accepted, .accepted), (.refused, .refused): outcome = .refused
            default: outcome = .unknown
            }
            if !ended(unknown) { _ = await ask("RSET", connection, parser: &parser) }
        }
        checks.recipientEnumeration = SMTPAnswer(
            question: "RCPT postmaster / unknown user",
            command: "RCPT TO:<postmaster@\(serverName)>, RCPT TO:<\(unknownUser)@\(serverName)>",
            reply: replies.map(describe).joined(separator: " / "), outcome: outcome)
    }
    return checks
}
