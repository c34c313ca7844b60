import Foundation
import MailPortTestSupport
import Testing

/// Every saved fuzz input (seeds and any crash found by scripts/fuzz) replays cleanly through its harness in an
/// ordinary build: the parsers reject what they must and never crash.
@Suite("Fuzz corpus replay", .rootTier)
struct FuzzCorpusTests {
    @Test(
        "the corpus of every fuzz target replays clean",
        arguments: ["targets", "smtp", "imap", "pop3", "rules", "config", "dns", "pattern", "policy"])
    func replay(_ target: String) async throws {
        let folder = ProjectPaths.fixtures + "/fuzz/" + target
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { folder + "/" + $0 }
        #expect(!files.isEmpty, "at least a seed")
        let replayer = (ProjectPaths.mailport as NSString).deletingLastPathComponent + "/mailport-fuzz"
        let outcome = try await runProgram(replayer, [target] + files, timeLimit: 60)
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput.contains("replayed \(files.count) inputs through \(target)"))
    }
}
