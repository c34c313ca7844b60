import Foundation
import MailPortCore
import MailPortYAML

/// One scan option as data: its long name (`--read-timeout`, and the config file's key `read-timeout`), its help,
/// where its value lives in `OptionValues`, how the config file gives it and how a bad value is reported. The table
/// of them (`ScanOptions.all`) drives the command line's names and help, the config file's keys, merging and
/// validation, so an option is declared once.
public struct OptionSpec: Sendable {
    /// How the option is written on the command line.
    public enum CommandLineForm: Sendable, Equatable {
        /// `--name VALUE`, at most once.
        case option
        /// `--name VALUE`, repeatable: a list.
        case repeatable
        /// `--name` alone.
        case flag
        /// The command's positional arguments.
        case positional
        /// Not on the command line: config file only.
        case none
    }

    /// The long option name without dashes.
    public let name: String
    public let form: CommandLineForm
    /// Its keys in the config file: usually the long name; none for an option of the command line only; two where
    /// the file accepts an alias (only one of them may be given).
    public let configKeys: [String]
    /// The help line, defaults included.
    public let help: String
    /// What `--help` calls the value (`seconds`, `file`); nil for flags and positional arguments.
    public let valueName: String?
    /// The one-letter name nmap users type (`-p` for `--ports`), if any.
    public private(set) var shortName: Character?
    /// Longer names written with one dash (`-iL`, nmap's spelling of a targets file).
    public private(set) var singleDashNames: [String] = []

    fileprivate let readFile:
        @Sendable (_ node: YAMLNode, _ key: String, _ file: ConfigPlace, _ values: inout OptionValues) throws -> Void
    fileprivate let commandLineProblem: @Sendable (OptionValues) -> String?
    fileprivate let storeParsed: @Sendable (_ parsed: Any, _ values: inout OptionValues) -> Void
    fileprivate let copyGiven: @Sendable (_ from: OptionValues, _ into: inout OptionValues) -> Void
    fileprivate let describeGiven: @Sendable (OptionValues) -> String?

    /// This option with a one-letter name too (`-p`).
    func short(_ letter: Character) -> OptionSpec {
        var spec = self
        spec.shortName = letter
        return spec
    }

    /// This option with a single-dash alias too (`-iL`).
    func singleDash(_ name: String) -> OptionSpec {
        var spec = self
        spec.singleDashNames.append(name)
        return spec
    }

    /// The name of the command-line property that holds this option: the long name in lower camel case
    /// (`read-timeout` → `readTimeout`, `source-ip` → `sourceIp`).
    public var propertyName: String {
        let words = name.split(separator: "-")
        return words.enumerated()
            .map { index, word in index == 0 ? String(word) : word.prefix(1).uppercased() + word.dropFirst() }
            .joined()
    }

    /// The problem with this option's value as the command line gave it (one line naming `--name` and the value),
    /// or nil when it is acceptable or not given.
    public func problem(commandLine values: OptionValues) -> String? { commandLineProblem(values) }

    /// Stores what the command line's parser produced for this option (`T?`, `[T]` or `Bool`); nil, an empty list
    /// and an unset flag mean "not given".
    public func store(parsed: Any, in values: inout OptionValues) { storeParsed(parsed, &values) }

    /// `values`' setting of this option where it is given there.
    public func copy(givenIn source: OptionValues, to values: inout OptionValues) { copyGiven(source, &values) }

    /// This option's value in `values` as text, or nil when it is not given (for tests and diagnostics).
    public func describe(in values: OptionValues) -> String? { describeGiven(values) }

    /// Reads this option from a config file's mapping, if one of its keys is there.
    func read(_ fields: YAMLMapping, file: ConfigPlace, into values: inout OptionValues) throws {
        let given = configKeys.filter { fields[$0] != nil }
        guard let key = given.first else { return }
        if given.count > 1 {
            throw fields[given[1]]!.error("both '\(given[0])' and '\(given[1])'; expected one of them")
        }
        try readFile(fields[key]!, key, file, &values)
    }
}

/// Where a config file is, so relative paths in it are taken from its folder.
struct ConfigPlace: Sendable {
    let folder: String

    func path(_ value: String) -> String {
        value.hasPrefix("/") || folder.isEmpty ? value : (folder as NSString).appendingPathComponent(value)
    }
}

/// How a bad value is reported.
enum OptionCheck<Value>: Sendable {
    /// The check returns what was expected; the message names the option and quotes the value as given:
    /// `invalid --timeout '0.0'; expected …` on the command line,
    /// `mailport.yaml:4: invalid timeout '0'; expected …` in a file.
    case expected(@Sendable (Value) -> String?)
    /// The check returns the whole message (`invalid domain 'x'; expected …`), the same on both routes; a file adds
    /// its name and line.
    case message(@Sendable (Value) -> String?)
}

