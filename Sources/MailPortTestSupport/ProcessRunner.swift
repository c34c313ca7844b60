import Foundation
import Subprocess
import Synchronization

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// The result of running a program to completion.
public struct ProcessOutcome: Sendable {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String
    /// True when the program was killed because it ran past its time limit.
    public var timedOut: Bool
}

/// Runs a program with arguments (no shell), collecting its output; kills it after `timeLimit` seconds so a hung
/// program fails the test instead of hanging the suite.
///
/// Asynchronous all the way (swift-subprocess: the child is watched through its pidfd and the pipes through epoll
/// on the package's own thread), so a test waiting for a program holds none of Swift's cooperative threads and the
/// tests that run programs can run side by side. `input` is written to the program's standard input, which is
/// then closed (without it, standard input is empty). The status of a program killed by a signal is the signal's
/// number, as Foundation's `Process` reports it.
public func runProgram(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    currentDirectory: String? = nil, input: String? = nil, timeLimit: Double = 120
) async throws -> ProcessOutcome {
    let state = RunState()
    let environment: Environment =
        environment.map { values in
            .custom(Dictionary(uniqueKeysWithValues: values.map { (Environment.Key(stringLiteral: $0.key), $0.value) }))
        } ?? .inherit
    return try await withThrowingTaskGroup(of: ProcessOutcome?.self) { group in
        group.addTask {
            let result = try await run(
                .path(FilePath(executable)), arguments: Arguments(arguments), environment: environment,
                workingDirectory: currentDirectory.map { FilePath($0) }, input: .string(input ?? ""),
                output: .bytes(limit: outputLimit), error: .bytes(limit: outputLimit)
            ) { execution in
                state.running.withLock { $0 = execution.processIdentifier.value }
            }
            // Gone: from here on the timer must not signal that process id, which the system may give to another.
            state.running.withLock { $0 = nil }
            let status: Int32
            switch result.terminationStatus {
            case .exited(let code): status = code
            case .signaled(let signal): status = signal
            }
            return ProcessOutcome(
                status: status, standardOutput: String(decoding: result.standardOutput, as: UTF8.self),
                standardError: String(decoding: result.standardError, as: UTF8.self),
                timedOut: state.timedOut.withLock { $0 })
        }
        group.addTask {
            // SIGTERM at the limit, as before, then SIGKILL for a program that ignores it. The run task above still
            // collects what the program wrote and its status.
            guard (try? await Task.sleep(for: .seconds(timeLimit))) != nil else { return nil }
            state.signal(SIGTERM, timingOut: true)
            guard (try? await Task.sleep(for: .milliseconds(500))) != nil else { return nil }
            state.signal(SIGKILL, timingOut: true)
            return nil
        }
        while let event = try await group.next() {
            if let outcome = event {
                group.cancelAll()
                return outcome
            }
        }
        preconditionFailure("runProgram: the run task ended without a result")
    }
}

/// What the run task and its timer share: the program's process id while it runs, and whether the timer stopped it.
private final class RunState: Sendable {
    let running = Mutex<pid_t?>(nil)
    let timedOut = Mutex(false)

    /// Signals the program if it still runs (under the same lock the run task clears the id with once it ended).
    func signal(_ signal: Int32, timingOut: Bool) {
        running.withLock { pid in
            guard let pid else { return }
            if timingOut { timedOut.withLock { $0 = true } }
            kill(pid, signal)
        }
    }
}

/// The most a test reads of one stream of a program (more is an error): far above what any test's program writes,
/// and a bound on what a runaway one can make the test hold.
private let outputLimit = 256 << 20

