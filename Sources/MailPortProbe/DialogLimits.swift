/// Bounds on everything read from one endpoint. A mail server is hostile input until proven otherwise: without
/// these, one endless reply or one slow server would hold memory or the whole scan.
public struct DialogLimits: Sendable {
    /// Longest line kept; longer ones are cut (RFC 5321 allows 512 for replies; IMAP capability lines are longer).
    public var maxLineLength: Int
    /// Most lines in one reply (an EHLO reply, a CAPA list).
    public var maxLinesPerReply: Int
    /// Most bytes read from one connection.
    public var maxBytesPerDialog: Int
    /// Longest wait for the next bytes (`--read-timeout`).
    public var readTimeoutNanoseconds: UInt64
    /// Longest time for the whole dialog of one connection.
    public var dialogTimeoutNanoseconds: UInt64
    /// Longest line kept in the transcript, and most transcript lines.
    public var maxTranscriptLineLength: Int
    public var maxTranscriptLines: Int

    public init(maxLineLength: Int = 2048, maxLinesPerReply: Int = 200, maxBytesPerDialog: Int = 256 * 1024,
                readTimeoutNanoseconds: UInt64 = 5_000_000_000, dialogTimeoutNanoseconds: UInt64? = nil,
                maxTranscriptLineLength: Int = 300, maxTranscriptLines: Int = 120) {
        self.maxLineLength = maxLineLength
        self.maxLinesPerReply = maxLinesPerReply
        self.maxBytesPerDialog = maxBytesPerDialog
        self.readTimeoutNanoseconds = readTimeoutNanoseconds
        self.dialogTimeoutNanoseconds = dialogTimeoutNanoseconds ?? readTimeoutNanoseconds * 4
        self.maxTranscriptLineLength = maxTranscriptLineLength
        self.maxTranscriptLines = maxTranscriptLines
    }
}
