#!/usr/bin/env python3
"""SYN discovery benchmark: MailPort's --syn against masscan, zmap and nmap -sS over the same /16 lab, in one run.

Builds the lab with scripts/nslab.py (198.18.0.0/16 local in the target namespace; ~1.6% of addresses live with some
of the seven mail ports open, ~8% refusing, the rest dropping), then runs from the scanner namespace, whose only
route leads to the lab, at the same packet rate R:

  mailport scan CIDR --syn --discovery-only --rate R          (release build; one retry pass; cool-down
                                                                 following round-trip times, at most --timeout 1 s)
  mailport scan CIDR --syn --discovery-only                   (default options: the rate adapts from 20,000/s)
  masscan CIDR -p25,110,... --rate R --retries 1 --wait 1        (and with its default --wait 10)
  zmap -p PORT -r R --cooldown-time 1 (seven runs, one per port; and with its default cool-down of 8 s; its
       blocklist replaced by an empty one, since the default blocklist holds 198.18.0.0/15, the benchmarking range
       the lab lives in)
  nmap -sS -Pn -n -p25,110,... -T5 --min-rate 20000 --max-retries 1

and prints, for each, open endpoints found against the lab's truth (recall), false positives, wall time and peak
RSS, and the ratios. The matched rows (1 s cool-down, mailport's bound) are the strict comparison; the default rows are
the tools as users run them. Targets (issue 7): 100% recall at 100,000 packets/s; wall time at most half of zmap's seven
runs together and below masscan's at equal recall.

  sudo Benchmarks/syn.py [--rate 100000] [--cidr 198.18.0.0/16] [--skip masscan,zmap,nmap]
Needs root, nftables, iproute2; installs masscan, zmap and nmap from Debian if missing. Sends nothing outside the
namespaces. Commit the script, not the numbers.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from discovery import NSLAB, PORTS, ROOT, install_quietly, open_in_gnmap, timed  # noqa: E402

print = functools.partial(print, flush=True)


def ns_exec(namespace, *argv):
    return ["ip", "netns", "exec", namespace, *argv]


def gateway_mac(scanner_ns, interface):
    """The target side's MAC as the scanner namespace sees it (masscan and zmap address frames themselves)."""
    # One UDP datagram to the gateway makes the kernel resolve its address (ping may not be installed).
    subprocess.run(ns_exec(scanner_ns, sys.executable, "-c",
                           "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'', ('198.19.255.2', 9))"))
    subprocess.run(["sleep", "0.2"])
    out = subprocess.run(ns_exec(scanner_ns, "ip", "neigh", "show", "198.19.255.2", "dev", interface),
                         capture_output=True, text=True).stdout
    match = re.search(r"lladdr ([0-9a-f:]{17})", out)
    if not match:
        sys.exit(f"benchmark: no neighbour entry for the lab gateway: {out!r}")
    return match.group(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cidr", default="198.18.0.0/16")
    parser.add_argument("--rate", type=int, default=100_000)
    parser.add_argument("--live", type=float, default=0.016)
    parser.add_argument("--refuse", type=float, default=0.08)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip", default="", help="comma-separated: masscan, zmap, nmap")
    parser.add_argument("--name", default="mpsynb")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    if os.geteuid() != 0:
        sys.exit("benchmark: needs root (network namespaces, raw sockets)")
    install_quietly([tool for tool in ("masscan", "zmap", "nmap") if tool not in skip])

    print("building mailport (release)...")
    subprocess.run(["swift", "build", "-c", "release", "--product", "mailport"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    binary = os.path.join(ROOT, ".build", "release", "mailport")

    work = tempfile.mkdtemp(prefix="mailport-synbench-")
    truth_file = os.path.join(work, "truth.json")
    subprocess.run([sys.executable, NSLAB, "up", "--name", args.name, "--cidr", args.cidr, "--live", str(args.live),
                    "--refuse", str(args.refuse), "--seed", str(args.seed), "--truth", truth_file], check=True,
                   stdout=subprocess.DEVNULL)
    scanner_ns, interface = f"{args.name}-s", f"{args.name}s0"
    try:
        truth = json.load(open(truth_file))
        truth_open = {(o["address"], o["port"]) for o in truth["open"]}
        hosts = 2 ** (32 - int(args.cidr.split("/")[1]))
        print(f"lab: {args.cidr}, {hosts} addresses x 7 ports = {hosts * 7} probes; {len(truth['live'])} live hosts "
              f"with {len(truth_open)} open endpoints, {len(truth['refuse'])} refusing; rate {args.rate} packets/s")
        rows = []

        # At the same rate as the others, and with default options (the rate adapts from 20,000 packets/s).
        for label, rate in (("mailport --syn", ["--rate", str(args.rate)]), ("mailport --syn (default options)", [])):
            out_dir = os.path.join(work, "mailport-default" if not rate else "mailport")
            wall, rss, _ = timed(ns_exec(scanner_ns, binary, "scan", args.cidr, "--syn", "--discovery-only",
                                         "--allow-large", *rate, "--quiet", "--output-dir", out_dir, "--format", "json",
                                         "--fail-on", "never"))
            report = json.load(open(os.path.join(out_dir, "latest.json")))
            found = {(h["address"], e["port"]) for h in report["hosts"] for e in h["endpoints"] if e["state"] == "open"}
            rows.append((label, wall, rss, found))

        mac = gateway_mac(scanner_ns, interface) if {"masscan", "zmap"} - skip else None
        if "masscan" not in skip:
            # Once with the cool-down matched to mailport's bound (1 s), once with masscan's default --wait (10 s).
            for label, wait in (("masscan --retries 1 --wait 1", "1"), ("masscan --retries 1 (default --wait 10)", "10")):
                listing = os.path.join(work, f"masscan-{wait}.txt")
                wall, rss, _ = timed(ns_exec(scanner_ns, "masscan", args.cidr, f"-p{PORTS}", "--rate", str(args.rate),
                                             "--retries", "1", "--wait", wait, "--interface", interface,
                                             "--router-mac", mac, "-oL", listing))
                found = set()
                for line in open(listing):
                    parts = line.split()
                    if len(parts) >= 4 and parts[0] == "open":
                        found.add((parts[3], int(parts[2])))
                rows.append((label, wall, rss, found))

        if "zmap" not in skip:
            empty = os.path.join(work, "empty-blocklist.conf")
            open(empty, "w").close()
            # Matched cool-down (1 s) and zmap's default (8 s); one probe per target, zmap's default.
            for label, cooldown in (("zmap, 7 runs, --cooldown-time 1", "1"), ("zmap, 7 runs (default cooldown 8)", "8")):
                total_wall, peak, found = 0.0, 0.0, set()
                for port in PORTS.split(","):
                    listing = os.path.join(work, f"zmap-{port}.txt")
                    wall, rss, _ = timed(ns_exec(scanner_ns, "zmap", "-p", port, "-r", str(args.rate), "--cooldown-time",
                                                 cooldown, "-b", empty, "-i", interface, "-G", mac, "-q", "-o", listing,
                                                 args.cidr))
                    total_wall += wall
                    peak = max(peak, rss)
                    found |= {(line.strip(), int(port)) for line in open(listing) if line.strip()}
                rows.append((label, total_wall, peak, found))

        if "nmap" not in skip:
            gnmap = os.path.join(work, "nmap.gnmap")
            wall, rss, _ = timed(ns_exec(scanner_ns, "nmap", "-sS", "-Pn", "-n", f"-p{PORTS}", "-T5", "--min-rate", "20000",
                                         "--max-retries", "1", "-oG", gnmap, args.cidr))
            rows.append(("nmap -sS -T5 --min-rate 20000", wall, rss, open_in_gnmap(gnmap)))

        print()
        print(f"{'scanner':40} {'wall s':>8} {'peak MiB':>9} {'open found':>15} {'recall':>7} {'false':>6}")
        for name, wall, rss, found in rows:
            hit = len(found & truth_open)
            print(f"{name:40} {wall:8.2f} {rss:9.1f} {hit:>7}/{len(truth_open):<7} {hit / len(truth_open):7.1%} "
                  f"{len(found - truth_open):6}")
        ours = rows[0][1]
        print()
        for name, wall, _, found in rows[1:]:
            if name.startswith("mailport"):
                continue
            print(f"mailport --syn vs {name}: {wall / ours:.2f}x faster (wall {ours:.2f} s vs {wall:.2f} s)")
        default = rows[1][1]
        print(f"mailport --syn with default options: {default:.2f} s ({rows[0][1] / default:.2f}x the speed at --rate "
              f"{args.rate}), recall {len(rows[1][3] & truth_open) / len(truth_open):.1%}")
        print(f"recall {len(rows[0][3] & truth_open) / len(truth_open):.1%} at {args.rate} packets/s (target 100%); "
              f"targets: at most half of zmap's seven runs, below masscan's wall time at equal recall")
    finally:
        subprocess.run([sys.executable, NSLAB, "down", "--name", args.name], stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
