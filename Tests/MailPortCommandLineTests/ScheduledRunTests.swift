import Foundation
import MailPortCore
import MailPortLab
import MailPortTestSupport
import Testing

/// What a cron job relies on: config files with the command line on top, one run at a time, retention, logs
/// kept off stdout.
@Suite("Command line: config files and scheduled runs", .rootTier, .serialized)
struct ScheduledRunTests {
    /// A small loopback lab: plaintext IMAP and POP3 on one host (high findings), submission on another.
    static func lab() async throws -> LoopbackLab {
        try await LoopbackLab.start([
            LabEndpoint(
                address: "127.96.0.1", port: 24143,
                behaviour: .imap(IMAPScript(capabilities: ["IMAP4rev1", "AUTH=PLAIN"]))),
            LabEndpoint(address: "127.96.0.1", port: 24110, behaviour: .pop3(POP3Script(capabilities: ["USER"]))),
            LabEndpoint(address: "127.96.0.2", port: 24587, behaviour: .smtp(SMTPScript(extensions: ["PIPELINING"]))),
        ])
    }

    static let ports = "24143=imap,24110=pop3,24587=submission"

    @Test("config values apply, the command line overrides them, relative paths are relative to the file")
    func precedence() async throws {
        let lab = try await Self.lab()
        defer { lab.stop() }
        let folder = makeTemporaryDirectory()
        try "127.96.0.1\n".write(toFile: folder + "/hosts.txt", atomically: true, encoding: .utf8)
        try """
        # nightly audit of the lab
        targets-file: hosts.txt
        targets: [127.96.0.2]
        ports: "\(Self.ports)"
        output-dir: reports
        formats: [json, md]
        fail-on: critical
        timeout: 0.5
        retry-pause: 0.1
        groups:
          submission: [127.96.0.2]
        """.write(toFile: folder + "/audit.yaml", atomically: true, encoding: .utf8)
        let fromFile = try await runProgram(
            ProjectPaths.mailport, ["scan", "--config", folder + "/audit.yaml", "--quiet"])
        #expect(fromFile.status == 1, "AUTH=PLAIN before STARTTLS is critical: \(fromFile.standardError)")
        // --quiet: one line for cron to mail, because the verdict fails, and nothing else.
        #expect(fromFile.standardOutput.isEmpty)
        #expect(
            fromFile.standardError.hasPrefix("mailport: FAIL — ")
                && fromFile.standardError.hasSuffix(
                    " at or above critical on 1 host; report \(folder)/reports/latest.json\n")
                && fromFile.standardError.split(separator: "\n").count == 1, "\(fromFile.standardError)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder + "/reports")
        #expect(files.contains("latest.json") && files.contains("latest.md") && !files.contains("latest.html"))
        let report = try latestReport(in: folder + "/reports")
        #expect(Set(report.hosts.map(\.address)) == ["127.96.0.1", "127.96.0.2"])
        let submission = try #require(report.host("127.96.0.2"))
        #expect(submission.groups == ["submission"])
        #expect(report.summary.failOn == .severity(.critical))

        // The command line wins: another threshold, another format, other targets.
        let overridden = try await runProgram(
            ProjectPaths.mailport,
            [
                "scan", "127.96.0.2", "--config", folder + "/audit.yaml", "--fail-on", "never", "--format", "json,html",
                "--output-dir", folder + "/cli",
            ])
        #expect(overridden.status == 0, "\(overridden.standardError)")
        let cli = try latestReport(in: folder + "/cli")
        #expect(cli.summary.failOn == .never)
        #expect(FileManager.default.fileExists(atPath: folder + "/cli/latest.html"))
        #expect(
            cli.scan.targets == ["127.96.0.2", "127.96.0.1"],
            "command-line targets replace the file's; its targets-file still applies")
    }

    @Test("retention keeps the newest runs; latest.*, index.html and other files stay")
    func retention() async throws {
        let lab = try await Self.lab()
        defer { lab.stop() }
        let folder = makeTemporaryDirectory()
        try "keep me".write(toFile: folder + "/notes.txt", atomically: true, encoding: .utf8)
        var stems: [String] = []
        for _ in 0..<3 {
            let outcome = try await runProgram(
                ProjectPaths.mailport,
                [
                    "scan", "127.96.0.2", "--ports", Self.ports, "--output-dir", folder, "--keep", "2", "--timeout",
                    "0.5", "--fail-on", "never",
                ])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            stems.append(
                String(
                    outcome.standardOutput.split(separator: "\n").first {
                        $0.hasPrefix("report: ") && $0.hasSuffix(".json")
                    }!
                    .split(separator: "/").last!.dropLast(5)))
        }
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
        #expect(!files.contains(stems[0] + ".json") && !files.contains(stems[0] + ".html"), "the oldest run is pruned")
        for stem in stems.dropFirst() { #expect(files.contains(stem + ".json") && files.contains(stem + ".html")) }
        #expect(files.isSuperset(of: ["latest.json", "latest.html", "index.html", "notes.txt"]))
        #expect(
            try String(contentsOfFile: folder + "/index.html", encoding: .utf8).contains("2 runs with a JSON report"))
    }

    @Test("a second run while one holds the lock refuses with exit 3; a stale lock is taken over")
    func lock() async throws {
        let lab = try await Self.lab()
        defer { lab.stop() }
        let folder = makeTemporaryDirectory()
        let lockFile = folder + "/.mailport.lock"
        // A live holder: a process that takes the same flock and writes its pid, as a running mailport does.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = [
            "python3", "-c",
            """
            import fcntl, os, sys, time
            f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); f.write(str(os.getpid())); f.flush()
            print('locked', flush=True); time.sleep(30)
            """, lockFile,
        ]
        let ready = Pipe()
        holder.standardOutput = ready
        try holder.run()
        _ = ready.fileHandleForReading.availableData  // waits for "locked"
        let refused = try await runProgram(
            ProjectPaths.mailport, ["scan", "127.96.0.2", "--ports", Self.ports, "--output-dir", folder])
        // SIGKILL: the test runner may start children with SIGTERM blocked.
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        #expect(refused.status == 3)
        #expect(
            refused.standardError.contains(
                "another mailport run (pid \(holder.processIdentifier)) holds '\(lockFile)'"),
            "\(refused.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/latest.json"), "the refused run wrote nothing")

        // Stale: the file names a pid that is gone and nobody holds the lock.
        try "999999\n".write(toFile: lockFile, atomically: true, encoding: .utf8)
        let taken = try await runProgram(
            ProjectPaths.mailport,
            [
                "scan", "127.96.0.2", "--ports", Self.ports, "--output-dir", folder, "--timeout", "0.5", "--fail-on",
                "never",
            ])
        #expect(taken.status == 0, "\(taken.standardError)")
        #expect(FileManager.default.fileExists(atPath: folder + "/latest.json"))
    }

    @Test("--log-file takes the logs off stderr")
    func logFile() async throws {
        let lab = try await Self.lab()
        defer { lab.stop() }
        let folder = makeTemporaryDirectory()
        let outcome = try await runProgram(
            ProjectPaths.mailport,
            [
                "scan", "127.96.0.2", "--ports", Self.ports, "--output-dir", folder, "--verbose", "--log-file",
                folder + "/run.log", "--fail-on", "never",
            ])
        #expect(outcome.status == 0)
        #expect(outcome.standardError.isEmpty, "\(outcome.standardError)")
        let log = try String(contentsOfFile: folder + "/run.log", encoding: .utf8)
        #expect(log.contains("scan planned") && log.contains("scan.probes=") && log.contains("report written"))
    }
}

