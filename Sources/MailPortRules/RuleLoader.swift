import Foundation
import MailPortCore
import MailPortYAML

/// Reads rule sets from YAML, strictly: an unknown key, a bad severity, a matcher on a fact that does not exist, a
/// parameter a check does not take or a duplicate id stops the load with `FILE:LINE: what; expected what`
/// (exit status 2). The file format is documented in `Rules/README.md`.
public enum RuleLoader {
    /// A YAML file's name (for messages) and text.
    public typealias SourceFile = (name: String, text: String)

    /// The built-in rule set, from the copy of `Rules/` compiled into the binary.
    public static func builtin() throws -> RuleSet {
        try load(layers: [BuiltinRuleFiles.files])
    }

    /// The built-in set with the files at `paths` (files or folders of `*.yaml`) layered on top. A layer whose files
    /// say `base: none` replaces the built-in set instead (a full copy of `Rules/`, edited).
    public static func load(paths: [String]) throws -> RuleSet {
        guard !paths.isEmpty else { return try builtin() }
        let userFiles = try paths.flatMap(readFiles)
        return try load(layers: [BuiltinRuleFiles.files, userFiles])
    }

    /// Files of a path: the file itself, or every `.yaml`/`.yml` below a folder, in name order.
    static func readFiles(_ path: String) throws -> [SourceFile] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw MailPortError.invalidInput(
                "rules path '\(printable(path))' does not exist; expected a YAML file or a folder of them")
        }
        var names = [path]
        if isFolder.boolValue {
            let enumerator = FileManager.default.enumerator(atPath: path)
            names = (enumerator?.allObjects as? [String] ?? [])
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
                .sorted()
                .map { (path as NSString).appendingPathComponent($0) }
            guard !names.isEmpty else {
                throw MailPortError.invalidInput(
                    "rules folder '\(printable(path))' holds no .yaml files; expected rule files")
            }
        }
        return try names.map { name in
            (name, try YAMLNode.readText(path: name, what: "UTF-8 YAML rules file"))
        }
    }

    /// Layers in order, lowest first. Ids must be unique across the layers in force.
    public static func load(layers: [[SourceFile]]) throws -> RuleSet {
        var documents: [[Document]] = try layers.map {
            try $0.map { try Document(YAMLNode.parse($0.text, file: $0.name)) }
        }
        // A layer that declares itself complete replaces everything below it.
        if let last = documents.lastIndex(where: { layer in layer.contains { $0.replacesBase } }) {
            documents = Array(documents[last...])
        }
        var builder = Builder()
        let inForce = Array(layers.suffix(documents.count))
        for layer in documents {
            var layerGrades: YAMLNode?
            for document in layer {
                for node in document.rules { try builder.addRule(node) }
                for node in document.profiles { try builder.addProfile(node) }
                if let grades = document.grades {
                    if let earlier = layerGrades {
                        throw grades.error(
                            "a second 'grades' section (the first is at \(earlier.file):\(earlier.line)); expected one per rule set"
                        )
                    }
                    layerGrades = grades
                    builder.grades = try parseGrades(grades)
                }
            }
        }
        var ruleSet = try builder.finish()
        ruleSet.digest = digest(of: inForce.flatMap { $0 })
        return ruleSet
    }

    static func digest(of files: [SourceFile]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for file in files {
            for byte in Array(file.name.utf8) + [0] + Array(file.text.utf8) + [0] {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
        }
        return String(hash, radix: 16).leftPadded(to: 16)
    }

    // MARK: Documents

    /// The top level of one file.
    struct Document {
        var replacesBase = false
        var rules: [YAMLNode] = []
        var profiles: [YAMLNode] = []
        var grades: YAMLNode?

        init(_ root: YAMLNode) throws {
            let top = try root.mapping("a rules file", allowed: ["base", "rules", "profiles", "grades"])
            if let base = top["base"] {
                switch try base.string("'base'") {
                case "none": replacesBase = true
                case "builtin": replacesBase = false
                default:
                    throw base.error(
                        "invalid base '\(printable(base.scalarText ?? ""))'; expected builtin (layer on the built-in rules) or none (a complete rule set)"
                    )
                }
            }
            rules = try top["rules"]?.list("'rules'") ?? []
            profiles = try top["profiles"]?.list("'profiles'") ?? []
            grades = top["grades"]
        }
    }

    struct Builder {
        var rules: [RuleDefinition] = []
        var ruleNodes: [String: YAMLNode] = [:]
        var profiles: [String: Profile] = [:]
        var profileNodes: [String: YAMLNode] = [:]
        var profileOrder: [String] = []
        var grades: GradeScale?

        mutating func addRule(_ node: YAMLNode) throws {
            let rule = try parseRule(node)
            if let earlier = ruleNodes[rule.id] {
                throw node.error(
                    "duplicate rule id '\(rule.id)' (first defined at \(earlier.file):\(earlier.line)); expected each id once — change a built-in rule through a profile that extends baseline"
                )
            }
            ruleNodes[rule.id] = node
            rules.append(rule)
        }

        mutating func addProfile(_ node: YAMLNode) throws {
            let profile = try parseProfile(node)
            if let earlier = profileNodes[profile.id] {
                throw node.error(
                    "duplicate profile id '\(profile.id)' (first defined at \(earlier.file):\(earlier.line)); expected each id once"
                )
            }
            profileNodes[profile.id] = node
            profiles[profile.id] = profile
            profileOrder.append(profile.id)
        }

        /// Cross-references: profiles name existing rules and profiles, parameters fit their checks.
        func finish() throws -> RuleSet {
            guard let grades else {
                throw MailPortError.invalidInput(
                    "the rule set has no 'grades' section; expected one (see Rules/ruleset.yaml)")
            }
            guard profiles["baseline"] != nil else {
                throw MailPortError.invalidInput(
                    "the rule set has no 'baseline' profile; expected one (see Rules/profiles)")
            }
            let ids = Set(rules.map(\.id))
            for id in profileOrder {
                let profile = profiles[id]!
                let node = profileNodes[id]!
                func requireRule(_ ruleID: String, _ context: String) throws {
                    guard ids.contains(ruleID) else {
                        throw node.error(
                            "profile '\(id)' names unknown rule '\(printable(ruleID))' in \(context); expected a rule id of the rule set"
                        )
                    }
                }
                if let parent = profile.extends, profiles[parent] == nil {
                    throw node.error(
                        "profile '\(id)' extends unknown profile '\(printable(parent))'; expected one of: \(profileOrder.joined(separator: ", "))"
                    )
                }
                var seen: Set<String> = [id]
                var cursor = profile.extends
                while let next = cursor {
                    guard seen.insert(next).inserted else {
                        throw node.error("profile '\(id)' extends itself through '\(next)'; expected a chain that ends")
                    }
                    cursor = profiles[next]?.extends
                }
                for ruleID in profile.enable { try requireRule(ruleID, "'enable'") }
                for ruleID in profile.disable { try requireRule(ruleID, "'disable'") }
                for ruleID in profile.severities.keys { try requireRule(ruleID, "'severities'") }
                for ruleID in profile.parameters.keys { try requireRule(ruleID, "'parameters'") }
                for adjustment in profile.adjustments {
                    for pattern in adjustment.rules
                    where !ids.contains(where: { Adjustment.pattern(pattern, matches: $0) }) {
                        throw node.error(
                            "profile '\(id)' adjusts '\(printable(pattern))', which matches no rule; expected a rule id or a prefix ending in *"
                        )
                    }
                }
            }
            return RuleSet(rules: rules, profiles: profiles, grades: grades)
        }
    }

    // MARK: Rules

    static let ruleKeys = [
        "id", "title", "description", "severity", "enabled", "parameters", "remediation", "references", "match",
    ]
    static let remediationKeys = ["general", "postfix", "dovecot", "exim", "other"]

    static func parseRule(_ node: YAMLNode) throws -> RuleDefinition {
        // The id first, so every later message can name the rule.
        let idNode = try node.pairs("a rule").first { $0.key == "id" }?.value
        guard let idNode else { throw node.error("a rule has no 'id'; expected 'id', 'title', 'severity'") }
        let id = try idNode.nonEmptyString("the rule id")
        guard
            id.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5a).contains($0) || $0 == UInt8(ascii: "-") }),
            id.utf8.count <= 64
        else {
            throw idNode.error(
                "invalid rule id '\(printable(id))'; expected upper-case letters, digits and dashes (e.g. CORP-EXIM-OLD)"
            )
        }
        let fields = try node.mapping("rule \(id)", allowed: ruleKeys, required: ["id", "title", "severity"])
        let logic: RuleDefinition.Logic
        var parameters = RuleParameters()
        if let match = fields["match"] {
            guard !id.hasPrefix("MP-") else {
                throw idNode.error(
                    "custom rule id '\(id)' uses the reserved MP- prefix; expected another prefix (e.g. CORP-)")
            }
            if let extra = fields["parameters"] {
                throw extra.error("rule \(id) has 'parameters' and 'match'; expected parameters only on built-in rules")
            }
            logic = .matcher(try Matcher.parse(match))
        } else {
            guard let check = BuiltinChecks.all[id] else {
                throw idNode.error(
                    "rule '\(id)' has no 'match' and there is no built-in check of that id; expected a 'match:' condition for a custom rule, or one of \(BuiltinChecks.all.keys.sorted().joined(separator: ", "))"
                )
            }
            logic = .builtin(check)
            let given = try fields["parameters"].map { try $0.pairs("the parameters of \(id)") } ?? []
            for (name, keyNode, value) in given {
                guard let kind = check.parameterKinds[name] else {
                    throw keyNode.error(
                        "unknown parameter '\(printable(name))' for rule \(id); expected \(check.parameterKinds.isEmpty ? "none" : check.parameterKinds.keys.sorted().joined(separator: ", "))"
                    )
                }
                parameters.values[name] = try parseParameter(value, kind: kind, what: "parameter '\(name)' of \(id)")
            }
            for name in check.parameterKinds.keys.sorted() where parameters.values[name] == nil {
                throw node.error(
                    "rule \(id) lacks parameter '\(name)'; expected \(check.parameterKinds[name]!.expected)")
            }
        }
        var remediation: [String: String] = [:]
        if let node = fields["remediation"] {
            let remediationFields = try node.mapping("the remediation of \(id)", allowed: remediationKeys)
            for key in remediationFields.keys {
                remediation[key] = try remediationFields[key]!.nonEmptyString("remediation '\(key)' of \(id)")
            }
        }
        return RuleDefinition(
            id: id,
            title: try fields["title"]!.nonEmptyString("the title of \(id)"),
            description: try fields["description"]?.string("the description of \(id)").trimmingCharacters(
                in: .whitespacesAndNewlines) ?? "",
            severity: try fields["severity"]!.severity("severity of \(id)"),
            enabled: try fields["enabled"]?.bool("'enabled' of \(id)") ?? true,
            parameters: parameters,
            remediation: remediation,
            references: try fields["references"]?.stringList("the references of \(id)") ?? [],
            logic: logic,
            origin: "\(node.file):\(node.line)"
        )
    }

    static func parseParameter(_ node: YAMLNode, kind: ParameterKind, what: String) throws -> ParameterValue {
        switch kind {
        case .integer(let range): return .integer(try node.int(what, in: range))
        case .severity: return .severity(try node.severity(what))
        case .strings: return .strings(try node.stringList(what))
        case .patterns:
            let sources = try node.stringList(what)
            return .patterns(try sources.map { try TextPattern.load($0, at: node, in: what) })
        }
    }

    // MARK: Profiles

    static let profileKeys = [
        "id", "description", "extends", "all-hosts-mx", "enable", "disable", "severities", "parameters", "adjustments",
    ]
    static let adjustmentKeys = ["rules", "ports", "services", "transports", "mx", "severity", "shift", "reason"]

    static func parseProfile(_ node: YAMLNode) throws -> Profile {
        let idNode = try node.pairs("a profile").first { $0.key == "id" }?.value
        guard let idNode else { throw node.error("a profile has no 'id'; expected 'id'") }
        let id = try idNode.nonEmptyString("the profile id")
        let fields = try node.mapping("profile \(id)", allowed: profileKeys, required: ["id"])
        var severities: [String: Severity] = [:]
        for (rule, _, value) in try fields["severities"]?.pairs("the severities of profile \(id)") ?? [] {
            severities[rule] = try value.severity("severity of \(rule) in profile \(id)")
        }
        var parameters: [String: [String: ParameterValue]] = [:]
        for (rule, keyNode, value) in try fields["parameters"]?.pairs("the parameters of profile \(id)") ?? [] {
            // The kinds come from the check; a custom rule (or an unknown id) takes none.
            guard let check = BuiltinChecks.all[rule] else {
                throw keyNode.error(
                    "profile \(id) sets parameters of '\(printable(rule))', which takes none; expected a built-in rule with parameters"
                )
            }
            for (name, nameNode, parameter) in try value.pairs("the parameters of \(rule) in profile \(id)") {
                guard let kind = check.parameterKinds[name] else {
                    throw nameNode.error(
                        "unknown parameter '\(printable(name))' for rule \(rule); expected \(check.parameterKinds.isEmpty ? "none" : check.parameterKinds.keys.sorted().joined(separator: ", "))"
                    )
                }
                parameters[rule, default: [:]][name] = try parseParameter(
                    parameter, kind: kind, what: "parameter '\(name)' of \(rule) in profile \(id)")
            }
        }
        return Profile(
            id: id,
            description: try fields["description"]?.string("the description of profile \(id)").trimmingCharacters(
                in: .whitespacesAndNewlines) ?? "",
            extends: try fields["extends"]?.nonEmptyString("'extends' of profile \(id)"),
            allHostsMX: try fields["all-hosts-mx"]?.bool("'all-hosts-mx' of profile \(id)"),
            enable: try fields["enable"]?.stringList("'enable' of profile \(id)") ?? [],
            disable: try fields["disable"]?.stringList("'disable' of profile \(id)") ?? [],
            severities: severities,
            parameters: parameters,
            adjustments: try (fields["adjustments"]?.list("the adjustments of profile \(id)") ?? []).map {
                try parseAdjustment($0, profile: id)
            },
            origin: "\(node.file):\(node.line)"
        )
    }

    static func parseAdjustment(_ node: YAMLNode, profile: String) throws -> Adjustment {
        let what = "an adjustment of profile \(profile)"
        let fields = try node.mapping(what, allowed: adjustmentKeys, required: ["rules", "reason"])
        let severity = try fields["severity"]?.severity("severity in \(what)")
        let shift = try fields["shift"]?.int("shift in \(what)", in: -4...4)
        guard (severity == nil) != (shift == nil) else {
            throw node.error(
                "\(what) needs exactly one of 'severity' and 'shift'; expected a severity to set or a number of steps")
        }
        return Adjustment(
            rules: try fields["rules"]!.stringList("'rules' in \(what)"),
            ports: try fields["ports"].map { list in
                try list.stringList("'ports' in \(what)").map { text in
                    guard let port = UInt16(text), port > 0 else {
                        throw list.error("invalid port '\(printable(text))' in \(what); expected 1 to 65535")
                    }
                    return port
                }
            },
            services: try fields["services"].map { list in
                try list.stringList("'services' in \(what)").map { name in
                    guard let service = MailService.named(name) else {
                        throw list.error(
                            "unknown service '\(printable(name))' in \(what); expected one of: \(MailService.allCases.map(\.rawValue).joined(separator: ", "))"
                        )
                    }
                    return service
                }
            },
            transports: try fields["transports"].map { list in
                try list.stringList("'transports' in \(what)").map { name in
                    guard let transport = Transport(rawValue: name) else {
                        throw list.error(
                            "unknown transport '\(printable(name))' in \(what); expected plain, starttls or implicit-tls"
                        )
                    }
                    return transport
                }
            },
            mx: try fields["mx"]?.bool("'mx' in \(what)"),
            severity: severity,
            shift: shift,
            reason: try fields["reason"]!.nonEmptyString("'reason' in \(what)")
        )
    }

    // MARK: Grades

    static func parseGrades(_ node: YAMLNode) throws -> GradeScale {
        let fields = try node.mapping(
            "'grades'", allowed: ["by-severity", "clean", "best", "best-allows-plaintext-start", "order"],
            required: ["by-severity", "clean", "best", "order"])
        let orderNode = fields["order"]!
        let order = try orderNode.stringList("'order' in grades").map { text in
            guard let grade = Grade(rawValue: text) else {
                throw orderNode.error(
                    "invalid grade '\(printable(text))' in 'order' in grades; expected \(Grade.expectedShape)")
            }
            return grade
        }
        guard Set(order).count == order.count, !order.isEmpty else {
            throw orderNode.error("'order' in grades repeats a grade; expected each grade once, best first")
        }
        func grade(_ node: YAMLNode, _ what: String) throws -> Grade {
            let text = try node.nonEmptyString(what)
            guard let grade = Grade(rawValue: text), order.contains(grade) else {
                throw node.error(
                    "grade '\(printable(text))' in \(what) is not in 'order'; expected one of: \(order.map(\.rawValue).joined(separator: ", "))"
                )
            }
            return grade
        }
        var bySeverity: [Severity: Grade] = [:]
        let bySeverityNode = fields["by-severity"]!
        for (name, keyNode, value) in try bySeverityNode.pairs("'by-severity' in grades") {
            guard let severity = Severity(rawValue: name) else {
                throw keyNode.error(
                    "invalid severity '\(printable(name))' in grades; expected \(Severity.expectedNames)")
            }
            bySeverity[severity] = try grade(value, "grades for \(name)")
        }
        for severity in Severity.allCases where bySeverity[severity] == nil {
            throw bySeverityNode.error(
                "grades 'by-severity' lacks '\(severity.rawValue)'; expected a grade for every severity")
        }
        return GradeScale(
            bySeverity: bySeverity,
            clean: try grade(fields["clean"]!, "'clean' in grades"),
            best: try grade(fields["best"]!, "'best' in grades"),
            bestAllowsPlaintextStart: try
                (fields["best-allows-plaintext-start"]?.stringList("'best-allows-plaintext-start'") ?? []).map { name in
                    guard let service = MailService.named(name) else {
                        throw fields["best-allows-plaintext-start"]!.error(
                            "unknown service '\(printable(name))' in grades; expected a mail service name")
                    }
                    return service
                },
            order: order
        )
    }
}
