import MailPortCore

/// Layer-4 discovery as the pipeline drives it: connect scans (`ConnectScanner`) and raw SYN scans (`SynScanner`)
/// both probe a sequence of host×port pairs and report one final state per pair.
public protocol PortDiscoverer: Sendable {
    func run<Probes: Sequence>(
        probes: Probes,
        planned: UInt64,
        shouldStop: () -> Bool,
        onProgress: (DiscoveryProgress) -> Void,
        onObservation: (PortObservation) -> Void
    ) throws(MailPortError) -> (DiscoveryEnd, DiscoveryProgress) where Probes.Element == Probe
}

extension ConnectScanner: PortDiscoverer {}
extension SynScanner: PortDiscoverer {}
