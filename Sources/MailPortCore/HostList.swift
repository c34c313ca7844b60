/// The hosts of a report, held in memory or, for a run too large to hold, in a spool on disk and decoded one at a
/// time as they are read. It is a value like an array: a copy is independent (a changed host is written again and
/// only the copy that changed points at the new record), and it reads, encodes and compares the same either way, so
/// rules and writers need not know where the hosts are.
///
/// What keeps memory flat is the reader's part: a pass over the hosts holds one at a time, so code that walks them
/// should accumulate what it needs rather than collect every host (or every endpoint) first.
public struct HostList: Sendable {
    public typealias Host = ScanReport.Host

    private enum Storage: Sendable {
        case memory([Host])
        case spooled(RecordSpool, [SpoolRecord])
    }

    private var storage: Storage

    public init(_ hosts: [Host]) {
        storage = .memory(hosts)
    }

    /// An empty list whose hosts go to `spool` as they are added.
    public init(spooledIn spool: RecordSpool) {
        storage = .spooled(spool, [])
    }

    /// Whether the hosts live on disk.
    public var isSpooled: Bool {
        if case .spooled = storage { return true }
        return false
    }

    /// The spool a spooled list keeps its hosts in (a list built from it can share it).
    public var spool: RecordSpool? {
        if case .spooled(let spool, _) = storage { return spool }
        return nil
    }

    /// Each host's address, in order. A spooled list reads only that field of each record (no endpoint is built), so
    /// an index by address costs a fraction of a pass over the hosts.
    public var addresses: [String] {
        switch storage {
        case .memory(let hosts): return hosts.map(\.address)
        case .spooled(let spool, let records):
            return records.map { spool.decode(AddressOnly.self, at: $0).address }
        }
    }

    private struct AddressOnly: Decodable {
        var address: String
    }

    /// The host at `position` as it stands in the JSON report's `hosts` array (`ReportJSON.hostEntry`). A spooled
    /// host's record is that entry already: it is read, not decoded and encoded again.
    public func reportEntry(at position: Int) throws -> [UInt8] {
        switch storage {
        case .memory(let hosts): return try ReportJSON.hostEntry(hosts[position])
        case .spooled(let spool, let records): return spool.read(records[position])
        }
    }

    /// A host goes to the spool as its report entry, which the decoder reads as any JSON value.
    private static func record(_ host: Host, in spool: RecordSpool) -> SpoolRecord {
        do {
            return spool.append(try ReportJSON.hostEntry(host))
        } catch {
            // MailPort's own report types always encode (no float that is not finite, no throwing encoder).
            preconditionFailure("a host does not encode: \(error)")
        }
    }

    /// Appends `other`'s hosts after these. Lists spooled in the same spool only join where their records are:
    /// nothing is read, decoded or encoded again.
    public mutating func append(hostsOf other: HostList) {
        if case .spooled(let spool, var records) = storage, case .spooled(let otherSpool, let more) = other.storage,
            spool === otherSpool
        {
            storage = .memory([])
            records += more
            storage = .spooled(spool, records)
        } else {
            append(contentsOf: other)
        }
    }

    /// The hosts as an array (for small reports and tests; a spooled list is decoded whole).
    public var array: [Host] {
        if case .memory(let hosts) = storage { return hosts }
        return Array(self)
    }
}

extension HostList: RandomAccessCollection, MutableCollection, RangeReplaceableCollection {
    public init() { self.init([]) }

    public var startIndex: Int { 0 }

    public var endIndex: Int {
        switch storage {
        case .memory(let hosts): hosts.count
        case .spooled(_, let records): records.count
        }
    }

    public subscript(position: Int) -> Host {
        get {
            switch storage {
            case .memory(let hosts): return hosts[position]
            case .spooled(let spool, let records): return spool.decode(Host.self, at: records[position])
            }
        }
        set {
            switch storage {
            case .memory(var hosts):
                storage = .memory([])
                hosts[position] = newValue
                storage = .memory(hosts)
            case .spooled(let spool, var records):
                storage = .memory([])
                records[position] = Self.record(newValue, in: spool)
                storage = .spooled(spool, records)
            }
        }
    }

    public mutating func replaceSubrange<C: Collection<Host>>(_ subrange: Range<Int>, with newElements: C) {
        switch storage {
        case .memory(var hosts):
            storage = .memory([])
            hosts.replaceSubrange(subrange, with: newElements)
            storage = .memory(hosts)
        case .spooled(let spool, var records):
            storage = .memory([])
            records.replaceSubrange(subrange, with: newElements.map { Self.record($0, in: spool) })
            storage = .spooled(spool, records)
        }
    }

    public mutating func reserveCapacity(_ n: Int) {
        switch storage {
        case .memory(var hosts):
            storage = .memory([])
            hosts.reserveCapacity(n)
            storage = .memory(hosts)
        case .spooled(let spool, var records):
            storage = .memory([])
            records.reserveCapacity(n)
            storage = .spooled(spool, records)
        }
    }
}

extension HostList: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: Host...) { self.init(elements) }
}

extension HostList: Equatable {
    public static func == (left: HostList, right: HostList) -> Bool {
        left.count == right.count && zip(left, right).allSatisfy { $0 == $1 }
    }
}

extension HostList: Codable {
    /// Decoded reports (merge, diff, baselines) are held in memory.
    public init(from decoder: any Decoder) throws {
        self.init(try [Host](from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for host in self { try container.encode(host) }
    }
}
