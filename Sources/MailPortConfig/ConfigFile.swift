import Foundation
import MailPortYAML

/// `--config FILE`: any scan option under its long name, plus `targets:`, `formats:`, named target `groups:`,
/// `keep:` (retention) and `lock-file:`/`log-file:` (for cron). Strict: an unknown key or a bad value is an error
/// with file and line. Relative paths in the file are relative to the file's folder, so a crontab entry works from
/// any working directory.
public enum ConfigFile {
    public static func load(_ file: String) throws -> OptionValues {
        try parse(try YAMLNode.load(path: file), file: file)
    }

    /// Reads an already parsed config document; `file` places relative paths.
    public static func parse(_ root: YAMLNode, file: String) throws -> OptionValues {
        let fields = try root.mapping("the config file", allowed: ScanOptions.configKeys)
        let place = ConfigPlace(folder: (file as NSString).deletingLastPathComponent)
        var values = OptionValues()
        for spec in ScanOptions.all { try spec.read(fields, file: place, into: &values) }
        return values
    }
}
