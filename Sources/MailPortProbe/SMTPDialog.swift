import MailPortCore

/// SMTP (25, 587; 465 inside TLS): greeting, EHLO (HELO as fallback), STARTTLS when offered, QUIT.
func smtpDialog(_ connection: ProbeConnection, context: DialogContext, into attempt: inout DialogAttempt) async {
    guard let first = await readGreetingLine(connection, expecting: .smtp, into: &attempt)
    else { return }

    var parser = SMTPReplyParser(maxLines: connection.limits.maxLinesPerReply)
    // A multi-line greeting (220- … 220 ) is read to its last line before speaking: Postfix's postscreen drops
    // clients that talk early.
    guard
        let greeting = await readReply(
            connection, first: first, feeding: { parser.feed($0) },
            waitingFor: "the rest of the greeting",
            timeoutNanoseconds: connection.limits.greetingTimeoutNanoseconds, into: &attempt)
    else { return }
    attempt.observation.banner = greeting.lines.joined(separator: "\n")
    attempt.observation.greetingStatus = String(greeting.code)
    if (400..<500).contains(greeting.code) {
        fail(&attempt, "server busy: \(greeting.text)", transient: true)
        return
    }
    guard greeting.code == 220 else {
        fail(&attempt, "server refused the session: \(greeting.text)")
        await quitPolitely(connection)
        return
    }

    do { try await connection.send("EHLO \(context.ehloName)") } catch {
        fail(&attempt, "connection lost sending EHLO", transient: true)
        return
    }
    guard
        var hello = await readReply(
            connection, feeding: { parser.feed($0) }, waitingFor: "the EHLO reply", into: &attempt)
    else { return }
    if (400..<500).contains(hello.code) {
        fail(&attempt, "EHLO refused for now: \(hello.text)", transient: true)
        return
    }
    if hello.code != 250 {
        attempt.observation.usedHELO = true
        do { try await connection.send("HELO \(context.ehloName)") } catch {
            fail(&attempt, "connection lost sending HELO", transient: true)
            return
        }
        guard
            let helo = await readReply(
                connection, feeding: { parser.feed($0) }, waitingFor: "the HELO reply", into: &attempt)
        else { return }
        guard helo.code == 250 else {
            fail(&attempt, "EHLO and HELO refused: \(helo.text)", transient: (400..<500).contains(helo.code))
            return
        }
        hello = SMTPReply(code: 250, lines: [helo.lines.first ?? ""])
    }
    // The first line of the EHLO reply is the server's name; each further line is one extension.
    let extensions = Array(hello.lines.dropFirst())
    attempt.observation.capabilities = extensions
    attempt.observation.authMechanisms = smtpAuthMechanisms(extensions)
    let offered = extensions.contains { $0.uppercased() == "STARTTLS" }
    attempt.observation.starttls = StartTLSObservation(offered: offered)
    let serverName = hello.lines.first.flatMap { $0.split(separator: " ").first.map(String.init) }
    guard offered else {
        attempt.observation.smtpChecks = await askSMTPQuestions(
            connection, context: context, serverName: serverName,
            authenticationOffered: !attempt.observation.authMechanisms.isEmpty, parser: &parser)
        await quitPolitely(connection)
        return
    }

    attempt.observation.starttls!.attempted = true
    do { try await connection.send("STARTTLS") } catch {
        fail(&attempt, "connection lost sending STARTTLS", transient: true)
        return
    }
    guard
        let reply = await readReply(
            connection, feeding: { parser.feed($0) }, waitingFor: "the STARTTLS reply", into: &attempt)
    else { return }
    attempt.observation.starttls!.reply = reply.text
    attempt.observation.starttls!.accepted = reply.code == 220
    if reply.code == 220 {
        guard await handOverToTLS(connection, context: context, into: &attempt) else { return }
        // Inside TLS the server may offer more (AUTH is often only there): ask again.
        do { try await connection.send("EHLO \(context.ehloName)") } catch { return }
        guard
            let secured = await readReply(
                connection, feeding: { parser.feed($0) },
                waitingFor: "the EHLO reply inside TLS", into: &attempt)
        else { return }
        if secured.code == 250 {
            let extensions = Array(secured.lines.dropFirst())
            attempt.observation.capabilitiesAfterTLS = extensions
            attempt.observation.authMechanismsAfterTLS = smtpAuthMechanisms(extensions)
            // As a sender would: inside TLS.
            attempt.observation.smtpChecks = await askSMTPQuestions(
                connection, context: context, serverName: serverName,
                authenticationOffered: !(attempt.observation.authMechanismsAfterTLS ?? []).isEmpty, parser: &parser)
        }
        await quitPolitely(connection)
    } else {
        attempt.observation.starttls!.error = reply.text
        // The session goes on in plaintext, as a sender's would after a refused STARTTLS.
        attempt.observation.smtpChecks = await askSMTPQuestions(
            connection, context: context, serverName: serverName,
            authenticationOffered: !attempt.observation.authMechanisms.isEmpty, parser: &parser)
        await quitPolitely(connection)
    }
    return
}

/// SASL mechanisms of an EHLO extension list: `AUTH PLAIN LOGIN`, or the pre-standard `AUTH=PLAIN LOGIN`.
func smtpAuthMechanisms(_ extensions: [String]) -> [String] {
    var mechanisms: [String] = []
    for line in extensions {
        let upper = line.uppercased()
        guard upper.hasPrefix("AUTH ") || upper.hasPrefix("AUTH=") else { continue }
        for mechanism in upper.dropFirst(5).split(separator: " ") where !mechanisms.contains(String(mechanism)) {
            mechanisms.append(String(mechanism))
        }
    }
    return mechanisms
}
