import Foundation

/// The JSON report's encoding, in one place: the report writer and the spool that holds a large run's hosts use it
/// alike, so a spooled host's record already is its entry in the report's `hosts` array and the writer copies it
/// instead of decoding and encoding every host again (which was the JSON writer's whole cost on a large run).
public enum ReportJSON {
    /// Stable key order (reports diff cleanly, golden files compare), two-space indentation, slashes as they are.
    public static func encode<Value: Encodable>(_ value: Value) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return terminalSafe(Array(try encoder.encode(value)))
    }

    /// A host as it stands in the report's `hosts` array: encoded, every line two levels deep (four spaces). The blank
    /// line the encoder writes inside an empty array stays blank. Still a JSON value: the spool decodes it as is.
    public static func hostEntry(_ host: ScanReport.Host) throws -> [UInt8] {
        indented(try encode(host), by: 4)
    }

    /// Every non-empty line of `json` moved `spaces` to the right.
    static func indented(_ json: [UInt8], by spaces: Int) -> [UInt8] {
        let newline = UInt8(ascii: "\n")
        let lines = json.lazy.filter { $0 == newline }.count + 1
        var out: [UInt8] = []
        out.reserveCapacity(json.count + lines * spaces)
        var lineStart = true
        for byte in json {
            if lineStart && byte != newline { out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: spaces)) }
            out.append(byte)
            lineStart = byte == newline
        }
        return out
    }

    /// JSON allows DEL, C1 controls, bidirectional overrides and other invisible format characters raw inside
    /// strings; `cat report.json` would hand them to a terminal (a C1 CSI moves the cursor, U+202E reverses text).
    /// They only ever occur inside strings, so writing them as `\uXXXX` escapes keeps the data identical and the
    /// file inert.
    public static func terminalSafe(_ json: [UInt8]) -> [UInt8] {
        // Plain ASCII without DEL (nearly every host) needs no look at its characters.
        guard json.contains(where: { $0 >= 0x7f }) else { return json }
        let text = String(decoding: json, as: UTF8.self)
        guard text.unicodeScalars.contains(where: needsEscape) else { return json }
        var out = ""
        out.reserveCapacity(text.utf8.count + 64)
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) {
                for unit in String(scalar).utf16 { out += "\\u" + String(unit, radix: 16).leftPadded(to: 4) }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return Array(out.utf8)
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 { return scalar.value == 0x7f }
        if scalar.value <= 0x9f { return true }
        switch scalar.properties.generalCategory {
        case .format, .lineSeparator, .paragraphSeparator: return true
        default: return scalar.properties.isNoncharacterCodePoint
        }
    }
}
