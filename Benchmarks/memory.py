#!/usr/bin/env python3
"""Memory of a whole audit as the open endpoints grow: hosts spooled to disk against hosts held in memory.

The lab is Benchmarks/audit.py's (scripts/nslab.py's firewall decides who answers, nginx's mail proxy answers SMTP,
IMAP and POP3 with STARTTLS and implicit TLS on all seven ports of every live address); `--live` picks the share of
live addresses, so one /16 gives ~4,000 open endpoints at 0.016 and ~12,000 at 0.05. For each size the same release
binary audits it (default options, `--fail-on never`) with:

  spooled  the default: dialog observations on disk as they finish, judged hosts on disk above 2,000 endpoints
  memory   MAILPORT_SPOOL_ABOVE=1000000000: every judged host held in memory, as before the spool

each with `--format json` and `--format json,html` (the default), and prints wall time, peak RSS and time per open
endpoint per run. Same run, same lab, same binary: only the spool differs.

With --shards N the largest lab is also audited as N shards (`--seed 1 --shard I/N`, JSON only, one after
another) and `mailport merge` joins them into one graded report (`--format json,html`): peak RSS and wall time of
the merge, and the merged report's open endpoints against the lab's truth. `--modes spooled` skips the in-memory
runs (at 100,000 endpoints they only show what the spool saves), `--formats` picks the format sets.

  sudo Benchmarks/memory.py [--cidr 198.18.0.0/16] [--live 0.016,0.05]
  sudo Benchmarks/memory.py --live 0.05,0.39 --modes spooled --formats json,html --shards 8   # ~11k and ~100k
Needs root, nftables, iproute2, nginx with libnginx-mod-mail (installed when missing). Sends nothing outside the
namespaces it creates. Commit the script, not the numbers.
"""
import argparse
import collections
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audit import Lab  # noqa: E402
from discovery import ROOT, install_quietly, timed  # noqa: E402

print = functools.partial(print, flush=True)

MODES = {"spooled": None, "memory": "1000000000"}


def audit(binary, lab, out_dir, formats, spool_above):
    os.makedirs(out_dir, exist_ok=True)
    before = lab.drop_counters()
    env = ["env", f"MAILPORT_SPOOL_ABOVE={spool_above}"] if spool_above else []
    wall, rss, _ = timed(["ip", "netns", "exec", lab.scanner(), *env, binary, "scan", lab.cidr, "--allow-large",
                          "--format", formats, "--output-dir", out_dir, "--ca-file", f"{lab.work}/cert.pem",
                          "--fail-on", "never", "--verbose", "--log-file", f"{out_dir}/log"])
    report = json.load(open(f"{out_dir}/latest.json"))
    log = open(f"{out_dir}/log").read()
    reports = re.findall(r"stage\.reportSeconds=([0-9.]+)", log)
    timings = dict(report["scan"].get("timings") or {}, reportSeconds=float(reports[-1]) if reports else 0.0)
    # Answers connect discovery read only after their timeout had passed (its thread was behind): they count as
    # answers; builds before 050e526 called such an attempt unanswered and retried it.
    late = sum(int(count) for count in re.findall(r"scan\.lateAnswers=([0-9]+)", log))
    if late:
        print(f"  discovery read {late} answers after their timeout had passed")
    found = found_open(report, lab)
    if found < len(lab.open):
        print(f"  drop counters that moved: {lab.moved(before)}")
    return dict(wall=wall, rss=rss, found=found, size=os.path.getsize(f"{out_dir}/latest.json"), timings=timings)


def found_open(report, lab):
    """How many of the lab's open endpoints the report lists as open; says what it holds for the others (state and
    reason, or absent)."""
    listed = {(h["address"], e["port"]): e for h in report["hosts"] for e in h["endpoints"]}
    lost = [pair for pair in lab.open if listed.get(pair, {}).get("state") != "open"]
    if lost:
        kinds = collections.Counter(
            f"{listed[p]['state']}/{listed[p].get('stateReason', '?')}" if p in listed else "host or port absent"
            for p in lost)
        ports = collections.Counter(port for _, port in lost)
        print(f"  missing {len(lost)} open endpoints: {dict(kinds)}; by port {dict(ports)}; e.g. {sorted(lost)[:3]}")
    return len(lab.open) - len(lost)


