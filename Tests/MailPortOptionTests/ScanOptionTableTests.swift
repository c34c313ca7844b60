import ArgumentParser
import Foundation
import MailPortConfig
import MailPortCore
import MailPortYAML
import Testing

@testable import MailPortScan
@testable import mailport

/// One good value per option, given differently on each route so precedence can be seen: what the command line
/// writes and what `describe` then shows, and likewise for a config file (the value after `key: `).
struct Sample: Sendable, CustomStringConvertible {
    var name: String
    var commandLine: [String]?
    var commandLineShows: String?
    var fileKey: String?
    var file: String?
    var fileShows: String?

    var description: String { name }
}

/// A config file's path in these tests; relative paths in it start from its folder.
let configPath = "/etc/mailport/audit.yaml"

let samples: [Sample] = [
    Sample(
        name: "targets", commandLine: ["192.0.2.7"], commandLineShows: "192.0.2.7",
        fileKey: "targets", file: "[192.0.2.70, 192.0.2.71]", fileShows: "192.0.2.70,192.0.2.71"),
    Sample(
        name: "targets-file", commandLine: ["--targets-file", "/srv/hosts.txt"], commandLineShows: "/srv/hosts.txt",
        fileKey: "targets-file", file: "hosts.txt", fileShows: "/etc/mailport/hosts.txt"),
    Sample(
        name: "exclude", commandLine: ["--exclude", "192.0.2.8", "--exclude", "192.0.2.9"],
        commandLineShows: "192.0.2.8,192.0.2.9",
        fileKey: "exclude", file: "192.0.2.80", fileShows: "192.0.2.80"),
    Sample(
        name: "exclude-file", commandLine: ["--exclude-file", "/srv/skip.txt"], commandLineShows: "/srv/skip.txt",
        fileKey: "exclude-file", file: "/var/skip.txt", fileShows: "/var/skip.txt"),
    Sample(
        name: "ports", commandLine: ["--ports", "25,2525=submission"], commandLineShows: "25,2525=submission",
        fileKey: "ports", file: "[587, 993]", fileShows: "587,993"),
    Sample(
        name: "timeout", commandLine: ["--timeout", "0.5"], commandLineShows: "0.5", fileKey: "timeout", file: "3",
        fileShows: "3.0"),
    Sample(
        name: "concurrency", commandLine: ["--concurrency", "64"], commandLineShows: "64",
        fileKey: "concurrency", file: "128", fileShows: "128"),
    Sample(
        name: "rate", commandLine: ["--rate", "250"], commandLineShows: "250.0", fileKey: "rate", file: "500",
        fileShows: "500.0"),
    Sample(
        name: "seed", commandLine: ["--seed", "42"], commandLineShows: "42",
        fileKey: "seed", file: "18446744073709551615", fileShows: "18446744073709551615"),
    Sample(
        name: "allow-large", commandLine: ["--allow-large"], commandLineShows: "true", fileKey: "allow-large",
        file: "false", fileShows: "false"),
    Sample(
        name: "discovery-only", commandLine: ["--discovery-only"], commandLineShows: "true",
        fileKey: "discovery-only", file: "no", fileShows: "false"),
    Sample(
        name: "read-timeout", commandLine: ["--read-timeout", "7.5"], commandLineShows: "7.5",
        fileKey: "read-timeout", file: "10", fileShows: "10.0"),
    Sample(
        name: "greeting-timeout", commandLine: ["--greeting-timeout", "45"], commandLineShows: "45.0",
        fileKey: "greeting-timeout", file: "60", fileShows: "60.0"),
    Sample(
        name: "per-host", commandLine: ["--per-host", "3"], commandLineShows: "3", fileKey: "per-host", file: "4",
        fileShows: "4"),
    Sample(
        name: "ehlo-name", commandLine: ["--ehlo-name", "probe.example.org"], commandLineShows: "probe.example.org",
        fileKey: "ehlo-name", file: "\"[192.0.2.1]\"", fileShows: "[192.0.2.1]"),
    Sample(
        name: "ca-file", commandLine: ["--ca-file", "/etc/ca.pem"], commandLineShows: "/etc/ca.pem",
        fileKey: "ca-file", file: "ca/private.pem", fileShows: "/etc/mailport/ca/private.pem"),
    Sample(
        name: "retry-pause", commandLine: ["--retry-pause", "0.25"], commandLineShows: "0.25",
        fileKey: "retry-pause", file: "0", fileShows: "0.0"),
    Sample(
        name: "rules", commandLine: ["--rules", "/etc/r1.yaml", "--rules", "/etc/r2"],
        commandLineShows: "/etc/r1.yaml,/etc/r2",
        fileKey: "rules", file: "[corp.yaml, /srv/rules]", fileShows: "/etc/mailport/corp.yaml,/srv/rules"),
    Sample(
        name: "profile", commandLine: ["--profile", "rfc8314"], commandLineShows: "rfc8314", fileKey: "profile",
        file: "mx", fileShows: "mx"),
    Sample(
        name: "waivers", commandLine: ["--waivers", "/etc/w.yaml"], commandLineShows: "/etc/w.yaml",
        fileKey: "waivers", file: "waivers.yaml", fileShows: "/etc/mailport/waivers.yaml"),
    Sample(
        name: "fail-on", commandLine: ["--fail-on", "medium"], commandLineShows: "medium", fileKey: "fail-on",
        file: "never", fileShows: "never"),
    Sample(
        name: "mx", commandLine: ["--mx", "192.0.2.25"], commandLineShows: "192.0.2.25",
        fileKey: "mx", file: "[mx1.example.org, mx2.example.org]", fileShows: "mx1.example.org,mx2.example.org"),
    Sample(
        name: "baseline", commandLine: ["--baseline", "/srv/old.json"], commandLineShows: "/srv/old.json",
        fileKey: "baseline", file: "last.json", fileShows: "/etc/mailport/last.json"),
    Sample(
        name: "format", commandLine: ["--format", "json,sarif"], commandLineShows: "json,sarif",
        fileKey: "formats", file: "[json, html, md]", fileShows: "json,html,md"),
    Sample(
        name: "output-dir", commandLine: ["--output-dir", "/srv/reports"], commandLineShows: "/srv/reports",
        fileKey: "output-dir", file: "reports", fileShows: "/etc/mailport/reports"),
    Sample(
        name: "output", commandLine: ["--output", "-"], commandLineShows: "-", fileKey: nil, file: nil, fileShows: nil),
    Sample(
        name: "progress", commandLine: ["--progress", "never"], commandLineShows: "never", fileKey: "progress",
        file: "always", fileShows: "always"),
    Sample(
        name: "quiet", commandLine: ["--quiet"], commandLineShows: "true", fileKey: "quiet", file: "false",
        fileShows: "false"),
    Sample(
        name: "verbose", commandLine: ["--verbose"], commandLineShows: "true", fileKey: "verbose", file: "yes",
        fileShows: "true"),
    Sample(
        name: "groups", commandLine: nil, commandLineShows: nil,
        fileKey: "groups", file: "{edge: [192.0.2.30], core: [192.0.2.31, 192.0.2.32]}",
        fileShows: "core=192.0.2.31,192.0.2.32;edge=192.0.2.30"),
    Sample(
        name: "keep", commandLine: ["--keep", "12"], commandLineShows: "12", fileKey: "keep", file: "60",
        fileShows: "60"),
    Sample(
        name: "lock-file", commandLine: ["--lock-file", "/run/mp.lock"], commandLineShows: "/run/mp.lock",
        fileKey: "lock-file", file: "run.lock", fileShows: "/etc/mailport/run.lock"),
    Sample(
        name: "log-file", commandLine: ["--log-file", "/var/log/mp.log"], commandLineShows: "/var/log/mp.log",
        fileKey: "log-file", file: "/var/log/audit.log", fileShows: "/var/log/audit.log"),
    Sample(
        name: "shard", commandLine: ["--shard", "1/4"], commandLineShows: "1/4", fileKey: "shard", file: "0/2",
        fileShows: "0/2"),
    Sample(
        name: "domain", commandLine: ["--domain", "example.org"], commandLineShows: "example.org",
        fileKey: "domains", file: "[example.net, example.com]", fileShows: "example.net,example.com"),
    Sample(
        name: "resolver", commandLine: ["--resolver", "192.0.2.53:5353"], commandLineShows: "192.0.2.53:5353",
        fileKey: "resolver", file: "\"[2001:db8::53]:53\"", fileShows: "[2001:db8::53]:53"),
    Sample(
        name: "syn", commandLine: ["--syn"], commandLineShows: "true", fileKey: "syn", file: "true", fileShows: "true"),
    Sample(
        name: "interface", commandLine: ["--interface", "eth0"], commandLineShows: "eth0", fileKey: "interface",
        file: "lo", fileShows: "lo"),
    Sample(
        name: "source-ip", commandLine: ["--source-ip", "192.0.2.99"], commandLineShows: "192.0.2.99",
        fileKey: "source-ip", file: "2001:db8::99", fileShows: "2001:db8::99"),
    Sample(
        name: "config", commandLine: ["--config", "/etc/mailport/audit.yaml"],
        commandLineShows: "/etc/mailport/audit.yaml",
        fileKey: nil, file: nil, fileShows: nil),
]

