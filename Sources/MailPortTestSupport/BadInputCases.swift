/// Bad command lines for `mailport scan`, each with a part of the one-line error it must give. One table for both
/// tiers: the fast tier checks it in-process (parsing, settings, every check before the first packet), the root tier
/// through the real binary inside a namespace with no routes (exit status 2, one line on stderr, nothing written).
public enum BadInput {
    public static let scanCases: [([String], String)] = [
        (["10.0.0.0/33"], "'10.0.0.0/33'"),
        (["192.0.2.20-10"], "range is reversed"),
        (["192.0.2.1-::1"], "different families"),
        (["256.0.0.1"], "'256.0.0.1'"),
        (["::/129"], "'::/129'"),
        (["192.0.2.1", "--exclude", "10.0.0.0/40"], "'10.0.0.0/40'"),
        (["192.0.2.1", "--ports", "25,http"], "invalid port 'http'"),
        (["192.0.2.1", "--ports", "2525"], "PORT=SERVICE"),
        (["192.0.2.1", "--ports", "25=gopher"], "unknown service 'gopher'"),
        (["192.0.2.1", "--format", "pdf"], "unknown report format 'pdf'"),
        (["192.0.2.1", "--timeout", "0"], "invalid --timeout '0.0'"),
        (["192.0.2.1", "--timeout", "soon"], "soon"),
        (["192.0.2.1", "--concurrency", "0"], "invalid --concurrency '0'"),
        (["192.0.2.1", "--rate=-5"], "invalid --rate '-5.0'"),
        (["192.0.2.1", "--rate", "0"], "invalid --rate '0.0'"),
        (["192.0.2.1", "--progress", "sometimes"], "sometimes"),
        (["192.0.2.1", "--read-timeout", "0"], "invalid --read-timeout '0.0'"),
        (
            ["192.0.2.1", "--greeting-timeout", "301"],
            "invalid --greeting-timeout '301.0'; expected seconds above 0 and at most 300"
        ),
        (["192.0.2.1", "--per-host", "0"], "invalid --per-host '0'"),
        (
            ["192.0.2.1", "--ehlo-name", "bad name\r\nRCPT TO:<x>"],
            "invalid --ehlo-name 'bad name\\x0d\\x0aRCPT TO:<x>'"
        ),
        (["192.0.2.1", "--retry-pause=-1"], "invalid --retry-pause"),
        (["192.0.2.1", "--frobnicate"], "--frobnicate"),
        ([], "no targets given"),
        (["--targets-file", "/nonexistent/targets.txt"], "'/nonexistent/targets.txt'"),
        (["10.0.0.0/14"], "--allow-large"),
        (["2001:db8::/64", "--allow-large"], "too large"),
        (["192.0.2.0/24", "--exclude", "192.0.2.0/24"], "every target is excluded"),
        (["no-such-host.invalid"], "cannot resolve host name 'no-such-host.invalid'"),
        (["192.0.2.1", "--output-dir", "/proc/mailport"], "'/proc/mailport'"),
        (
            ["192.0.2.1", "--fail-on", "severe"],
            "invalid --fail-on 'severe'; expected info, low, medium, high, critical or never"
        ),
        (["192.0.2.1", "--profile", "strict"], "unknown profile 'strict'; expected one of: baseline, mx, rfc8314"),
        (["192.0.2.1", "--rules", "/nonexistent/rules.yaml"], "rules path '/nonexistent/rules.yaml' does not exist"),
        (["192.0.2.1", "--waivers", "/nonexistent/waivers.yaml"], "cannot read '/nonexistent/waivers.yaml'"),
        (["192.0.2.1", "--mx", "10.0.0.0/33"], "'10.0.0.0/33'"),
        (["--domain", "192.0.2.1"], "invalid domain '192.0.2.1'; expected a mail domain name such as example.org"),
        (["--domain", "exa mple.org"], "invalid domain 'exa mple.org'"),
        (["--domain=-bad.example"], "invalid domain '-bad.example'"),
        (
            ["--domain", "example.org", "--resolver", "ns.example.org"],
            "invalid resolver 'ns.example.org'; expected an IP address with an optional port"
        ),
        (["--domain", "example.org", "--resolver", "192.0.2.53:0"], "invalid resolver '192.0.2.53:0'"),
        (["--domain", "example.org", "--resolver", "[2001:db8::53]:99999"], "invalid resolver '[2001:db8::53]:99999'"),
        (["--domain", "example.org", "--shard", "0/2", "--seed", "1"], "--domain cannot be combined with --shard 0/2"),
        (
            ["192.0.2.1", "--syn", "--source-ip", "192.0.2.300"],
            "invalid --source-ip '192.0.2.300'; expected an IPv4 or IPv6 address of this machine"
        ),
        (
            ["192.0.2.1", "--syn", "--source-ip", "192.0.2.99"],
            "--source-ip 192.0.2.99 is not an address of this machine"
        ),
        (
            ["192.0.2.1", "--syn", "--interface", "eth0/1"],
            "invalid --interface 'eth0/1'; expected a network interface name"
        ),
        // Standard output takes exactly one format; --output names one file, never a folder.
        (["192.0.2.1", "-o", "-"], "--output - writes one format and none was given; expected exactly one --format"),
        (["192.0.2.1", "--output", "-", "--format", "json,html"], "--output - writes one format, not 2 ('json,html')"),
        (["192.0.2.1", "--output", "", "--format", "json"], "invalid --output ''"),
        (["192.0.2.1", "-o", "/nonexistent/dir/r.json", "--format", "json"], "no folder '/nonexistent/dir'"),
        (
            ["192.0.2.1", "-o", "-", "--format", "json", "--output-dir", "/tmp"],
            "--output writes one file, not a folder; expected no --output-dir or --keep with it"
        ),
        // The short names reach the same checks.
        (["-p", "25,http", "192.0.2.1"], "invalid port 'http'"),
        (["-iL", "/nonexistent/targets.txt"], "'/nonexistent/targets.txt'"),
        (["192.0.2.1", "-q", "-v"], "--quiet and --verbose exclude each other"),
        // An exclusion that does not resolve stays an error: what it should keep out is unknown.
        (["192.0.2.1", "--exclude", "no-such-host.invalid"], "cannot resolve host name 'no-such-host.invalid'"),
    ]

    /// The arguments with `--output-dir FOLDER` added, unless they name where reports go themselves.
    public static func writingInto(_ folder: String, _ arguments: [String]) -> [String] {
        let namesOutput = arguments.contains { ["--output-dir", "--output", "-o"].contains($0) }
        return namesOutput ? arguments : arguments + ["--output-dir", folder]
    }
}
