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
        let diff = ReportDiff(old: try Self.side(old), new: try Self.side(new))
        // A warning, not a refusal: comparing a narrowed or widened scan is legitimate, but its opened and closed
        // ports are not news.
        if let difference = diff.coverageDifference {
            writeToStandardError("mailport: warning: \(printable(difference, limit: 600))\n")
        }
        print(diff.describe())
        if diff.isWorse { throw ExitCode(ExitStatus.findings) }
    }

    /// A report read host by host, keeping only what the comparison needs.
    static func side(_ path: String) throws(MailPortError) -> ReportDiff.Side {
        var side = ReportDiff.Side()
        let frame = try ReportReader.stream(path) { host throws(MailPortError) in side.add(host) }
        side.finish(frame)
        return side
    }
}