def shard_audits(binary, lab, work, shards):
    """The lab audited as `shards` shards of one seeded scan, then merged: the merge's own time and memory."""
    files, walls, rss = [], [], []
    before = lab.drop_counters()
    for index in range(shards):
        out = f"{work}/shard-{index}"
        os.makedirs(out, exist_ok=True)
        wall, peak, _ = timed(["ip", "netns", "exec", lab.scanner(), binary, "scan", lab.cidr, "--allow-large",
                               "--seed", "1", "--shard", f"{index}/{shards}", "--format", "json", "--output-dir", out,
                               "--ca-file", f"{lab.work}/cert.pem", "--fail-on", "never", "--quiet"])
        walls.append(wall)
        rss.append(peak)
        files.append(f"{out}/latest.json")
    merged = f"{work}/merged"
    os.makedirs(merged, exist_ok=True)
    # The merge reads files only: no namespace needed.
    wall, peak, _ = timed([binary, "merge", *files, "-o", f"{merged}/merged.json", "--format", "json,html",
                           "--fail-on", "never"])
    report = json.load(open(f"{merged}/merged.json"))
    found = found_open(report, lab)
    if found < len(lab.open):
        print(f"  drop counters that moved during the shard scans: {lab.moved(before)}")
    return dict(shard_wall=walls, shard_rss=rss, wall=wall, rss=peak, found=found,
                size=sum(os.path.getsize(f) for f in files))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cidr", default="198.18.0.0/16")
    parser.add_argument("--live", default="0.016,0.05", help="shares of live addresses, one lab each")
    parser.add_argument("--refuse", type=float, default=0.08)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", default="spooled,memory", help="spooled, memory (MAILPORT_SPOOL_ABOVE=1e9) or both")
    parser.add_argument("--formats", default="json;json,html", help="format sets separated by ';'")
    parser.add_argument("--shards", type=int, default=0, help="also audit the largest lab as N shards and merge them")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("benchmark: needs root (network namespaces)")
    install_quietly(["nginx", "libnginx-mod-mail"])
    print("building mailport (release)...")
    subprocess.run(["swift", "build", "-c", "release", "--product", "mailport"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    binary = os.path.join(ROOT, ".build", "release", "mailport")
    rows = []
    modes = [(mode, MODES[mode]) for mode in args.modes.split(",")]
    shares = [float(value) for value in args.live.split(",")]
    merge = None
    for live in shares:
        work = tempfile.mkdtemp(prefix="mailport-memory-")
        os.chmod(work, 0o755)  # nginx's workers read the certificate
        lab = Lab("mpmem", args.cidr, live, args.refuse, args.seed, work)
        try:
            print(f"lab: {args.cidr}, live {live}: {len(lab.open)} open endpoints")
            for formats in args.formats.split(";"):
                for mode, spool_above in modes:
                    out = f"{work}/{mode}-{formats.replace(',', '-')}"
                    row = audit(binary, lab, out, formats, spool_above)
                    row.update(open=len(lab.open), mode=mode, formats=formats)
                    t = row["timings"]
                    print(f"  {mode:10} --format {formats:10} {row['wall']:8.1f} s {row['rss']:8.1f} MiB "
                          f"found {row['found']}/{row['open']}, JSON {row['size'] / 2**20:.1f} MiB; "
                          f"discovery {t['discoverySeconds']:.1f} s, dialogs {t['dialogsSeconds']:.1f} s, "
                          f"rules {t['rulesSeconds']:.2f} s, reports {t['reportSeconds']:.2f} s")
                    rows.append(row)
            if args.shards and live == shares[-1]:
                merge = shard_audits(binary, lab, work, args.shards)
                merge.update(open=len(lab.open))
                print(f"  {args.shards} shards: {sum(merge['shard_wall']):.1f} s in all, peak RSS "
                      f"{max(merge['shard_rss']):.1f} MiB, JSON {merge['size'] / 2**20:.1f} MiB in all; merge "
                      f"(json,html) {merge['wall']:.1f} s {merge['rss']:.1f} MiB, found {merge['found']}/{merge['open']}")
        finally:
            lab.down()
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'open endpoints':>14} {'formats':10} {'mode':8} {'wall s':>8} {'peak MiB':>9} {'ms/endpoint':>12} "
          f"{'found':>14}")
    for row in rows:
        print(f"{row['open']:>14} {row['formats']:10} {row['mode']:8} {row['wall']:>8.1f} {row['rss']:>9.0f} "
              f"{row['wall'] / max(1, row['open']) * 1000:>12.2f} {row['found']:>7}/{row['open']:<7}")
    if merge:
        print(f"{merge['open']:>14} {'merge of ' + str(args.shards):10} {'shards':8} {merge['wall']:>8.1f} "
              f"{merge['rss']:>9.0f} {merge['wall'] / max(1, merge['open']) * 1000:>12.2f} "
              f"{merge['found']:>7}/{merge['open']:<7}")


if __name__ == "__main__":
    main()
