/// An error the user has to act on. Every case maps to one exit status of the contract and carries a one-line
/// message that names the bad value and what was expected.
public struct MailPortError: Error, Sendable, CustomStringConvertible, Equatable {
    private enum Kind: Sendable, Equatable {
        case invalidInput
        case unresolvedName
        case scanFailed
    }

    private let kind: Kind
    /// One line, no trailing period; shown after `mailport: error: `.
    public let message: String

    private init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// Bad command line, configuration or input file (exit status 2).
    public static func invalidInput(_ message: String) -> MailPortError { MailPortError(.invalidInput, message) }

    /// A target host name that does not resolve (exit status 2 where it stops the run; a scan of other targets
    /// records it and goes on).
    public static func unresolvedName(_ message: String) -> MailPortError { MailPortError(.unresolvedName, message) }

    public var isUnresolvedName: Bool { kind == .unresolvedName }

    /// The scan could not run at all, e.g. a missing permission or a kernel resource (exit status 3).
    public static func scanFailed(_ message: String) -> MailPortError { MailPortError(.scanFailed, message) }

    /// The process exit status the contract assigns to this error.
    public var exitStatus: Int32 {
        switch kind {
        case .invalidInput, .unresolvedName: return ExitStatus.usage
        case .scanFailed: return ExitStatus.scanFailed
        }
    }

    public var description: String { message }
}

/// Exit statuses of the contract (PRODUCT.md).
public enum ExitStatus {
    public static let clean: Int32 = 0
    public static let findings: Int32 = 1
    public static let usage: Int32 = 2
    public static let scanFailed: Int32 = 3
    public static let interrupted: Int32 = 130
}