/// How a config file gives a value of one kind.
struct ConfigReader<Value>: Sendable {
    fileprivate let read: @Sendable (_ node: YAMLNode, _ key: String, _ file: ConfigPlace) throws -> Value
    /// A list joined into one comma-separated value: a file's message quotes the whole list, then the parser's own
    /// message about the entry at fault.
    fileprivate var quotesJoinedList = false
}

extension ConfigReader where Value == Double {
    static var number: Self { Self { node, key, _ in try scalar(node, key, expected: "a number", Double.init) } }
}

extension ConfigReader where Value == Int {
    static var wholeNumber: Self {
        Self { node, key, _ in try scalar(node, key, expected: "a whole number", Int.init) }
    }
}

extension ConfigReader where Value == UInt64 {
    static var seed: Self {
        Self { node, key, _ in try scalar(node, key, expected: "a whole number from 0 to \(UInt64.max)", UInt64.init) }
    }
}

extension ConfigReader where Value == String {
    /// Text, trimmed, not empty.
    static var text: Self { Self { node, key, _ in try node.nonEmptyString("'\(key)'") } }
    /// Text as written (it may be empty; the check says what was expected).
    static var rawText: Self { Self { node, key, _ in try node.string("'\(key)'") } }
    /// A path, relative to the config file's folder.
    static var path: Self { Self { node, key, file in file.path(try node.nonEmptyString("'\(key)'")) } }
    /// A list (or one text) joined with commas, as the command line writes it.
    static var commaList: Self {
        Self(read: { node, key, _ in try node.stringList("'\(key)'").joined(separator: ",") }, quotesJoinedList: true)
    }
}

extension ConfigReader where Value == [String] {
    /// A list of texts; one text is a list of one.
    static var texts: Self { Self { node, key, _ in try node.stringList("'\(key)'") } }
    /// A list of paths, each relative to the config file's folder.
    static var paths: Self { Self { node, key, file in try node.stringList("'\(key)'").map(file.path) } }
}

extension ConfigReader where Value: CaseIterable & RawRepresentable & Sendable, Value.RawValue == String {
    /// One of the type's cases by name.
    static var choice: Self {
        Self { node, key, _ in
            guard let value = node.scalarText.flatMap(Value.init(rawValue:)) else {
                let names = Value.allCases.map(\.rawValue)
                let last = names.count > 1 ? " or " + names.last! : names.last ?? ""
                throw invalid(node, key, expected: names.dropLast().joined(separator: ", ") + last)
            }
            return value
        }
    }
}

/// A scalar through `parse`, or `invalid KEY 'TEXT'; expected WHAT`.
private func scalar<T>(_ node: YAMLNode, _ key: String, expected: String, _ parse: (String) -> T?) throws -> T {
    guard let text = node.scalarText, let value = parse(text) else { throw invalid(node, key, expected: expected) }
    return value
}

/// `FILE:LINE: invalid KEY 'VALUE'; expected WHAT`, quoting the value as the file wrote it (`shown` when it is not
/// a single scalar).
private func invalid(_ node: YAMLNode, _ key: String, shown: String = "a list", expected: String) -> MailPortError {
    node.error("invalid \(key) '\(printable(node.scalarText ?? shown))'; expected \(expected)")
}

/// A value of the wrong type from the command line's parser: the `@Option` property and the spec disagree, which
/// every run would show at once.
private func mismatch(_ name: String, _ parsed: Any, _ expected: Any.Type) -> Never {
    preconditionFailure("--\(name): the command line parsed \(type(of: parsed)), its OptionSpec stores \(expected)")
}

/// Merging: the source's value where it has one.
private func copying<T>(
    _ keyPath: WritableKeyPath<OptionValues, T?> & Sendable
) -> @Sendable (OptionValues, inout OptionValues) -> Void {
    { source, values in
        if let value = source[keyPath: keyPath] { values[keyPath: keyPath] = value }
    }
}

/// True for an Optional that holds nothing, whatever it wraps.
private func isNone(_ value: Any) -> Bool {
    let mirror = Mirror(reflecting: value)
    return mirror.displayStyle == .optional && mirror.children.isEmpty
}

