#!/usr/bin/env python3
"""Whole-audit benchmark: discovery, mail dialogs, STARTTLS, TLS protocol and cipher probing, certificates, rules and
JSON+HTML reports over a namespace lab full of real mail software, against nmap with its mail and TLS scripts.

The lab: scripts/nslab.py makes CIDR local in a target namespace and its nftables rules pick which hosts and ports
answer (~1.6% of addresses live with some of the seven ports open, ~8% refusing, the rest dropping); instead of the
lab's own listener, nginx's mail proxy from Debian (libnginx-mod-mail) answers on all seven ports of every address:
SMTP 25/587 with STARTTLS, 465 implicit TLS, IMAP 143 with STARTTLS, 993, POP3 110 with STLS, 995. Nothing ever
authenticates, so the proxy's auth_http backend is never asked.

Runs, from the scanner namespace (whose only route leads to the lab):
  mailport scan CIDR --format json,html          (connect discovery, default options; release build)
  mailport scan CIDR --format json,html --syn    (SYN discovery, default options: the adaptive rate; --rate R if given)
  nmap -sS -Pn -n -p25,110,143,465,587,993,995 -T5 --min-rate 20000 --max-retries 1
       --script ssl-cert,ssl-enum-ciphers,smtp-commands,imap-capabilities,pop3-capabilities
and prints wall time, peak RSS, open endpoints found and talked to (against the lab's truth), MailPort's stage times
(discovery, dialogs, rules, reports), the connections each endpoint's audit opened after discovery (mean and
maximum) and the speed-ups. Targets (issue 20; issue 11 asked 10x and 4x): with --syn at least 20x faster than that
nmap run, connect at least 15x, every open endpoint probed, peak RSS under 300 MB; (issue 17) at most 4 connections
per endpoint on this healthy lab (TLS 1.2+ with forward-secret AEAD suites only, as Rules/ recommends).

  sudo Benchmarks/audit.py [--cidr 198.18.0.0/16] [--rate PPS] [--compare-rate PPS] [--skip-nmap] [--curve 20,18,16]
                           [--compare-binary OLD/mailport]
--compare-binary also runs the connect audit with another build (an earlier commit's release binary) in the same lab
and the same run, so "as fast as before" is measured, not remembered.
--curve runs the connect audit over labs of those prefix lengths and prints wall time and memory per size.
Needs root, nftables, iproute2; installs nginx, libnginx-mod-mail and nmap from Debian when missing (without
starting Debian's own nginx). Sends nothing outside the namespaces. Commit the script, not the numbers.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from discovery import NSLAB, PORTS, ROOT, install_quietly, timed  # noqa: E402

print = functools.partial(print, flush=True)

NGINX_CONF = """
load_module /usr/lib/nginx/modules/ngx_mail_module.so;
worker_processes 2;
worker_rlimit_nofile 65536;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log crit;
events {{ worker_connections 32768; }}
mail {{
    # Every listen with the namespace's full backlog (nginx's own default is 511): one nginx stands in for thousands
    # of servers, and a full accept queue drops SYNs, which the scanner rightly reports unanswered (1,088 of 89,553
    # open endpoints in one run, the lab's ListenOverflows counting 5,568).
    server_name lab.mailport.test;
    auth_http 127.0.0.1:9/auth;  # never asked: the scanner does not authenticate
    ssl_certificate {work}/cert.pem;
    ssl_certificate_key {work}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;
    ssl_session_cache off;
    server {{ listen 25 backlog=65535; protocol smtp; starttls on;   smtp_auth plain login; }}
    server {{ listen 587 backlog=65535; protocol smtp; starttls only; smtp_auth plain login; }}
    server {{ listen 465 ssl backlog=65535; protocol smtp; smtp_auth plain login; }}
    server {{ listen 143 backlog=65535; protocol imap; starttls on; }}
    server {{ listen 993 ssl backlog=65535; protocol imap; }}
    server {{ listen 110 backlog=65535; protocol pop3; starttls on; }}
    server {{ listen 995 ssl backlog=65535; protocol pop3; }}
}}
"""


class Lab:
    """A /N lab with nginx's mail proxy behind the firewall."""

    def __init__(self, name, cidr, live, refuse, seed, work):
        self.name, self.cidr, self.work = name, cidr, work
        truth_file = os.path.join(work, "truth.json")
        subprocess.run([sys.executable, NSLAB, "up", "--name", name, "--cidr", cidr, "--live", str(live), "--refuse",
                        str(refuse), "--seed", str(seed), "--no-listener", "--truth", truth_file], check=True,
                       stdout=subprocess.DEVNULL)
        self.truth = json.load(open(truth_file))
        self.open = {(o["address"], o["port"]) for o in self.truth["open"]}
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-keyout",
                        f"{work}/key.pem", "-out", f"{work}/cert.pem", "-subj", "/CN=lab.mailport.test",
                        "-addext", "subjectAltName=DNS:lab.mailport.test"], check=True, capture_output=True)
        with open(f"{work}/nginx.conf", "w") as handle:
            handle.write(NGINX_CONF.format(work=work))
        subprocess.run(["ip", "netns", "exec", f"{name}-t", "nginx", "-c", f"{work}/nginx.conf", "-p", work], check=True)
        # A port that greets in plaintext: on 465, 993 and 995 the proxy waits for a TLS hello and says nothing.
        address, port = next(pair for pair in sorted(self.open) if pair[1] in (25, 110, 143, 587))
        for _ in range(50):  # until the proxy greets on a live address
            probe = subprocess.run(["ip", "netns", "exec", f"{name}-s", sys.executable, "-c",
                                    f"import socket; s=socket.create_connection(('{address}', {port}), 1); print(s.recv(64))"],
                                   capture_output=True, text=True)
            if probe.returncode == 0:
                break
            time.sleep(0.2)

    def scanner(self):
        return f"{self.name}-s"

    def drop_counters(self):
        """Kernel counters that count SYNs or packets dropped: TCP's in the target namespace, the softnet backlog's (all
        namespaces). A run that misses open endpoints prints what moved, to tell the lab's drops from the scanner's."""
        out = subprocess.run(["ip", "netns", "exec", f"{self.name}-t", "nstat", "-az"], capture_output=True,
                             text=True).stdout
        counters = {parts[0]: int(parts[1]) for parts in (line.split() for line in out.splitlines()[1:])
                    if len(parts) >= 2 and parts[1].isdigit()
                    and any(word in parts[0] for word in ("Listen", "Drop", "Overflow", "Cookie", "Backlog"))}
        for cpu, line in enumerate(open("/proc/net/softnet_stat")):
            counters[f"softnet{cpu}.dropped"] = int(line.split()[1], 16)
        return counters

    def moved(self, before):
        """The drop counters that changed since `before` (a `drop_counters()`)."""
        after = self.drop_counters()
        return {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}

    def down(self):
        pid = f"{self.work}/nginx.pid"
        if os.path.exists(pid):
            subprocess.run(["kill", open(pid).read().strip()], stderr=subprocess.DEVNULL)
        subprocess.run([sys.executable, NSLAB, "down", "--name", self.name], stdout=subprocess.DEVNULL)


