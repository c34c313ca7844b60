/// MP-WAIVER-EXPIRED: a waiver that would cover a finding here has expired, so the finding counts again and the
/// acceptance needs a fresh decision.
struct WaiverExpiredCheck: RuleCheck {
    let id = "MP-WAIVER-EXPIRED"
    let parameterKinds: [String: ParameterKind] = [:]

    func evaluate(_ host: HostContext, _ parameters: RuleParameters) -> [Hit] {
        host.expiredWaivers.map { expired in
            Hit(
                port: expired.port,
                evidence:
                    "the waiver for \(expired.rule) on port \(expired.port) expired \(expired.expires) (reason given: \(quoted(expired.reason, limit: 120)))"
            )
        }
    }
}
