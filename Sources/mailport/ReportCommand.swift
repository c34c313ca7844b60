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
            Files are named after the scan's start time (mailport-<UTC time>.<format>) and written atomically; \
            latest.* is left alone.

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
        let stem = "mailport-" + (ReportTime.parse(report.scan.startedAt).map(ReportTime.compact) ?? "report")
        for format in formats {
            let path = "\(outputDirectory)/\(stem).\(format.fileExtension)"
            try AtomicFile.write(try format.render(report), to: path)
            print("report: \(printable(path, limit: 400))")
        }
    }
}
