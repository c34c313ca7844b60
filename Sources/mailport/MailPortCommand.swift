import ArgumentParser
import CMailPortOpenSSL
import CMailPortPcap
import MailPortCore

/// The root command: only a list of subcommands and the version.
struct MailPortCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "mailport",
            abstract: "Scan mail-server ports (SMTP, submission, IMAP, POP3) and audit how they are secured.",
            discussion: """
                Exit status: 0 no finding at or above --fail-on; 1 findings at or above it; 2 usage, configuration \
                or input error; 3 the scan could not run; 130 interrupted (a partial report is still written).
                """,
            version: MailPortVersion.full,
            subcommands: [
                ScanCommand.self, DemoCommand.self, RulesCommand.self, ReportCommand.self, DiffCommand.self,
                MergeCommand.self,
            ]
        )
    }
}

extension MailPortVersion {
    /// The version with the system libraries actually linked, since TLS results depend on them.
    static var full: String {
        let openSSL = String(cString: OpenSSL_version(OPENSSL_VERSION))
        let pcap = String(cString: pcap_lib_version())
        return "mailport \(number) (\(openSSL); \(pcap))"
    }
}
