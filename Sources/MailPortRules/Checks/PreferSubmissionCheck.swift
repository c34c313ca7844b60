/// MP-PREFER-587: the host takes mail submissions (implicit TLS on 465, or AUTH on the relay port) but has no
/// submission port 587, which clients and RFC 6409 expect.
struct PreferSubmissionCheck: RuleCheck {
    let id = "MP-PREFER-587"
    let parameterKinds: [String: ParameterKind] = [:]

    func evaluate(_ host: HostContext, _ parameters: RuleParameters) -> [Hit] {
        guard host.offers(.submission).isEmpty else { return [] }
        if let submissions = host.offers(.submissions).first {
            return [
                Hit(
                    port: submissions.port,
                    evidence: "submission is offered on \(submissions.label) but no submission port (587) is open")
            ]
        }
        let authOnRelay = host.offers(.smtp).first { endpoint in
            !(endpoint.dialog?.authMechanisms ?? []).isEmpty || !(endpoint.dialog?.authMechanismsAfterTLS ?? []).isEmpty
        }
        if let relay = authOnRelay {
            return [
                Hit(
                    port: relay.port,
                    evidence: "AUTH is offered on the relay port \(relay.label) but no submission port (587) is open")
            ]
        }
        return []
    }
}
