import ArgumentParser
import MailPortCore
import MailPortLab
import MailPortReport
import MailPortTargets

/// `mailport demo`: starts the embedded lab on loopback and audits it with the real scanner. Needs no root and
/// sends nothing beyond 127.0.0.0/8.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Audit an embedded lab of local mail endpoints (loopback only) and write its reports.",
        discussion: """
            The lab has findings on purpose; the demo exits 0 unless --fail-on is given. The lab listens on \(DemoLab.addressRange) (ports \(DemoLab.ports.map(\.description).joined(separator: ","))): \
            a modern host, a legacy plaintext host, a mixed one and one with a self-signed certificate, plus \
            addresses with nothing listening. Its certificates come from a demo CA that is trusted for the demo only.

            Example:
              mailport demo --output-dir Reports
            """
    )

    @OptionGroup var output: OutputOptions
    @OptionGroup var dialogs: DialogOptions
    @OptionGroup var judging: RuleOptions

    func run() async throws {
        let lab: LoopbackLab
        do {
            lab = try await LoopbackLab.start(try DemoLab.endpoints())
        } catch {
            throw MailPortError.scanFailed(
                "cannot start the demo lab on \(DemoLab.addressRange): \(error); expected its ports free (is another demo running?)")
        }
        var settings = ScanSettings(
            targets: [DemoLab.addressRange], excludes: [], ports: DemoLab.ports, timeoutSeconds: 1, concurrency: 64,
            rate: nil, seed: 1, allowLarge: false, formats: try ReportFormat.parseList(output.format),
            outputDirectory: output.outputDirectory, progress: output.progress, quiet: output.quiet,
            verbose: output.verbose,
            // The lab's mixed host plays an MX; the others show what port 25 means elsewhere.
            mxTargets: judging.mx.isEmpty ? DemoLab.mxHosts : judging.mx,
            // A demo shows findings; it does not fail unless asked to.
            judgement: try judging.makeJudgement(defaultFailOn: .never)
        )
        let status: Int32
        do {
            settings = dialogs.apply(to: settings)
            // The lab's certificates come from the demo CA; trust it unless the user named another CA file.
            if settings.caFile == nil { settings.caFile = try DemoLab.caFile() }
            status = try await ScanPipeline(settings: settings).run()
        } catch {
            await lab.shutdown()
            throw error
        }
        await lab.shutdown()
        if status != ExitStatus.clean { throw ExitCode(status) }
    }
}
