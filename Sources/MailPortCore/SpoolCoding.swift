import Foundation

/// A compact binary form of Codable values for the run's own spool (the dialogs waiting to be judged), where JSON
/// cost more than the records' use warranted: a profile of the /16 lab's audit had JSON encoding and decoding of the
/// spooled dialogs at a twentieth of the process's CPU, and nothing but MailPort ever reads these records.
///
/// The form: a record starts with `magic`; then the root value's content. A value is a tag byte and its payload:
/// nil, false, true, a signed integer (zigzag varint), an unsigned one (varint), a double (8 bytes, its bit
/// pattern: exact), a string (varint length, UTF-8), or a composite (4-byte length, then what the value's own
/// `encode(to:)` wrote: keyed entries as a key (1-byte length, UTF-8) and a value each, unkeyed values one after
/// another, or a single value). Every value is skippable from its tag, so a keyed container is indexed in one pass.
///
/// Containers are written straight into one buffer; a composite's length is filled in once its `encode(to:)`
/// returns. Nested containers and super-encoders, which could be written to out of order, are not supported: no
/// spooled type uses them, and a value that does is written as JSON instead (`SpoolEncoder.encode` says so), which
/// `SpoolDecoder` reads too.
public enum SpoolCoding {
    /// The first byte of a binary record; JSON never starts with it (it is not valid UTF-8 as a first byte).
    public static let magic: UInt8 = 0xF7

    enum Tag: UInt8 {
        case null = 0
        case no, yes, signed, unsigned, double, string, composite
    }
}

public enum SpoolEncoder {
    /// The binary form of `value`, or nil when it uses containers the form does not support (write JSON then).
    public static func encode<Value: Encodable>(_ value: Value) throws -> [UInt8]? {
        let writer = SpoolWriter()
        writer.bytes.reserveCapacity(1024)
        writer.bytes.append(SpoolCoding.magic)
        try value.encode(to: SpoolValueEncoder(writer: writer))
        return writer.unsupported ? nil : writer.bytes
    }
}

public enum SpoolDecoder {
    /// Decodes a record written by `SpoolEncoder`, or JSON.
    public static func decode<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8]) throws -> Value {
        try bytes.withUnsafeBytes { raw throws -> Value in
            guard raw.first == SpoolCoding.magic else {
                return try JSONDecoder().decode(type, from: Data(bytes))
            }
            let reader = SpoolReader(raw)
            return try Value(from: SpoolValueDecoder(reader: reader, range: 1..<raw.count))
        }
    }
}

// MARK: writing

final class SpoolWriter {
    var bytes: [UInt8] = []
    /// Set when a value asked for a container this form cannot write in order.
    var unsupported = false

    func tag(_ tag: SpoolCoding.Tag) { bytes.append(tag.rawValue) }

