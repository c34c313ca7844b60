/// Text from the network or the user, made inert for report formats that a person may also read in a terminal
/// (HTML, Markdown, JUnit XML, Prometheus). Each format escapes its own syntax on top of this.
enum ReportText {
    /// Control characters (C0 except tab and newline, DEL, C1) and invisible format characters (bidirectional
    /// overrides, zero-width characters) become visible `\u{…}` notation: `cat report.html` cannot drive a
    /// terminal, and a right-to-left override cannot disguise a host name. XML 1.0 forbids most of them anyway.
    static func inert(_ text: String, keepNewlines: Bool = true) -> String {
        // Almost every string is printable ASCII: return it as it is without asking Unicode tables about each
        // scalar (those lookups were a third of the time of writing a large HTML report).
        if text.utf8.allSatisfy({ ($0 >= 0x20 && $0 < 0x7f) || $0 == 0x09 || ($0 == 0x0a && keepNewlines) }) {
            return text
        }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value >= 0x20 && value < 0x7f {
                out.unicodeScalars.append(scalar)
                continue
            }
            let isControl = value < 0x20 || (0x7f...0x9f).contains(value)
            let isFormat =
                scalar.properties.generalCategory == .format
                || scalar.properties.generalCategory == .lineSeparator
                || scalar.properties.generalCategory == .paragraphSeparator
            let isNoncharacter = scalar.properties.isNoncharacterCodePoint
            if (scalar == "\n" && keepNewlines) || scalar == "\t" {
                out.unicodeScalars.append(scalar)
            } else if isControl || isFormat || isNoncharacter {
                out += "\\u{" + String(value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// One line: newlines become " | ", then `inert`.
    static func line(_ text: String, limit: Int = 400) -> String {
        let flat = inert(text.replacingOccurrences(of: "\r\n", with: "\n"), keepNewlines: false)
            .replacingOccurrences(of: "\\u{a}", with: " | ")
        return flat.count > limit ? String(flat.prefix(limit)) + "…" : flat
    }
}
