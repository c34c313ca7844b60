/// Host name syntax, for names a person typed (targets) and names a server sent (its EHLO reply).
public enum HostName {
    /// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, at most 63 each, 253 in all; a
    /// final dot is allowed. All-numeric final labels are refused (`10.0.0.300` is a bad address, not a name).
    /// `underscores` also accepts `_` in labels (names people give as targets, such as SRV-style owners).
    public static func isValid(_ name: String, underscores: Bool = false) -> Bool {
        var name = Substring(name)
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard (1...63).contains(label.utf8.count),
                label.utf8.allSatisfy({
                    isLetterOrDigit($0) || $0 == UInt8(ascii: "-") || (underscores && $0 == UInt8(ascii: "_"))
                }),
                label.first != "-", label.last != "-"
            else { return false }
        }
        return !(labels.last!.allSatisfy { $0.isNumber })
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