    func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    func signed(_ value: Int64) {
        tag(.signed)
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    func unsigned(_ value: UInt64) {
        tag(.unsigned)
        varint(value)
    }

    func double(_ value: Double) {
        tag(.double)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    func string(_ value: String) {
        tag(.string)
        var value = value
        value.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// A key of at most 255 bytes; a longer one (a dictionary keyed by hostile text) makes the value JSON's.
    func key(_ key: some CodingKey) {
        var name = key.stringValue
        name.withUTF8 { utf8 in
            guard utf8.count < 256 else {
                unsupported = true
                bytes.append(0)
                return
            }
            bytes.append(UInt8(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// A composite value: whatever `value.encode(to:)` writes, after its length. Optionals are transparent, as in
    /// JSON: nil is the null value, and a value is written as itself (decoders ask for the wrapped type, as
    /// `decodeIfPresent` does). A string is written bare.
    func composite<Value: Encodable>(_ value: Value) throws {
        if let string = value as? String { return self.string(string) }
        if let optional = value as? any SpoolOptional {
            guard let wrapped = optional.spoolWrapped else { return tag(.null) }
            return try composite(wrapped)
        }
        tag(.composite)
        let lengthAt = bytes.count
        bytes.append(contentsOf: [0, 0, 0, 0])
        try value.encode(to: SpoolValueEncoder(writer: self))
        let length = UInt32(bytes.count - lengthAt - 4).littleEndian
        withUnsafeBytes(of: length) { raw in
            for index in 0..<4 { bytes[lengthAt + index] = raw[index] }
        }
    }
}

/// An optional's wrapped value, seen through the generic `Encodable` an encoder is handed.
protocol SpoolOptional {
    var spoolWrapped: (any Encodable)? { get }
}

extension Optional: SpoolOptional where Wrapped: Encodable {
    var spoolWrapped: (any Encodable)? { self }
}

/// The decoding side of transparent optionals: nil, or the wrapped value read where the optional stands.
protocol SpoolOptionalDecoding {
    static var spoolNone: Self { get }
    static func spoolWrapped(
        reader: SpoolReader, at offset: Int, end: Int
    ) throws
        -> Self
}

extension Optional: SpoolOptionalDecoding where Wrapped: Decodable {
    static var spoolNone: Self { nil }
    static func spoolWrapped(
        reader: SpoolReader, at offset: Int, end: Int
    ) throws
        -> Self
    {
        try reader.decodeValue(Wrapped.self, at: offset, end: end)
    }
}

struct SpoolValueEncoder: Encoder {
    let writer: SpoolWriter
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(SpoolKeyedEncoder<Key>(writer: writer))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        SpoolUnkeyedEncoder(writer: writer)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SpoolUnkeyedEncoder(writer: writer)
    }
}

struct SpoolKeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let writer: SpoolWriter
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws {
        writer.key(key)
        writer.tag(.null)
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        writer.key(key)
        writer.tag(value ? .yes : .no)
    }
    mutating func encode(_ value: String, forKey key: Key) throws {
        writer.key(key)
        writer.string(value)
    }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        writer.key(key)
        writer.double(value)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        writer.key(key)
        writer.double(Double(value))
    }
    mutating func encode(_ value: Int, forKey key: Key) throws {
        writer.key(key)
        writer.signed(Int64(value))
    }
    mutating func encode(_ value: Int8, forKey key: Key) throws {
        writer.key(key)
        writer.signed(Int64(value))
    }
    mutating func encode(_ value: Int16, forKey key: Key) throws {
        writer.key(key)
        writer.signed(Int64(value))
    }
    mutating func encode(_ value: Int32, forKey key: Key) throws {
        writer.key(key)
        writer.signed(Int64(value))
    }
    mutating func encode(_ value: Int64, forKey key: Key) throws {
        writer.key(key)
        writer.signed(value)
    }
    mutating func encode(_ value: UInt, forKey key: Key) throws {
        writer.key(key)
        writer.unsigned(UInt64(value))
    }
    mutating func encode(_ value: UInt8, forKey key: Key) throws {
        writer.key(key)
        writer.unsigned(UInt64(value))
    }
    mutating func encode(_ value: UInt16, forKey key: Key) throws {
        writer.key(key)
        writer.unsigned(UInt64(value))
    }
    mutating func encode(_ value: UInt32, forKey key: Key) throws {
        writer.key(key)
        writer.unsigned(UInt64(value))
    }
    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        writer.key(key)
        writer.unsigned(value)
    }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        writer.key(key)
        try writer.composite(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        writer.unsupported = true
        return KeyedEncodingContainer(SpoolKeyedEncoder<NestedKey>(writer: SpoolWriter()))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        writer.unsupported = true
        return SpoolUnkeyedEncoder(writer: SpoolWriter())
    }
    mutating func superEncoder() -> any Encoder {
        writer.unsupported = true
        return SpoolValueEncoder(writer: SpoolWriter())
    }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        writer.unsupported = true
        return SpoolValueEncoder(writer: SpoolWriter())
    }
}

/// Unkeyed and single-value containers write the same way: values one after another.
struct SpoolUnkeyedEncoder: UnkeyedEncodingContainer, SingleValueEncodingContainer {
    let writer: SpoolWriter
    var codingPath: [any CodingKey] { [] }
    private(set) var count = 0

    init(writer: SpoolWriter) {
        self.writer = writer
    }

    mutating func encodeNil() throws {
        count += 1
        writer.tag(.null)
    }
    mutating func encode(_ value: Bool) throws {
        count += 1
        writer.tag(value ? .yes : .no)
    }
    mutating func encode(_ value: String) throws {
        count += 1
        writer.string(value)
    }
    mutating func encode(_ value: Double) throws {
        count += 1
        writer.double(value)
    }
    mutating func encode(_ value: Float) throws {
        count += 1
        writer.double(Double(value))
    }
    mutating func encode(_ value: Int) throws {
        count += 1
        writer.signed(Int64(value))
    }
    mutating func encode(_ value: Int8) throws {
        count += 1
        writer.signed(Int64(value))
    }
    mutating func encode(_ value: Int16) throws {
        count += 1
        writer.signed(Int64(value))
    }
    mutating func encode(_ value: Int32) throws {
        count += 1
        writer.signed(Int64(value))
    }
    mutating func encode(_ value: Int64) throws {
        count += 1
        writer.signed(value)
    }
    mutating func encode(_ value: UInt) throws {
        count += 1
        writer.unsigned(UInt64(value))
    }
    mutating func encode(_ value: UInt8) throws {
        count += 1
        writer.unsigned(UInt64(value))
    }
    mutating func encode(_ value: UInt16) throws {
        count += 1
        writer.unsigned(UInt64(value))
    }
    mutating func encode(_ value: UInt32) throws {
        count += 1
        writer.unsigned(UInt64(value))
    }
    mutating func encode(_ value: UInt64) throws {
        count += 1
        writer.unsigned(value)
    }
    mutating func encode<T: Encodable>(_ value: T) throws {
        count += 1
        try writer.composite(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    )
        -> KeyedEncodingContainer<NestedKey>
    {
        writer.unsupported = true
        return KeyedEncodingContainer(SpoolKeyedEncoder<NestedKey>(writer: SpoolWriter()))
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        writer.unsupported = true
        return SpoolUnkeyedEncoder(writer: SpoolWriter())
    }
    mutating func superEncoder() -> any Encoder {
        writer.unsupported = true
        return SpoolValueEncoder(writer: SpoolWriter())
    }
}

// MARK: reading

/// The record's bytes, read in place (the caller keeps them alive while decoding).
struct SpoolReader {
    let raw: UnsafeRawBufferPointer

    init(_ raw: UnsafeRawBufferPointer) { self.raw = raw }

    func corrupt(_ what: String) -> DecodingError {
        DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "spool record: \(what)"))
    }

    func varint(at offset: inout Int, end: Int) throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < end {
            let byte = raw[offset]
            offset += 1
            guard shift < 64 else { break }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        throw corrupt("a number runs past its end")
    }

    /// Where the value at `offset` ends.
    func end(ofValueAt offset: Int, end: Int) throws -> Int {
        guard offset < end, let tag = SpoolCoding.Tag(rawValue: raw[offset]) else {
            throw corrupt("no value where one was due")
        }
        var position = offset + 1
        switch tag {
        case .null, .no, .yes: return position
        case .signed, .unsigned:
            _ = try varint(at: &position, end: end)
            return position
        case .double: position += 8
        case .string:
            let length = try varint(at: &position, end: end)
            guard length <= UInt64(end - position) else { throw corrupt("a string runs past its end") }
            position += Int(length)
        case .composite:
            guard end - position >= 4 else { throw corrupt("a composite runs past its end") }
            position += 4 + Int(compositeLength(at: offset + 1))
        }
        guard position <= end else { throw corrupt("a value runs past its end") }
        return position
    }

    func compositeLength(at offset: Int) -> UInt32 {
        UInt32(raw[offset]) | UInt32(raw[offset + 1]) << 8 | UInt32(raw[offset + 2]) << 16
            | UInt32(raw[offset + 3]) << 24
    }

    func tag(at offset: Int, end: Int) throws -> SpoolCoding.Tag {
        guard offset < end, let tag = SpoolCoding.Tag(rawValue: raw[offset]) else {
            throw corrupt("no value where one was due")
        }
        return tag
    }

    func mismatch(_ type: Any.Type) -> DecodingError {
        DecodingError.typeMismatch(
            type, .init(codingPath: [], debugDescription: "spool record: another kind of value"))
    }

    func decodeBool(at offset: Int, end: Int) throws -> Bool {
        switch try tag(at: offset, end: end) {
        case .yes: return true
        case .no: return false
        default: throw mismatch(Bool.self)
        }
    }

    func decodeString(at offset: Int, end: Int) throws -> String {
        guard try tag(at: offset, end: end) == .string else { throw mismatch(String.self) }
        var position = offset + 1
        let declared = try varint(at: &position, end: end)
        guard declared <= UInt64(max(0, end - position)) else {
            throw corrupt("a string runs past its end")
        }
        let length = Int(declared)
        return String(decoding: UnsafeRawBufferPointer(rebasing: raw[position..<(position + length)]), as: UTF8.self)
    }

    /// Any value at `offset`, as `composite` wrote it: a bare string, an optional as null or as its wrapped value
    /// (no layer of its own), anything else from its composite's content.
    func decodeValue<T: Decodable>(
        _ type: T.Type, at offset: Int, end: Int
    ) throws
        -> T
    {
        if type == String.self { return try decodeString(at: offset, end: end) as! T }
        if let optional = type as? any SpoolOptionalDecoding.Type {
            if try tag(at: offset, end: end) == .null { return optional.spoolNone as! T }
            return try optional.spoolWrapped(reader: self, at: offset, end: end) as! T
        }
        return try T(from: SpoolValueDecoder.value(at: offset, end: end, reader: self))
    }

    func decodeDouble(at offset: Int, end: Int) throws -> Double {
        guard try tag(at: offset, end: end) == .double else { throw mismatch(Double.self) }
        guard end - offset >= 9 else { throw corrupt("a number runs past its end") }
        var bits: UInt64 = 0
        for index in 0..<8 { bits |= UInt64(raw[offset + 1 + index]) << (8 * UInt64(index)) }
        return Double(bitPattern: bits)
    }

    func decodeInteger<T: FixedWidthInteger>(
        _ type: T.Type, at offset: Int, end: Int
    )
        throws -> T
    {
        var position = offset + 1
        switch try tag(at: offset, end: end) {
        case .signed:
            let zigzag = try varint(at: &position, end: end)
            let value = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
            guard let exact = T(exactly: value) else { throw mismatch(type) }
            return exact
        case .unsigned:
            guard let exact = T(exactly: try varint(at: &position, end: end)) else {
                throw mismatch(type)
            }
            return exact
        default: throw mismatch(type)
        }
    }
}

/// Decodes one value: a composite's content (what its `encode(to:)` wrote), or a bare value (a string written
/// without a composite around it), which only a single-value container reads.
struct SpoolValueDecoder: Decoder {
    let reader: SpoolReader
    /// The content: a composite's payload, or one bare value.
    let range: Range<Int>
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// The decoder for the value at `offset`: inside a composite, or the bare value itself.
    static func value(
        at offset: Int, end: Int, reader: SpoolReader
    ) throws
        -> SpoolValueDecoder
    {
        let valueEnd = try reader.end(ofValueAt: offset, end: end)
        if reader.raw[offset] == SpoolCoding.Tag.composite.rawValue {
            return SpoolValueDecoder(reader: reader, range: (offset + 5)..<valueEnd)
        }
        return SpoolValueDecoder(reader: reader, range: offset..<valueEnd)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(try SpoolKeyedDecoder<Key>(reader: reader, range: range))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try SpoolUnkeyedDecoder(reader: reader, range: range)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SpoolSingleValueDecoder(reader: reader, offset: range.lowerBound, end: range.upperBound)
    }
}

/// A class: the decoding methods are not mutating, and the cursor moves.
final class SpoolKeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let reader: SpoolReader
    let end: Int
    var codingPath: [any CodingKey] { [] }
    /// Each entry's key (where its UTF-8 starts, its length) and where its value starts.
    private var entries: [(key: Int, length: Int, value: Int)] = []
    /// Where the last lookup matched: synthesized decoders ask in the order the encoders wrote.
    private var cursor = 0

