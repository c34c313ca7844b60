import ArgumentParser
import MailPortConfig
import MailPortCore
import MailPortRules

/// `mailport rules`: look at the rule set in force and check rule files before a scheduled run uses them.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "List, show and validate rules.",
        discussion: """
            Examples:
              mailport rules list --profile rfc8314
              mailport rules show MP-AUTH-CLEARTEXT
              mailport rules validate my-rules.yaml --waivers waivers.yaml
            """,
        subcommands: [List.self, Show.self, Validate.self]
    )

    /// The rule set and profile a subcommand looks at.
    struct Selection: ParsableArguments {
        @Option(
            help: ArgumentHelp("A rules file or folder layered on the built-in rules (repeatable).", valueName: "path"),
            completion: .file())
        var rules: [String] = []

        @Option(
            help: ArgumentHelp("The profile whose severities and switches are shown.", valueName: "name"),
            completion: .list(OptionSpec.builtinProfiles))
        var profile: String = "baseline"

        func load() throws -> (RuleSet, ResolvedProfile) {
            let ruleSet = try RuleLoader.load(paths: rules)
            return (ruleSet, try ruleSet.resolve(profile: profile))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every rule with its severity under a profile.",
            discussion: """
                Examples:
                  mailport rules list
                  mailport rules list --profile rfc8314
                  mailport rules list --rules corp-rules.yaml --profile corp
                """
        )

        @OptionGroup var selection: Selection

        func run() throws {
            let (ruleSet, profile) = try selection.load()
            let active = Dictionary(uniqueKeysWithValues: profile.rules.map { ($0.id, $0) })
            let width = ruleSet.rules.map(\.id.count).max() ?? 0
            print("profile \(profile.id): \(active.count) of \(ruleSet.rules.count) rules run")
            for rule in ruleSet.rules {
                let shown = active[rule.id]
                let severity = shown.map { $0.severity.rawValue } ?? "off"
                let padded = rule.id.padding(toLength: width, withPad: " ", startingAt: 0)
                let kind = rule.isBuiltin ? "" : "  [custom]"
                print(
                    "\(padded)  \(severity.padding(toLength: 8, withPad: " ", startingAt: 0))  \(printable(rule.title))\(kind)"
                )
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one rule: what it checks, severity, parameters, remediation and references.",
            discussion: """
                Example:
                  mailport rules show MP-AUTH-CLEARTEXT
                """
        )

        @Argument(help: "The rule id, e.g. MP-AUTH-CLEARTEXT.")
        var id: String

        @OptionGroup var selection: Selection

        func run() throws {
            let (ruleSet, profile) = try selection.load()
            guard let rule = ruleSet.rule(id.uppercased()) else {
                throw MailPortError.invalidInput(
                    "unknown rule '\(printable(id))'; expected a rule id (mailport rules list)")
            }
            let active = profile.rules.first { $0.id == rule.id }
            print("\(rule.id): \(printable(rule.title))")
            print(
                "severity: \(rule.severity.rawValue)"
                    + (active.map {
                        $0.severity == rule.severity ? "" : " (\($0.severity.rawValue) under \(profile.id))"
                    } ?? " (off under \(profile.id))"))
            print("defined at: \(printable(rule.origin))")
            if !rule.description.isEmpty { print("\n\(printable(rule.description, limit: 4000))") }
            let parameters = (active ?? rule).parameters.values.sorted { $0.key < $1.key }
            if !parameters.isEmpty {
                print("\nparameters:")
                for (name, value) in parameters { print("  \(name): \(Self.describe(value))") }
            }
            let adjustments = profile.adjustments.filter { adjustment in
                adjustment.rules.contains { Adjustment.pattern($0, matches: rule.id) }
            }
            if !adjustments.isEmpty {
                print("\nadjustments under \(profile.id):")
                for adjustment in adjustments {
                    let change =
                        adjustment.severity.map { "severity \($0.rawValue)" } ?? "shift \(adjustment.shift ?? 0)"
                    print("  \(change): \(printable(adjustment.reason, limit: 400))")
                }
            }
            if !rule.remediation.isEmpty {
                print("\nremediation:")
                for key in ["general", "postfix", "dovecot", "exim", "other"] {
                    if let text = rule.remediation[key] { print("  \(key): \(printable(text, limit: 2000))") }
                }
            }
            if !rule.references.isEmpty {
                print("\nreferences: \(rule.references.map { printable($0) }.joined(separator: "; "))")
            }
        }

        static func describe(_ value: ParameterValue) -> String {
            switch value {
            case .integer(let number): return String(number)
            case .severity(let severity): return severity.rawValue
            case .strings(let items): return items.map { printable($0) }.joined(separator: ", ")
            case .patterns(let patterns): return patterns.map { printable($0.source) }.joined(separator: "  ")
            }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a rules file or folder (and optionally a waivers file) without scanning.",
            discussion: """
                The path is loaded as --rules would load it: layered on the built-in rules, unless its files say \
                `base: none`. Every profile is resolved. Exit status 0 when valid, 2 with FILE:LINE and what was \
                expected otherwise. Patterns that are valid but usually a mistake, such as nested quantifiers \
                ((a+)+), are warned about on standard error; they still run in linear time and leave the status 0.

                Examples:
                  mailport rules validate corp-rules.yaml
                  mailport rules validate Rules/
                  mailport rules validate corp-rules.yaml --waivers waivers.yaml
                """
        )

        @Argument(help: "A rules file or folder.", completion: .file())
        var path: String

        @Option(
            help: ArgumentHelp("A waivers file to check against the rules.", valueName: "file"), completion: .file())
        var waivers: String?

        func run() throws {
            let ruleSet = try RuleLoader.load(paths: [path])
            for name in ruleSet.profiles.keys.sorted() { _ = try ruleSet.resolve(profile: name) }
            for warning in ruleSet.patternWarnings {
                writeToStandardError("mailport: warning: \(printable(warning, limit: 400))\n")
            }
            let waiverCount = try waivers.map { try WaiverLoader.load(path: $0, ruleSet: ruleSet).count }
            let custom = ruleSet.rules.filter { !$0.isBuiltin }.count
            print(
                "\(printable(path)): valid; \(ruleSet.rules.count) rules (\(custom) custom), profiles \(ruleSet.profiles.keys.sorted().joined(separator: ", "))"
                    + (waiverCount.map { "; \($0) waivers" } ?? ""))
        }
    }
}
