#!/usr/bin/env python3
"""Memory of a whole audit as the open endpoints grow: hosts spooled to disk against hosts held in memory.

The lab is Benchmarks/audit.py's (scripts/nslab.py's firewall decides who answers, nginx's mail proxy answers SMTP,
IMAP and POP3 with STARTTLS and implicit TLS on all seven ports of every live address); `--live` picks the share of
live addresses, so one /16 gives ~4,000 open endpoints at 0.016 and ~12,000 at 0.05. For each size the same release
binary audits it (default options, `--fail-on never`) with:

  spooled    the default: dialog observations on disk as they finish, judged hosts on disk above 2,000 endpoints
  in memory  MAILPORT_SPOOL_ABOVE=1000000000: every judged host held in memory, as before the spool

each with `--format json` (written host by host) and `--format json,html` (the default; HTML is still rendered whole),
and prints wall time and peak RSS per run, and the ratio. Same run, same lab, same binary: only the spool differs.

  sudo Benchmarks/memory.py [--cidr 198.18.0.0/16] [--live 0.016,0.05]
Needs root, nftables, iproute2, nginx with libnginx-mod-mail (installed when missing). Sends nothing outside the
namespaces it creates. Commit the script, not the numbers.
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
from audit import Lab  # noqa: E402
from discovery import ROOT, install_quietly, timed  # noqa: E402

print = functools.partial(print, flush=True)

MODES = [("spooled", None), ("in memory", "1000000000")]
FORMATS = ["json", "json,html"]


def audit(binary, lab, out_dir, formats, spool_above):
    os.makedirs(out_dir, exist_ok=True)
    env = ["env", f"MAILPORT_SPOOL_ABOVE={spool_above}"] if spool_above else []
    wall, rss, _ = timed(["ip", "netns", "exec", lab.scanner(), *env, binary, "scan", lab.cidr, "--allow-large",
                          "--format", formats, "--output-dir", out_dir, "--ca-file", f"{lab.work}/cert.pem",
                          "--fail-on", "never", "--verbose", "--log-file", f"{out_dir}/log"])
    report = json.load(open(f"{out_dir}/latest.json"))
    reports = re.findall(r"stage\.reportSeconds=([0-9.]+)", open(f"{out_dir}/log").read())
    timings = dict(report["scan"].get("timings") or {}, reportSeconds=float(reports[-1]) if reports else 0.0)
    found = {(h["address"], e["port"]) for h in report["hosts"] for e in h["endpoints"] if e["state"] == "open"}
    return dict(wall=wall, rss=rss, found=len(found & lab.open), size=os.path.getsize(f"{out_dir}/latest.json"),
                timings=timings)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cidr", default="198.18.0.0/16")
    parser.add_argument("--live", default="0.016,0.05", help="shares of live addresses, one lab each")
    parser.add_argument("--refuse", type=float, default=0.08)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("benchmark: needs root (network namespaces)")
    install_quietly(["nginx", "libnginx-mod-mail"])
    print("building mailport (release)...")
    subprocess.run(["swift", "build", "-c", "release", "--product", "mailport"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    binary = os.path.join(ROOT, ".build", "release", "mailport")
    rows = []
    for live in [float(value) for value in args.live.split(",")]:
        work = tempfile.mkdtemp(prefix="mailport-memory-")
        os.chmod(work, 0o755)  # nginx's workers read the certificate
        lab = Lab("mpmem", args.cidr, live, args.refuse, args.seed, work)
        try:
            print(f"lab: {args.cidr}, live {live}: {len(lab.open)} open endpoints")
            for formats in FORMATS:
                for mode, spool_above in MODES:
                    out = f"{work}/{mode.replace(' ', '-')}-{formats.replace(',', '-')}"
                    row = audit(binary, lab, out, formats, spool_above)
                    row.update(open=len(lab.open), mode=mode, formats=formats)
                    t = row["timings"]
                    print(f"  {mode:10} --format {formats:10} {row['wall']:8.1f} s {row['rss']:8.1f} MiB "
                          f"found {row['found']}/{row['open']}, JSON {row['size'] / 2**20:.1f} MiB; "
                          f"discovery {t['discoverySeconds']:.1f} s, dialogs {t['dialogsSeconds']:.1f} s, "
                          f"rules {t['rulesSeconds']:.2f} s, reports {t['reportSeconds']:.2f} s")
                    rows.append(row)
        finally:
            lab.down()
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'open endpoints':>14} {'formats':10} {'spooled s':>10} {'MiB':>7} {'in memory s':>12} {'MiB':>7} "
          f"{'memory ratio':>12}")
    for index in range(0, len(rows), 2):
        spooled, held = rows[index], rows[index + 1]
        print(f"{spooled['open']:>14} {spooled['formats']:10} {spooled['wall']:>10.1f} {spooled['rss']:>7.0f} "
              f"{held['wall']:>12.1f} {held['rss']:>7.0f} {held['rss'] / spooled['rss']:>11.2f}x")


if __name__ == "__main__":
    main()