def mailport_audit(binary, lab, out_dir, extra):
    os.makedirs(out_dir, exist_ok=True)
    before = lab.drop_counters()
    # Default options (connect discovery sizes its own window, up to --concurrency's default 16384): the benchmark
    # measures what users get. A --compare-binary from before the window needs the flag to sweep a /16 at speed.
    wall, rss, _ = timed(["ip", "netns", "exec", lab.scanner(), binary, "scan", lab.cidr, "--allow-large",
                          "--format", "json,html", "--output-dir", out_dir, "--ca-file", f"{lab.work}/cert.pem",
                          "--fail-on", "never", "--verbose", "--log-file", f"{out_dir}/log", *extra])
    report = json.load(open(f"{out_dir}/latest.json"))
    endpoints = [(h["address"], e) for h in report["hosts"] for e in h["endpoints"] if e["state"] == "open"]
    found = {(a, e["port"]) for a, e in endpoints}
    talked = {(a, e["port"]) for a, e in endpoints if e.get("identifiedAs") and e.get("complete")}
    if len(found & lab.open) < len(lab.open):
        print(f"  {len(lab.open - found)} open endpoints not found; drop counters that moved: {lab.moved(before)}")
    reports = re.findall(r"stage\.reportSeconds=([0-9.]+)", open(f"{out_dir}/log").read())
    timings = dict(report["scan"].get("timings") or {}, reportSeconds=float(reports[-1]) if reports else None)
    # Connections after discovery, per endpoint that was talked to (absent in builds before they were counted).
    connections = [e["connections"] for _, e in endpoints if "connections" in e]
    # STARTTLS injection checks that gave an answer, and how many resumed the dialog's TLS session (absent in builds
    # before the check resumed it): each resumed one is a full handshake, and an RSA signature, nginx did not make.
    checks = [e["starttls"]["injectionCheckResumed"] for _, e in endpoints
              if "injectionCheckResumed" in (e.get("starttls") or {})]
    return dict(wall=wall, rss=rss, found=found, talked=talked, timings=timings, connections=connections,
                resumed=(sum(checks), len(checks)))