/// Bad config files run inside a namespace without routes, like every bad-input test of the real command line.
@Suite(
    "Command line: bad config files", .rootTier, .enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)),
    .serialized)
struct BadConfigTests {
    static let cases: [(String, String)] = [
        (
            "targets: [192.0.2.1]\ntimout: 3\n",
            "c.yaml:2: unknown key 'timout' in the config file; expected one of: targets,"
        ),
        ("targets: [192.0.2.1]\ntimeout: soon\n", "c.yaml:2: invalid timeout 'soon'; expected a number"),
        ("targets: [192.0.2.1]\nconcurrency: 0\n", "c.yaml:2: invalid concurrency '0'; expected 1 to 1000000"),
        ("targets: [192.0.2.1, 10.0.0.0/33]\n", "c.yaml:1: invalid target '10.0.0.0/33'"),
        (
            "targets: [192.0.2.1]\nprogress: sometimes\n",
            "c.yaml:2: invalid progress 'sometimes'; expected auto, always or never"
        ),
        (
            "targets: [192.0.2.1]\nformat: json\nformats: [html]\n",
            "c.yaml:3: both 'format' and 'formats'; expected one of them"
        ),
        ("targets: [192.0.2.1]\nformats: [json, pdf]\n", "c.yaml:2: invalid formats 'json,pdf'"),
        (
            "targets: [192.0.2.1]\nfail-on: severe\n",
            "c.yaml:2: invalid fail-on 'severe'; expected info, low, medium, high, critical or never"
        ),
        ("targets: [192.0.2.1]\nquiet: maybe\n", "c.yaml:2: invalid 'quiet' 'maybe'; expected true or false"),
        ("targets: [192.0.2.1]\nkeep: 0\n", "c.yaml:2: invalid keep '0'; expected a number of runs from 1 to 100000"),
        ("targets: [192.0.2.1]\ngroups: {mx hosts: [192.0.2.1]}\n", "c.yaml:2: invalid group name 'mx hosts'"),
        ("- 192.0.2.1\n", "c.yaml:1: the config file is a list; expected a mapping"),
        ("targets: [192.0.2.1\n", "c.yaml:2: not valid YAML"),
        ("timeout: 3\n", "no targets given"),
        ("targets: [192.0.2.1]\nprofile: strict\n", "unknown profile 'strict'"),
        ("domains: [example.org, 192.0.2.1]\n", "c.yaml:1: invalid domain '192.0.2.1'; expected a mail domain name"),
        ("domains: [example.org]\nresolver: ns1\n", "c.yaml:2: invalid resolver 'ns1'"),
        ("targets: [192.0.2.1]\nsyn: true\nsource-ip: nowhere\n", "c.yaml:3: invalid --source-ip 'nowhere'"),
        ("targets: [192.0.2.1]\nsyn: often\n", "c.yaml:2: invalid 'syn' 'often'; expected true or false"),
    ]

