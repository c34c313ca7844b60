import Foundation
import MailPortCore
import Mustache

/// `Reports/index.html`: every past run in the folder (from its `mailport-*.json`), newest first, with links to its
/// reports and a trend chart of findings by severity, so a cron user opens one page. Rewritten after each run that
/// writes HTML.
public enum RunIndex {
    /// At most this many runs are read and listed (the oldest drop off; retention pruning is the cron job's).
    static let runLimit = 200
    /// Runs in the trend chart.
    static let chartLimit = 60

    /// The part of a report the index needs; decoding only this keeps the index cheap for big reports.
    struct RunSummary: Decodable {
        struct Scan: Decodable {
            var startedAt: String
            var targets: [String]
            var profile: String
            var complete: Bool
        }
        struct Summary: Decodable {
            var grade: Grade?
            var findingsBySeverity: [String: Int]
            var openEndpoints: UInt64
            var failed: Bool?
            var failOn: FailThreshold?
        }
        var scan: Scan
        var summary: Summary
    }

    static let template: MustacheTemplate = {
        do { return try MustacheTemplate(string: HTMLTemplate.index) } catch {
            preconditionFailure("the built-in index template does not parse: \(error)")
        }
    }()

    /// Writes `index.html` into the folder.
    public static func write(directory: String) throws(MailPortError) {
        try AtomicFile.write(render(directory: directory), to: "\(directory)/index.html")
    }

    static func render(directory: String) -> [UInt8] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix("mailport-") && $0.hasSuffix(".json") }
            .sorted()
            .suffix(runLimit)
        var runs: [(stem: String, run: RunSummary)] = []
        for name in names {
            guard let run = summary(of: "\(directory)/\(name)") else { continue }
            runs.append((String(name.dropLast(5)), run))
        }
        let severities = Severity.allCases.reversed().map(\.rawValue)
        let rows: [[String: Any]] = runs.reversed().map { stem, run in
            let hasHTML = FileManager.default.fileExists(atPath: "\(directory)/\(stem).html")
            return [
                "startedAt": ReportText.inert(run.scan.startedAt),
                "targets": ReportText.line(
                    run.scan.targets.prefix(5).joined(separator: " ") + (run.scan.targets.count > 5 ? " …" : ""),
                    limit: 120),
                "profile": ReportText.line(run.scan.profile), "complete": run.scan.complete,
                "grade": run.summary.grade?.rawValue ?? "–",
                "counts": severities.map { ["severity": $0, "count": run.summary.findingsBySeverity[$0] ?? 0] },
                "open": run.summary.openEndpoints,
                "verdict": run.summary.failed.map { failed in
                    run.summary.failOn.map {
                        GateVerdict(
                            failOn: $0, failed: failed, findingsBySeverity: run.summary.findingsBySeverity
                        ).text
                    } ?? (failed ? "fails" : "passes")
                } ?? "–",
                "html": hasHTML ? "\(stem).html" : false, "json": "\(stem).json",
            ]
        }
        let view: [String: Any] = [
            "runCount": runs.count, "runs": rows, "hasRuns": !runs.isEmpty, "severities": severities,
            "chart": trendChart(runs.suffix(chartLimit).map(\.run)),
        ]
        return Array(template.render(view).utf8)
    }

    /// How much of a report's end is read for its summary.
    static let tailBytes = 4 << 20

    /// A run's scan and summary, read from the end of its report: MailPort writes keys sorted, so `scan`,
    /// `schemaVersion`, `summary`, `tool` and `waivers` come after the hosts, and a report of 100,000 endpoints need
    /// not be read (or decoded, which costs several times its size) to list it. A report whose end does not hold
    /// them (another writer's layout) is read whole when it is small enough, and left out otherwise.
    static func summary(of path: String) -> RunSummary? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd() else { return nil }
        let start = size > UInt64(tailBytes) ? size - UInt64(tailBytes) : 0
        guard (try? handle.seek(toOffset: start)) != nil, let tail = try? handle.readToEnd() else { return nil }
        // A top-level key is indented by two spaces; text from servers cannot hold a raw newline.
        if let marker = tail.range(of: Data("\n  \"scan\" : {".utf8)),
            let run = try? JSONDecoder().decode(RunSummary.self, from: Data("{".utf8) + tail[marker.lowerBound...])
        {
            return run
        }
        guard size <= UInt64(tailBytes) else { return nil }
        return try? JSONDecoder().decode(RunSummary.self, from: tail)
    }

    /// Stacked bars, one per run (oldest left), one colour per severity.
    static func trendChart(_ runs: [RunSummary]) -> [String: Any] {
        let height = 160
        let barWidth = 12
        let gap = 4
        let left = 36
        let totals = runs.map { run in
            Severity.allCases.reduce(0) { $0 + (run.summary.findingsBySeverity[$1.rawValue] ?? 0) }
        }
        let maximum = max(1, totals.max() ?? 1)
        var bars: [[String: Any]] = []
        for (index, run) in runs.enumerated() {
            var top = height
            for severity in Severity.allCases {
                let count = run.summary.findingsBySeverity[severity.rawValue] ?? 0
                guard count > 0 else { continue }
                let segment = max(1, count * (height - 10) / maximum)
                top -= segment
                bars.append([
                    "x": left + index * (barWidth + gap), "y": top, "width": barWidth, "height": segment,
                    "class": "bar-\(severity.rawValue)",
                    "label": "\(run.scan.startedAt): \(count) \(severity.rawValue)",
                ])
            }
        }
        return [
            "width": left + max(1, runs.count) * (barWidth + gap) + 8, "height": height + 4, "bars": bars,
            "maximum": maximum, "baseY": height, "hasBars": !bars.isEmpty,
        ]
    }
}
