import MailPortCore

/// The addresses to scan: every target token expanded (lazily, as ranges), exclusions taken out, and the names
/// each address was given by kept for the certificate checks of later stages.
public struct TargetSpace: Sendable {
    public let addresses: AddressRangeSet
    /// Host names given as targets, by the address they resolved to (only addresses still in the space).
    public let names: [IPAddress: [String]]
    /// With `skippingUnresolved`: the target host names that did not resolve, in the order given.
    public let unresolved: [ScanReport.TargetError]

    /// No addresses at all: a domain-mode scan whose domains led to no host still reports on the domains.
    public static let empty = TargetSpace(addresses: AddressRangeSet([]), names: [:])

    private init(addresses: AddressRangeSet, names: [IPAddress: [String]]) {
        self.addresses = addresses
        self.names = names
        self.unresolved = []
    }

    /// Parses and expands `targets` minus `excludes`. Host names on either side are resolved with `resolver`. A
    /// target name that does not resolve is an error, or with `skippingUnresolved` left out and listed in
    /// `unresolved` (a nightly audit goes on without one stale name). An exclusion that does not resolve is always
    /// an error: what it should keep out is unknown.
    public init(
        targets: [String], excludes: [String] = [], resolver: any HostResolver = SystemResolver(),
        skippingUnresolved: Bool = false
    )
        throws(MailPortError)
    {
        guard !targets.isEmpty else {
            throw .invalidInput("no targets given; expected at least one \(TargetSpec.expectedForms)")
        }
        var included: [AddressRange] = []
        var names: [IPAddress: [String]] = [:]
        var unresolved: [ScanReport.TargetError] = []
        for token in targets {
            do {
                included += try TargetSpace.ranges(for: token, resolver: resolver, names: &names)
            } catch let error where skippingUnresolved && error.isUnresolvedName {
                if !unresolved.contains(where: { $0.target == token }) {
                    // The report says what happened; "expected …" is advice for a command line that stopped.
                    let message = error.message
                    let reason =
                        message.firstRange(of: "; expected ").map { String(message[..<$0.lowerBound]) } ?? message
                    unresolved.append(ScanReport.TargetError(target: token, error: reason))
                }
            }
        }
        self.unresolved = unresolved
        var excludedNames: [IPAddress: [String]] = [:]
        var excluded: [AddressRange] = []
        for token in excludes {
            excluded += try TargetSpace.ranges(for: token, resolver: resolver, names: &excludedNames)
        }
        let space = AddressRangeSet(included).subtracting(AddressRangeSet(excluded))
        self.addresses = space
        self.names = names.filter { space.contains($0.key) }
    }

    /// Parses the token first, so only a resolver's failure is caught as an unresolved name.
    private static func ranges(
        for token: String, resolver: any HostResolver, names: inout [IPAddress: [String]]
    )
        throws(MailPortError) -> [AddressRange]
    {
        let spec = try TargetSpec.parse(token)
        guard case .hostname(let name) = spec else { return [AddressRange(spec)] }
        let resolved: [IPAddress]
        do {
            resolved = try resolver.resolve(name)
        } catch {
            throw .unresolvedName(error.message)
        }
        for address in resolved where !(names[address]?.contains(name) ?? false) {
            names[address, default: []].append(name)
        }
        return resolved.map { AddressRange(.address($0)) }
    }
}

/// Reads a targets or exclusions file: one token per line (or several separated by spaces or commas), `#` starts a
/// comment, blank lines are skipped. Errors name the file and line.
public func readTargetTokens(fromFileContents contents: String, fileName: String) throws(MailPortError) -> [String] {
    var tokens: [String] = []
    var lineNumber = 0
    // `isNewline` also matches "\r\n", which Swift treats as one Character (files written on Windows).
    for rawLine in contents.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
        lineNumber += 1
        var line = Substring(rawLine)
        if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
        for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }) {
            do {
                _ = try TargetSpec.parse(String(token))
            } catch {
                throw .invalidInput("\(printable(fileName)):\(lineNumber): \(error.message)")
            }
            tokens.append(String(token))
        }
    }
    return tokens
}
