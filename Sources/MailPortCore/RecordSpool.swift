import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where one record lives in a spool.
public struct SpoolRecord: Sendable, Equatable {
    public var offset: Int
    public var length: Int
}

/// An append-only file of encoded records, read back by position: what lets a run of 100,000 endpoints keep on disk
/// what it has finished with (dialog observations, judged hosts) and hold only where each record is.
///
/// The file is created already unlinked (`O_TMPFILE`, or `mkstemp` and `unlink` where the file system lacks it), so
/// nothing is left behind however the run ends, and no other process can reach it. Records are immutable once
/// written; a value that changes is written again and its holder points at the new record (copies of a `HostList`
/// that share a spool stay independent values).
///
/// A spool that cannot write (a full disk) keeps working in memory and remembers the first failure, which the run
/// turns into a warning: losing the memory bound is better than losing the audit.
public final class RecordSpool: Sendable {
    private struct State {
        var fd: Int32
        /// Bytes in the file (records written through `pwrite`).
        var fileLength = 0
        /// Records not yet written, starting at `fileLength`.
        var pending: [UInt8] = []
        /// Where writing failed: every record from `memoryFrom` on stays in `memory`.
        var memoryFrom: Int?
        var memory: [UInt8] = []
        var failure: String?
    }

    /// Linux's O_TMPFILE, a C macro Swift does not import: `__O_TMPFILE | O_DIRECTORY` (the same value on x86-64 and
    /// arm64).
    static let openTemporaryFile: Int32 = 0o20_000_000 | O_DIRECTORY

    /// Pending bytes are written in chunks of about this size.
    static let chunkSize = 1 << 20

    private let state: Mutex<State>
    /// The folder the file lives in (for messages).
    public let directory: String

    /// A spool in `directory` (the output folder, so it shares the disk the reports need anyway). Throws when no file
    /// can be created there.
    public init(directory: String) throws(MailPortError) {
        self.directory = directory
        var fd = open(directory, Self.openTemporaryFile | O_RDWR | O_CLOEXEC, 0o600)
        if fd < 0 {
            var template = Array("\(directory)/.mailport-spool-XXXXXX".utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            if fd >= 0 { template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) } }
        }
        guard fd >= 0 else {
            throw .scanFailed("cannot create a spool file in '\(printable(directory))': \(errnoText())")
        }
        state = Mutex(State(fd: fd))
    }

    /// A spool with no file, holding its records in memory: for a run where no file can be created (`-o -` in a
    /// container whose every file system is read-only). Small runs lose nothing by it.
    public init(inMemoryFor directory: String) {
        self.directory = directory
        state = Mutex(State(fd: -1, memoryFrom: 0))
    }

    /// A spool over a descriptor the caller opened (tests hand it one that cannot be written, to see the fallback).
    init(fd: Int32, directory: String) {
        self.directory = directory
        state = Mutex(State(fd: fd))
    }

    deinit {
        state.withLock { state in if state.fd >= 0 { _ = close(state.fd) } }
    }

    /// The first write that failed, if any (the spool has kept its records in memory since).
    public var failure: String? { state.withLock { $0.failure } }

    /// Bytes written so far (on disk and pending).
    public var byteCount: Int {
        state.withLock { $0.fileLength + $0.pending.count + $0.memory.count }
    }

    public func append(_ bytes: [UInt8]) -> SpoolRecord {
        state.withLock { state in
            if let start = state.memoryFrom {
                let record = SpoolRecord(offset: start + state.memory.count, length: bytes.count)
                state.memory += bytes
                return record
            }
            let record = SpoolRecord(offset: state.fileLength + state.pending.count, length: bytes.count)
            state.pending += bytes
            if state.pending.count >= Self.chunkSize { Self.flush(&state) }
            return record
        }
    }

    public func read(_ record: SpoolRecord) -> [UInt8] {
        state.withLock { state in
            // A record not yet in the file is written first (or, when that fails, moves to memory).
            if state.memoryFrom == nil, record.offset + record.length > state.fileLength { Self.flush(&state) }
            if let start = state.memoryFrom, record.offset >= start {
                let from = record.offset - start
                return Array(state.memory[from..<from + record.length])
            }
            var bytes = [UInt8](repeating: 0, count: record.length)
            var done = 0
            while done < record.length {
                let count = bytes.withUnsafeMutableBytes {
                    pread(state.fd, $0.baseAddress! + done, record.length - done, off_t(record.offset + done))
                }
                if count < 0 && errno == EINTR { continue }
                // The file is private and unlinked: a short read means the disk lost what was written.
                precondition(count > 0, "the spool file lost a record: \(errnoText())")
                done += count
            }
            return bytes
        }
    }

    /// Writes what is pending; on failure keeps it (and everything after it) in memory.
    private static func flush(_ state: inout State) {
        var done = 0
        while done < state.pending.count {
            let count = state.pending.withUnsafeBytes {
                pwrite(state.fd, $0.baseAddress! + done, $0.count - done, off_t(state.fileLength + done))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                state.failure = count < 0 ? errnoText() : "the disk took no more bytes"
                break
            }
            done += count
        }
        if done < state.pending.count {
            // What part of the chunk reached the file is ignored: every record of it stays whole in memory, so no
            // record is split between the file and memory.
            state.memoryFrom = state.fileLength
            state.memory = state.pending
        } else {
            state.fileLength += done
        }
        state.pending.removeAll(keepingCapacity: true)
    }
}

extension RecordSpool {
    /// A Codable value as a record, in `SpoolCoding`'s binary form (JSON for a value that form cannot hold): what is
    /// read back is what would have been kept in memory, to the bit.
    public func append<Value: Encodable>(encoding value: Value) -> SpoolRecord {
        do {
            if let binary = try SpoolEncoder.encode(value) { return append(binary) }
            return append(Array(try JSONEncoder().encode(value)))
        } catch {
            // MailPort's own report types always encode (no float that is not finite, no throwing encoder).
            preconditionFailure("a value of \(Value.self) does not encode: \(error)")
        }
    }

    public func decode<Value: Decodable>(_ type: Value.Type, at record: SpoolRecord) -> Value {
        do {
            return try SpoolDecoder.decode(type, from: read(record))
        } catch {
            preconditionFailure("a spool record does not decode as \(type): \(error)")
        }
    }
}
