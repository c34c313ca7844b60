/// MP-PREFER-465 (profile rfc8314): submission is offered with STARTTLS on 587 but not with implicit TLS on 465,
/// which RFC 8314 §3.3 prefers.
struct PreferSubmissionsCheck: RuleCheck {
    let id = "MP-PREFER-465"
    let parameterKinds: [String: ParameterKind] = [:]

    func evaluate(_ host: HostContext, _ parameters: RuleParameters) -> [Hit] {
        guard host.offers(.submissions).isEmpty, let submission = host.offers(.submission).first else { return [] }
        return [
            Hit(
                port: submission.port,
                evidence: "submission is offered on \(submission.label) (STARTTLS) but not with implicit TLS (465)")
        ]
    }
}
