/// MP-BANNER-DISCLOSURE: the greeting names the server software with a version (`patterns`), which tells an
/// attacker which exploits to try.
struct BannerDisclosureCheck: EndpointCheck {
    let id = "MP-BANNER-DISCLOSURE"
    var parameterKinds: [String: ParameterKind] { ["patterns": .patterns] }

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let banner = endpoint.dialog?.banner else { return nil }
        for pattern in parameters.patterns("patterns") {
            if case .success(let match?) = endpoint.search(pattern, in: banner) {
                return Hit(
                    port: endpoint.port, evidence: "\(endpoint.label) greeting names \(quoted(match, limit: 80))")
            }
        }
        return nil
    }
}
