import ArgumentParser
import Foundation
import MailPortConfig
import MailPortCore
import MailPortReport
import MailPortScan

/// `mailport report REPORT.json --format html,sarif -o DIR`: renders other formats from a JSON report, for reports
/// scanned elsewhere (a shard, a CI artifact) or a format that was not asked for at scan time. The findings are
/// the report's own unless `--rules`, `--profile`, `--waivers`, `--baseline` or `--fail-on` is given: then its facts
/// are judged again as a scan would judge them, and with `--fail-on` the exit status is a scan's (1 when a counted
/// finding meets it), so a nightly JSON can gate a later CI job.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render report formats from a JSON report.",
        discussion: """
            Files are named after the scan's start time (mailport-<UTC time>.<format>, with -2, -3 … when that \
            name is taken: nothing in the folder is replaced) and written atomically; latest.* is left alone. \
            -o - writes the one format given to standard output instead (nothing else goes there).

            Examples:
              mailport report Reports/latest.json --format html
              mailport report scan.json --format sarif,junit,md -o ci-artifacts
              mailport report nightly.json --format junit --fail-on high --waivers waivers.yaml
              mailport report Reports/latest.json --format md -o - >> "$GITHUB_STEP_SUMMARY"
            """
    )

    @Argument(help: "A MailPort JSON report.", completion: .file(extensions: ["json"]))
    var input: String

    @Option(
        name: .long, help: "Formats to write, comma-separated: json, html, sarif, junit, md, prom.",
        completion: .list(ReportFormat.available.map(\.rawValue)))
    var format: String = "html"

    @Option(
        name: [.customShort("o"), .customLong("output-dir")],
        help: ArgumentHelp("Folder for the files; created if missing; - is standard output.", valueName: "dir"),
        completion: .directory)
    var outputDirectory: String = "Reports"

    @OptionGroup var judging: RuleOptions

    func validate() throws {
        do { _ = try ReportFormat.parseList(format) } catch { throw ValidationError(error.message) }
        if outputDirectory == "-", let problem = ReportDestination.problem(output: "-", formats: format) {
            throw ValidationError(problem)
        }
        guard judging.mx.isEmpty else {
            throw ValidationError(
                "--mx is decided at scan time (the report records declared MX hosts); expected no --mx")
        }
    }

    /// Any judging option given: the report's facts are judged again.
    var judgesAgain: Bool {
        !judging.rules.isEmpty || judging.profile != nil || judging.waivers != nil || judging.baseline != nil
            || judging.failOn != nil
    }

    func run() throws {
        // A large report's hosts wait on the disk its renderings go to (the temporary folder until that exists).
        var isFolder: ObjCBool = false
        let spoolDirectory =
            FileManager.default.fileExists(atPath: outputDirectory, isDirectory: &isFolder) && isFolder.boolValue
            ? outputDirectory : nil
        var report = try JSONReportWriter.read(input, spoolDirectory: spoolDirectory)
        if judgesAgain {
            let judgement = try Judgement.load(
                rules: judging.rules, profile: judging.profile ?? report.scan.profile, waivers: judging.waivers,
                failOn: try judging.failOn.map(OptionChecks.failThreshold) ?? report.summary.failOn,
                baseline: judging.baseline)
            report = judgement.judge(report, now: ReportTime.parse(report.scan.finishedAt) ?? Date()) {
                writeToStandardError("mailport: warning: \(printable($0, limit: 400))\n")
            }
            report.scan.rulesDigest = judgement.engine.ruleSet.digest
        }
        let formats = try ReportFormat.parseList(format)
        if outputDirectory == "-" {
            try ScanRunner.writeToStandardOutput(try formats[0].render(report))
            if judging.failOn != nil {
                writeToStandardError(VerdictLine.describe(report) + "\n")
                if report.summary.failed { throw ExitCode(ExitStatus.findings) }
            }
            return
        }
        try AtomicFile.prepareDirectory(outputDirectory)
        // A free name, as scans pick one: re-rendering never replaces a report already in the folder.
        let output = ReportOutput(directory: outputDirectory, formats: formats)
        let stem = output.uniqueStem(
            base: "mailport-" + (ReportTime.parse(report.scan.startedAt).map(ReportTime.compact) ?? "report"))
        for path in try output.writeRun(report, stem: stem, updatingLatest: false) {
            print("report: \(printable(path, limit: 400))")
        }
        if judging.failOn != nil {
            print(VerdictLine.describe(report))
            if report.summary.failed { throw ExitCode(ExitStatus.findings) }
        }
    }
}