/// `mailport scan ARGV` parsed in-process, as the binary's entry point parses it.
func parseScan(_ argv: [String]) throws -> ScanCommand {
    try #require(try MailPortCommand.parseAsRoot(["scan"] + argv) as? ScanCommand)
}

/// The one line `mailport` would print for this command line, or nil when it parses and validates.
func commandLineError(_ argv: [String]) -> String? {
    do {
        _ = try MailPortCommand.parseAsRoot(argv)
        return nil
    } catch {
        let message = MailPortCommand.message(for: error)
        return message.split(separator: "\n").first.map(String.init) ?? message
    }
}

func parseFile(_ text: String) throws -> OptionValues {
    try ConfigFile.parse(try YAMLNode.parse(text, file: configPath), file: configPath)
}

/// The message a config file's problem carries (with file and line), or nil when it loads.
func fileError(_ text: String) -> String? {
    do {
        _ = try parseFile(text)
        return nil
    } catch let error as MailPortError {
        return error.message
    } catch {
        return "\(error)"
    }
}

/// The options given in `values`, by name, as `describe` shows them.
func given(_ values: OptionValues) -> [String: String] {
    var shown: [String: String] = [:]
    for spec in ScanOptions.all {
        if let text = spec.describe(in: values) { shown[spec.name] = text }
    }
    return shown
}

