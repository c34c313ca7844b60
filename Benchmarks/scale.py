#!/usr/bin/env python3
"""Memory and scale: how wall time and peak memory grow with the address space, and that a /12 is planned and
swept without holding it in memory.

1. For /20, /18 and /16 namespace labs (scripts/nslab.py; ~1.6% of addresses live, ~8% refusing, the rest
   dropping), a discovery-only sweep of the seven ports: probes, open found vs. truth, wall time, peak RSS.
2. A /12 (7.3 million probes) in a namespace with no routes at all: every connect fails at once with "network
   unreachable", so the sweep is quick, sends nothing anywhere, and shows the memory a /12 plan and its report
   take (addresses without open ports are counted, not listed).

  sudo Benchmarks/scale.py [--sizes 20,18,16] [--skip-12]
Prints a table; commit the script, not the numbers. Needs root, nftables, iproute2.
"""
import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from discovery import NSLAB, ROOT, timed  # noqa: E402

print = functools.partial(print, flush=True)


def release_binary():
    subprocess.run(["swift", "build", "-c", "release", "--product", "mailport"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(ROOT, ".build", "release", "mailport")


def lab_sweep(binary, prefix):
    cidr = f"198.18.0.0/{prefix}"
    name = f"mpscale{prefix}"
    truth_file = tempfile.mktemp(suffix=".json")
    subprocess.run([sys.executable, NSLAB, "up", "--name", name, "--cidr", cidr, "--truth", truth_file], check=True,
                   stdout=subprocess.DEVNULL)
    try:
        truth = json.load(open(truth_file))
        out = tempfile.mkdtemp()
        wall, rss, _ = timed(["ip", "netns", "exec", f"{name}-s", binary, "scan", cidr, "--discovery-only",
                              "--allow-large", "--concurrency", "16384", "--output-dir", out, "--fail-on", "never",
                              "--quiet", "--format", "json"])
        report = json.load(open(f"{out}/latest.json"))
        found = {f"{h['address']}:{e['port']}" for h in report["hosts"] for e in h["endpoints"] if e["state"] == "open"}
        expected = {f"{o['address']}:{o['port']}" for o in truth["open"]}
        return dict(space=cidr, probes=report["scan"]["probesDone"], open=len(expected),
                    recall=len(found & expected) / max(1, len(expected)), wall=wall, rss=rss)
    finally:
        subprocess.run([sys.executable, NSLAB, "down", "--name", name], stdout=subprocess.DEVNULL)


def unreachable_sweep(binary):
    name = "mpscale12"
    subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        out = tempfile.mkdtemp()
        wall, rss, _ = timed(["ip", "netns", "exec", name, binary, "scan", "198.16.0.0/12", "--discovery-only",
                              "--allow-large", "--timeout", "0.2", "--output-dir", out, "--fail-on", "never", "--quiet",
                              "--format", "json"])
        report = json.load(open(f"{out}/latest.json"))
        return dict(space="198.16.0.0/12 (no routes)", probes=report["scan"]["probesDone"], open=0, recall=1.0,
                    wall=wall, rss=rss, bytes=os.path.getsize(f"{out}/latest.json"))
    finally:
        subprocess.run(["ip", "netns", "del", name])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20,18,16")
    parser.add_argument("--skip-12", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("scale: needs root (network namespaces)")
    binary = release_binary()
    rows = [lab_sweep(binary, int(prefix)) for prefix in args.sizes.split(",")]
    if not args.skip_12:
        rows.append(unreachable_sweep(binary))
    print(f"{'space':28} {'probes':>10} {'open':>6} {'recall':>7} {'wall s':>8} {'µs/probe':>9} {'peak MiB':>9}")
    for row in rows:
        per_probe = row["wall"] * 1e6 / max(1, row["probes"])
        print(f"{row['space']:28} {row['probes']:>10} {row['open']:>6} {row['recall']:>7.3f} {row['wall']:>8.1f} "
              f"{per_probe:>9.2f} {row['rss']:>9.1f}")
    if not args.skip_12:
        print(f"/12 report: {rows[-1]['bytes']} bytes (hosts without open ports are counted, not listed)")


if __name__ == "__main__":
    main()
