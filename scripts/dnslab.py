#!/usr/bin/env python3
"""A scripted recursive-resolver stand-in for domain-mode tests: answers A, AAAA, CNAME, MX and SRV questions from a
JSON zone file over UDP and TCP (TXT too: a string, or a list of character-strings), and misbehaves on purpose where
the file says so.

  dnslab.py ZONE.json --address 198.18.50.53 [--port 53]      runs until killed; prints "ready" once listening

ZONE.json:
  {"records": [["good.test", "MX", [10, "mx.good.test"]], ["mx.good.test", "A", "198.18.50.13"],
               ["_imaps._tcp.good.test", "SRV", [0, 1, 993, "mx.good.test"]], ["www.good.test", "CNAME", "good.test"]],
   "servfail": ["broken.test"],      names (and everything below them) answered SERVFAIL
   "refused": [],                    ... answered REFUSED
   "drop": ["slow.test"],            ... never answered (the client times out)
   "truncate": ["big.test"],         ... answered over UDP with TC set and no records, in full over TCP
   "authenticated": [".", "signed.test"]}  answers for these names (and below) carry the AD bit, as a validating
                                     resolver's do for signed zones; "." is the root zone (its SOA is what clients ask
                                     to learn whether the resolver validates)

A name under no record's name and no behaviour gets NXDOMAIN; a name with records of other types gets NOERROR and
an empty answer (NODATA). CNAMEs are followed inside the answer, as a recursive resolver does. Each answer is logged
to stderr as one line, so a test can see which questions came over which transport.
"""
import argparse
import ipaddress
import json
import socket
import socketserver
import struct
import sys
import threading

TYPES = {"A": 1, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33, "TLSA": 52}
NAMES = {value: key for key, value in TYPES.items()}


def encode_name(name):
    if name in (".", ""):
        return b"\x00"
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode()
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def decode_question(message):
    offset, labels = 12, []
    while message[offset]:
        length = message[offset]
        labels.append(message[offset + 1:offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    qtype, _ = struct.unpack("!HH", message[offset + 1:offset + 5])
    return ".".join(labels).lower(), qtype, message[12:offset + 5]


def rdata(kind, value):
    if kind == "A":
        return ipaddress.IPv4Address(value).packed
    if kind == "AAAA":
        return ipaddress.IPv6Address(value).packed
    if kind == "CNAME":
        return encode_name(value)
    if kind == "MX":
        return struct.pack("!H", value[0]) + encode_name(value[1])
    if kind == "SRV":
        return struct.pack("!HHH", value[0], value[1], value[2]) + encode_name(value[3])
    if kind == "TXT":
        # One record: a string (cut into 255-byte character-strings) or a list of strings, one each.
        raw = [value.encode()] if isinstance(value, str) else [part.encode() for part in value]
        chunks = [part[i:i + 255] for part in raw for i in range(0, max(len(part), 1), 255)]
        return b"".join(bytes([len(chunk)]) + chunk for chunk in chunks)
    if kind == "TLSA":
        return struct.pack("!BBB", value[0], value[1], value[2]) + bytes.fromhex(value[3])
    raise ValueError(kind)


class Zone:
    def __init__(self, spec):
        self.records = [(name.lower().rstrip("."), kind, value) for name, kind, value in spec.get("records", [])]
        self.behaviours = {key: [n.lower() for n in spec.get(key, [])] for key in ("servfail", "refused", "drop", "truncate")}
        self.authenticated = [n.lower().rstrip(".") for n in spec.get("authenticated", [])]

    def is_authenticated(self, name):
        return any(n == name or (n and name.endswith("." + n)) for n in self.authenticated)

    def behaviour(self, name):
        for key, names in self.behaviours.items():
            if any(name == n or name.endswith("." + n) for n in names):
                return key
        return None

    def exists(self, name):
        return any(owner == name or owner.endswith("." + name) for owner, _, _ in self.records)

    def answer(self, name, qtype):
        """(rcode, [(owner, kind, value)]) with CNAMEs followed."""
        answers, current = [], name
        for _ in range(8):
            aliases = [r for r in self.records if r[0] == current and r[1] == "CNAME"]
            if aliases and qtype != TYPES["CNAME"]:
                answers.append(aliases[0])
                current = aliases[0][2].lower().rstrip(".")
                continue
            break
        answers += [r for r in self.records if r[0] == current and TYPES[r[1]] == qtype]
        if not answers and name and not self.exists(name):
            return 3, []
        return 0, answers


def respond(zone, message, transport):
    if len(message) < 17:
        return None
    ident, = struct.unpack("!H", message[:2])
    name, qtype, question = decode_question(message)
    behaviour = zone.behaviour(name)
    flags, records = 0x8180, []  # response, RD, RA
    if behaviour == "drop":
        print(f"{transport} {name} {NAMES.get(qtype, qtype)} dropped", file=sys.stderr, flush=True)
        return None
    if behaviour == "servfail":
        flags |= 2
    elif behaviour == "refused":
        flags |= 5
    elif behaviour == "truncate" and transport == "udp":
        flags |= 0x0200
    else:
        rcode, records = zone.answer(name, qtype)
        flags |= rcode
        if zone.is_authenticated(name):
            flags |= 0x0020
    body = b""
    for owner, kind, value in records:
        data = rdata(kind, value)
        body += encode_name(owner) + struct.pack("!HHIH", TYPES[kind], 1, 60, len(data)) + data
    print(f"{transport} {name or '.'} {NAMES.get(qtype, qtype)} rcode={flags & 15} tc={bool(flags & 0x200)} "
          f"ad={bool(flags & 0x20)} answers={len(records)}",
          file=sys.stderr, flush=True)
    return struct.pack("!HHHHHH", ident, flags, 1, len(records), 0, 0) + question + body


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zone")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=53)
    args = parser.parse_args()
    zone = Zone(json.load(open(args.zone)))
    family = socket.AF_INET6 if ":" in args.address else socket.AF_INET

    class UDP(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            reply = respond(zone, data, "udp")
            if reply:
                sock.sendto(reply, self.client_address)

    class TCP(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(5)
            header = self.request.recv(2, socket.MSG_WAITALL)
            if len(header) < 2:
                return
            length, = struct.unpack("!H", header)
            reply = respond(zone, self.request.recv(length, socket.MSG_WAITALL), "tcp")
            if reply:
                self.request.sendall(struct.pack("!H", len(reply)) + reply)

    class UDPServer(socketserver.ThreadingUDPServer):
        address_family = family
        allow_reuse_address = True

    class TCPServer(socketserver.ThreadingTCPServer):
        address_family = family
        allow_reuse_address = True
        daemon_threads = True

    udp = UDPServer((args.address, args.port), UDP)
    tcp = TCPServer((args.address, args.port), TCP)
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    print("ready", flush=True)
    udp.serve_forever()


if __name__ == "__main__":
    main()
