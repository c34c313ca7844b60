import Foundation
import MailPortTestSupport
import Testing

/// The process runner the root tier waits on: what it reports, and that waiting holds no cooperative thread.
@Suite("Process runner")
struct ProcessRunnerTests {
    @Test("status, standard output and standard error are each collected")
    func collectsOutcome() async throws {
        let outcome = try await runProgram("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"])
        #expect(outcome.status == 3)
        #expect(outcome.standardOutput == "out\n" && outcome.standardError == "err\n")
        #expect(!outcome.timedOut)
    }

    @Test("input goes to standard input, which is then closed; without input it is empty")
    func standardInput() async throws {
        let echoed = try await runProgram("/bin/cat", [], input: "line one\nline two\n")
        #expect(echoed.status == 0 && echoed.standardOutput == "line one\nline two\n")
        let empty = try await runProgram("/bin/cat", [], timeLimit: 10)
        #expect(empty.status == 0 && empty.standardOutput.isEmpty && !empty.timedOut)
    }

    @Test("environment and working folder are the ones given")
    func environmentAndFolder() async throws {
        let outcome = try await runProgram(
            "/bin/sh", ["-c", "echo \"$MAILPORT_RUNNER_CHECK\"; echo \"${HOME-unset}\"; pwd"],
            environment: ["MAILPORT_RUNNER_CHECK": "given", "PATH": "/usr/bin:/bin"], currentDirectory: "/")
        #expect(outcome.standardOutput == "given\nunset\n/\n", "only the given variables, in the given folder")
    }

    @Test(
        "a program past its time limit is stopped with SIGTERM; what it wrote before is kept", .timeLimit(.minutes(2)))
    func timeLimit() async throws {
        // No wall-clock bound here: in the parallel fast tier this test's own continuation may wait its turn on the
        // cooperative pool for half a minute (CI measured 31 s). The status proves the point instead: a program
        // left to its natural end exits 0 after 10 minutes, one stopped at its limit dies of SIGTERM.
        let outcome = try await runProgram("/bin/sh", ["-c", "echo started; exec sleep 600"], timeLimit: 1)
        #expect(outcome.timedOut)
        #expect(outcome.status == SIGTERM, "killed by SIGTERM, not left to exit on its own: \(outcome.status)")
        #expect(outcome.standardOutput == "started\n")
    }

    @Test("a program that ignores SIGTERM is killed")
    func ignoresTerminate() async throws {
        let outcome = try await runProgram(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)",
            ],
            timeLimit: 1)
        #expect(outcome.timedOut && outcome.status == SIGKILL, "\(outcome.status)")
        #expect(outcome.standardOutput == "up\n")
    }

    @Test("programs waited on side by side hold no cooperative thread: eight that wait for each other all finish")
    func waitsOverlap() async throws {
        // Each program marks itself started, then waits until all eight have. A runner that blocked its thread while
        // waiting would run them only as many at a time as the cooperative pool has threads (one per core, two
        // here): the first ones would wait for the others forever and be stopped at their time limit.
        let folder = makeTemporaryDirectory("runner-barrier")
        let script = "touch \"$0/$1\"; while [ \"$(ls \"$0\" | wc -l)\" -lt 8 ]; do sleep 0.05; done"
        let outcomes = try await withThrowingTaskGroup(of: ProcessOutcome.self) { group in
            for index in 0..<8 {
                group.addTask { try await runProgram("/bin/sh", ["-c", script, folder, "\(index)"], timeLimit: 60) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.count == 8)
        #expect(outcomes.allSatisfy { $0.status == 0 && !$0.timedOut }, "\(outcomes.map(\.status))")
    }
}