    init(reader: SpoolReader, range: Range<Int>) throws {
        self.reader = reader
        self.end = range.upperBound
        var position = range.lowerBound
        entries.reserveCapacity(16)
        while position < range.upperBound {
            let length = Int(reader.raw[position])
            let value = position + 1 + length
            guard value < range.upperBound else { throw reader.corrupt("a key runs past its end") }
            entries.append((position + 1, length, value))
            position = try reader.end(ofValueAt: value, end: range.upperBound)
        }
    }

    var allKeys: [Key] {
        entries.compactMap { entry in
            Key(
                stringValue: String(
                    decoding: UnsafeRawBufferPointer(
                        rebasing: reader.raw[entry.key..<(entry.key + entry.length)]), as: UTF8.self))
        }
    }

    private func matches(_ entry: (key: Int, length: Int, value: Int), _ name: inout String) -> Bool {
        name.withUTF8 { utf8 in
            utf8.count == entry.length
                && memcmp(utf8.baseAddress!, reader.raw.baseAddress! + entry.key, entry.length) == 0
        }
    }

    /// Where `key`'s value starts, nil when the record has no such key. The search starts at the last match
    /// (`decodeIfPresent` asks `contains`, `decodeNil` and `decode` for the same key), then goes on in order.
    private func find(_ key: Key) -> Int? {
        var name = key.stringValue
        guard !entries.isEmpty else { return nil }
        let start = cursor == 0 ? 0 : cursor - 1
        for step in 0..<entries.count {
            let index = (start + step) % entries.count
            if matches(entries[index], &name) {
                cursor = index + 1
                return entries[index].value
            }
        }
        return nil
    }