extension OptionSpec {
    /// An option with one value: `--name VALUE` on the command line, `name: value` in the config file.
    static func value<T: Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<OptionValues, T?> & Sendable, _ reader: ConfigReader<T>,
        check: OptionCheck<T>? = nil, configKeys: [String]? = nil, help: String, valueName: String
    ) -> OptionSpec {
        OptionSpec(
            name: name, form: .option, configKeys: configKeys ?? [name], help: help, valueName: valueName,
            readFile: { node, key, file, values in
                let value = try reader.read(node, key, file)
                switch check {
                case .expected(let check)?:
                    if let expected = check(value) { throw invalid(node, key, shown: "\(value)", expected: expected) }
                case .message(let check)?:
                    if let problem = check(value) {
                        throw reader.quotesJoinedList
                            ? invalid(node, key, shown: "\(value)", expected: problem) : node.error(problem)
                    }
                case nil:
                    break
                }
                values[keyPath: keyPath] = value
            },
            commandLineProblem: { values in
                guard let value = values[keyPath: keyPath] else { return nil }
                switch check {
                case .expected(let check)?:
                    return check(value).map { "invalid --\(name) '\(printable("\(value)"))'; expected \($0)" }
                case .message(let check)?:
                    return check(value)
                case nil:
                    return nil
                }
            },
            storeParsed: { parsed, values in
                if let value = parsed as? T {
                    values[keyPath: keyPath] = value
                } else if !isNone(parsed) {
                    mismatch(name, parsed, T.self)
                }
            },
            copyGiven: copying(keyPath),
            describeGiven: { values in values[keyPath: keyPath].map { "\($0)" } }
        )
    }

    /// A list of texts: a repeatable option (or the positional arguments), a list in the config file. Each entry is
    /// checked by `entry`, which returns the whole message.
    static func list(
        _ name: String, _ keyPath: WritableKeyPath<OptionValues, [String]?> & Sendable,
        _ reader: ConfigReader<[String]> = .texts, form: CommandLineForm = .repeatable, configKey: String? = nil,
        entry check: (@Sendable (String) -> String?)? = nil, help: String, valueName: String? = nil
    ) -> OptionSpec {
        OptionSpec(
            name: name, form: form, configKeys: [configKey ?? name], help: help, valueName: valueName,
            readFile: { node, key, file, values in
                let entries = try reader.read(node, key, file)
                if let check, let problem = entries.lazy.compactMap(check).first { throw node.error(problem) }
                values[keyPath: keyPath] = entries
            },
            commandLineProblem: { values in
                guard let check, let entries = values[keyPath: keyPath] else { return nil }
                return entries.lazy.compactMap(check).first
            },
            storeParsed: { parsed, values in
                guard let entries = parsed as? [String] else { mismatch(name, parsed, [String].self) }
                if !entries.isEmpty { values[keyPath: keyPath] = entries }
            },
            copyGiven: copying(keyPath),
            describeGiven: { values in values[keyPath: keyPath].map { $0.joined(separator: ",") } }
        )
    }

    /// A switch: `--name` on the command line (absent means "not given", so a file's `name: true` stands),
    /// `name: true|false` in the config file.
    static func flag(
        _ name: String, _ keyPath: WritableKeyPath<OptionValues, Bool?> & Sendable, help: String
    ) -> OptionSpec {
        OptionSpec(
            name: name, form: .flag, configKeys: [name], help: help, valueName: nil,
            readFile: { node, key, _, values in values[keyPath: keyPath] = try node.bool("'\(key)'") },
            commandLineProblem: { _ in nil },
            storeParsed: { parsed, values in
                guard let on = parsed as? Bool else { mismatch(name, parsed, Bool.self) }
                if on { values[keyPath: keyPath] = true }
            },
            copyGiven: copying(keyPath),
            describeGiven: { values in values[keyPath: keyPath].map { "\($0)" } }
        )
    }

    /// An option of the command line only (it cannot be in the file it names).
    static func commandLineOnly(
        _ name: String, _ keyPath: WritableKeyPath<OptionValues, String?> & Sendable, help: String, valueName: String
    ) -> OptionSpec {
        value(name, keyPath, .text, configKeys: [], help: help, valueName: valueName)
    }

    /// A setting of the config file only, read by `read` (which stores it and reports its own problems).
    static func configOnly(
        _ name: String, _ keyPath: WritableKeyPath<OptionValues, [String: [String]]?> & Sendable, help: String,
        read: @escaping @Sendable (YAMLNode) throws -> [String: [String]]
    ) -> OptionSpec {
        OptionSpec(
            name: name, form: .none, configKeys: [name], help: help, valueName: nil,
            readFile: { node, _, _, values in values[keyPath: keyPath] = try read(node) },
            commandLineProblem: { _ in nil },
            storeParsed: { _, _ in preconditionFailure("\(name) is a config file setting; no command-line property") },
            copyGiven: copying(keyPath),
            describeGiven: { values in
                values[keyPath: keyPath].map { groups in
                    groups.keys.sorted().map { "\($0)=\(groups[$0]!.joined(separator: ","))" }.joined(separator: ";")
                }
            }
        )
    }
}
