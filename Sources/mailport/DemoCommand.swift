import ArgumentParser
import MailPortConfig
import MailPortCore
import MailPortLab
import MailPortReport
import MailPortScan
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

    func validate() throws {
        // The demo scans its lab and nothing else; --mx would add targets.
        guard judging.mx.isEmpty else {
            throw ValidationError(
                "the demo declares its own MX host (\(DemoLab.mxHosts.joined(separator: ", "))); expected no --mx")
        }
    }

    func run() async throws {
        let lab: LoopbackLab
        do {
            lab = try await LoopbackLab.start(try DemoLab.endpoints())
        } catch {
            throw MailPortError.scanFailed(
                "cannot start the demo lab on \(DemoLab.addressRange): \(error); expected its ports free (is another demo running?)"
            )
        }
        // The lab is the target; everything else as given, with demo defaults: a short timeout, a fixed seed, the
        // mixed host as MX, and --fail-on never (a demo shows findings; it does not fail unless asked to).
        var given = givenOptions(self)
        given.targets = [DemoLab.addressRange]
        given.ports = DemoLab.ports.map(\.description).joined(separator: ",")
        given.timeout = 1
        given.concurrency = 64
        given.seed = 1
        given.mx = DemoLab.mxHosts
        var settings: ScanSettings
        do {
            settings = try ScanSettings.resolve(given, defaultFailOn: .never)
        } catch {
            await lab.shutdown()
            throw error
        }
        let status: Int32
        do {
            // The lab's certificates come from the demo CA; trust it unless the user named another CA file.
            if settings.caFile == nil { settings.caFile = try DemoLab.caFile() }
            status = try await ScanRunner.run(settings)
        } catch {
            await lab.shutdown()
            throw error
        }
        await lab.shutdown()
        if status != ExitStatus.clean { throw ExitCode(status) }
    }
}
