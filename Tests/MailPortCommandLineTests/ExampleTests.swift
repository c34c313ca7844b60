import Foundation
import MailPortTestSupport
import Testing

/// `scripts/examples.py` on the Examples folder, or on `folder` (a copy) when given.
func checkExamples(_ arguments: [String], folder: String? = nil) async throws -> ProcessOutcome {
    var environment = ProcessInfo.processInfo.environment
    if let folder { environment["MAILPORT_EXAMPLES"] = folder }
    return try await runProgram(
        "/usr/bin/env", ["python3", ProjectPaths.root + "/scripts/examples.py"] + arguments, environment: environment)
}

@Suite("Examples: the CI and Kubernetes files keep their promises")
struct ExampleFileTests {
    @Test("GitHub uploads SARIF with the action's inputs, GitLab keeps JUnit and SARIF, Kubernetes writes only volumes")
    func examplesKeepTheirPromises() async throws {
        let outcome = try await checkExamples(["check"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput == "examples: check: ok\n")
    }

    @Test("the checks fail on examples that break a promise")
    func brokenCopiesFail() async throws {
        let folder = makeTemporaryDirectory() + "/Examples"
        try FileManager.default.copyItem(atPath: ProjectPaths.root + "/Examples", toPath: folder)
        func replace(_ file: String, _ old: String, _ new: String) throws {
            let path = folder + "/" + file
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.contains(old), "\(file) has \(old)")
            try text.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
        }
        try replace("github-actions.yml", "  security-events: write\n", "")
        try replace("github-actions.yml", "{sarif_file: reports/latest.sarif", "{sarif: reports/latest.sarif")
        try replace("gitlab-ci.yml", "    when: always\n", "")
        try replace("gitlab-ci.yml", "# widget", "# widget; SARIF goes to the security dashboard")
        try replace("kubernetes-cronjob.yaml", "    keep: 60\n", "    keep: 60\n    log-file: /var/log/mailport.log\n")
        try replace("kubernetes-cronjob.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")
        let outcome = try await checkExamples(["check"], folder: folder)
        #expect(outcome.status == 1)
        let problems = outcome.standardError.split(separator: "\n").map(String.init)
        #expect(problems.count == 7, "\(problems)")
        for expected in [
            "github: permissions: security-events: write is missing",
            "github: upload-sarif has inputs the action does not take: ['sarif']",
            "github: sarif_file None is not the audit's reports/latest.sarif",
            "gitlab: artifacts: when: always is missing", "gitlab: the comment promises a dashboard",
            "kubernetes: readOnlyRootFilesystem is not true",
            "kubernetes: the log file /var/log/mailport.log is not on a writable volume",
        ] {
            #expect(problems.contains { $0.hasPrefix(expected) }, "\(expected): \(problems)")
        }
    }
}

@Suite("Examples: the Kubernetes CronJob runs with a read-only root filesystem", .rootTier, .serialized)
struct KubernetesExampleTests {
    @Test("its args, as its non-root user, where only its writable volume can be written: every report lands there")
    func readOnlyRoot() async throws {
        let outcome = try await checkExamples(["kubernetes", ProjectPaths.mailport])
        #expect(outcome.status == 0, "\(outcome.standardOutput)\(outcome.standardError)")
        #expect(outcome.standardOutput.contains("examples: kubernetes: ok"))
        #expect(outcome.standardOutput.contains("latest.json") && outcome.standardOutput.contains(".mailport.lock"))
    }
}