    private func value(_ key: Key) throws -> Int {
        guard let offset = find(key) else {
            throw DecodingError.keyNotFound(
                key, .init(codingPath: [], debugDescription: "spool record: no value for this key"))
        }
        return offset
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        try reader.tag(at: try value(key), end: end) == .null
    }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try reader.decodeBool(at: try value(key), end: end)
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try reader.decodeString(at: try value(key), end: end)
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try reader.decodeDouble(at: try value(key), end: end)
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        Float(try reader.decodeDouble(at: try value(key), end: end))
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
        try reader.decodeInteger(type, at: try value(key), end: end)
    }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 {
        try reader.decodeInteger(type, at: try value(key), end: end)
    }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
        try reader.decodeInteger(type, at: try value(key), end: end)
    }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
        try reader.decodeInteger(type, at: try value(key), end: end)
    }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
        try reader.decodeInteger(type, at: try value(key), end: end)
    }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt {
        try reader.decodeInteger(type, at: try value(key), end: end)
    }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
        try reader.decodeInteger(type, at: try value(key), end: end)
    }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
        try reader.decodeInteger(type, at: try value(key), end: end)
    }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
        try reader.decodeInteger(type, at: try value(key), end: end)
    }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
        try reader.decodeInteger(type, at: try value(key), end: end)
    }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try reader.decodeValue(type, at: try value(key), end: end)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw reader.corrupt("nested containers are not in this form")
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw reader.corrupt("nested containers are not in this form")
    }
    func superDecoder() throws -> any Decoder {
        throw reader.corrupt("super-decoders are not in this form")
    }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        throw reader.corrupt("super-decoders are not in this form")
    }
}

