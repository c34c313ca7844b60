import ArgumentParser
import MailPortConfig

// The scan options' command-line side. ArgumentParser needs each option as a property declared in a command or an
// option group; `@Option(spec: "read-timeout") var readTimeout: Double?` takes the name and help from the option's
// entry in `ScanOptions.all`, and `givenOptions` reads the parsed properties back by name (the long name in lower
// camel case), so everything else about an option (config key, checks, merging) stays in that one entry.
// MailPortOptionTests pairs the properties and the table both ways.

extension OptionSpec {
    var argumentHelp: ArgumentHelp { ArgumentHelp(help, valueName: valueName) }

    /// The entry's completion as ArgumentParser's (nil: the shell's default).
    var completionKind: CompletionKind? {
        switch completion {
        case .none: return nil
        case .words(let words): return .list(words)
        case .file: return .file()
        case .directory: return .directory
        }
    }

    /// `--long`, and the short (`-p`) and single-dash (`-iL`) names the table gives it.
    var argumentNames: NameSpecification {
        var names: [NameSpecification.Element] = [.customLong(name)]
        if let shortName { names.append(.customShort(shortName)) }
        names += singleDashNames.map { .customLong($0, withSingleDash: true) }
        return NameSpecification(names)
    }
}

/// The table's entry for a property; a name missing from it, or declared in another form, is a programming error
/// that every run (and every test) meets at once.
private func declared(_ name: String, as form: OptionSpec.CommandLineForm) -> OptionSpec {
    guard let spec = ScanOptions.named(name) else { preconditionFailure("--\(name) has no entry in ScanOptions.all") }
    precondition(spec.form == form, "--\(name) is declared as \(form) but ScanOptions.all has it as \(spec.form)")
    return spec
}

extension Option {
    init<T: ExpressibleByArgument>(spec name: String) where Value == T? {
        let spec = declared(name, as: .option)
        self.init(name: spec.argumentNames, help: spec.argumentHelp, completion: spec.completionKind)
    }

    init<T: ExpressibleByArgument>(wrappedValue: [T], spec name: String) where Value == [T] {
        let spec = declared(name, as: .repeatable)
        self.init(
            wrappedValue: wrappedValue, name: spec.argumentNames, help: spec.argumentHelp,
            completion: spec.completionKind)
    }
}

extension Flag where Value == Bool {
    init(wrappedValue: Bool, spec name: String) {
        let spec = declared(name, as: .flag)
        self.init(wrappedValue: wrappedValue, name: spec.argumentNames, help: spec.argumentHelp)
    }
}

extension Argument {
    init<T: ExpressibleByArgument>(wrappedValue: [T], spec name: String) where Value == [T] {
        let spec = declared(name, as: .positional)
        self.init(wrappedValue: wrappedValue, help: spec.argumentHelp)
    }
}

/// A parsed `@Option`, `@Flag` or `@Argument`, whatever its value's type.
protocol ParsedProperty {
    var parsedValue: Any { get }
}

extension Option: ParsedProperty {
    var parsedValue: Any { wrappedValue }
}

extension Flag: ParsedProperty {
    var parsedValue: Any { wrappedValue }
}

extension Argument: ParsedProperty {
    var parsedValue: Any { wrappedValue }
}

/// A parsed `@OptionGroup`.
protocol ParsedGroup {
    var parsedArguments: any ParsableArguments { get }
}

extension OptionGroup: ParsedGroup {
    var parsedArguments: any ParsableArguments { wrappedValue }
}

/// What the command line gave for the scan options declared in `arguments` and its option groups (nil where it
/// gave nothing). The properties are found the way ArgumentParser finds them, by reflection; each must be a scan
/// option's long name in lower camel case.
func givenOptions(_ arguments: any ParsableArguments) -> OptionValues {
    var values = OptionValues()
    collect(arguments, into: &values)
    return values
}

private func collect(_ arguments: any ParsableArguments, into values: inout OptionValues) {
    for child in Mirror(reflecting: arguments).children {
        if let group = child.value as? any ParsedGroup {
            collect(group.parsedArguments, into: &values)
            continue
        }
        guard let property = child.value as? any ParsedProperty, let label = child.label else { continue }
        // A property wrapper's storage is labelled `_name`.
        let name = label.hasPrefix("_") ? String(label.dropFirst()) : label
        guard let spec = ScanOptions.all.first(where: { $0.propertyName == name }) else {
            preconditionFailure("\(type(of: arguments)).\(name) is not a scan option in ScanOptions.all")
        }
        spec.store(parsed: property.parsedValue, in: &values)
    }
}

/// Checks the scan options this part of the command line gave, as every option group's `validate()` does.
func validateGivenOptions(_ arguments: any ParsableArguments) throws -> OptionValues {
    let given = givenOptions(arguments)
    if let problem = ScanOptions.commandLineProblem(given) { throw ValidationError(problem) }
    return given
}
