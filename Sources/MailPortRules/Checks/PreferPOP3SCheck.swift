/// MP-PREFER-995: POP3 on 110 without POP3S on 995.
struct PreferPOP3SCheck: RuleCheck {
    let id = "MP-PREFER-995"
    let parameterKinds: [String: ParameterKind] = [:]

    func evaluate(_ host: HostContext, _ parameters: RuleParameters) -> [Hit] {
        missingImplicitSibling(host, plaintext: .pop3, implicit: .pop3s)
    }
}
