import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

/// Every scalar kind and shape Codable can hand the spool's binary form, at its edges.
private struct Edges: Codable, Equatable {
    enum Kind: String, Codable { case one, two }
    var int = Int.min
    var int8 = Int8.max
    var int16 = Int16.min
    var int32 = Int32.max
    var int64 = Int64.min
    var uint = UInt.max
    var uint8 = UInt8.max
    var uint16 = UInt16.max
    var uint32 = UInt32.max
    var uint64 = UInt64.max
    var float: Float = -1.5
    var double = -0.0
    var infinite = Double.infinity
    var tiny = Double.leastNonzeroMagnitude
    var empty = ""
    var text = "żółw \u{202E}\u{0} \"quoted\" 🐢\n"
    var absent: String? = nil
    var present: String? = "x"
    var kind = Kind.two
    var kinds: [Kind] = [.one, .two]
    var holes: [String?] = ["a", nil, "", nil]
    var nested: [[Int]] = [[], [1, -1], [Int.max]]
    var table: [String: Int] = ["a": 1, "": -2, "ünï": 3]
    var flags = [true, false]
    var emptyList: [Int] = []
    var bytes = Data([0, 1, 255])
    var when = Date(timeIntervalSince1970: 1_234_567_890.125)
}

/// A type that writes through a nested container, which the binary form does not hold.
private struct UsesNesting: Codable, Equatable {
    var inner = 7
    enum Keys: String, CodingKey { case wrapper, inner }
    init() {}
    init(from decoder: any Decoder) throws {
        let outer = try decoder.container(keyedBy: Keys.self)
        inner = try outer.nestedContainer(keyedBy: Keys.self, forKey: .wrapper).decode(Int.self, forKey: .inner)
    }
    func encode(to encoder: any Encoder) throws {
        var outer = encoder.container(keyedBy: Keys.self)
        var nested = outer.nestedContainer(keyedBy: Keys.self, forKey: .wrapper)
        try nested.encode(inner, forKey: .inner)
    }
}

@Suite("The spool's binary form of Codable values")
struct SpoolCodingTests {
    private func roundTrip<Value: Codable>(_ value: Value) throws -> (Value, [UInt8]) {
        let bytes = try #require(try SpoolEncoder.encode(value))
        #expect(bytes.first == SpoolCoding.magic)
        return (try SpoolDecoder.decode(Value.self, from: bytes), bytes)
    }

    @Test("every dialog of the every-host-kind report and of the demo report comes back equal, and smaller than JSON")
    func dialogsRoundTrip() throws {
        let demo = try JSONDecoder().decode(
            ScanReport.self,
            from: Data(contentsOf: URL(fileURLWithPath: ProjectPaths.root + "/Tests/Fixtures/reports/demo.json")))
        let dialogs = (EveryHostKind.report().hosts + demo.hosts).flatMap(\.endpoints).compactMap(\.dialog)
        #expect(dialogs.count >= 10)
        #expect(dialogs.contains { $0.tls?.chain.isEmpty == false }, "no certificate among the dialogs")
        var binaryBytes = 0
        var jsonBytes = 0
        for dialog in dialogs {
            let (back, bytes) = try roundTrip(dialog)
            #expect(back == dialog)
            binaryBytes += bytes.count
            jsonBytes += try JSONEncoder().encode(dialog).count
        }
        print("spool form of \(dialogs.count) dialogs: \(binaryBytes) bytes, JSON \(jsonBytes)")
        #expect(binaryBytes < jsonBytes)
    }

    @Test("whole hosts come back equal (findings, round-trip times, grades)")
    func hostsRoundTrip() throws {
        for host in EveryHostKind.report().hosts {
            #expect(try roundTrip(host).0 == host)
        }
    }

    @Test("integers, floats, strings, optionals, arrays, dictionaries, Data and Date at their edges, to the bit")
    func edges() throws {
        let value = Edges()
        let (back, _) = try roundTrip(value)
        #expect(back == value)
        #expect(back.double.sign == .minus)
        var nan = Edges()
        nan.double = Double(nan: 0x1234, signaling: false)
        #expect(try roundTrip(nan).0.double.bitPattern == nan.double.bitPattern)
        #expect(try roundTrip("a bare string").0 == "a bare string")
        #expect(try roundTrip([Int?.none, 3]).0 == [nil, 3])
        // Optionals of composites: no layer of their own, in arrays, dictionaries and at the root.
        let kinds: [Edges.Kind?] = [.one, nil, .two]
        #expect(try roundTrip(kinds).0 == kinds)
        let structs: [Edges?] = [nil, Edges(), nil]
        #expect(try roundTrip(structs).0 == structs)
        let lists: [[Int]?] = [[], nil, [1, 2, 3]]
        #expect(try roundTrip(lists).0 == lists)
        let table: [String: Edges?] = ["a": Edges(), "b": nil]
        #expect(try roundTrip(table).0 == table)
        let outer: [Int?]? = [nil, 1]
        #expect(try roundTrip(outer).0 == outer)
        #expect(try roundTrip([Int?]?.none).0 == nil)
    }

    @Test(
        "a value written through a nested container or with a key over 255 bytes is refused (spooled as JSON), and the spool still reads it"
    )
    func nestedFallsBackToJSON() throws {
        #expect(try SpoolEncoder.encode(UsesNesting()) == nil)
        let longKey = [String(repeating: "k", count: 300): true, "short": false]
        #expect(try SpoolEncoder.encode(longKey) == nil)
        let longKeySpool = try RecordSpool(directory: makeTemporaryDirectory())
        #expect(longKeySpool.decode([String: Bool].self, at: longKeySpool.append(encoding: longKey)) == longKey)
        let spool = try RecordSpool(directory: makeTemporaryDirectory())
        let record = spool.append(encoding: UsesNesting())
        #expect(spool.read(record).first == UInt8(ascii: "{"))
        #expect(spool.decode(UsesNesting.self, at: record) == UsesNesting())
        let dialog = try #require(EveryHostKind.questioned().endpoints.first?.dialog)
        let binary = spool.append(encoding: dialog)
        #expect(spool.read(binary).first == SpoolCoding.magic)
        #expect(spool.decode(DialogObservation.self, at: binary) == dialog)
    }

    @Test("a type mismatch or a cut or damaged record throws; it never traps or reads past the record")
    func damagedRecords() throws {
        let (_, bytes) = try roundTrip(Edges())
        #expect(throws: DecodingError.self) { try SpoolDecoder.decode(Edges.self, from: Array(bytes.prefix(1))) }
        #expect(throws: DecodingError.self) { try SpoolDecoder.decode([String].self, from: bytes) }
        // A string whose declared length does not fit any integer: refused, not trapped on.
        let huge: [UInt8] = [SpoolCoding.magic, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        #expect(throws: DecodingError.self) { try SpoolDecoder.decode(String.self, from: huge) }
        var thrown = 0
        for length in 1..<bytes.count {
            do {
                _ = try SpoolDecoder.decode(Edges.self, from: Array(bytes.prefix(length)))
            } catch {
                thrown += 1
            }
        }
        #expect(thrown == bytes.count - 1, "a cut record decoded")
        // Every byte flipped in turn: decoding either throws or yields some value, within the record's bounds.
        var decoded = 0
        for index in 1..<bytes.count {
            var damaged = bytes
            damaged[index] ^= 0xFF
            if (try? SpoolDecoder.decode(Edges.self, from: damaged)) != nil { decoded += 1 }
        }
        print("spool form: \(bytes.count) one-byte damages, \(decoded) still decoded (into other values)")
    }
}
