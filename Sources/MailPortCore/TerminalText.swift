/// Makes any user or network text safe for one terminal line: control characters (C0, C1), format characters
/// (bidirectional overrides, zero-width joiners), private-use and unassigned code points become `\xNN` / `\u{…}`
/// escapes; letters, marks, digits, punctuation, symbols and spaces of any script pass (`§`, `é`), and the result
/// is cut at `limit` characters.
public func printable<S: StringProtocol>(_ text: S, limit: Int = 120) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        if out.count >= limit {
            out += "…"
            break
        }
        if scalar.value >= 0x20 && scalar.value < 0x7f {
            out.unicodeScalars.append(scalar)
        } else if scalar.value > 0xa0, isHarmlessPrintable(scalar) {
            out.unicodeScalars.append(scalar)
        } else if scalar.value < 0x100 {
            out += "\\x" + String(scalar.value, radix: 16, uppercase: false).leftPadded(to: 2)
        } else {
            out += "\\u{" + String(scalar.value, radix: 16) + "}"
        }
    }
    return out
}

/// Visible text of any script; never a control, format (bidi), separator other than space, private-use or
/// unassigned code point.
private func isHarmlessPrintable(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
        .decimalNumber, .letterNumber, .otherNumber,
        .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
        .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
        return true
    default:
        // Marks (combining accents) could stack without limit over one glyph; spaces other than U+0020 and
        // separators hide structure. Escape them.
        return false
    }
}

extension String {
    public func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs, CR and LF (no Foundation needed).
    public func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Writes text to stderr unbuffered (fd 2 directly: no shared `FILE*`, so it is safe from any thread).
public func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        bytes = bytes.dropFirst(written)
    }
}

/// The C library's description of an errno value ("Connection refused"), for error messages.
public func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
