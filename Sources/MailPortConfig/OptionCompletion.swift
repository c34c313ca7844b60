import MailPortCore
import MailPortReport

/// What a shell may offer for an option's value (`mailport --generate-completion-script bash|zsh|fish`).
public enum ValueCompletion: Sendable, Equatable {
    case none
    /// One of these words.
    case words([String])
    /// A file name (folders too, to get there).
    case file
    /// A folder name.
    case directory
}

extension OptionSpec {
    /// The profiles of the built-in rule set (`Rules/profiles/`); a test holds this list to the rule set, and
    /// `--profile` also takes profiles a rules file defines.
    public static let builtinProfiles = ["baseline", "mx", "rfc8314"]

    /// Taken from what the entry already says: the fixed words of `--profile`, `--fail-on` and `--format` (from
    /// the same lists their checks use), and file or folder names where the value is called `file`, `path` or `dir`.
    public var completion: ValueCompletion {
        switch name {
        case "profile": return .words(Self.builtinProfiles)
        case "fail-on": return .words(Severity.allCases.map(\.rawValue) + ["never"])
        case "format": return .words(ReportFormat.available.map(\.rawValue))
        default: break
        }
        switch valueName {
        case "file", "path": return .file
        case "dir": return .directory
        default: return .none
        }
    }
}
