import MailPortCore

#if canImport(Glibc)
import Glibc
#endif

/// A recursive resolver to ask: the system's (`/etc/resolv.conf`) or `--resolver ADDRESS[:PORT]`.
public struct ResolverAddress: Sendable, Equatable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16 = 53) {
        self.address = address
        self.port = port
    }

    public static let expectedForm =
        "an IP address with an optional port (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:53)"

    /// `192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353`.
    public init(parsing text: String) throws(MailPortError) {
        let invalid = MailPortError.invalidInput(
            "invalid resolver '\(printable(text))'; expected \(ResolverAddress.expectedForm)")
        if let address = IPAddress(text) {
            self.init(address: address)
            return
        }
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let rest = host[host.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":") else { throw invalid }
            portText = rest.isEmpty ? nil : rest.dropFirst()
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":"), !host[..<colon].contains(":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard let address = IPAddress(String(host)) else { throw invalid }
        var port: UInt16 = 53
        if let portText {
            guard let value = UInt16(portText), value > 0 else { throw invalid }
            port = value
        }
        self.init(address: address, port: port)
    }

    /// The `nameserver` lines of a resolv.conf (at most three, as glibc reads them); link-local zone ids are skipped.
    public static func fromResolvConf(_ contents: String) -> [ResolverAddress] {
        var servers: [ResolverAddress] = []
        for line in contents.split(whereSeparator: \.isNewline) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver", let address = IPAddress(String(words[1])) else {
                continue
            }
            servers.append(ResolverAddress(address: address))
            if servers.count == 3 { break }
        }
        return servers
    }

    public var description: String {
        address.family == .v6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

/// How one question ended, with the records of the answer section.
public struct DNSLookupResult: Sendable {
    public var outcome: DomainObservation.LookupOutcome
    public var records: [DNSRecord]
    /// The UDP answer was truncated and the question was asked again over TCP.
    public var usedTCP: Bool
    /// Which resolver answered (or last failed).
    public var server: ResolverAddress?
    /// The resolver set the AD bit: it says it validated the answer with DNSSEC.
    public var authenticated: Bool = false
}

/// Asks a recursive resolver many questions at once: every query goes out over one UDP socket, answers are matched
/// by id and question, unanswered ones are sent once more, truncated answers are asked again over TCP (RFC 7766),
/// and a resolver that stays silent hands over to the next configured one. Reads are bounded: 4 KiB per UDP answer,
/// 64 KiB per TCP answer, and the timeout per round.
public struct DNSClient: Sendable {
    public var servers: [ResolverAddress]
    public var timeoutNanoseconds: UInt64
    public var attempts: Int

    public init(servers: [ResolverAddress], timeoutNanoseconds: UInt64 = 2_000_000_000, attempts: Int = 2) {
        self.servers = servers
        self.timeoutNanoseconds = timeoutNanoseconds
        self.attempts = max(1, attempts)
    }

    public func lookup(_ questions: [DNSQuestion]) -> [DNSQuestion: DNSLookupResult] {
        var results: [DNSQuestion: DNSLookupResult] = [:]
        var unique: [DNSQuestion] = []
        for question in questions where !unique.contains(question) {
            if DNSWire.isValidName(question.name) {
                unique.append(question)
            } else {
                results[question] = DNSLookupResult(outcome: .malformed, records: [], usedTCP: false, server: nil)
            }
        }
        var open = unique
        for server in servers where !open.isEmpty {
            let answered = askOverUDP(open, server: server)
            for (question, result) in answered { results[question] = result }
            // Timeouts and refusals go to the next resolver, as glibc does; answers (even NXDOMAIN) are final.
            open = open.filter { question in
                guard let result = answered[question] else { return true }
                return [.timeout, .refused, .servfail].contains(result.outcome)
            }
        }
        for question in unique where results[question] == nil {
            results[question] = DNSLookupResult(outcome: .timeout, records: [], usedTCP: false, server: servers.last)
        }
        return results
    }

    private func askOverUDP(_ questions: [DNSQuestion], server: ResolverAddress) -> [DNSQuestion: DNSLookupResult] {
        var results: [DNSQuestion: DNSLookupResult] = [:]
        let family = server.address.family == .v4 ? AF_INET : AF_INET6
        let fd = socket(
            family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return results }
        defer { close(fd) }
        // A connected UDP socket only receives from the resolver, and an ICMP port-unreachable ends the wait.
        guard server.address.withSocketAddress(port: server.port, { connect(fd, $0, $1) }) == 0 else { return results }

        var idFor: [DNSQuestion: UInt16] = [:]
        var questionFor: [UInt16: DNSQuestion] = [:]
        for question in questions {
            var id = UInt16.random(in: 0...UInt16.max)
            while questionFor[id] != nil { id = UInt16.random(in: 0...UInt16.max) }
            idFor[question] = id
            questionFor[id] = question
        }
        var truncated: [DNSQuestion] = []
        var refusedByNetwork = false
        for _ in 0..<attempts {
            let waiting = questions.filter { results[$0] == nil && !truncated.contains($0) }
            if waiting.isEmpty || refusedByNetwork { break }
            for question in waiting {
                let packet = DNSWire.query(id: idFor[question]!, question)
                _ = packet.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            let deadline = monotonicNanoseconds() + timeoutNanoseconds
            var buffer = [UInt8](repeating: 0, count: 4096)
            while questions.contains(where: { results[$0] == nil && !truncated.contains($0) }) {
                let now = monotonicNanoseconds()
                guard now < deadline else { break }
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let waitMs = Int32(min(1000, (deadline - now) / 1_000_000 + 1))
                guard poll(&poller, 1, waitMs) >= 0 || errno == EINTR else { break }
                while true {
                    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if count < 0 {
                        if errno == ECONNREFUSED { refusedByNetwork = true }
                        break
                    }
                    // Anything that is not the answer to a question we asked is dropped (spoofing, late duplicates).
                    guard let response = try? DNSWire.parse(Array(buffer[0..<count])),
                        let question = questionFor[response.id], response.question == question,
                        results[question] == nil, !truncated.contains(question)
                    else { continue }
                    if response.truncated {
                        truncated.append(question)
                    } else {
                        results[question] = Self.result(response, server: server, usedTCP: false)
                    }
                }
                if refusedByNetwork { break }
            }
        }
        for question in truncated {
            results[question] =
                askOverTCP(question, server: server)
                ?? DNSLookupResult(outcome: .timeout, records: [], usedTCP: true, server: server)
        }
        return results
    }

    /// One question over TCP: a two-byte length before each message, the answer read to its stated length.
    private func askOverTCP(_ question: DNSQuestion, server: ResolverAddress) -> DNSLookupResult? {
        let family = server.address.family == .v4 ? AF_INET : AF_INET6
        let fd = socket(
            family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let deadline = monotonicNanoseconds() + timeoutNanoseconds
        let started = server.address.withSocketAddress(port: server.port) { connect(fd, $0, $1) }
        guard started == 0 || errno == EINPROGRESS, wait(fd, for: Int16(POLLOUT), until: deadline) else { return nil }
        var socketError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length) == 0, socketError == 0 else { return nil }

        let id = UInt16.random(in: 0...UInt16.max)
        let message = DNSWire.query(id: id, question)
        let framed = [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
        guard framed.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == framed.count else {
            return nil
        }

        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            if received.count >= 2 {
                let expected = Int(received[0]) << 8 | Int(received[1])
                if received.count >= 2 + expected {
                    guard let response = try? DNSWire.parse(Array(received[2..<(2 + expected)])),
                        response.id == id, response.question == question
                    else { return DNSLookupResult(outcome: .malformed, records: [], usedTCP: true, server: server) }
                    return Self.result(response, server: server, usedTCP: true)
                }
            }
            guard wait(fd, for: Int16(POLLIN), until: deadline) else { return nil }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return DNSLookupResult(outcome: .malformed, records: [], usedTCP: true, server: server) }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return nil
            }
            received += buffer[0..<count]
            // 2 + 65535 is the most a length prefix can announce.
            if received.count > 65_537 {
                return DNSLookupResult(outcome: .malformed, records: [], usedTCP: true, server: server)
            }
        }
    }

    private func wait(_ fd: Int32, for events: Int16, until deadline: UInt64) -> Bool {
        while true {
            let now = monotonicNanoseconds()
            guard now < deadline else { return false }
            var poller = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&poller, 1, Int32((deadline - now) / 1_000_000 + 1))
            if ready < 0 && errno == EINTR { continue }
            return ready > 0
        }
    }

    private static func result(_ response: DNSResponse, server: ResolverAddress, usedTCP: Bool) -> DNSLookupResult {
        let outcome: DomainObservation.LookupOutcome
        switch response.responseCode {
        case 0: outcome = response.answers.isEmpty ? .nodata : .ok
        case 3: outcome = .nxdomain
        case 2: outcome = .servfail
        case 5: outcome = .refused
        default: outcome = .servfail
        }
        return DNSLookupResult(
            outcome: outcome, records: response.answers, usedTCP: usedTCP, server: server,
            authenticated: response.authenticated)
    }
}