struct SpoolUnkeyedDecoder: UnkeyedDecodingContainer {
    let reader: SpoolReader
    let end: Int
    var codingPath: [any CodingKey] { [] }
    private var position: Int
    private(set) var currentIndex = 0
    let count: Int?

    init(reader: SpoolReader, range: Range<Int>) throws {
        self.reader = reader
        self.end = range.upperBound
        position = range.lowerBound
        var values = 0
        var scan = range.lowerBound
        while scan < range.upperBound {
            scan = try reader.end(ofValueAt: scan, end: range.upperBound)
            values += 1
        }
        count = values
    }

    var isAtEnd: Bool { position >= end }

    /// Takes the next value: where it starts.
    private mutating func next(_ type: Any.Type) throws -> Int {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type, .init(codingPath: [], debugDescription: "spool record: no more values"))
        }
        let start = position
        position = try reader.end(ofValueAt: start, end: end)
        currentIndex += 1
        return start
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, reader.raw[position] == SpoolCoding.Tag.null.rawValue else { return false }
        _ = try next(Never.self)
        return true
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool {
        try reader.decodeBool(at: try next(type), end: end)
    }
    mutating func decode(_ type: String.Type) throws -> String {
        try reader.decodeString(at: try next(type), end: end)
    }
    mutating func decode(_ type: Double.Type) throws -> Double {
        try reader.decodeDouble(at: try next(type), end: end)
    }
    mutating func decode(_ type: Float.Type) throws -> Float {
        Float(try reader.decodeDouble(at: try next(type), end: end))
    }
    mutating func decode(_ type: Int.Type) throws -> Int {
        try reader.decodeInteger(type, at: try next(type), end: end)
    }
    mutating func decode(_ type: Int8.Type) throws -> Int8 {
        try reader.decodeInteger(type, at: try next(type), end: end)
    }
    mutating func decode(_ type: Int16.Type) throws -> Int16 {
        try reader.decodeInteger(type, at: try next(type), end: end)
    }
    mutating func decode(_ type: Int32.Type) throws -> Int32 {
        try reader.decodeInteger(type, at: try next(type), end: end)
    }
    mutating func decode(_ type: Int64.Type) throws -> Int64 {
        try reader.decodeInteger(type, at: try next(type), end: end)
    }
    mutating func decode(_ type: UInt.Type) throws -> UInt {
        try reader.decodeInteger(type, at: try next(type), end: end)
    }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 {
        try reader.decodeInteger(type, at: try next(type), end: end)
    }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 {
        try reader.decodeInteger(type, at: try next(type), end: end)
    }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 {
        try reader.decodeInteger(type, at: try next(type), end: end)
    }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 {
        try reader.decodeInteger(type, at: try next(type), end: end)
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try reader.decodeValue(type, at: try next(type), end: end)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw reader.corrupt("nested containers are not in this form")
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw reader.corrupt("nested containers are not in this form")
    }
    mutating func superDecoder() throws -> any Decoder {
        throw reader.corrupt("super-decoders are not in this form")
    }
}