/// Paths of the project, found from this source file, so tests work from any working directory.
public enum ProjectPaths {
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The `mailport` executable built with the tests (same build folder as the test bundle).
    public static var mailport: String {
        if let override = ProcessInfo.processInfo.environment["MAILPORT_BIN"] { return override }
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [besideTests, besideTests.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("mailport").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return root + "/.build/debug/mailport"
    }

    public static var schema: String { root + "/Reports/schema/mailport-report.schema.json" }
    public static var namespaceLab: String { root + "/scripts/nslab.py" }
}

/// Whether the tests run as root; network-namespace tests need it and skip with this reason otherwise.
public let runningAsRoot = getuid() == 0
public let needsRootReason = "needs root: creates network namespaces (ip netns) and nftables rules"

/// A fresh, empty temporary folder.
/// The folder of third-party schemas the tests validate against (SARIF 2.1.0, JUnit).
extension ProjectPaths {
    public static var fixtures: String { root + "/Tests/Fixtures" }
}

/// Validates an XML file against an XSD with xmllint (libxml2-utils, installed by scripts/setup.sh --tests).
/// Returns nil when valid, or xmllint's complaint.
public func xmlSchemaViolation(ofFile path: String, xsd: String) async throws -> String? {
    let outcome = try await runProgram("/usr/bin/xmllint", ["--noout", "--nonet", "--schema", xsd, path])
    return outcome.status == 0 ? nil : outcome.standardError
}

/// A new, empty folder for one test's files, inside this test process's own folder (`$TMPDIR/mailport-tests-PID`).
/// That folder goes when the process exits normally, so a run leaves nothing behind while every test can still read
/// its files to the end. `MAILPORT_KEEP_TEST_FILES=1` keeps it, to look at what a failing test left; a run that
/// crashes or is killed keeps it too.
public func makeTemporaryDirectory(_ prefix: String = "mailport-test") -> String {
    var template = Array("\(testFilesRoot)/\(prefix)-XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        preconditionFailure("cannot make a temporary folder in \(testFilesRoot): \(String(cString: strerror(errno)))")
    }
    let path = String(cString: made)
    // mkdtemp makes it 0700; tests and the programs they run expect an ordinary folder, as before.
    chmod(path, 0o755)
    return path
}

/// This process's folder of test files, made on first use and removed at exit.
let testFilesRoot: String = {
    let root = NSTemporaryDirectory() + "mailport-tests-\(getpid())"
    do {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    } catch {
        preconditionFailure("cannot make the test files folder \(root): \(error)")
    }
    atexit(removeTestFiles)
    return root
}()

private func removeTestFiles() {
    if ProcessInfo.processInfo.environment["MAILPORT_KEEP_TEST_FILES"] == "1" {
        FileHandle.standardError.write(Data("test files kept in \(testFilesRoot)\n".utf8))
    } else {
        try? FileManager.default.removeItem(atPath: testFilesRoot)
    }
}

/// Validates a JSON file against a JSON Schema with Python's `jsonschema` (installed by scripts/setup.sh).
/// Returns nil when valid, or the validator's message.
public func schemaViolation(ofJSONFile path: String, schema: String = ProjectPaths.schema) async throws -> String? {
    let script = """
        import json, sys, jsonschema
        schema = json.load(open(sys.argv[1])); document = json.load(open(sys.argv[2]))
        validator = jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        print("; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5]))
        sys.exit(1 if errors else 0)
        """
    let outcome = try await runProgram("/usr/bin/env", ["python3", "-c", script, schema, path])
    return outcome.status == 0 ? nil : outcome.standardOutput + outcome.standardError
}

/// One sample as Prometheus' own text parser read it.
public struct PrometheusSample: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var value: Double
}

/// Parses a Prometheus text-format file with the Python client's parser (`prometheus_client`, installed by
/// scripts/setup.sh --tests), which is what scrapers of the format are checked against; also refuses what it lets
/// through but Prometheus would not accept from a textfile: a family without a TYPE (read as untyped), a family
/// declared twice, a series repeated. Returns the samples, or the parser's complaint.
public func prometheusSamples(ofFile path: String) async throws -> Result<[PrometheusSample], PrometheusParseError> {
    let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        try:
            families = list(text_string_to_metric_families(open(sys.argv[1]).read()))
            names = [f.name for f in families]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated: raise ValueError(f"families declared more than once: {repeated}")
            untyped = [f.name for f in families if f.type in ("unknown", "untyped")]
            if untyped: raise ValueError(f"families without a TYPE: {untyped}")
            samples = [[s.name, s.labels, s.value] for f in families for s in f.samples]
            keys = [json.dumps([n, sorted(l.items())]) for n, l, _ in samples]
            duplicates = sorted({k for k in keys if keys.count(k) > 1})
            if duplicates: raise ValueError(f"series repeated: {duplicates[:3]}")
        except Exception as error:
            print(f"{type(error).__name__}: {error}"); sys.exit(1)
        print(json.dumps(samples))
        """
    let outcome = try await runProgram("/usr/bin/env", ["python3", "-c", script, path])
    guard outcome.status == 0,
        let rows = try? JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [[Any]]
    else { return .failure(PrometheusParseError(message: outcome.standardOutput + outcome.standardError)) }
    var samples: [PrometheusSample] = []
    for row in rows {
        guard row.count == 3, let name = row[0] as? String, let labels = row[1] as? [String: String],
            let value = row[2] as? NSNumber
        else { return .failure(PrometheusParseError(message: "an unexpected sample row: \(row)")) }
        samples.append(PrometheusSample(name: name, labels: labels, value: value.doubleValue))
    }
    return .success(samples)
}

public struct PrometheusParseError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A scripted server a test starts (scripts/hostile.py, scripts/dnslab.py): running once it printed "ready",
/// killed by `stop()`. With `keepStandardError` its stderr goes to a pipe for the test to read (keep it small: a
/// full pipe would block the server).
public final class ScriptedServer: @unchecked Sendable {
    public let process = Process()
    private let errors = Pipe()
    /// The first chunk the server printed (it prints "ready" once listening).
    public let greeting: String

    public init(_ executable: String, _ arguments: [String], keepStandardError: Bool = false) async throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let ready = Pipe()
        process.standardOutput = ready
        if keepStandardError { process.standardError = errors }
        try process.run()
        // The wait for "ready" blocks a thread: a thread of its own, not one of Swift's cooperative ones.
        greeting = await withCheckedContinuation { continuation in
            Thread {
                continuation.resume(
                    returning: String(decoding: ready.fileHandleForReading.availableData, as: UTF8.self))
            }.start()
        }
    }

    public var isReady: Bool { greeting.hasPrefix("ready") }

    /// What the server wrote to stderr so far (without waiting for more). One read returns at most a chunk of the
    /// pipe, so read while poll says more is there.
    public func standardError() -> String {
        let descriptor = errors.fileHandleForReading.fileDescriptor
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 0) == 1, ready.revents & Int16(POLLIN) != 0 else { break }
            let count = read(descriptor, &buffer, buffer.count)
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