    @Test("exit 2, one line with file and line, nothing written", arguments: cases)
    func badConfig(_ contents: String, _ message: String) async throws {
        try await SandboxNamespace.with(name: "mpbadc") { sandbox in
            let folder = makeTemporaryDirectory()
            try contents.write(toFile: folder + "/c.yaml", atomically: true, encoding: .utf8)
            let outcome = try await sandbox.run(
                ProjectPaths.mailport, ["scan", "--config", folder + "/c.yaml", "--output-dir", folder + "/out"])
            #expect(outcome.status == 2, "\(outcome.standardError)")
            #expect(outcome.standardError.split(separator: "\n").count == 1)
            #expect(outcome.standardError.contains(message), "\(outcome.standardError)")
            #expect(!FileManager.default.fileExists(atPath: folder + "/out"))
        }
    }

    @Test(
        "Examples/audit.yaml loads, with its waivers; its example host names do not resolve: warned, recorded, the rest scanned"
    )
    func exampleConfig() async throws {
        try await SandboxNamespace.with(name: "mpbadc") { sandbox in
            let folder = makeTemporaryDirectory()
            let outcome = try await sandbox.run(
                ProjectPaths.mailport,
                [
                    "scan", "--config", ProjectPaths.root + "/Examples/audit.yaml", "--output-dir", folder,
                    "--log-file",
                    folder + "/log",
                ])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            let names = ["mail.example.org", "mx1.example.org", "mx2.example.org", "smtp.example.org"]
            let warnings = outcome.standardError.split(separator: "\n").filter { $0.hasPrefix("mailport: warning: ") }
            #expect(warnings.count == names.count, "\(outcome.standardError)")
            let report = try latestReport(in: folder)
            let errors = try #require(report.scan.targetErrors)
            #expect(errors.map(\.target) == names)
            #expect(report.summary.hosts == 63, "192.0.2.0/26 less the router")
        }
    }

    @Test("an unreadable config file names itself")
    func missing() async throws {
        try await SandboxNamespace.with(name: "mpbadc") { sandbox in
            let outcome = try await sandbox.run(ProjectPaths.mailport, ["scan", "--config", "/nonexistent/audit.yaml"])
            #expect(outcome.status == 2 && outcome.standardError.contains("cannot read '/nonexistent/audit.yaml'"))
        }
    }
}
