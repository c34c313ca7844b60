#!/usr/bin/env python3
"""Discovery benchmark: MailPort's connect scan against nmap's, over the same /16 lab, in one run.

Builds the lab with scripts/nslab.py (198.18.0.0/16 made local in a target namespace; about 1.6% of the addresses
live with some of the seven mail ports open, about 8% refusing, the rest dropping), then runs, from the scanner
namespace whose only route leads to the lab:

  mailport scan 198.18.0.0/16 --discovery-only        (release build, default options unless --concurrency)
  nmap -sT -Pn -n -p25,110,143,465,587,993,995 -T5 --min-rate 20000 --max-retries 1

and prints probes, open endpoints found against the lab's truth (recall), wall time and peak RSS of each, and the
ratio. Targets (issue 20): with default options at least 4x faster than nmap, 100% of open endpoints found, peak RSS
under 200 MB; and no slower than the build before on a /24 and with 5% loss.

  sudo Benchmarks/discovery.py [--cidr 198.18.0.0/16] [--concurrency N] [--loss PERCENT] [--syn-limit PER_SECOND]
                               [--skip-nmap] [--repeat N] [--compare-binary OLD/mailport]
--compare-binary runs another build (an earlier commit's release binary) in the same lab, taking turns with this one,
so "no slower than before" is measured, not remembered. --loss drops that percentage of the packets arriving on
each side of the lab's link (tc netem, or nftables' numgen random where the kernel has no netem). --syn-limit puts a
rate-limiting firewall in front of the lab hosts: SYNs above that many per second (burst: a tenth of a second's
worth) are dropped in the target namespace before they reach anything, as a defended network's edge does.
Needs root, nftables, iproute2; installs nmap from Debian if missing. Sends nothing outside the namespaces.
"""
import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NSLAB = os.path.join(ROOT, "scripts", "nslab.py")
PORTS = "25,110,143,465,587,993,995"


def timed(argv):
    """Runs argv; returns (wall seconds, peak RSS in MiB, stdout).

    The peak is GNU time's (%M), not this process's wait4: Linux carries the high-water mark of the memory a process
    had before exec into its own (fs/exec.c, setmax_mm_hiwater_rss), and a child forked from this Python process
    starts with all of Python's memory. After a benchmark had read a 578 MB JSON report, every later run "peaked" at
    1.9 GB that way. GNU time is small, and forks the measured program from itself.
    """
    if not shutil.which("time", path="/usr/bin"):
        install_quietly(["time"])
    # Output goes to files, not pipes: nobody reads a pipe while we wait, and a full one would stall the scanner.
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file, \
            tempfile.NamedTemporaryFile("r") as peak_file:
        start = time.monotonic()
        process = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", peak_file.name, *argv], stdout=out_file,
                                   stderr=err_file, text=True)
        status = process.wait()
        wall = time.monotonic() - start
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
        peak_text = peak_file.read().strip().splitlines()
    if status != 0:
        sys.exit(f"benchmark: {' '.join(argv)} failed: {err.strip()[:500]}")
    # %M is in KiB. `ip netns exec` execs the program in place, so this is the scanner's own peak.
    return wall, int(peak_text[-1]) / 1024, out


def open_in_gnmap(path):
    """The (address, port) pairs nmap's grepable output lists as open."""
    found = set()
    for line in open(path):
        match = re.match(r"Host: (\S+) .*Ports: (.*)", line)
        if match:
            for entry in match.group(2).split(", "):
                port, state = entry.split("/")[:2]
                if state == "open":
                    found.add((match.group(1), int(port)))
    return found


def install_quietly(packages):
    """apt-get install what is missing of `packages`, without letting Debian start system-wide services."""
    missing = [p for p in packages if "install ok installed" not in subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout]
    if not missing:
        return
    policy = "/usr/sbin/policy-rc.d"
    created = not os.path.exists(policy)
    if created:
        with open(policy, "w") as handle:
            handle.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env, capture_output=True).returncode:
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env, check=True, capture_output=True)
    finally:
        if created:
            os.remove(policy)


print = functools.partial(print, flush=True)  # progress shows up when piped


