import ArgumentParser
import Foundation
import MailPortCompare
import MailPortConfig
import MailPortCore
import MailPortReport
import MailPortScan

/// `mailport merge A.json B.json … -o OUT.json`: joins shard reports and judges the whole again (grades are per
/// host, and a host's ports may have been scanned by different shards).
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the reports of a split scan (--shard I/N) and grade the whole.",
        discussion: """
            The shards must share --seed, targets, exclusions, ports, profile and rule set, and every shard 0…N-1 \
            must be there exactly once; otherwise nothing is written and the exit status is 2. Exit status as for \
            scan: 1 when a finding at or above --fail-on counts.

            Example:
              mailport merge shard-0.json shard-1.json shard-2.json -o merged.json --format html
              mailport merge shard-*.json -o - | jq .summary
            """
    )

    @Argument(help: "The shard reports (JSON).", completion: .file(extensions: ["json"]))
    var inputs: [String]

    @Option(
        name: [.customShort("o"), .customLong("output")],
        help: ArgumentHelp(
            "The merged JSON report; - is standard output (then nothing else goes there, and no --format).",
            valueName: "file"), completion: .file(extensions: ["json"]))
    var output: String

    @Option(
        name: .long,
        help: ArgumentHelp("More formats written beside it (html, sarif, junit, md, prom).", valueName: "list"),
        completion: .list(ReportFormat.available.map(\.rawValue)))
    var format: String?

    @OptionGroup var judging: RuleOptions

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("no reports to merge; expected the shard reports of one scan") }
        if let format, let problem = OptionChecks.formats(format) { throw ValidationError(problem) }
        if output == "-", let format, (try? ReportFormat.parseList(format)) != [.json] {
            throw ValidationError(
                "-o - writes the merged JSON report to standard output; expected no other --format with it")
        }
        if output.isEmpty {
            throw ValidationError("invalid --output ''; expected a file name, or - for standard output")
        }
    }

    func run() throws {
        // Large shards keep their hosts on the disk the merged report goes to (a spool file nobody else can see).
        // Not asked of "-": Foundation's deletingLastPathComponent crashes on that string on this toolchain.
        let folder = output == "-" ? "" : (output as NSString).deletingLastPathComponent
        let spoolDirectory = output == "-" ? nil : (folder.isEmpty ? "." : folder)
        // What the merge holds is all the shards together: above the bound in all, every shard's hosts are spooled.
        let total = inputs.reduce(0) { sum, path in
            var status = stat()
            return sum + (stat(path, &status) == 0 ? Int(status.st_size) : 0)
        }
        let spoolAbove = total > ReportReader.spoolAboveBytes ? 0 : ReportReader.spoolAboveBytes
        let shards = try inputs.map {
            (try ReportReader.read($0, spoolDirectory: spoolDirectory, spoolAbove: spoolAbove), $0)
        }
        let merged = try ShardMerge.merge(shards)
        let failOn = try judging.failOn.map(OptionChecks.failThreshold) ?? merged.summary.failOn
        let judgement = try Judgement.load(
            rules: judging.rules, profile: judging.profile ?? merged.scan.profile,
            waivers: judging.waivers, failOn: failOn, baseline: judging.baseline)
        var report = judgement.judge(merged, now: ReportTime.parse(merged.scan.finishedAt) ?? Date()) {
            writeToStandardError("mailport: warning: \(printable($0, limit: 400))\n")
        }
        report.scan.rulesDigest = judgement.engine.ruleSet.digest
        let summary =
            "merged \(shards.count) shards: \(report.hosts.count) hosts with open ports, \(report.summary.openEndpoints) open endpoints"
        if output == "-" {
            // Standard output holds the report and nothing else.
            try ScanRunner.writeToStandardOutput(try JSONReportWriter.encode(report))
            writeToStandardError(summary + "\n" + VerdictLine.describe(report) + "\n")
            if report.summary.failed { throw ExitCode(ExitStatus.findings) }
            return
        }
        // Written host by host, as a scan writes its reports.
        func write(_ format: ReportFormat, to path: String) throws(MailPortError) {
            try AtomicFile.commit([
                try AtomicFile.stage(for: path) { sink throws(MailPortError) in try format.render(report, into: sink) }
            ])
        }
        try write(.json, to: output)
        print(summary)
        print(VerdictLine.describe(report))
        print("report: \(printable(output, limit: 400))")
        let stem = ((output as NSString).lastPathComponent as NSString).deletingPathExtension
        for format in try ReportFormat.parseList(format ?? "json") where format != .json {
            let path = (folder.isEmpty ? "" : folder + "/") + "\(stem).\(format.fileExtension)"
            try write(format, to: path)
            print("report: \(printable(path, limit: 400))")
        }
        if report.summary.failed { throw ExitCode(ExitStatus.findings) }
    }
}
