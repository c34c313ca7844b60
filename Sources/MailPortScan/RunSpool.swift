import Foundation
import MailPortCore

/// The disk a run keeps what it has finished with on, so memory does not grow with what it finds: each dialog
/// observation the moment its endpoint is done, and (above `ScanSettings.spoolAboveEndpoints`) each judged host.
/// One per run.
final class RunSpool: @unchecked Sendable {
    let spool: RecordSpool
    /// Where each endpoint's dialog observation is (under `lock`).
    private var dialogIndex: [EndpointKey: SpoolRecord] = [:]
    private let lock = NSLock()

    /// Next to the reports (the disk they need anyway); with `-o -`, the temporary folder. Where no file can be
    /// created there, in memory.
    init(settings: ScanSettings) {
        let directory: String
        switch settings.output {
        case nil: directory = settings.outputDirectory
        case .file(let path):
            let folder = (path as NSString).deletingLastPathComponent
            directory = folder.isEmpty ? "." : folder
        case .standardOutput: directory = NSTemporaryDirectory()
        }
        do {
            spool = try RecordSpool(directory: directory)
            unavailable = nil
        } catch {
            spool = RecordSpool(inMemoryFor: directory)
            unavailable = error.message
        }
    }

    /// Why no spool file could be created (the records are then held in memory).
    let unavailable: String?

    /// What a person should hear about the spool once the run is written: a write that failed part-way, or no file
    /// at all for a run large enough to need one (a small run held in memory is what it would have been anyway).
    func warning(openEndpoints: UInt64, spoolAbove: UInt64) -> String? {
        if let failure = spool.failure {
            return
                "cannot write the run's spool in '\(printable(spool.directory))' (\(failure)); kept in memory instead"
        }
        guard let unavailable, openEndpoints > spoolAbove else { return nil }
        return "\(unavailable); this run of \(openEndpoints) open endpoints was held in memory"
    }

    func store(_ observation: DialogObservation, for key: EndpointKey) {
        let record = spool.append(encoding: observation)
        lock.withLock { dialogIndex[key] = record }
    }

    func dialog(for key: EndpointKey) -> DialogObservation? {
        guard let record = record(for: key) else { return nil }
        return spool.decode(DialogObservation.self, at: record)
    }

    // Locked by hand: on this toolchain `lock.withLock { dialogIndex[key] }` (a closure returning the optional
    // record) crashed in debug builds with a null dereference.
    private func record(for key: EndpointKey) -> SpoolRecord? {
        lock.lock()
        defer { lock.unlock() }
        return dialogIndex[key]
    }

    var dialogCount: Int { lock.withLock { dialogIndex.count } }
}
