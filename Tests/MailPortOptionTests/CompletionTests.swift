import ArgumentParser
import MailPortConfig
import Testing

@testable import mailport

/// Shell completions as the command would print them (`mailport --generate-completion-script bash`), generated
/// in-process.
@Suite("Shell completions")
struct CompletionTests {
    /// The bash script's branch for an option: what follows `'--name')` (or `'--name'|'-n')` for an option with a
    /// short name) up to its `return`, in each subcommand that has the option.
    static func branches(_ option: String, in script: String) -> [String] {
        script.components(separatedBy: "    '\(option)'").dropFirst().compactMap { rest -> String? in
            guard let close = rest.firstIndex(of: ")"), rest[..<close].allSatisfy({ $0 != "\n" }),
                rest[..<close].isEmpty || rest.hasPrefix("|")
            else { return nil }
            return String(rest[close...].prefix { $0 != ";" })
        }
    }

    @Test("bash offers the words of --profile, --fail-on and --format, and names of files and folders for theirs")
    func bash() throws {
        let script = MailPortCommand.completionScript(for: .bash)
        let words: [(String, String)] = [
            ("--profile", "'baseline'$'\\n''mx'$'\\n''rfc8314'"),
            ("--fail-on", "'info'$'\\n''low'$'\\n''medium'$'\\n''high'$'\\n''critical'$'\\n''never'"),
            ("--format", "'json'$'\\n''html'$'\\n''sarif'$'\\n''junit'$'\\n''md'$'\\n''prom'"),
        ]
        for (option, list) in words {
            let found = Self.branches(option, in: script)
            // scan, demo, report and merge take the judging options; rules list and show take --profile.
            #expect(found.count >= 3, "\(option) appears in \(found.count) subcommands")
            #expect(found.allSatisfy { $0.contains("__mailport_add_completions -W \(list)") }, "\(option): \(found)")
        }
        for option in ["--waivers", "--baseline", "--ca-file", "--targets-file", "--config", "--rules", "--log-file"] {
            let found = Self.branches(option, in: script)
            #expect(!found.isEmpty && found.allSatisfy { $0.contains("__mailport_add_completions -f") }, "\(option)")
        }
        let folders = Self.branches("--output-dir", in: script)
        #expect(!folders.isEmpty && folders.allSatisfy { $0.contains("__mailport_add_completions -d") })
        // Options whose values are free text offer nothing rather than file names.
        #expect(Self.branches("--timeout", in: script).allSatisfy { !$0.contains("__mailport_add_completions") })
    }

    @Test("every scan option entry's completion follows its value: words, a file, a folder or nothing")
    func table() {
        let kinds = Dictionary(uniqueKeysWithValues: ScanOptions.all.map { ($0.name, $0.completion) })
        #expect(kinds["fail-on"] == .words(["info", "low", "medium", "high", "critical", "never"]))
        #expect(kinds["format"] == .words(["json", "html", "sarif", "junit", "md", "prom"]))
        #expect(kinds["profile"] == .words(OptionSpec.builtinProfiles))
        #expect(kinds["output-dir"] == .directory && kinds["waivers"] == .file && kinds["rules"] == .file)
        #expect(kinds["timeout"] == ValueCompletion.none)
        // zsh and fish get the same words.
        for shell in [CompletionShell.zsh, .fish] {
            let script = MailPortCommand.completionScript(for: shell)
            #expect(script.contains("rfc8314") && script.contains("critical") && script.contains("sarif"), "\(shell)")
        }
    }
}