/// A single value: the one at `offset`.
struct SpoolSingleValueDecoder: SingleValueDecodingContainer {
    let reader: SpoolReader
    let offset: Int
    let end: Int
    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { offset < end && reader.raw[offset] == SpoolCoding.Tag.null.rawValue }
    func decode(_ type: Bool.Type) throws -> Bool { try reader.decodeBool(at: offset, end: end) }
    func decode(_ type: String.Type) throws -> String { try reader.decodeString(at: offset, end: end) }
    func decode(_ type: Double.Type) throws -> Double { try reader.decodeDouble(at: offset, end: end) }
    func decode(_ type: Float.Type) throws -> Float {
        Float(try reader.decodeDouble(at: offset, end: end))
    }
    func decode(_ type: Int.Type) throws -> Int { try reader.decodeInteger(type, at: offset, end: end) }
    func decode(_ type: Int8.Type) throws -> Int8 { try reader.decodeInteger(type, at: offset, end: end) }
    func decode(_ type: Int16.Type) throws -> Int16 {
        try reader.decodeInteger(type, at: offset, end: end)
    }
    func decode(_ type: Int32.Type) throws -> Int32 {
        try reader.decodeInteger(type, at: offset, end: end)
    }
    func decode(_ type: Int64.Type) throws -> Int64 {
        try reader.decodeInteger(type, at: offset, end: end)
    }
    func decode(_ type: UInt.Type) throws -> UInt { try reader.decodeInteger(type, at: offset, end: end) }
    func decode(_ type: UInt8.Type) throws -> UInt8 {
        try reader.decodeInteger(type, at: offset, end: end)
    }
    func decode(_ type: UInt16.Type) throws -> UInt16 {
        try reader.decodeInteger(type, at: offset, end: end)
    }
    func decode(_ type: UInt32.Type) throws -> UInt32 {
        try reader.decodeInteger(type, at: offset, end: end)
    }
    func decode(_ type: UInt64.Type) throws -> UInt64 {
        try reader.decodeInteger(type, at: offset, end: end)
    }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try reader.decodeValue(type, at: offset, end: end)
    }
}
