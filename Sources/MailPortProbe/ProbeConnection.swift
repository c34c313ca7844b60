import MailPortCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Why a read gave no line.
public enum ReadFailure: Error, Sendable, Equatable {
    /// Nothing arrived within the read timeout.
    case timeout
    /// The whole dialog ran past its time bound.
    case dialogTimeout
    /// The server closed the connection (or reset it: `reset` holds the error).
    case closed(reset: String?)
    /// More bytes than the dialog bound.
    case tooMuchData
}

/// One TCP connection to a mail endpoint, read line by line within `DialogLimits`, with a transcript.
///
/// SwiftNIO does the I/O; a small handler buffers what arrives and hands it over on request, so the dialogs can be
/// written as straight-line async code ("send EHLO, read the reply") while every read still has a deadline.
public final class ProbeConnection: Sendable {
    /// The channel, for the TLS stage to insert its handler at the front.
    public let channel: any Channel
    private let inbound: NIOLoopBound<InboundBuffer>
    public let limits: DialogLimits
    private let dialogDeadline: NIODeadline
    private let state: NIOLockedValueBox<State>

    private struct State {
        var lines: LineBuffer
        var bytesRead = 0
        var budgetExhausted = false
        var transcript: [TranscriptLine] = []
        var transcriptCut = false
        var violations: [ProtocolViolation] = []
    }

    /// Connects to `address:port`; throws when the connection cannot be made (refused, timed out).
    public static func connect(
        to address: IPAddress, port: UInt16, group: any EventLoopGroup,
        connectTimeout: TimeAmount, limits: DialogLimits
    ) async throws -> ProbeConnection {
        let socketAddress = try SocketAddress(ipAddress: address.description, port: Int(port))
        // The handler is kept from the initializer rather than looked up later: a server that talks and hangs up at
        // once (a 421) may already have closed the channel, and a closed pipeline no longer lists its handlers.
        let installed = NIOLockedValueBox<NIOLoopBound<InboundBuffer>?>(nil)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // Read only when the dialog asks: a flooding server then fills the kernel's buffer, not our memory.
            .channelOption(.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = InboundBuffer()
                    try channel.pipeline.syncOperations.addHandler(handler, name: InboundBuffer.name)
                    installed.withLockedValue { $0 = NIOLoopBound(handler, eventLoop: channel.eventLoop) }
                }
            }
            .connect(to: socketAddress)
            .get()
        guard let inbound = installed.withLockedValue({ $0 }) else {
            throw ReadFailure.closed(reset: "no pipeline")
        }
        return ProbeConnection(channel: channel, inbound: inbound, limits: limits)
    }

    private init(channel: any Channel, inbound: NIOLoopBound<InboundBuffer>, limits: DialogLimits) {
        self.channel = channel
        self.inbound = inbound
        self.limits = limits
        // The greeting wait is on top of the dialog's own bound: a server that holds its greeting (postscreen) must
        // not eat into the time the dialog after it needs.
        self.dialogDeadline =
            .now() + .nanoseconds(Int64(limits.dialogTimeoutNanoseconds + limits.greetingTimeoutNanoseconds))
        self.state = NIOLockedValueBox(State(lines: LineBuffer(maxLineLength: limits.maxLineLength)))
    }

    /// The next line from the server, waiting at most the read timeout, or `timeoutNanoseconds` when given (shorter
    /// for quick checks, the greeting wait for greetings), and never past the dialog's deadline.
    public func readLine(timeoutNanoseconds: UInt64? = nil) async throws(ReadFailure) -> ReceivedLine {
        let readTimeout = timeoutNanoseconds ?? limits.readTimeoutNanoseconds
        while true {
            if let line = state.withLockedValue({ $0.lines.nextLine() }) {
                record(.server, line.text)
                if line.wasCut {
                    addViolation(.init(.lineTooLong, "line longer than \(limits.maxLineLength) bytes (cut)"))
                }
                if line.hasBinary { addViolation(.init(.binaryData, "control bytes in a text line")) }
                return line
            }
            if state.withLockedValue({ $0.budgetExhausted }) { throw .tooMuchData }
            let now = NIODeadline.now()
            guard now < dialogDeadline else { throw .dialogTimeout }
            let readDeadline = min(dialogDeadline, now + .nanoseconds(Int64(readTimeout)))
            let inbound = self.inbound
            let result: InboundBuffer.Result
            do {
                result = try await channel.eventLoop.flatSubmit {
                    inbound.value.nextChunk(deadline: readDeadline, eventLoop: inbound.eventLoop)
                }.get()
            } catch {
                throw .closed(reset: "\(error)")
            }
            switch result {
            case .data(let bytes):
                // Lines within the budget are still parsed; past it, nothing more is taken in.
                let exhausted = state.withLockedValue { state -> Bool in
                    let allowed = max(0, limits.maxBytesPerDialog - state.bytesRead)
                    state.lines.append(bytes.prefix(allowed))
                    state.bytesRead += bytes.count
                    state.budgetExhausted = state.bytesRead > limits.maxBytesPerDialog
                    return state.budgetExhausted
                }
                if exhausted {
                    addViolation(.init(.tooMuchData, "more than \(limits.maxBytesPerDialog) bytes in one dialog (cut)"))
                }
            case .timeout:
                throw readDeadline == dialogDeadline ? .dialogTimeout : .timeout
            case .closed(let error):
                throw .closed(reset: error)
            }
        }
    }

    /// Bytes received so far that do not yet form a line (what a silent-after-junk server left).
    public var unfinishedLineBytes: Int { state.withLockedValue { $0.lines.pendingByteCount } }

    /// What arrived after the last line end, taken as a line of its own (recorded in the transcript); nil when nothing.
    public func takeUnfinishedLine() -> ReceivedLine? {
        guard let line = state.withLockedValue({ $0.lines.takeUnfinishedLine() }) else { return nil }
        record(.server, line.text)
        if line.hasBinary { addViolation(.init(.binaryData, "control bytes in a text line")) }
        return line
    }

    /// Sends one command line (CRLF added) and records it.
    public func send(_ line: String) async throws {
        try await sendRaw(line + "\r\n", transcriptLines: [line])
    }

    /// Sends bytes as they are (several commands in one segment, for pipelining checks).
    public func sendRaw(_ text: String, transcriptLines: [String]) async throws {
        for line in transcriptLines { record(.client, line) }
        try await channel.writeAndFlush(channel.allocator.buffer(string: text)).get()
    }

    public func close() async {
        try? await channel.close().get()
    }

    /// Closes the connection without waiting: a read or handshake waiting on it ends at once. For interrupts.
    public func abort() {
        channel.close(promise: nil)
    }

    public var transcript: [TranscriptLine] { state.withLockedValue { $0.transcript } }
    public var violations: [ProtocolViolation] { state.withLockedValue { $0.violations } }

    public func addViolation(_ violation: ProtocolViolation) {
        state.withLockedValue { state in
            if !state.violations.contains(where: { $0.kind == violation.kind }) { state.violations.append(violation) }
        }
    }

    private func record(_ direction: TranscriptLine.Direction, _ text: String) {
        let limit = limits.maxTranscriptLineLength
        state.withLockedValue { state in
            guard state.transcript.count < limits.maxTranscriptLines else {
                if !state.transcriptCut {
                    state.transcriptCut = true
                    state.transcript.append(
                        TranscriptLine(direction, "… (transcript cut at \(limits.maxTranscriptLines) lines)"))
                }
                return
            }
            state.transcript.append(
                TranscriptLine(direction, text.count > limit ? String(text.prefix(limit)) + "…" : text))
        }
    }
}

