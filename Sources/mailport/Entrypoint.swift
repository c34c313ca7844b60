import ArgumentParser
import MailPortCore
import MailPortDiscovery

#if canImport(Glibc)
import Glibc
#endif

/// Parses the command line, runs the chosen subcommand and turns every outcome into the contract's exit status:
/// usage and input errors are one line on stderr and status 2 (swift-argument-parser's own default would be 64).
@main
enum Entrypoint {
    static func main() async {
        let status: Int32
        do {
            var command = try MailPortCommand.parseAsRoot()
            // Before a lab, an event loop or a socket exists: a run that cannot have the descriptors it needs says so
            // (exit 3) instead of failing dialogs one by one or crashing inside the runtime.
            if command is ScanCommand || command is DemoCommand { try FileDescriptorLimit.ensureMinimumForScan() }
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            status = ExitStatus.clean
        } catch let error as MailPortError {
            printError(error.message)
            status = error.exitStatus
        } catch let exitCode as ExitCode {
            status = exitCode.rawValue
        } catch {
            if MailPortCommand.exitCode(for: error) == .success {
                // --help, --version and friends.
                print(MailPortCommand.fullMessage(for: error))
                status = ExitStatus.clean
            } else {
                let message = MailPortCommand.message(for: error)
                printError(message.split(separator: "\n").first.map(String.init) ?? message)
                status = ExitStatus.usage
            }
        }
        exit(status)
    }

    static func printError(_ message: String) {
        writeToStandardError("mailport: error: \(printable(message, limit: 400))\n")
    }
}
