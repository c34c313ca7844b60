/// MP-PREFER-993: IMAP on 143 without IMAPS on 993.
struct PreferIMAPSCheck: RuleCheck {
    let id = "MP-PREFER-993"
    let parameterKinds: [String: ParameterKind] = [:]

    func evaluate(_ host: HostContext, _ parameters: RuleParameters) -> [Hit] {
        missingImplicitSibling(host, plaintext: .imap, implicit: .imaps)
    }
}