/// Buffers inbound bytes until the dialog asks for them. Lives on the channel's event loop only.
final class InboundBuffer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    static let name = "mailport.inbound"

    enum Result: Sendable {
        case data([UInt8])
        case timeout
        case closed(String?)
    }

    private var buffered: [UInt8] = []
    private var closed = false
    private var closeError: String?
    private var waiting: (promise: EventLoopPromise<Result>, timer: Scheduled<Void>)?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Completes with what has arrived, or at the first bytes, the close, or the deadline.
    func nextChunk(deadline: NIODeadline, eventLoop: any EventLoop) -> EventLoopFuture<Result> {
        if !buffered.isEmpty {
            defer { buffered.removeAll(keepingCapacity: true) }
            return eventLoop.makeSucceededFuture(.data(buffered))
        }
        if closed { return eventLoop.makeSucceededFuture(.closed(closeError)) }
        let promise = eventLoop.makePromise(of: Result.self)
        let timer = eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            guard let self, let waiting = self.waiting else { return }
            self.waiting = nil
            waiting.promise.succeed(.timeout)
        }
        waiting = (promise, timer)
        context?.read()
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffered.append(contentsOf: buffer.readableBytesView)
        if let waiting {
            self.waiting = nil
            waiting.timer.cancel()
            let chunk = buffered
            buffered.removeAll(keepingCapacity: true)
            waiting.promise.succeed(.data(chunk))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        wake()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closeError = "\(error)"
        closed = true
        wake()
        context.close(promise: nil)
    }

    private func wake() {
        guard let waiting, buffered.isEmpty else { return }
        self.waiting = nil
        waiting.timer.cancel()
        waiting.promise.succeed(.closed(closeError))
    }
}
