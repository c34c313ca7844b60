import MailPortTLS
import NIOConcurrencyHelpers
import NIOCore

/// Counts connections per endpoint, so a "busy" script can refuse only the first ones.
final class ConnectionCounter: Sendable {
    private let count = NIOLockedValueBox(0)

    /// Returns the number of this connection, from 1.
    func next() -> Int {
        count.withLockedValue {
            $0 += 1
            return $0
        }
    }
}

/// Connections at once per lab address, the most seen at once and how many in all: lets tests check the scanner's
/// politeness and the connections it reports.
public final class LabConnectionStats: Sendable {
    private let state = NIOLockedValueBox<[String: (active: Int, peak: Int, total: Int)]>([:])
    private let handshakes = NIOLockedValueBox<[String: (full: Int, resumed: Int)]>([:])

    public init() {}

    func opened(_ address: String) {
        state.withLockedValue { table in
            var entry = table[address] ?? (0, 0, 0)
            entry.active += 1
            entry.total += 1
            entry.peak = max(entry.peak, entry.active)
            table[address] = entry
        }
    }

    func closed(_ address: String) {
        state.withLockedValue { table in table[address]?.active -= 1 }
    }

    /// The most connections that were open at once to `address`.
    public func peak(_ address: String) -> Int {
        state.withLockedValue { $0[address]?.peak ?? 0 }
    }

    func handshakeCompleted(_ address: String, resumed: Bool) {
        handshakes.withLockedValue { table in
            var entry = table[address] ?? (0, 0)
            if resumed { entry.resumed += 1 } else { entry.full += 1 }
            table[address] = entry
        }
    }

    /// TLS handshakes `address` completed so far: full ones, and those that resumed a session it had issued.
    public func tlsHandshakes(_ address: String) -> (full: Int, resumed: Int) {
        handshakes.withLockedValue { $0[address] ?? (0, 0) }
    }

    /// Every connection `address` accepted so far.
    public func connections(_ address: String) -> Int {
        state.withLockedValue { $0[address]?.total ?? 0 }
    }
}