@Suite("Scan options: one table drives the command line, the config file, merging and checks")
struct ScanOptionTableTests {
    @Test("every option has a sample here, so each test below covers it")
    func samplesCoverTheTable() {
        #expect(samples.map(\.name) == ScanOptions.all.map(\.name))
    }

    @Test("the command line's options are the table's, in the forms it declares")
    func commandLineMatchesTable() throws {
        let dump: String
        do {
            _ = try MailPortCommand.parseAsRoot(["scan", "--experimental-dump-help"])
            Issue.record("--experimental-dump-help did not stop the parse")
            return
        } catch {
            dump = MailPortCommand.fullMessage(for: error)
        }
        let tool = try #require(try JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [String: Any])
        let command = try #require(tool["command"] as? [String: Any])
        let arguments = try #require(command["arguments"] as? [[String: Any]])
        var forms: [String: String] = [:]
        for argument in arguments {
            let kind = argument["kind"] as? String ?? "?"
            let names = (argument["names"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "long" }
            let name = kind == "positional" ? argument["valueName"] as? String : names.first?["name"] as? String
            guard let name, name != "help", name != "version" else { continue }
            #expect(forms[name] == nil, "--\(name) twice")
            forms[name] = kind == "option" && argument["isRepeating"] as? Bool == true ? "repeatable" : kind
        }
        var declared: [String: String] = [:]
        for spec in ScanOptions.all where spec.form != .none {
            declared[spec.name] = "\(spec.form)"
        }
        #expect(forms == declared)
    }

    @Test("help on the command line is the table's help")
    func helpFromTable() {
        let help = MailPortCommand.helpMessage(for: ScanCommand.self, columns: 10_000)
        for spec in ScanOptions.all where spec.form != .none {
            #expect(help.contains(spec.help), "\(spec.name)")
            let aliases = spec.singleDashNames.map { ", -\($0)" }.joined()
            if let valueName = spec.valueName { #expect(help.contains("--\(spec.name)\(aliases) <\(valueName)>")) }
        }
    }

    @Test(
        "each option given on the command line lands in its own field, and only there",
        arguments: samples.filter { $0.commandLine != nil })
    func fromCommandLine(sample: Sample) throws {
        let positional = sample.name == "targets"
        let command = try parseScan((positional ? [] : ["192.0.2.1"]) + sample.commandLine!)
        var expected = [sample.name: sample.commandLineShows!]
        if !positional { expected["targets"] = "192.0.2.1" }
        #expect(given(givenOptions(command)) == expected)
    }

    @Test(
        "each option in a config file lands in its own field, and only there",
        arguments: samples.filter { $0.file != nil })
    func fromConfigFile(sample: Sample) throws {
        let values = try parseFile("\(sample.fileKey!): \(sample.file!)\n")
        #expect(given(values) == [sample.name: sample.fileShows!])
    }

    @Test("the short names nmap users type give the same values as the long names")
    func shortNames() throws {
        let pairs: [([String], [String])] = [
            (["-p", "25,587"], ["--ports", "25,587"]),
            (["-q"], ["--quiet"]),
            (["-v"], ["--verbose"]),
            (["-o", "-"], ["--output", "-"]),
            (["-iL", "/srv/hosts.txt"], ["--targets-file", "/srv/hosts.txt"]),
        ]
        for (short, long) in pairs {
            let shortValues = given(givenOptions(try parseScan(["192.0.2.1"] + short)))
            #expect(shortValues.count == 2, "\(short): \(shortValues)")
            #expect(shortValues == given(givenOptions(try parseScan(["192.0.2.1"] + long))), "\(short)")
        }
        let help = MailPortCommand.helpMessage(for: ScanCommand.self, columns: 10_000)
        for names in [
            "-p, --ports", "-q, --quiet", "-v, --verbose", "-o, --output", "--targets-file, -iL", "--exclude",
        ] {
            #expect(help.contains(names), "\(names)")
        }
    }

    @Test("demo and merge read their option groups through the same table")
    func optionGroups() throws {
        let demo = try #require(
            try MailPortCommand.parseAsRoot([
                "demo", "--read-timeout", "3", "--fail-on", "low", "--format", "md", "--quiet",
            ])
                as? DemoCommand)
        #expect(
            given(givenOptions(demo)) == ["read-timeout": "3.0", "fail-on": "low", "format": "md", "quiet": "true"])
        #expect(
            commandLineError(["merge", "a.json", "-o", "m.json", "--fail-on", "severe"])
                == "invalid --fail-on 'severe'; expected info, low, medium, high, critical or never")
        #expect(commandLineError(["demo", "--per-host", "0"]) == "invalid --per-host '0'; expected 1 to 64")
        #expect(
            commandLineError(["demo", "--quiet", "--verbose"])
                == "--quiet and --verbose exclude each other; expected at most one")
    }

    /// Every option at once: the command line's samples (parsed one by one: --quiet and --verbose exclude each
    /// other), and a file with every key.
    /// Parsed once for the tests that need them: some 40 parses, each slow in a debug build (the argument parser
    /// checks its whole command tree on every parse there).
    static let routes = Result { try bothRoutes() }

    static func bothRoutes() throws -> (commandLine: OptionValues, file: OptionValues) {
        var commandLine = OptionValues()
        for argv in samples.compactMap(\.commandLine) {
            commandLine = givenOptions(try parseScan(argv + ["--config", configPath])).overriding(commandLine)
        }
        let file = try parseFile(samples.filter { $0.file != nil }.map { "\($0.fileKey!): \($0.file!)\n" }.joined())
        return (commandLine, file)
    }

    @Test("the command line overrides the file option by option; the file stands where the command line is silent")
    func precedence() throws {
        let (commandLine, file) = try Self.routes.get()
        let merged = given(commandLine.overriding(file))
        for sample in samples {
            #expect(merged[sample.name] == sample.commandLineShows ?? sample.fileShows, "\(sample.name)")
        }
        #expect(given(OptionValues().overriding(file)) == given(file))
        #expect(given(commandLine.overriding(OptionValues())) == given(commandLine))
        // Flags: absent on the command line is "not given", so a file's true stands, and a file's false yields to --quiet.
        let quietFile = try parseFile("quiet: true\nverbose: false\n")
        #expect(given(givenOptions(try parseScan(["192.0.2.1"])).overriding(quietFile))["quiet"] == "true")
        #expect(
            given(givenOptions(try parseScan(["192.0.2.1", "--verbose"])).overriding(quietFile))["verbose"] == "true")
    }

    @Test("every OptionValues field belongs to exactly one option")
    func fieldsOneToOne() throws {
        let (commandLine, file) = try Self.routes.get()
        let everything = commandLine.overriding(file)
        let fields = Mirror(reflecting: OptionValues()).children.compactMap(\.label)
        var owners: [String: String] = [:]
        for spec in ScanOptions.all {
            var alone = OptionValues()
            spec.copy(givenIn: everything, to: &alone)
            let set = Mirror(reflecting: alone).children.filter { !isNil($0.value) }.compactMap(\.label)
            #expect(set.count == 1, "\(spec.name) sets \(set)")
            for field in set {
                #expect(owners[field] == nil, "\(field) belongs to \(owners[field] ?? "") and \(spec.name)")
                owners[field] = spec.name
            }
        }
        #expect(Set(owners.keys) == Set(fields), "fields without an option: \(Set(fields).subtracting(owners.keys))")
    }

    @Test("the config file's keys and their order are what they were")
    func configKeys() {
        #expect(
            ScanOptions.configKeys == [
                "targets", "targets-file", "exclude", "exclude-file", "ports", "timeout", "concurrency", "rate", "seed",
                "allow-large", "discovery-only", "read-timeout", "greeting-timeout", "per-host", "ehlo-name", "ca-file",
                "retry-pause", "rules", "profile", "waivers", "fail-on", "mx", "baseline", "format", "formats",
                "output-dir",
                "progress", "quiet", "verbose", "groups", "keep", "lock-file", "log-file", "shard", "domains",
                "resolver", "syn",
                "interface", "source-ip",
            ])
        #expect(
            fileError("targets: [192.0.2.1]\ntimout: 3\n")
                == "\(configPath):2: unknown key 'timout' in the config file; expected one of: \(ScanOptions.configKeys.joined(separator: ", "))"
        )
        #expect(
            fileError("config: other.yaml\n")?.hasPrefix("\(configPath):1: unknown key 'config' in the config file;")
                == true)
        #expect(
            fileError("format: json\nformats: [html]\n")
                == "\(configPath):2: both 'format' and 'formats'; expected one of them")
    }

    /// A bad value through both routes: the command line's one line and the file's (`FILE:LINE: …`).
    struct Bad: Sendable, CustomStringConvertible {
        var commandLine: [String]?
        var commandLineSays: String?
        var file: String?
        var fileSays: String?
        var description: String { (commandLine ?? []).joined(separator: " ") + " / " + (file ?? "") }
    }

    static let bad: [Bad] = [
        // Numbers whose check says what was expected: each route names the option and quotes the value as given.
        Bad(
            commandLine: ["--timeout", "0"],
            commandLineSays: "invalid --timeout '0.0'; expected seconds above 0 and at most 300",
            file: "timeout: 0", fileSays: ":1: invalid timeout '0'; expected seconds above 0 and at most 300"),
        Bad(
            commandLine: ["--read-timeout", "0.0"],
            commandLineSays: "invalid --read-timeout '0.0'; expected seconds above 0 and at most 300",
            file: "read-timeout: 0.0",
            fileSays: ":1: invalid read-timeout '0.0'; expected seconds above 0 and at most 300"),
        Bad(
            commandLine: ["--greeting-timeout", "301"],
            commandLineSays: "invalid --greeting-timeout '301.0'; expected seconds above 0 and at most 300",
            file: "greeting-timeout: 301",
            fileSays: ":1: invalid greeting-timeout '301'; expected seconds above 0 and at most 300"),
        Bad(
            commandLine: ["--retry-pause=-1"],
            commandLineSays: "invalid --retry-pause '-1.0'; expected 0 to 600 seconds",
            file: "retry-pause: -1", fileSays: ":1: invalid retry-pause '-1'; expected 0 to 600 seconds"),
        Bad(
            commandLine: ["--rate", "0"],
            commandLineSays: "invalid --rate '0.0'; expected connections per second above 0 and at most 10000000",
            file: "rate: 0",
            fileSays: ":1: invalid rate '0'; expected connections per second above 0 and at most 10000000"),
        Bad(
            commandLine: ["--concurrency", "0"], commandLineSays: "invalid --concurrency '0'; expected 1 to 1000000",
            file: "concurrency: 0", fileSays: ":1: invalid concurrency '0'; expected 1 to 1000000"),
        Bad(
            commandLine: ["--per-host", "65"], commandLineSays: "invalid --per-host '65'; expected 1 to 64",
            file: "per-host: 65", fileSays: ":1: invalid per-host '65'; expected 1 to 64"),
        Bad(
            commandLine: ["--keep", "0"],
            commandLineSays: "invalid --keep '0'; expected a number of runs from 1 to 100000",
            file: "keep: 0", fileSays: ":1: invalid keep '0'; expected a number of runs from 1 to 100000"),
        // Texts whose check says what was expected.
        Bad(
            commandLine: ["--ehlo-name", "bad name\r\nRCPT TO:<x>"],
            commandLineSays:
                "invalid --ehlo-name 'bad name\\x0d\\x0aRCPT TO:<x>'; expected a domain name or address literal",
            file: "ehlo-name: \"bad name\\r\\nRCPT TO:<x>\"",
            fileSays: ":1: invalid ehlo-name 'bad name\\x0d\\x0aRCPT TO:<x>'; expected a domain name or address literal"
        ),
        Bad(
            commandLine: ["--fail-on", "severe"],
            commandLineSays: "invalid --fail-on 'severe'; expected info, low, medium, high, critical or never",
            file: "fail-on: severe",
            fileSays: ":1: invalid fail-on 'severe'; expected info, low, medium, high, critical or never"),
        // Checks that give the whole message: the same on both routes, the file adding its place.
        Bad(
            commandLine: ["--exclude", "10.0.0.0/40"], commandLineSays: nil,
            file: "exclude: [192.0.2.1, 10.0.0.0/40]", fileSays: nil),
        Bad(commandLine: ["--mx", "256.0.0.1"], commandLineSays: nil, file: "mx: [256.0.0.1]", fileSays: nil),
        Bad(
            commandLine: ["--domain", "exa mple.org"],
            commandLineSays: "invalid domain 'exa mple.org'; expected a mail domain name such as example.org",
            file: "domains: [example.org, exa mple.org]", fileSays: nil),
        Bad(
            commandLine: ["--resolver", "192.0.2.53:0"], commandLineSays: nil, file: "resolver: 192.0.2.53:0",
            fileSays: nil),
        Bad(
            commandLine: ["--interface", "eth0/1"],
            commandLineSays: "invalid --interface 'eth0/1'; expected a network interface name such as eth0",
            file: "interface: eth0/1", fileSays: nil),
        Bad(
            commandLine: ["--source-ip", "nowhere"],
            commandLineSays: "invalid --source-ip 'nowhere'; expected an IPv4 or IPv6 address of this machine",
            file: "source-ip: nowhere", fileSays: nil),
        Bad(
            commandLine: ["--shard", "3/2"],
            commandLineSays:
                "invalid --shard '3/2'; expected I/N with N from 1 to 65536 and I from 0 to N-1 (e.g. 0/4)",
            file: "shard: 3/2", fileSays: nil),
        // Comma lists: the command line gives the parser's message; a file quotes the list, then that message.
        Bad(
            commandLine: ["--ports", "25,http"],
            commandLineSays: "invalid port 'http' in --ports: expected a port number from 1 to 65535",
            file: "ports: [25, http]",
            fileSays:
                ":1: invalid ports '25,http'; expected invalid port 'http' in --ports: expected a port number from 1 to 65535"
        ),
        Bad(
            commandLine: ["--format", "json,pdf"],
            commandLineSays:
                "unknown report format 'pdf' in --format; expected one of: json, html, sarif, junit, md, prom",
            file: "formats: [json, pdf]",
            fileSays:
                ":1: invalid formats 'json,pdf'; expected unknown report format 'pdf' in --format; expected one of: json, html, sarif, junit, md, prom"
        ),
        // Values that are not of the option's kind: ArgumentParser's words on the command line, the file's own.
        Bad(
            commandLine: ["--timeout", "soon"],
            commandLineSays: "The value 'soon' is invalid for '--timeout <seconds>'",
            file: "timeout: soon", fileSays: ":1: invalid timeout 'soon'; expected a number"),
        Bad(
            commandLine: ["--keep", "x"], commandLineSays: "The value 'x' is invalid for '--keep <n>'",
            file: "keep: 1.5", fileSays: ":1: invalid keep '1.5'; expected a whole number"),
        Bad(
            commandLine: ["--seed", "x"], commandLineSays: "The value 'x' is invalid for '--seed <n>'",
            file: "seed: -1", fileSays: ":1: invalid seed '-1'; expected a whole number from 0 to 18446744073709551615"),
        Bad(
            commandLine: ["--progress", "sometimes"],
            commandLineSays:
                "The value 'sometimes' is invalid for '--progress <when>'. Please provide one of 'auto', 'always' or 'never'.",
            file: "progress: sometimes", fileSays: ":1: invalid progress 'sometimes'; expected auto, always or never"),
        Bad(
            commandLine: nil, commandLineSays: nil, file: "quiet: maybe",
            fileSays: ":1: invalid 'quiet' 'maybe'; expected true or false"),
        Bad(
            commandLine: nil, commandLineSays: nil, file: "ca-file: \"\"",
            fileSays: ":1: 'ca-file' is empty; expected text"),
        Bad(
            commandLine: nil, commandLineSays: nil, file: "waivers: [a, b]",
            fileSays: ":1: 'waivers' is a list; expected text"),
        Bad(
            commandLine: nil, commandLineSays: nil, file: "groups: {mx hosts: [192.0.2.1]}",
            fileSays: ":1: invalid group name 'mx hosts'; expected a word without spaces"),
    ]

    @Test("a bad value gives the same one-line message as before, on the command line and in a file", arguments: bad)
    func badValue(_ bad: Bad) throws {
        var commandLineMessage: String?
        if let argv = bad.commandLine {
            commandLineMessage = commandLineError(["scan", "192.0.2.1"] + argv)
            #expect(commandLineMessage != nil)
            if let says = bad.commandLineSays { #expect(commandLineMessage == says) }
        }
        if let file = bad.file {
            let message = try #require(fileError(file + "\n"))
            if let says = bad.fileSays {
                #expect(message == configPath + says)
            } else {
                // A whole-message check: the file says what the command line says, at its place.
                #expect(message == "\(configPath):1: \(try #require(commandLineMessage))")
            }
            if let commandLineMessage,
                let expected = commandLineMessage.range(of: "; expected ").map({ commandLineMessage[$0.lowerBound...] }
                ),
                commandLineMessage.hasPrefix("invalid --")
            {
                #expect(message.hasSuffix(expected), "the same expectation on both routes")
            }
        }
    }

    @Test("durations reach the settings as Duration, defaults included")
    func durations() throws {
        var values = try parseFile(
            "targets: [192.0.2.1]\ntimeout: 0.5\nread-timeout: 7.5\ngreeting-timeout: 45\nretry-pause: 0.1\n")
        var settings = try ScanSettings.resolve(values)
        #expect(settings.timeout == .milliseconds(500))
        #expect(settings.readTimeout == .milliseconds(7500))
        #expect(settings.greetingTimeout == .seconds(45))
        #expect(settings.retryPause == .milliseconds(100))
        #expect(settings.retryPause.nanoseconds == 100_000_000)
        #expect(Duration.seconds(0.3).nanoseconds == 300_000_000, "to the nearest nanosecond")
        values = try parseFile("targets: [192.0.2.1]\n")
        settings = try ScanSettings.resolve(values)
        #expect(settings.timeout == .seconds(ScanDefaults.timeout))
        #expect(settings.readTimeout == .seconds(ScanDefaults.readTimeout))
        #expect(settings.greetingTimeout == .seconds(ScanDefaults.greetingTimeout))
        #expect(settings.retryPause == .seconds(ScanDefaults.retryPause))
    }
}

private func isNil(_ value: Any) -> Bool {
    let mirror = Mirror(reflecting: value)
    return mirror.displayStyle == .optional && mirror.children.isEmpty
}
