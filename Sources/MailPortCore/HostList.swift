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
                records[position] = spool.append(encoding: newValue)
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
            records.replaceSubrange(subrange, with: newElements.map { spool.append(encoding: $0) })
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
