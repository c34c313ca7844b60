import ArgumentParser
import Foundation
import MailPortCore
import MailPortReport

/// `mailport report REPORT.json --format html,sarif -o DIR`: renders other formats from a JSON report, for reports
/// scanned elsewhere (a shard, a CI artifact) or a format that was not asked for at scan time. The findings are
/// the report's own; nothing is judged again.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render report formats from a JSON report.",
        discussion: """
            Files are named after the scan's start time (mailport-<UTC time>.<format>, with -2, -3 … when that \
            name is taken: nothing in the folder is replaced) and written atomically; latest.* is left alone.

            Examples:
              mailport report Reports/latest.json --format html
              mailport report scan.json --format sarif,junit,md -o ci-artifacts
            """
    )

    @Argument(help: "A MailPort JSON report.")
    var input: String

    @Option(name: .long, help: "Formats to write, comma-separated: json, html, sarif, junit, md, prom.")
    var format: String = "html"

    @Option(name: [.customShort("o"), .customLong("output-dir")], help: "Folder for the files; created if missing.")
    var outputDirectory: String = "Reports"

    func validate() throws {
        do { _ = try ReportFormat.parseList(format) } catch { throw ValidationError(error.message) }
    }

    func run() throws {
        let report = try JSONReportWriter.read(input)
        let formats = try ReportFormat.parseList(format)
        try AtomicFile.prepareDirectory(outputDirectory)
        // A free name, as scans pick one: re-rendering never replaces a report already in the folder.
        let output = ReportOutput(directory: outputDirectory, formats: formats)
        let stem = output.uniqueStem(
            base: "mailport-" + (ReportTime.parse(report.scan.startedAt).map(ReportTime.compact) ?? "report"))
        for path in try output.writeRun(report, stem: stem, updatingLatest: false) {
            print("report: \(printable(path, limit: 400))")
        }
    }
}