def add_loss(args, scanner_ns):
    """Loses `args.loss` percent of the packets arriving on each side of the lab's link: probes on the target side,
    answers on the scanner side. tc netem where the kernel has it; otherwise nftables' random numbers, which every
    kernel that runs the lab has (the lab itself is nftables)."""
    sides = ((scanner_ns, f"{args.name}s0"), (f"{args.name}-t", f"{args.name}t0"))
    for namespace, device in sides:
        netem = subprocess.run(["ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", device, "root", "netem",
                                "loss", f"{args.loss}%"], capture_output=True, text=True)
        if netem.returncode == 0:
            continue
        per_ten_thousand = round(args.loss * 100)
        ruleset = ("table inet mailportloss {\n  chain arriving {\n"
                   "    type filter hook prerouting priority -300; policy accept;\n"
                   f"    numgen random mod 10000 < {per_ten_thousand} drop\n  }}\n}}\n")
        subprocess.run(["ip", "netns", "exec", namespace, "nft", "-f", "-"], input=ruleset, text=True, check=True)


def add_syn_limit(args):
    """Drops SYNs arriving in the target namespace above `args.syn_limit` per second (nftables' token bucket, with a
    tenth of a second's worth as burst): every scanner meets the same limiter, before the lab's own firewall."""
    burst = max(1, args.syn_limit // 10)
    ruleset = ("table inet mailportlimit {\n  counter dropped { }\n  chain arriving {\n"
               "    type filter hook prerouting priority -300; policy accept;\n"
               f"    tcp flags & (syn | ack) == syn limit rate over {args.syn_limit}/second burst {burst} packets counter name \"dropped\" drop\n"
               "  }\n}\n")
    subprocess.run(["ip", "netns", "exec", f"{args.name}-t", "nft", "-f", "-"], input=ruleset, text=True, check=True)


def syn_drops(args):
    """SYNs the limiter has dropped since the last call (its counter is read and reset), or None without a limiter."""
    if not args.syn_limit:
        return None
    listing = subprocess.run(["ip", "netns", "exec", f"{args.name}-t", "nft", "reset", "counter", "inet",
                              "mailportlimit", "dropped"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"packets (\d+)", listing)
    return int(match.group(1)) if match else 0


def mailport_run(binary, args, scanner_ns, out_dir, truth_open):
    """One discovery run of `binary`; returns (wall, peak MiB, open found in truth, false opens)."""
    # --discovery-only: this benchmark compares layer-4 discovery with nmap -sT (the lab's listeners hang up at once,
    # so mail dialogs would measure nothing useful here; Benchmarks for the full audit are separate).
    argv = ["ip", "netns", "exec", scanner_ns, binary, "scan", args.cidr, "--allow-large", "--discovery-only",
            "--quiet", "--fail-on", "never", "--output-dir", out_dir]
    if args.concurrency:
        argv += ["--concurrency", str(args.concurrency)]
    wall, rss, _ = timed(argv)
    report = json.load(open(os.path.join(out_dir, "latest.json")))
    found = {(h["address"], e["port"]) for h in report["hosts"] for e in h["endpoints"] if e["state"] == "open"}
    return wall, rss, len(found & truth_open), len(found - truth_open)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cidr", default="198.18.0.0/16")
    parser.add_argument("--concurrency", type=int, default=0,
                        help="pass --concurrency N to MailPort (default: none, MailPort's own defaults)")
    parser.add_argument("--live", type=float, default=0.016)
    parser.add_argument("--refuse", type=float, default=0.08)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--loss", type=float, default=0.0,
                        help="percent of packets lost each way on the lab's link (tc netem, or nftables numgen random)")
    parser.add_argument("--syn-limit", type=int, default=0,
                        help="SYNs per second the lab hosts' firewall lets through; above it they are dropped")
    parser.add_argument("--repeat", type=int, default=1, help="MailPort runs per build (the best and worst are printed)")
    parser.add_argument("--compare-binary", default="",
                        help="another mailport build (an earlier commit's release binary) run the same way, in turn")
    parser.add_argument("--skip-nmap", action="store_true")
    parser.add_argument("--name", default="mpbench")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("benchmark: needs root (network namespaces)")
    if not args.skip_nmap:
        install_quietly(["nmap"])

    print("building mailport (release)...", flush=True)
    subprocess.run(["swift", "build", "-c", "release", "--product", "mailport"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    binary = os.path.join(ROOT, ".build", "release", "mailport")
    builds = [("mailport", binary)]
    if args.compare_binary:
        builds.append(("compared build", os.path.abspath(args.compare_binary)))

    work = tempfile.mkdtemp(prefix="mailport-bench-")
    truth_file = os.path.join(work, "truth.json")
    subprocess.run([sys.executable, NSLAB, "up", "--name", args.name, "--cidr", args.cidr, "--live", str(args.live),
                    "--refuse", str(args.refuse), "--seed", str(args.seed), "--truth", truth_file], check=True)
    scanner_ns = f"{args.name}-s"
    try:
        if args.loss:
            add_loss(args, scanner_ns)
        if args.syn_limit:
            add_syn_limit(args)
        truth = json.load(open(truth_file))
        truth_open = {(o["address"], o["port"]) for o in truth["open"]}
        hosts = 2 ** (32 - int(args.cidr.split("/")[1]))
        probes = hosts * 7
        print(f"lab: {args.cidr}, {hosts} addresses x 7 ports = {probes} probes; "
              f"{len(truth['live'])} live hosts with {len(truth_open)} open endpoints, {len(truth['refuse'])} refusing"
              + (f"; {args.loss}% loss each way" if args.loss else "")
              + (f"; SYNs over {args.syn_limit}/s dropped" if args.syn_limit else ""))
        options = f"--concurrency {args.concurrency}" if args.concurrency else "default options"
        print(f"mailport: {options}; {args.repeat} run(s) per build, builds taking turns")

        runs = {name: [] for name, _ in builds}
        for attempt in range(args.repeat):
            for name, path in builds:
                out_dir = os.path.join(work, f"{name.replace(' ', '-')}-{attempt}")
                syn_drops(args)
                result = mailport_run(path, args, scanner_ns, out_dir, truth_open)
                runs[name].append(result)
                dropped = syn_drops(args)
                print(f"  {name} run {attempt + 1}: {result[0]:.2f} s, {result[1]:.1f} MiB, "
                      f"{result[2]}/{len(truth_open)} open"
                      + (f", {dropped} SYNs dropped by the limiter" if dropped is not None else ""))

        rows = []
        for name, _ in builds:
            rows.append((name, *min(runs[name])))
            if args.repeat > 1:
                rows.append((f"{name} (slowest)", *max(runs[name])))
        if not args.skip_nmap:
            syn_drops(args)
            gnmap = os.path.join(work, "nmap.gnmap")
            wall, rss, _ = timed(["ip", "netns", "exec", scanner_ns, "nmap", "-sT", "-Pn", "-n", f"-p{PORTS}", "-T5",
                                  "--min-rate", "20000", "--max-retries", "1", "-oG", gnmap, args.cidr])
            found = open_in_gnmap(gnmap)
            dropped = syn_drops(args)
            print(f"  nmap: {wall:.2f} s, {len(found & truth_open)}/{len(truth_open)} open"
                  + (f", {dropped} SYNs dropped by the limiter" if dropped is not None else ""))
            rows.append(("nmap -sT -T5 --min-rate 20000", wall, rss, len(found & truth_open), len(found - truth_open)))

        print()
        print(f"{'scanner':34} {'wall s':>8} {'peak MiB':>9} {'open found':>14} {'recall':>7} {'false':>6}")
        for name, wall, rss, hit, false in rows:
            print(f"{name:34} {wall:8.2f} {rss:9.1f} {hit:>6}/{len(truth_open):<7} {hit / len(truth_open):7.2%} {false:6}")
        best = min(runs["mailport"])
        print()
        if not args.skip_nmap:
            print(f"speed-up over nmap: {rows[-1][1] / best[0]:.2f}x (target >= 4x); "
                  f"mailport peak RSS {best[1]:.1f} MiB (target < 200); recall {best[2] / len(truth_open):.2%} (target 100%)")
        if args.compare_binary:
            compared = min(runs["compared build"])
            print(f"this build vs the compared build: {compared[0] / best[0]:.2f}x "
                  f"({best[0]:.2f} s vs {compared[0]:.2f} s, best of {args.repeat}; >= 1.00 means at least as fast)")
    finally:
        subprocess.run([sys.executable, NSLAB, "down", "--name", args.name])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
