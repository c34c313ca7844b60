#!/usr/bin/env python3
"""A lab of scan targets inside network namespaces, for MailPort's tests and benchmarks.

Two namespaces joined by a veth pair: NAME-s (the scanner side) and NAME-t (the targets). The target side makes a
whole address block local (`ip route add local CIDR dev lo`), runs listeners on the mail ports, and uses nftables to
decide, address by address, what a probe meets:

  live     some of the ports open (accepted), the others refused with a TCP reset
  refuse   every port refused with a reset            (closed)
  unreach  ICMP host unreachable                      (filtered, answered)
  (rest)   dropped silently                           (filtered, no answer)

Network safety: the scanner namespace has no default route; its only routes lead to the lab block. A scanner that
misparses a target and tries any other address gets "network unreachable" and sends nothing out.

  nslab.py up --name mpt --cidr 198.18.7.0/24 --live 0.2 --refuse 0.2 --unreach 0.1 --seed 1 [--truth FILE]
  nslab.py down --name mpt
  nslab.py listen --ports 25,110 ...      (internal: the listener run inside NAME-t)
Needs root, iproute2, nftables.
"""
import argparse
import ipaddress
import json
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import time

DEFAULT_PORTS = [25, 110, 143, 465, 587, 993, 995]
STATE_DIR = "/run/mailport-nslab"


