import MailPortCore
import NIOCore

/// Puts a `TLSEngine` between the socket and the dialog: ciphertext below, plaintext above. Inserted at the front of
/// a live pipeline, so the dialog above it carries on unchanged (STARTTLS), or from the first byte (implicit TLS).
///
/// The channel reads only on demand (the probes turn autoRead off): during the handshake this handler asks for reads
/// itself; afterwards it passes the dialog's read requests down and repeats one when a read brought only part of a
/// record, so a request is never lost.
final class TLSClientHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let engine: TLSEngine
    private let names: [String]
    private let handshakeDone: EventLoopPromise<TLSObservation>
    private var established = false
    private var finished = false
    private var readRequested = false
    /// The first bytes the server sent, kept to recognise a plaintext greeting on an implicit-TLS port.
    private(set) var firstBytes: [UInt8] = []

    init(engine: TLSEngine, names: [String], handshakeDone: EventLoopPromise<TLSObservation>) {
        self.engine = engine
        self.names = names
        self.handshakeDone = handshakeDone
    }

    func handlerAdded(context: ChannelHandlerContext) {
        advanceHandshake(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if firstBytes.count < 64 { firstBytes.append(contentsOf: buffer.readableBytesView.prefix(64 - firstBytes.count)) }
        engine.receive(buffer.readableBytesView)
        if !established {
            advanceHandshake(context: context)
        }
        if established {
            deliverPlaintext(context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if established && readRequested { context.read() }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if established { readRequested = true }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = unwrapOutboundIn(data)
        let plaintext = buffer.readBytes(length: buffer.readableBytes) ?? []
        do {
            try engine.writePlaintext(plaintext)
        } catch {
            promise?.fail(error)
            return
        }
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: engine.takeOutput())), promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail("the server closed the connection during the handshake")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
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
            handshakeDone.succeed(engine.observation(names: names))
        case .failed(let message):
            fail(message)
            context.close(promise: nil)
        }
    }

    private func deliverPlaintext(context: ChannelHandlerContext) {
        switch engine.readPlaintext() {
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

    private func flushOutput(context: ChannelHandlerContext) {
        let output = engine.takeOutput()
        guard !output.isEmpty else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: output)), promise: nil)
    }

    private func fail(_ message: String) {
        guard !finished else { return }
        finished = true
        handshakeDone.fail(TLSHandshakeFailure(message: message, firstBytes: firstBytes))
    }
}

/// Why a handshake did not complete, with what the server had sent (to recognise plaintext on a TLS port).
public struct TLSHandshakeFailure: Error, Sendable {
    public var message: String
    public var firstBytes: [UInt8]
}
