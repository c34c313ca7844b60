import MailPortCore

/// Shared by the three "plaintext port is open" checks: an open endpoint of the service, unless a dialog showed
/// it speaks another protocol (then MP-SERVICE-UNEXPECTED says so instead). Judged by service, not number, so
/// `--ports 10143=imap` is held to the same standard as 143.
func openPortHit(_ endpoint: EndpointContext, service: MailService, what: String) -> Hit? {
    guard endpoint.service == service, !endpoint.speaksSomethingElse else { return nil }
    var evidence = "port \(endpoint.label) is open (\(what))"
    if let banner = endpoint.dialog?.banner { evidence += "; greeting \(quoted(banner, limit: 100))" }
    return Hit(port: endpoint.port, evidence: evidence)
}