def nmap_audit(lab, work):
    xml = f"{work}/nmap.xml"
    wall, rss, _ = timed(["ip", "netns", "exec", lab.scanner(), "nmap", "-sS", "-Pn", "-n", f"-p{PORTS}", "-T5",
                          "--min-rate", "20000", "--max-retries", "1", "--script",
                          "ssl-cert,ssl-enum-ciphers,smtp-commands,imap-capabilities,pop3-capabilities",
                          "-oX", xml, lab.cidr])
    text = open(xml).read()
    found, talked = set(), set()
    for host in re.finditer(r'<host .*?</host>', text, re.S):
        address = re.search(r'<address addr="([^"]+)"', host.group(0)).group(1)
        for port in re.finditer(r'<port protocol="tcp" portid="(\d+)">(.*?)</port>', host.group(0), re.S):
            if 'state="open"' in port.group(2):
                found.add((address, int(port.group(1))))
                if "<script " in port.group(2):
                    talked.add((address, int(port.group(1))))
    return dict(wall=wall, rss=rss, found=found, talked=talked, timings={}, connections=[])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cidr", default="198.18.0.0/16")
    parser.add_argument("--rate", type=int, default=None,
                        help="a fixed SYN rate for the --syn run (default: none, MailPort's adaptive rate)")
    parser.add_argument("--compare-rate", type=int, default=None,
                        help="also run --syn at this fixed rate in the same run (e.g. 100000, the rate this benchmark once named)")
    parser.add_argument("--live", type=float, default=0.016)
    parser.add_argument("--refuse", type=float, default=0.08)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-nmap", action="store_true")
    parser.add_argument("--skip-syn", action="store_true")
    parser.add_argument("--curve", default="", help="prefix lengths for the scaling curve, e.g. 20,18,16")
    parser.add_argument("--compare-binary", default="", help="another mailport build to run the connect audit with")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("benchmark: needs root (network namespaces, raw sockets)")
    install_quietly(["nginx", "libnginx-mod-mail"] + ([] if args.skip_nmap else ["nmap"]))
    print("building mailport (release)...")
    subprocess.run(["swift", "build", "-c", "release", "--product", "mailport"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    binary = os.path.join(ROOT, ".build", "release", "mailport")

    work = tempfile.mkdtemp(prefix="mailport-audit-")
    os.chmod(work, 0o755)  # nginx's workers read the certificate
    lab = Lab("mpaudit", args.cidr, args.live, args.refuse, args.seed, work)
    try:
        hosts = 2 ** (32 - int(args.cidr.split("/")[1]))
        print(f"lab: {args.cidr}, {hosts} addresses x 7 ports; {len(lab.truth['live'])} live hosts with "
              f"{len(lab.open)} open endpoints (nginx mail proxy), {len(lab.truth['refuse'])} refusing")
        rows = [("mailport (connect)", mailport_audit(binary, lab, f"{work}/connect", []))]
        if args.compare_binary:
            rows.append(("compared build (connect)", mailport_audit(args.compare_binary, lab, f"{work}/compare", [])))
        if not args.skip_syn:
            fixed = ["--rate", str(args.rate)] if args.rate else []
            label = f"mailport --syn --rate {args.rate}" if args.rate else "mailport --syn"
            rows.append((label, mailport_audit(binary, lab, f"{work}/syn", ["--syn"] + fixed)))
            if args.compare_rate:
                rows.append((f"mailport --syn --rate {args.compare_rate}",
                             mailport_audit(binary, lab, f"{work}/syn-fixed", ["--syn", "--rate", str(args.compare_rate)])))
        if not args.skip_nmap:
            rows.append(("nmap -sS -T5 + 5 scripts", nmap_audit(lab, work)))

        print()
        print(f"{'audit':28} {'wall s':>9} {'peak MiB':>9} {'open found':>15} {'talked to':>15}")
        for name, row in rows:
            print(f"{name:28} {row['wall']:9.2f} {row['rss']:9.1f} {len(row['found'] & lab.open):>7}/{len(lab.open):<7} "
                  f"{len(row['talked'] & lab.open):>7}/{len(lab.open):<7}")
        print()
        for name, row in rows:
            t = row["timings"]
            if t:
                print(f"{name}: discovery {t['discoverySeconds']:.2f} s, dialogs+TLS {t['dialogsSeconds']:.2f} s "
                      f"({t['dialogs']} endpoints, {t['dialogs'] / max(t['dialogsSeconds'], 1e-9):.0f}/s), "
                      f"rules {t['rulesSeconds']:.2f} s, reports {t['reportSeconds'] or 0:.2f} s")
        for name, row in rows:
            if row["connections"]:
                counts = row["connections"]
                print(f"{name}: connections per endpoint after discovery: mean {sum(counts) / len(counts):.2f}, "
                      f"max {max(counts)} over {len(counts)} endpoints (target <= 4 on this healthy lab)")
        for name, row in rows:
            if row.get("resumed") and row["resumed"][1]:
                resumed, checks = row["resumed"]
                print(f"{name}: STARTTLS injection checks on the dialog's resumed TLS session: {resumed} of {checks}")
        compared = dict(rows).get("compared build (connect)")
        if compared:
            print(f"this build vs the compared build: {compared['wall'] / rows[0][1]['wall']:.2f}x "
                  f"({rows[0][1]['wall']:.2f} s vs {compared['wall']:.2f} s; >= 1.00 means at least as fast)")
        nmap = dict(rows).get("nmap -sS -T5 + 5 scripts")
        if nmap:
            for name, row in rows[:-1]:
                if name.startswith("compared"):
                    continue
                target = "20x" if "syn" in name else "15x"
                print(f"{name} vs nmap: {nmap['wall'] / row['wall']:.1f}x faster (target >= {target})")
        print(f"peak RSS target < 300 MiB; every open endpoint probed: "
              + ", ".join(f"{name} {len(row['talked'] & lab.open) == len(lab.open)}" for name, row in rows if name.startswith("mailport")))
    finally:
        lab.down()

    if args.curve:
        print("\nscaling (connect audit):")
        print(f"{'space':18} {'open':>7} {'wall s':>9} {'peak MiB':>9} {'s per 1000 open':>16}")
        for prefix in [int(p) for p in args.curve.split(",")]:
            cidr = f"198.18.0.0/{prefix}"
            curve_work = tempfile.mkdtemp(prefix="mailport-audit-")
            os.chmod(curve_work, 0o755)
            curve_lab = Lab(f"mpcurve{prefix}", cidr, args.live, args.refuse, args.seed, curve_work)
            try:
                row = mailport_audit(binary, curve_lab, f"{curve_work}/out", [])
                print(f"{cidr:18} {len(curve_lab.open):>7} {row['wall']:9.2f} {row['rss']:9.1f} "
                      f"{row['wall'] / max(1, len(curve_lab.open)) * 1000:16.2f}")
            finally:
                curve_lab.down()
                shutil.rmtree(curve_work, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
