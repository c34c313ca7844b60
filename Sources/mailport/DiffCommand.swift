import ArgumentParser
import Foundation
import MailPortCompare
import MailPortCore
import MailPortReport

/// `mailport diff OLD NEW`: what changed between two scans; exit status 1 when something got worse.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what changed between two JSON reports (exit 1 when something got worse).",
        discussion: """
            Lists new and closed open ports, new and resolved findings, severity changes, grade changes and \
            certificate changes. Worse means: a new finding that is not waived, a finding that became more severe, \
            or a worse grade (a host's or the overall one). When the two reports cover different targets, \
            exclusions, ports or domains, one warning line on standard error says so (the exit status is unchanged).

            Example:
              mailport diff Reports/mailport-20261101T020000Z.json Reports/latest.json
            """
    )

    @Argument(help: "The earlier report.", completion: .file(extensions: ["json"]))
    var old: String

    @Argument(help: "The later report.", completion: .file(extensions: ["json"]))
    var new: String

    func run() throws {
        let diff = ReportDiff(old: try JSONReportWriter.read(old), new: try JSONReportWriter.read(new))
        // A warning, not a refusal: comparing a narrowed or widened scan is legitimate, but its opened and closed
        // ports are not news.
        if let difference = diff.coverageDifference {
            writeToStandardError("mailport: warning: \(printable(difference, limit: 600))\n")
        }
        print(diff.describe())
        if diff.isWorse { throw ExitCode(ExitStatus.findings) }
    }
}
