#!/usr/bin/env python3
"""Merge of shard reports: peak RSS and wall time of `mailport merge` as the shards grow, to show that merging
holds one address's hosts at a time (memory flat in the number of endpoints) and that time grows linearly.

The shards are synthetic but made of a real report: the hosts of a JSON report (the demo lab's fixture by default,
Tests/Fixtures/reports/demo.json: four hosts, seven ports, transcripts, certificates and findings) are copied under
new addresses in 10.0.0.0/8 until the shards hold about --open open endpoints in all. Each host and port pair goes
to one of --shards shards by a seeded hash, as `--shard I/N` splits pairs, so one host's ports are spread over
several shards; every shard lists the hosts it saw answer (open or closed), with the frame `mailport merge` checks
(same seed, targets, exclusions, ports, profile, mode, rule digest; shard I/N each once) and its own counts.

For each size (--fractions of --open, default 1/8 and all of it) it runs
  mailport merge shard-*.json -o merged.json --format json --fail-on never
with the given binary (default .build/release/mailport, built when missing) and prints open endpoints, report
bytes, wall time and peak RSS (the merge's own, through GNU time). --compare BINARY runs a second binary on the same
shards (a build from before a change) and checks both merged reports are the same bytes.

  Benchmarks/merge.py [--open 100000] [--shards 8] [--fractions 0.125,1] [--binary PATH] [--compare PATH]
No network at all: it writes files in a temporary folder (about 6 KB per open endpoint for the demo's hosts, times
two with the merged report) and removes them. Commit the script, not the numbers.
"""
import argparse
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from discovery import timed  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
print = functools.partial(print, flush=True)


def dumps(value):
    """JSON as MailPort writes it: sorted keys, `"key" : value`."""
    return json.dumps(value, indent=2, sort_keys=True, separators=(",", " : "), ensure_ascii=False)


def address(index):
    return f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"


def shard_of(seed, addr, port, count):
    digest = hashlib.blake2b(f"{seed}/{addr}/{port}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % count


def make_shards(source, folder, open_target, count, seed=7):
    model = json.load(open(source))
    hosts = model["hosts"]
    open_per_cycle = sum(1 for h in hosts for e in h["endpoints"] if e["state"] == "open")
    host_count = max(1, round(open_target * len(hosts) / open_per_cycle))
    frame = {key: value for key, value in model.items() if key != "hosts"}
    frame["scan"] = dict(frame["scan"], seed=seed, targets=["10.0.0.0/8"], excludes=[], complete=True)
    frame.pop("baseline", None)
    paths = [os.path.join(folder, f"shard-{index}.json") for index in range(count)]
    files = [open(path, "w") for path in paths]
    counts = [dict(open=0, closed=0, filtered=0, hosts=0) for _ in range(count)]
    first = [True] * count
    for out in files:
        out.write('{\n  "hosts" : [\n')
    total_open = 0
    for index in range(host_count):
        host = hosts[index % len(hosts)]
        addr = address(index)
        parts = [[] for _ in range(count)]
        for endpoint in host["endpoints"]:
            # A shard lists the pairs that answered; a pair that got no answer is left for merge to call filtered.
            if endpoint["state"] == "filtered":
                continue
            parts[shard_of(seed, addr, endpoint["port"], count)].append(endpoint)
        for shard, endpoints in enumerate(parts):
            if not endpoints:
                continue
            opened = sum(1 for e in endpoints if e["state"] == "open")
            counts[shard]["open"] += opened
            counts[shard]["closed"] += len(endpoints) - opened
            counts[shard]["hosts"] += 1 if opened else 0
            total_open += opened
            text = dumps(dict(host, address=addr, endpoints=endpoints))
            files[shard].write(("" if first[shard] else ",\n") + "\n".join("    " + line for line in text.split("\n")))
            first[shard] = False
    ports = len(frame["scan"]["ports"])
    for shard, out in enumerate(files):
        shard_frame = json.loads(json.dumps(frame))
        shard_frame["scan"]["shard"] = f"{shard}/{count}"
        planned = host_count * ports // count
        shard_frame["scan"]["probesPlanned"] = planned
        shard_frame["scan"]["probesDone"] = planned
        summary = shard_frame["summary"]
        summary.update(hosts=host_count, hostsUp=counts[shard]["hosts"], hostsWithOpenPorts=counts[shard]["hosts"],
                       openEndpoints=counts[shard]["open"], closedEndpoints=counts[shard]["closed"],
                       filteredEndpoints=max(0, planned - counts[shard]["open"] - counts[shard]["closed"]))
        rest = dumps(shard_frame)
        # The frame's keys after "hosts" ("rules", "scan", ...) and before it ("baseline", "domains": none here).
        out.write("\n  ],\n" + rest[2:] + "\n")
        out.close()
    return paths, total_open, host_count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=100_000, help="open endpoints in all shards at fraction 1")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--fractions", default="0.125,1")
    parser.add_argument("--source", default=os.path.join(ROOT, "Tests", "Fixtures", "reports", "demo.json"))
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "mailport"))
    parser.add_argument("--compare", help="a second mailport binary to run on the same shards")
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["swift", "build", "-c", "release", "--product", "mailport"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    binaries = [("binary", args.binary)] + ([("compare", args.compare)] if args.compare else [])
    print(f"{'open endpoints':>14} {'hosts':>7} {'shard MB':>9} {'run':>8} {'wall s':>8} {'peak RSS MiB':>13}")
    for fraction in (float(f) for f in args.fractions.split(",")):
        folder = tempfile.mkdtemp(prefix="mailport-merge-")
        try:
            paths, total_open, hosts = make_shards(args.source, folder, int(args.open * fraction), args.shards)
            size = sum(os.path.getsize(p) for p in paths) / 1e6
            outputs = []
            for name, binary in binaries:
                output = os.path.join(folder, f"merged-{name}.json")
                wall, rss, _ = timed([binary, "merge", *paths, "-o", output, "--format", "json", "--fail-on", "never"])
                print(f"{total_open:>14} {hosts:>7} {size:>9.0f} {name:>8} {wall:>8.1f} {rss:>13.0f}")
                outputs.append(output)
            if len(outputs) == 2:
                same = subprocess.run(["cmp", "-s", *outputs]).returncode == 0
                print(f"{'':>14} merged reports of both binaries {'identical' if same else 'DIFFER'}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