def run(*args, check=True, input=None):
    result = subprocess.run(list(args), input=input, text=True, capture_output=True)
    if check and result.returncode != 0:
        raise SystemExit(f"nslab: {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def ns(name, *args, check=True, input=None):
    return run("ip", "netns", "exec", name, *args, check=check, input=input)


def plan(cidr, ports, live, refuse, unreach, seed):
    """Picks, reproducibly from the seed, what each address of the block does."""
    rng = random.Random(seed)
    net = ipaddress.ip_network(cidr)
    truth = {"cidr": cidr, "ports": ports, "open": [], "live": [], "refuse": [], "unreach": []}
    for address in net:
        roll = rng.random()
        if roll < live:
            chosen = [p for p in ports if rng.random() < 0.5] or [rng.choice(ports)]
            truth["live"].append(str(address))
            truth["open"] += [{"address": str(address), "port": p} for p in chosen]
        elif roll < live + refuse:
            truth["refuse"].append(str(address))
        elif roll < live + refuse + unreach:
            truth["unreach"].append(str(address))
    return truth


def nft_ruleset(truth, family):
    ip = "ip" if family == 4 else "ip6"
    addr_type = "ipv4_addr" if family == 4 else "ipv6_addr"
    unreachable = "icmp type host-unreachable" if family == 4 else "icmpv6 type addr-unreachable"

    def elements(items):
        return "elements = { " + ", ".join(items) + " }" if items else ""

    open_pairs = [f"{o['address']} . {o['port']}" for o in truth["open"]]
    lines = [
        "table inet mailportlab {",
        f"  set open {{ type {addr_type} . inet_service; {elements(open_pairs)} }}",
        f"  set answer {{ type {addr_type}; {elements(truth['live'] + truth['refuse'])} }}",
        f"  set unreach {{ type {addr_type}; {elements(truth['unreach'])} }}",
        "  chain input {",
        "    type filter hook input priority 0; policy accept;",
        f"    {ip} daddr != {truth['cidr']} accept",
        f"    {ip} daddr . tcp dport @open accept",
        f"    {ip} daddr @answer reject with tcp reset",
        f"    {ip} daddr @unreach reject with {unreachable}",
        "    drop",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def apply_faults(args, target):
    """Delay, jitter and loss on the target side's link with tc netem. Some kernels (this sandbox's among them) have no
    netem: then loss is made with an nftables rule dropping that share of the target's packets at random, and delay
    and jitter cannot be made at all. Returns what was applied, for the tests to report."""
    applied = {"netem": False, "delayMs": 0, "jitterMs": 0, "lossPercent": 0, "lossBy": None}
    jitter = getattr(args, "jitter_ms", 0)  # callers that build the arguments themselves (mailbed.py) may leave it out
    if not (args.delay_ms or jitter or args.loss):
        return applied
    netem = ["tc", "qdisc", "add", "dev", f"{args.name}t0", "root", "netem", "delay", f"{args.delay_ms}ms",
             *([f"{jitter}ms"] if jitter else []), *(["loss", f"{args.loss}%"] if args.loss else [])]
    if ns(target, *netem, check=False).returncode == 0:
        applied.update(netem=True, delayMs=args.delay_ms, jitterMs=jitter, lossPercent=args.loss, lossBy="netem")
        return applied
    if args.loss:
        rules = (f"table inet nslab_loss {{\n  chain output {{\n    type filter hook output priority 0; policy accept;\n"
                 f"    numgen random mod 100 lt {int(round(args.loss))} drop\n  }}\n}}\n")
        ns(target, "nft", "-f", "-", input=rules)
        applied.update(lossPercent=int(round(args.loss)), lossBy="nftables")
    return applied


def up(args):
    if os.geteuid() != 0:
        raise SystemExit("nslab: needs root (network namespaces, nftables)")
    ports = [int(p) for p in args.ports.split(",")]
    truth = plan(args.cidr, ports, args.live, args.refuse, args.unreach, args.seed)
    family = ipaddress.ip_network(args.cidr).version
    down(args, quiet=True)
    scan, target = f"{args.name}-s", f"{args.name}-t"
    run("ip", "netns", "add", scan)
    run("ip", "netns", "add", target)
    run("ip", "link", "add", f"{args.name}s0", "type", "veth", "peer", "name", f"{args.name}t0")
    run("ip", "link", "set", f"{args.name}s0", "netns", scan)
    run("ip", "link", "set", f"{args.name}t0", "netns", target)
    for name, link in ((scan, f"{args.name}s0"), (target, f"{args.name}t0")):
        ns(name, "ip", "link", "set", "lo", "up")
        ns(name, "ip", "link", "set", link, "up")
        # Generous kernel limits: the lab must not be the bottleneck it is measuring.
        ns(name, "sysctl", "-qw", "net.core.somaxconn=65535", "net.ipv4.ip_local_port_range=1024 65535",
           "net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_msgs_per_sec=1000000", "net.ipv4.tcp_max_syn_backlog=65535",
           "net.ipv6.icmp.ratelimit=0", check=False)
    ns(scan, "ip", "addr", "add", "198.19.255.1/30", "dev", f"{args.name}s0")
    ns(target, "ip", "addr", "add", "198.19.255.2/30", "dev", f"{args.name}t0")
    ns(scan, "ip", "-6", "addr", "add", "2001:db8:ffff::1/126", "dev", f"{args.name}s0", "nodad")
    ns(target, "ip", "-6", "addr", "add", "2001:db8:ffff::2/126", "dev", f"{args.name}t0", "nodad")
    if family == 4:
        ns(scan, "ip", "route", "add", args.cidr, "via", "198.19.255.2")
        ns(target, "ip", "route", "add", "local", args.cidr, "dev", "lo")
    else:
        ns(scan, "ip", "-6", "route", "add", args.cidr, "via", "2001:db8:ffff::2")
        ns(target, "ip", "-6", "route", "add", "local", args.cidr, "dev", "lo")
    truth["faults"] = apply_faults(args, target)
    os.makedirs(STATE_DIR, exist_ok=True)
    if args.bare:
        # The caller starts its own servers on the block (e.g. the mail test bed); no firewall, no listener.
        return truth
    ns(target, "nft", "-f", "-", input=nft_ruleset(truth, family))

    # --no-listener: the firewall decides who answers, the caller's servers (e.g. nginx's mail proxy) do the answering.
    if not getattr(args, "no_listener", False):
        listener = subprocess.Popen(
            ["ip", "netns", "exec", target, sys.executable, os.path.abspath(__file__), "listen", "--ports",
             ",".join(map(str, ports))] + (["--greet"] if args.greet else []),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True, text=True)
        line = listener.stdout.readline().strip()
        if line != "ready":
            raise SystemExit("nslab: the listener did not start")
        with open(f"{STATE_DIR}/{args.name}.pid", "w") as handle:
            handle.write(str(listener.pid))
    out = json.dumps(truth)
    if args.truth:
        with open(args.truth, "w") as handle:
            handle.write(out)
    else:
        print(out)


def down(args, quiet=False):
    pidfile = f"{STATE_DIR}/{args.name}.pid"
    if os.path.exists(pidfile):
        try:
            pid = int(open(pidfile).read())
            os.killpg(pid, signal.SIGTERM)
            for _ in range(50):
                time.sleep(0.02)
                os.killpg(pid, 0)
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, ValueError, PermissionError):
            pass
        os.remove(pidfile)
    for suffix in ("s", "t"):
        run("ip", "netns", "delete", f"{args.name}-{suffix}", check=False)


def listen(args):
    """Accepts on every port (IPv4 and IPv6) and hangs up at once, optionally after a one-line greeting."""
    ports = [int(p) for p in args.ports.split(",")]
    selector = selectors.DefaultSelector()
    for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for port in ports:
            server = socket.socket(family, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            server.bind((host, port))
            server.listen(65535)
            server.setblocking(False)
            selector.register(server, selectors.EVENT_READ)
    greeting = b"220 nslab ESMTP\r\n" if args.greet else None
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        for key, _ in selector.select():
            while True:
                try:
                    conn, _ = key.fileobj.accept()
                except (BlockingIOError, ConnectionAbortedError):
                    break
                if greeting:
                    try:
                        conn.send(greeting)
                    except OSError:
                        pass
                conn.close()


def main():
    # A parent such as the Swift test runner may spawn us with SIGTERM and SIGINT blocked; children (the listener,
    # Postfix, Dovecot) would inherit that and could never be stopped. Start from an empty signal mask.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up")
    p_up.add_argument("--name", required=True)
    p_up.add_argument("--cidr", required=True)
    p_up.add_argument("--ports", default=",".join(map(str, DEFAULT_PORTS)))
    p_up.add_argument("--live", type=float, default=0.016)
    p_up.add_argument("--refuse", type=float, default=0.08)
    p_up.add_argument("--unreach", type=float, default=0.0)
    p_up.add_argument("--seed", type=int, default=1)
    p_up.add_argument("--delay-ms", type=float, default=0)
    p_up.add_argument("--loss", type=float, default=0)
    p_up.add_argument("--jitter-ms", type=float, default=0, help="netem jitter around --delay-ms")
    p_up.add_argument("--greet", action="store_true")
    p_up.add_argument("--truth")
    p_up.add_argument("--bare", action="store_true", help="only namespaces and routes: no nftables, no listener")
    p_up.add_argument("--no-listener", action="store_true", help="nftables as planned, but no listener (bring your own servers)")
    p_down = sub.add_parser("down")
    p_down.add_argument("--name", required=True)
    p_listen = sub.add_parser("listen")
    p_listen.add_argument("--ports", required=True)
    p_listen.add_argument("--greet", action="store_true")
    args = parser.parse_args()
    {"up": up, "down": down, "listen": listen}[args.command](args)


if __name__ == "__main__":
    main()
