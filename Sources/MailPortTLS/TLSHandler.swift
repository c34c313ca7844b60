import MailPortCore
import MailPortProbe
import NIOCore

/// Puts a `TLSEngine` between the socket and the dialog: ciphertext below, plaintext above. Inserted at the front of
/// a live pipeline, so the dialog above it carries on unchanged (STARTTLS), or from the first byte (implicit TLS).
/// The probes use it as a client; the lab's scripted servers as a server. Writes made before the handshake is done
/// wait for it (a server greeting on an implicit-TLS port).
///
/// The channel reads only on demand (the probes turn autoRead off): during the handshake this handler asks for reads
/// itself; afterwards it passes the dialog's read requests down and repeats one when a read brought only part of a
/// record, so a request is never lost.
public final class TLSHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let engine: TLSEngine
    private let names: [String]
    private let handshakeDone: EventLoopPromise<TLSObservation>
    /// What the handshake does with the endpoint's session; `.keepIssued` is cleared once a session was kept.
    private var sessions: TLSSessionUse?
    private var established = false
    private var finished = false
    private var readRequested = false
    private var waitingWrites: [(bytes: [UInt8], promise: EventLoopPromise<Void>?)] = []
    /// The first bytes the server sent, kept to recognise a plaintext greeting on an implicit-TLS port.
    private(set) var firstBytes: [UInt8] = []

    /// - Parameter sessions: `.keepIssued`: the session the server issues is kept in the slot once it can be resumed.
    ///   `.resume`: the engine was made offering the session taken from the slot (if it held one); whether the server
    ///   took it is recorded in the slot, and the observation has the version, cipher and group only (no certificate
    ///   facts: the check needs the channel).
    public init(
        engine: TLSEngine, names: [String] = [], handshakeDone: EventLoopPromise<TLSObservation>,
        sessions: TLSSessionUse? = nil
    ) {
        self.engine = engine
        self.names = names
        self.handshakeDone = handshakeDone
        self.sessions = sessions
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        // Added to a live connection (STARTTLS, or a client right after connect): start now. Added by a server's
        // channel initializer: wait for channelActive, since a read requested before registration is never served.
        if context.channel.isActive { advanceHandshake(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        advanceHandshake(context: context)
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if firstBytes.count < 64 {
            firstBytes.append(contentsOf: buffer.readableBytesView.prefix(64 - firstBytes.count))
        }
        engine.receive(buffer.readableBytesView)
        if !established {
            advanceHandshake(context: context)
        }
        if established {
            deliverPlaintext(context: context)
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if established && readRequested { context.read() }
        context.fireChannelReadComplete()
    }

    public func read(context: ChannelHandlerContext) {
        if established { readRequested = true }
        context.read()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = unwrapOutboundIn(data)
        let plaintext = buffer.readBytes(length: buffer.readableBytes) ?? []
        guard established else {
            waitingWrites.append((plaintext, promise))
            return
        }
        do {
            try engine.writePlaintext(plaintext)
        } catch {
            promise?.fail(error)
            return
        }
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: engine.takeOutput())), promise: promise)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        fail("the server closed the connection during the handshake")
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail("\(error)")
        context.fireErrorCaught(error)
    }

    private func advanceHandshake(context: ChannelHandlerContext) {
        let step = engine.handshake()
        flushOutput(context: context)
        switch step {
        case .needMoreData:
            context.read()
        case .done:
            established = true
            finished = true
            keepSessionOnceResumable()
            if case .resume(let slot) = sessions {
                if engine.offeredSession { slot.recordOffer(resumed: engine.sessionReused) }
                handshakeDone.succeed(engine.channelObservation())
            } else {
                handshakeDone.succeed(engine.observation(names: names))
            }
            let writes = waitingWrites
            waitingWrites = []
            for write in writes {
                self.write(
                    context: context, data: wrapOutboundOut(context.channel.allocator.buffer(bytes: write.bytes)),
                    promise: write.promise)
            }
            if !writes.isEmpty { context.flush() }
        case .failed(let message):
            fail(message)
            context.close(promise: nil)
        }
    }

    private func deliverPlaintext(context: ChannelHandlerContext) {
        let read = engine.readPlaintext()
        // A TLS 1.3 ticket is read with the first application data after the handshake.
        keepSessionOnceResumable()
        switch read {
        case .plaintext(let bytes):
            flushOutput(context: context)
            guard !bytes.isEmpty else { return }
            readRequested = false
            context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: bytes)))
        case .closed:
            context.close(promise: nil)
        case .failed(let message):
            context.fireErrorCaught(TLSError(message))
            context.close(promise: nil)
        }
    }

    private func keepSessionOnceResumable() {
        guard case .keepIssued(let slot) = sessions, let session = engine.resumableSession else { return }
        slot.keep(session)
        sessions = nil
    }

    private func flushOutput(context: ChannelHandlerContext) {
        let output = engine.takeOutput()
        guard !output.isEmpty else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: output)), promise: nil)
    }

    private func fail(_ message: String) {
        guard !finished else { return }
        finished = true
        for write in waitingWrites { write.promise?.fail(TLSError(message)) }
        waitingWrites = []
        handshakeDone.fail(TLSHandshakeFailure(message: message, firstBytes: firstBytes))
    }
}

/// Adds a client's handshake handler to a connection that should be open, nearest the socket. Call on the channel's
/// event loop. A connection the server has already closed (a server that answers STARTTLS with OK and hangs up at
/// once, whose close the dialog read before asking for TLS) fails at once: its channelInactive has passed, so a
/// handler added now would never hear of the close and would wait for its timer, and the run would report a timeout
/// (transient, retried) where the server's answer was a refusal.
public func addHandshakeHandler(
    _ handler: any ChannelHandler, to channel: any Channel
) throws(ConnectionClosedBeforeHandshake) {
    guard channel.isActive else { throw ConnectionClosedBeforeHandshake() }
    do {
        try channel.pipeline.syncOperations.addHandler(handler, position: .first)
    } catch {
        // A pipeline that refuses handlers belongs to a channel that is closing.
        throw ConnectionClosedBeforeHandshake()
    }
}

/// The connection was closed before the client's first handshake message could be sent.
public struct ConnectionClosedBeforeHandshake: Error, Sendable, CustomStringConvertible {
    public var description: String { "the server closed the connection before the TLS handshake" }
}

/// Why a handshake did not complete, with what the server had sent (to recognise plaintext on a TLS port).
public struct TLSHandshakeFailure: Error, Sendable {
    public var message: String
    public var firstBytes: [UInt8]
}