/// Plays one `LabBehaviour` for one client connection.
final class LabServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let behaviour: LabBehaviour
    private let connectionNumber: Int
    private let stats: LabConnectionStats
    private let address: String
    /// The context to start TLS with after STARTTLS/STLS; nil: accept the command, then hang up.
    private let starttls: TLSContext?
    /// Whether this connection has switched to TLS after STARTTLS/STLS.
    private var insideTLS = false
    private var pending: [UInt8] = []
    private var stopped = false

    init(
        behaviour: LabBehaviour, connectionNumber: Int, stats: LabConnectionStats, address: String,
        starttls: TLSContext? = nil
    ) {
        self.behaviour = behaviour
        self.connectionNumber = connectionNumber
        self.stats = stats
        self.address = address
        self.starttls = starttls
    }

    /// After the "go ahead" reply: switch the connection to TLS, or hang up when this endpoint has none.
    private func startTLS(_ context: ChannelHandlerContext, reply: [String]) {
        guard let starttls else { return send(context, reply, close: true) }
        send(context, reply)
        // Anything the client pipelined after the command is dropped, as a correct server must (CVE-2011-0411);
        // the flawed script keeps it and answers it inside TLS.
        if case .smtp(let script) = behaviour, script.vulnerableToInjection {} else { pending.removeAll() }
        do {
            try context.pipeline.syncOperations.addHandler(
                makeServerTLSHandler(starttls, context.channel, stats: stats, address: address), position: .first)
            insideTLS = true
        } catch {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stats.closed(address)
        context.fireChannelInactive()
    }

    func channelActive(context: ChannelHandlerContext) {
        stats.opened(address)
        let channel = context.channel
        // Whatever happens, no lab connection outlives a minute.
        context.eventLoop.scheduleTask(in: .seconds(60)) { channel.close(promise: nil) }
        switch behaviour {
        case .smtp(let script):
            if connectionNumber <= script.busyConnections {
                send(context, [script.busyReply], close: true)
            } else {
                let lines = script.greeting.enumerated().map { index, text in
                    "220" + (index == script.greeting.count - 1 ? " " : "-") + text
                }
                if script.finalGreetingLineDelayMilliseconds > 0, let last = lines.last {
                    send(context, Array(lines.dropLast()))
                    let channel = context.channel
                    context.eventLoop.scheduleTask(in: .milliseconds(Int64(script.finalGreetingLineDelayMilliseconds)))
                    {
                        channel.writeAndFlush(channel.allocator.buffer(string: last + "\r\n"), promise: nil)
                    }
                } else if script.greetingDelayMilliseconds > 0 {
                    let text = lines.map { $0 + "\r\n" }.joined()
                    let channel = context.channel
                    context.eventLoop.scheduleTask(in: .milliseconds(Int64(script.greetingDelayMilliseconds))) {
                        channel.writeAndFlush(channel.allocator.buffer(string: text), promise: nil)
                    }
                } else {
                    send(context, lines)
                }
            }
        case .imap(let script):
            let code =
                script.capabilitiesInGreeting ? "[CAPABILITY \(script.capabilities.joined(separator: " "))] " : ""
            send(
                context, ["* \(script.greetingStatus) \(code)MailPort lab IMAP ready"],
                close: script.greetingStatus == "BYE")
        case .pop3:
            send(context, ["+OK MailPort lab POP3 ready"])
        case .silent:
            break
        case .raw(let text):
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
        case .endless(let line):
            writeForever(context.channel, line: line + "\r\n")
        case .slow(let text, let milliseconds):
            trickle(context.channel, bytes: Array(text.utf8)[...], interval: .milliseconds(Int64(milliseconds)))
        case .answersRequest:
            break
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.append(contentsOf: unwrapInboundIn(data).readableBytesView)
        while !stopped, let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var lineBytes = pending[..<newline]
            if lineBytes.last == UInt8(ascii: "\r") { lineBytes = lineBytes.dropLast() }
            let line = String(decoding: lineBytes, as: UTF8.self)
            pending.removeSubrange(...newline)
            respond(context, to: line)
        }
        if pending.count > 4096 { context.close(promise: nil) }
    }

    private func respond(_ context: ChannelHandlerContext, to line: String) {
        let words = line.split(separator: " ", maxSplits: 2).map(String.init)
        let verb = words.first?.uppercased() ?? ""
        switch behaviour {
        case .smtp(let script):
            if insideTLS && connectionNumber <= script.hangUpInsideTLSConnections {
                return context.close(promise: nil)
            }
            switch verb {
            case "EHLO":
                if let rejection = script.ehloRejection {
                    send(context, [rejection])
                } else {
                    let lines = ["lab.mailport.test"] + script.extensions
                    send(context, lines.enumerated().map { "250" + ($0 == lines.count - 1 ? " " : "-") + $1 })
                }
            case "HELO": send(context, ["250 lab.mailport.test"])
            case "STARTTLS":
                if script.starttlsReply.hasPrefix("220") {
                    startTLS(context, reply: [script.starttlsReply])
                } else {
                    send(context, [script.starttlsReply])
                }
            case "QUIT": send(context, ["221 2.0.0 Bye"], close: true)
            case "NOOP", "RSET": send(context, ["250 2.0.0 Ok"])
            case "MAIL":
                send(
                    context, [script.mailRequiresAuthentication ? "530 5.7.0 Authentication required" : "250 2.1.0 Ok"])
            case "RCPT":
                if let reply = script.rcptReply { return send(context, [reply], close: reply.hasPrefix("421")) }
                let address = line.dropFirst(4).drop { $0 == " " }.dropFirst(3)  // after "TO:"
                let local = address.lowercased().hasSuffix("@lab.mailport.test>")
                let relayed = script.relayAccepting.contains { $0.isEmpty || address.contains($0) }
                // A form the filter misses is missed also when routed through the lab's own name.
                let missed = script.relayAccepting.contains { !$0.isEmpty && address.contains($0) }
                if local && !missed {
                    send(
                        context,
                        [
                            address.lowercased().hasPrefix("<postmaster@")
                                ? "250 2.1.5 Ok" : "550 5.1.1 Recipient address rejected: User unknown"
                        ])
                } else {
                    send(context, [relayed ? "250 2.1.5 Ok" : "554 5.7.1 Relay access denied"])
                }
            case "VRFY", "EXPN":
                send(context, [script.vrfyEnabled ? "252 2.0.0 postmaster" : "502 5.5.1 \(verb) command is disabled"])
            case "DATA": send(context, ["554 5.5.1 Error: no valid recipients"])
            default: send(context, ["502 5.5.2 Error: command not recognized"])
            }
        case .imap(let script):
            guard words.count >= 2 else { return send(context, ["* BAD missing tag"]) }
            let tag = words[0]
            let command = words[1].uppercased()
            var lines: [String] = []
            var close = false
            switch command {
            case "CAPABILITY": lines = ["* CAPABILITY \(script.capabilities.joined(separator: " "))", "\(tag) OK done"]
            case "STARTTLS": return startTLS(context, reply: ["\(tag) OK Begin TLS negotiation now"])
            case "LOGOUT":
                lines = ["* BYE Logging out", "\(tag) OK Logout completed"]
                close = true
            case "NOOP": lines = ["\(tag) OK NOOP completed"]
            default: lines = ["\(tag) BAD unknown command"]
            }
            if script.withholdTaggedReplies {
                lines = lines.filter { $0.hasPrefix("*") }
                close = false
            }
            send(context, lines, close: close)
        case .pop3(let script):
            switch verb {
            case "CAPA":
                if let capabilities = script.capabilities {
                    send(context, ["+OK Capability list follows"] + capabilities + ["."])
                } else {
                    send(context, ["-ERR unknown command"])
                }
            case "STLS": startTLS(context, reply: ["+OK Begin TLS negotiation"])
            case "QUIT": send(context, ["+OK Logging out"], close: true)
            case "NOOP": send(context, ["+OK"])
            default: send(context, ["-ERR unknown command"])
            }
        case .answersRequest(let text):
            guard line.isEmpty else { return }
            stopped = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(string: text))).whenComplete { _ in
                channel.close(promise: nil)
            }
        case .silent, .raw, .endless, .slow:
            break
        }
    }

    private func send(_ context: ChannelHandlerContext, _ lines: [String], close: Bool = false) {
        let text = lines.map { $0 + "\r\n" }.joined()
        let written = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)))
        if close {
            stopped = true
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Writes `line` again each time the previous write has been taken by the kernel: as fast as the client reads.
private func writeForever(_ channel: any Channel, line: String) {
    let chunk = String(repeating: line, count: max(1, 8192 / max(1, line.utf8.count)))
    func next() {
        channel.writeAndFlush(channel.allocator.buffer(string: chunk)).whenSuccess { next() }
    }
    next()
}

/// Sends one byte per interval.
private func trickle(_ channel: any Channel, bytes: ArraySlice<UInt8>, interval: TimeAmount) {
    guard let byte = bytes.first, channel.isActive else { return }
    channel.writeAndFlush(channel.allocator.buffer(bytes: [byte])).whenSuccess {
        channel.eventLoop.scheduleTask(in: interval) { trickle(channel, bytes: bytes.dropFirst(), interval: interval) }
    }
}
