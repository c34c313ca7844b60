import MailPortCore

/// MP-SMTP-OPEN-RELAY: the server accepted, from an anonymous client, a recipient at an outside domain (in one of the
/// forms relay filters have missed): anyone can send spam through it. Only an acceptance fires; a deferral is unknown.
struct OpenRelayCheck: EndpointCheck {
    let id = "MP-SMTP-OPEN-RELAY"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let checks = endpoint.dialog?.smtpChecks, checks.relay == .accepted,
            let accepted = checks.relayAttempts.first(where: { $0.outcome == .accepted })
        else { return nil }
        return Hit(
            port: endpoint.port,
            evidence: "\(endpoint.label) accepted \(quoted(accepted.command, limit: 120)) "
                + "from <\(SMTPChecks.relaySender)> without authentication (\(accepted.question)): \(quoted(accepted.reply, limit: 100))"
        )
    }
}

/// MP-SMTP-VRFY: VRFY or EXPN answers for postmaster (RFC 5321 requires that mailbox, so an answer proves the command
/// works): anyone can test which users exist. Low on port 25 (`severity`), `submission-severity` on submission ports.
struct VRFYCheck: EndpointCheck {
    let id = "MP-SMTP-VRFY"
    var parameterKinds: [String: ParameterKind] { ["submission-severity": .severity] }

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let checks = endpoint.dialog?.smtpChecks else { return nil }
        let answering = [checks.vrfy, checks.expn].compactMap { $0 }.filter { $0.outcome == .accepted }
        guard !answering.isEmpty else { return nil }
        let evidence = answering.map { "\($0.command) answered \(quoted($0.reply, limit: 80))" }.joined(separator: "; ")
        let submission = [.submission, .submissions].contains(endpoint.service)
        return Hit(
            port: endpoint.port, evidence: "\(endpoint.label): \(evidence)",
            severity: submission ? parameters.severity("submission-severity") : nil)
    }
}

/// MP-SMTP-USER-ENUMERATION: on a submission port, before authentication, RCPT answers an existing mailbox
/// (postmaster) differently from one that cannot exist: the port confirms user names to anyone.
struct RecipientEnumerationCheck: EndpointCheck {
    let id = "MP-SMTP-USER-ENUMERATION"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let answer = endpoint.dialog?.smtpChecks?.recipientEnumeration, answer.outcome == .accepted else {
            return nil
        }
        return Hit(
            port: endpoint.port,
            evidence: "\(endpoint.label) tells users apart before authentication: "
                + "\(quoted(answer.command, limit: 160)) answered \(quoted(answer.reply, limit: 160))")
    }
}
