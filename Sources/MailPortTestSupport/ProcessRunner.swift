import Foundation

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
public func runProgram(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    currentDirectory: String? = nil, timeLimit: Double = 120
) throws -> ProcessOutcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let outPipe = Pipe()
    let errPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes concurrently so a chatty program cannot block on a full pipe.
    let outData = LockedData()
    let errData = LockedData()
    let group = DispatchGroup()
    for (pipe, sink) in [(outPipe, outData), (errPipe, errData)] {
        group.enter()
        DispatchQueue.global().async {
            sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
    }
    let deadline = Date().addingTimeInterval(timeLimit)
    var timedOut = false
    while process.isRunning {
        if Date() > deadline {
            timedOut = true
            process.terminate()
            Thread.sleep(forTimeInterval: 0.5)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            break
        }
        Thread.sleep(forTimeInterval: 0.02)
    }
    process.waitUntilExit()
    group.wait()
    return ProcessOutcome(
        status: process.terminationStatus,
        standardOutput: String(decoding: outData.get(), as: UTF8.self),
        standardError: String(decoding: errData.get(), as: UTF8.self),
        timedOut: timedOut
    )
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) {
        lock.lock()
        data = value
        lock.unlock()
    }
    func get() -> Data {
        lock.lock()
        defer { lock.unlock() }
        return data
    }
}

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
public func xmlSchemaViolation(ofFile path: String, xsd: String) throws -> String? {
    let outcome = try runProgram("/usr/bin/xmllint", ["--noout", "--nonet", "--schema", xsd, path])
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
public func schemaViolation(ofJSONFile path: String, schema: String = ProjectPaths.schema) throws -> String? {
    let script = """
        import json, sys, jsonschema
        schema = json.load(open(sys.argv[1])); document = json.load(open(sys.argv[2]))
        validator = jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        print("; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5]))
        sys.exit(1 if errors else 0)
        """
    let outcome = try runProgram("/usr/bin/env", ["python3", "-c", script, schema, path])
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
public func prometheusSamples(ofFile path: String) throws -> Result<[PrometheusSample], PrometheusParseError> {
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
    let outcome = try runProgram("/usr/bin/env", ["python3", "-c", script, path])
    guard outcome.status == 0,
        let rows = try? JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [[Any]]
    else { return .failure(PrometheusParseError(message: outcome.standardOutput + outcome.standardError)) }
    return .success(
        rows.map {
            PrometheusSample(
                name: $0[0] as! String, labels: $0[1] as! [String: String], value: ($0[2] as! NSNumber).doubleValue)
        })
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

    public init(_ executable: String, _ arguments: [String], keepStandardError: Bool = false) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let ready = Pipe()
        process.standardOutput = ready
        if keepStandardError { process.standardError = errors }
        try process.run()
        greeting = String(decoding: ready.fileHandleForReading.availableData, as: UTF8.self)
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
