#!/usr/bin/env python3
"""Report writers at scale: what the HTML, SARIF and Markdown writers cost on a run of ~100,000 open endpoints, and
how long headless Chromium takes to open the HTML report.

1. Generates one JSON report from the demo lab's judged report (Tests/Fixtures/reports/demo.json): hosts of seven
   open endpoints each (every port of the lab, each endpoint copied from a demo host that had that port open, so
   the facts, transcripts, certificates and findings are real MailPort output), with new addresses (10.0.0.0/8)
   and the summary counted again. `--endpoints 100000` gives ~14,300 hosts, as a lab with every mail port open
   on each live address would.
2. Re-renders it with a release build: `mailport report BIG.json --format F` for F = json (the baseline: reading
   the whole JSON, which `report` does first, plus the JSON writer, which writes host by host), then html, sarif
   and md. Wall time and peak RSS per run; the writer's share is the difference to the json run.
3. Opens the HTML in headless Chromium (Selenium, as scripts/htmlcheck.py does) and reads the page's own
   navigation timing: DOMContentLoaded, load, first contentful paint; and the file's size.

  Benchmarks/writers.py [--endpoints 100000] [--binary .build/release/mailport] [--keep DIR]
Prints a table; commit the script, not the numbers. Sends nothing anywhere (Chromium resolves no host names).
"""
import argparse
import copy
import functools
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from discovery import ROOT, timed  # noqa: E402

print = functools.partial(print, flush=True)

FIXTURE = os.path.join(ROOT, "Tests", "Fixtures", "reports", "demo.json")
SEVERITIES = ["critical", "high", "medium", "low", "info"]
WORST_FIRST = ["F", "C", "B", "A-", "A", "A+"]


def generate(endpoints, path):
    """Writes a report of `endpoints` open endpoints (rounded up to whole hosts of seven) to path."""
    demo = json.load(open(FIXTURE))
    ports = sorted({e["port"] for h in demo["hosts"] for e in h["endpoints"]})
    # For each port, the demo hosts' open endpoints there, with the grade of the host they came from.
    sources = {port: [(e, h.get("grade")) for h in demo["hosts"] for e in h["endpoints"]
                      if e["port"] == port and e["state"] == "open"] for port in ports}
    assert all(sources.values()), "every port has an open endpoint in the fixture"
    report = copy.deepcopy(demo)
    hosts = []
    counts = {s: 0 for s in SEVERITIES}
    waived = 0
    base = int(ipaddress.IPv4Address("10.0.0.1"))
    index = 0
    while len(hosts) * len(ports) < endpoints:
        picked = [sources[port][(index + offset) % len(sources[port])] for offset, port in enumerate(ports)]
        grades = [g for _, g in picked if g]
        grade = min(grades, key=WORST_FIRST.index) if grades else None
        host = {"address": str(ipaddress.IPv4Address(base + index)), "names": [], "declaredMX": False,
                "endpoints": [copy.deepcopy(e) for e, _ in picked]}
        if grade:
            host["grade"] = grade
        for endpoint in host["endpoints"]:
            for finding in endpoint.get("findings", []):
                if finding.get("waived"):
                    waived += 1
                else:
                    counts[finding["severity"]] += 1
        # Keys in the order the fixture's hosts have them.
        template = demo["hosts"][0]
        hosts.append({key: host[key] for key in template if key in host})
        index += 1
    report["hosts"] = hosts
    summary = report["summary"]
    summary.update(hosts=len(hosts), hostsUp=len(hosts), hostsWithOpenPorts=len(hosts),
                   openEndpoints=len(hosts) * len(ports), closedEndpoints=0, filteredEndpoints=0,
                   findingsBySeverity=counts, waivedFindings=waived)
    with open(path, "w") as out:
        json.dump(report, out, indent=2, sort_keys=True)
    return len(hosts), len(hosts) * len(ports)


def render(binary, report, fmt, out_dir):
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    wall, rss, _ = timed([binary, "report", report, "--format", fmt, "-o", out_dir])
    files = [os.path.join(out_dir, name) for name in os.listdir(out_dir)]
    return wall, rss, files


def chromium_timing(html):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,2000", "--host-resolver-rules=MAP * ~NOTFOUND"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.set_page_load_timeout(600)
        driver.get("file://" + html)
        return driver.execute_script("""
            var nav = performance.getEntriesByType('navigation')[0];
            var paint = performance.getEntriesByName('first-contentful-paint')[0];
            return {domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                    firstContentfulPaint: paint ? paint.startTime : null,
                    elements: document.getElementsByTagName('*').length,
                    rows: document.querySelectorAll('#hosts tbody tr').length};
        """)
    finally:
        driver.quit()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=100_000)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "mailport"))
    parser.add_argument("--keep", help="folder to keep the generated report and the rendered files in")
    args = parser.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="mailport-html-")
    os.makedirs(work, exist_ok=True)
    report = os.path.join(work, "big.json")
    hosts, opened = generate(args.endpoints, report)
    print(f"report: {hosts} hosts, {opened} open endpoints, {os.path.getsize(report) / 2**20:.0f} MiB of JSON")
    print(f"{'format':8} {'wall s':>8} {'peak MiB':>9} {'file MiB':>9}")
    html = None
    for fmt in ["json", "html", "sarif", "md"]:
        wall, rss, files = render(args.binary, report, fmt, os.path.join(work, fmt))
        size = sum(os.path.getsize(f) for f in files)
        print(f"{fmt:8} {wall:8.2f} {rss:9.0f} {size / 2**20:9.2f}")
        if fmt == "html":
            html = files[0]
    try:
        timing = chromium_timing(html)
    except Exception as error:  # Selenium gives up on a command after 120 s, whatever the page-load timeout.
        print(f"chromium: did not finish loading ({type(error).__name__})")
        timing = None
    if timing:
        print("chromium: DOMContentLoaded {domContentLoaded:.0f} ms, load {load:.0f} ms, first contentful paint "
              "{fcp} ms, {elements} elements, {rows} host rows".format(
                  fcp="%.0f" % timing["firstContentfulPaint"] if timing["firstContentfulPaint"] else "–", **timing))
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
