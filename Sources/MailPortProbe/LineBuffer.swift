/// One line received from a server, without its line end.
public struct ReceivedLine: Sendable, Equatable {
    /// The bytes decoded as UTF-8 (invalid sequences replaced), cut at the line bound.
    public var text: String
    /// The line was longer than the bound; `text` holds its beginning.
    public var wasCut: Bool
    /// The line held NUL or other control bytes that no mail protocol sends.
    public var hasBinary: Bool

    public init(text: String, wasCut: Bool = false, hasBinary: Bool = false) {
        self.text = text
        self.wasCut = wasCut
        self.hasBinary = hasBinary
    }
}

/// Splits received bytes into lines, in any chunking, holding at most one line's worth of bytes.
///
/// Lines end with CRLF or a bare LF (some servers send that). A line longer than `maxLineLength` is cut: its
/// beginning is returned with `wasCut` and the rest is skipped up to the next line end, so memory stays bounded
/// whatever the server sends.
public struct LineBuffer: Sendable {
    public let maxLineLength: Int
    private var pending: [UInt8] = []
    private var skippingRestOfLine = false
    private var ready: [ReceivedLine] = []
    private var readyIndex = 0

    public init(maxLineLength: Int) {
        self.maxLineLength = maxLineLength
    }

    /// Bytes of an unfinished line held right now (for tests of the bound).
    public var pendingByteCount: Int { pending.count }

    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if skippingRestOfLine {
                    skippingRestOfLine = false
                } else {
                    emit(cut: false)
                }
                continue
            }
            if skippingRestOfLine { continue }
            pending.append(byte)
            if pending.count > maxLineLength {
                pending.removeLast(pending.count - maxLineLength)
                emit(cut: true)
                skippingRestOfLine = true
            }
        }
    }

    /// The bytes of the unfinished line as a line of their own (a TLS alert or binary answer has no line end).
    public mutating func takeUnfinishedLine() -> ReceivedLine? {
        guard !pending.isEmpty else { return nil }
        emit(cut: false)
        return nextLine()
    }

    /// The next complete line, if one has arrived.
    public mutating func nextLine() -> ReceivedLine? {
        guard readyIndex < ready.count else {
            ready.removeAll(keepingCapacity: true)
            readyIndex = 0
            return nil
        }
        defer { readyIndex += 1 }
        return ready[readyIndex]
    }

    private mutating func emit(cut: Bool) {
        if !cut, pending.last == UInt8(ascii: "\r") { pending.removeLast() }
        let hasBinary = pending.contains { $0 < 0x20 && $0 != 0x09 || $0 == 0x7f }
        ready.append(ReceivedLine(text: String(decoding: pending, as: UTF8.self), wasCut: cut, hasBinary: hasBinary))
        pending.removeAll(keepingCapacity: true)
    }
}
