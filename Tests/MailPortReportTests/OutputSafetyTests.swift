import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

@testable import MailPortReport

#if canImport(Glibc)
import Glibc
#endif

/// What a cron job must never do to the folder it writes into: delete what is not its own, write through a planted
/// link, replace a report, leave a half-written run behind, or point latest.* at two different runs.
@Suite("Output folder safety")
struct OutputSafetyTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)  // mailport-20261118T110640Z

    private func names(_ directory: String) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: directory))
    }

    @Test("retention deletes only regular files named as MailPort names runs, never folders, links or notes")
    func retentionTouchesOnlyRunFiles() async throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outside = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        // A folder that looks like a report, with a file inside; notes whose names start like reports; a link to a
        // file elsewhere under a run's name; a name with a non-timestamp stem that sorts after every timestamp.
        try FileManager.default.createDirectory(
            atPath: directory + "/mailport-2025.json", withIntermediateDirectories: true)
        try "x".write(toFile: directory + "/mailport-2025.json/a.txt", atomically: true, encoding: .utf8)
        try "n".write(toFile: directory + "/mailport-notes.md", atomically: true, encoding: .utf8)
        try "z".write(toFile: directory + "/mailport-zzzz.json", atomically: true, encoding: .utf8)
        try "precious".write(toFile: outside + "/precious.json", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: directory + "/mailport-20200101T000000Z.json",
            withDestinationPath: outside + "/precious.json")
        // Two older runs, each in two formats.
        for stem in ["mailport-20200102T000000Z", "mailport-20200103T000000Z"] {
            for ext in ["json", "html"] {
                try "old".write(toFile: "\(directory)/\(stem).\(ext)", atomically: true, encoding: .utf8)
            }
        }
        let written = try ReportOutput(directory: directory, formats: [.json, .md], keep: 2).write(
            sampleReport(), startedAt: Self.start)
        #expect(
            written == ["\(directory)/mailport-20261118T110640Z.json", "\(directory)/mailport-20261118T110640Z.md"])
        let left = try names(directory)
        #expect(
            left.isSuperset(of: [
                "mailport-2025.json", "mailport-notes.md", "mailport-zzzz.json",
                "mailport-20200101T000000Z.json", "latest.json", "latest.md",
                "mailport-20200103T000000Z.json", "mailport-20200103T000000Z.html",
                "mailport-20261118T110640Z.json", "mailport-20261118T110640Z.md",
            ]), "\(left)")
        #expect(
            !left.contains("mailport-20200102T000000Z.json") && !left.contains("mailport-20200102T000000Z.html"),
            "the oldest run beyond --keep 2 is removed")
        #expect(FileManager.default.fileExists(atPath: directory + "/mailport-2025.json/a.txt"))
        #expect(try String(contentsOfFile: outside + "/precious.json", encoding: .utf8) == "precious")

        // --keep 1 leaves only the run just written, whatever sorts after it.
        let second = try ReportOutput(directory: directory, formats: [.json], keep: 1).write(
            sampleReport(), startedAt: Self.start)
        #expect(second == ["\(directory)/mailport-20261118T110640Z-2.json"])
        let afterKeepOne = try names(directory)
        #expect(afterKeepOne.contains("mailport-20261118T110640Z-2.json"), "the run in progress is never pruned")
        #expect(
            !afterKeepOne.contains("mailport-20261118T110640Z.json")
                && !afterKeepOne.contains("mailport-20200103T000000Z.json"))
        #expect(
            afterKeepOne.isSuperset(of: [
                "mailport-notes.md", "mailport-zzzz.json", "mailport-2025.json",
                "mailport-20200101T000000Z.json",
            ]))
    }

    @Test("run file names: only mailport-<UTC time>[-n].<format> is a run; runs order by time, then counter")
    func runFileNames() {
        #expect(ReportOutput.RunFileName("mailport-20261118T110640Z.json")?.stem == "mailport-20261118T110640Z")
        #expect(ReportOutput.RunFileName("mailport-20261118T110640Z-10.prom")?.counter == 10)
        for name in [
            "mailport-2025.json", "mailport-notes.md", "mailport-20261118T110640Z.txt",
            "mailport-20261118T110640Z-1.json",
            "mailport-20261118T110640Z-02.json", "mailport-20261118T110640Z-x.json", "latest.json",
            "mailport-20261118T1106400.json",
        ] {
            #expect(ReportOutput.RunFileName(name) == nil, "\(name)")
        }
        let ordered = [
            "mailport-20261118T110640Z-10.json", "mailport-20261118T110640Z.json", "mailport-20261118T110640Z-2.json",
        ]
        .compactMap(ReportOutput.RunFileName.init).sorted(by: <).map(\.counter)
        #expect(ordered == [1, 2, 10])
    }

    @Test("the run lock never follows a link, never truncates a file that is not a lock, and refuses a second holder")
    func runLock() async throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "keep this\n".write(toFile: directory + "/target", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: directory + "/link.lock", withDestinationPath: directory + "/target")
        #expect {
            try RunLock(path: directory + "/link.lock")
        } throws: { error in
            (error as? MailPortError)?.exitStatus == 2
                && (error as? MailPortError)?.message.contains("symbolic link") == true
        }
        // An existing file that is not a lock (--lock-file named by mistake).
        #expect {
            try RunLock(path: directory + "/target")
        } throws: { error in
            (error as? MailPortError)?.exitStatus == 2
                && (error as? MailPortError)?.message.contains("not a MailPort lock file") == true
        }
        #expect(
            try String(contentsOfFile: directory + "/target", encoding: .utf8) == "keep this\n", "nothing truncated")
        // A hard link to another file: a second name for something that is not ours to rewrite.
        try "".write(toFile: directory + "/empty", atomically: true, encoding: .utf8)
        #expect(link(directory + "/empty", directory + "/hard.lock") == 0)
        #expect(throws: MailPortError.self) { try RunLock(path: directory + "/hard.lock") }
        // A folder.
        #expect(throws: MailPortError.self) { try RunLock(path: directory) }

        // A stale lock (a pid that is gone) is taken over; a held one refuses with exit 3, naming the holder.
        try "999999\n".write(toFile: directory + "/run.lock", atomically: true, encoding: .utf8)
        let held = try RunLock(path: directory + "/run.lock")
        #expect(try String(contentsOfFile: directory + "/run.lock", encoding: .utf8) == "\(getpid())\n")
        #expect {
            try RunLock(path: directory + "/run.lock")
        } throws: { error in
            (error as? MailPortError)?.exitStatus == 3
                && (error as? MailPortError)?.message.contains("pid \(getpid())") == true
        }
        withExtendedLifetime(held) {}
    }

    @Test("the write check and temporaries never follow a planted link; leftovers of dead runs are cleared")
    func plantedNamesAndLeftovers() async throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outside = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        // The name the old write check used, planted as a link to a file that must not come into being.
        try FileManager.default.createSymbolicLink(
            atPath: "\(directory)/.mailport-write-test-\(getpid())",
            withDestinationPath: outside + "/created-through-link")
        try AtomicFile.prepareDirectory(directory)
        #expect(!FileManager.default.fileExists(atPath: outside + "/created-through-link"))

        // Temporaries: one of a dead run (cleared), one of a live process (pid 1: left), a link with a dead pid's
        // name (left: not a regular file), and a file of someone else's naming (left).
        let dead = ".mailport-20200101T000000Z.json.tmp-999999-42"
        let live = ".latest.json.tmp-1-42"
        try "half".write(toFile: directory + "/" + dead, atomically: false, encoding: .utf8)
        try "half".write(toFile: directory + "/" + live, atomically: false, encoding: .utf8)
        try "mine".write(toFile: directory + "/.notes.tmp-backup", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: directory + "/.x.tmp-999999-1", withDestinationPath: outside + "/y")
        try ReportOutput(directory: directory, formats: [.json]).write(sampleReport(), startedAt: Self.start)
        let left = try names(directory)
        #expect(!left.contains(dead))
        #expect(left.isSuperset(of: [live, ".notes.tmp-backup", ".x.tmp-999999-1", "latest.json"]))
        #expect(
            left.filter { $0.contains(".tmp-") && ![live, ".x.tmp-999999-1", ".notes.tmp-backup"].contains($0) }
                .isEmpty, "no temporaries of this run: \(left)")
        #expect(AtomicFile.abandonedTemporaryOwner(".latest.json.tmp-77-123") == 77)
        #expect(AtomicFile.abandonedTemporaryOwner("latest.json.tmp-77-123") == nil)
        #expect(AtomicFile.abandonedTemporaryOwner(".latest.json.tmp-77") == nil)
    }

    /// A file system that fills part-way through a run: a small tmpfs (needs root to mount).
    @Test(
        "a disk that fills part-way: nothing of the run lands and every latest.* still shows the previous run",
        .rootTier, .enabled(if: runningAsRoot, "needs root: mounts a small tmpfs"))
    func diskFullKeepsLatestConsistent() async throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let mounted = try await runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", directory])
        #expect(mounted.status == 0, "\(mounted.standardError)")
        // Unmounted after the checks, also when one throws (a defer cannot wait for the umount).
        do {
            let output = ReportOutput(directory: directory, formats: [.json, .html, .md])
            try output.write(sampleReport(), startedAt: Self.start)
            let before = try ["json", "html", "md"].map {
                try String(contentsOfFile: "\(directory)/latest.\($0)", encoding: .utf8)
            }
            // Leave room for exactly the run's JSON and its latest.json copy (tmpfs counts whole pages): the HTML after
            // them does not fit.
            let jsonBytes = try #require(
                try FileManager.default.attributesOfItem(atPath: "\(directory)/latest.json")[.size] as? Int)
            var free = statvfs()
            #expect(statvfs(directory, &free) == 0)
            let page = Int(free.f_bsize)
            let room = Int(free.f_bavail) * page
            let filler = room - 2 * ((jsonBytes + page - 1) / page) * page
            #expect(filler > 0, "room \(room), JSON \(jsonBytes)")
            FileManager.default.createFile(atPath: directory + "/filler", contents: Data(count: filler))

            let failed = #expect(throws: MailPortError.self) {
                try output.write(sampleReport(complete: false), startedAt: Self.start)
            }
            #expect(failed?.exitStatus == 3)
            #expect(
                failed?.message.contains("latest.* still shows the previous run") == true, "\(failed?.message ?? "")")
            let after = try ["json", "html", "md"].map {
                try String(contentsOfFile: "\(directory)/latest.\($0)", encoding: .utf8)
            }
            #expect(after == before, "every latest.* file is the previous run's")
            let left = try names(directory)
            #expect(
                left == [
                    "filler", "latest.json", "latest.html", "latest.md", "index.html",
                    "mailport-20261118T110640Z.json", "mailport-20261118T110640Z.html", "mailport-20261118T110640Z.md",
                ],
                "no file of the failed run and no temporary: \(left.sorted())")
        } catch {
            _ = try? await runProgram("/bin/umount", [directory])
            throw error
        }
        _ = try? await runProgram("/bin/umount", [directory])
    }
}
