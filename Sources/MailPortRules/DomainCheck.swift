import Foundation
import MailPortCore

/// A mail domain as the domain rules see it: what DNS said, and the judged hosts its records lead to.
public struct DomainContext: Sendable {
    public var domain: DomainObservation
    /// The report's hosts by address (hosts without an open port are not listed, as in the report).
    public var hosts: [String: ScanReport.Host]
    /// Ports the scan probed: an SRV port outside them says nothing about reachability.
    public var scannedPorts: Set<UInt16>
    /// Every planned probe ran (an interrupted or sharded scan cannot call a port closed).
    public var discoveryComplete: Bool

    public init(
        domain: DomainObservation, hosts: [String: ScanReport.Host], scannedPorts: Set<UInt16>,
        discoveryComplete: Bool
    ) {
        self.domain = domain
        self.hosts = hosts
        self.scannedPorts = scannedPorts
        self.discoveryComplete = discoveryComplete
    }

    /// The outcome of one lookup the domain stage made, if it made it.
    public func lookup(_ name: String, _ type: String) -> DomainObservation.LookupOutcome? {
        domain.lookups.first { $0.name == name && $0.type == type }?.outcome
    }
}

/// A check on a domain rather than on a host. Its hits carry port 0; the engine lists them under the domain.
public protocol DomainCheck: RuleCheck {
    func evaluate(_ domain: DomainContext, _ parameters: RuleParameters) -> [String]
}

extension DomainCheck {
    public var parameterKinds: [String: ParameterKind] { [:] }

    /// Domain checks have nothing to say about a single host.
    public func evaluate(_ host: HostContext, _ parameters: RuleParameters) -> [Hit] { [] }
}
