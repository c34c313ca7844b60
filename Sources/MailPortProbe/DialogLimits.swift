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
    /// Longest wait for the greeting, its first line and each continuation line (`--greeting-timeout`). Longer than
    /// the read timeout: postscreen holds its greeting 6 s, sendmail's greet_pause and Exim's delays a few seconds,
    /// and RFC 5321 4.5.3.2 gives the client 5 minutes. A client that gives up or speaks early is dropped unaudited.
    public var greetingTimeoutNanoseconds: UInt64
    /// Longest time for the whole dialog of one connection (the greeting wait comes on top).
    public var dialogTimeoutNanoseconds: UInt64
    /// Longest line kept in the transcript, and most transcript lines.
    public var maxTranscriptLineLength: Int
    public var maxTranscriptLines: Int

    public init(
        maxLineLength: Int = 2048, maxLinesPerReply: Int = 200, maxBytesPerDialog: Int = 256 * 1024,
        readTimeoutNanoseconds: UInt64 = 5_000_000_000, greetingTimeoutNanoseconds: UInt64 = 30_000_000_000,
        dialogTimeoutNanoseconds: UInt64? = nil,
        maxTranscriptLineLength: Int = 300, maxTranscriptLines: Int = 120
    ) {
        self.maxLineLength = maxLineLength
        self.maxLinesPerReply = maxLinesPerReply
        self.maxBytesPerDialog = maxBytesPerDialog
        self.readTimeoutNanoseconds = readTimeoutNanoseconds
        self.greetingTimeoutNanoseconds = greetingTimeoutNanoseconds
        self.dialogTimeoutNanoseconds = dialogTimeoutNanoseconds ?? readTimeoutNanoseconds * 4
        self.maxTranscriptLineLength = maxTranscriptLineLength
        self.maxTranscriptLines = maxTranscriptLines
    }
}
