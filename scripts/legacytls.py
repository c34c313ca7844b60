#!/usr/bin/env python3
"""A loopback IMAPS server that also answers legacy ClientHellos, for the tests of MailPort's hand-built probes.

Debian's OpenSSL 3 can neither offer nor serve SSLv3, EXPORT, RC4 or DES/3DES, so no real server here can show
what a legacy server answers. This one answers at the level MailPort looks at: a ClientHello for SSLv3, or one
offering only suites of an accepted legacy class, gets a ServerHello choosing the first offered suite (then the
connection is closed); one it does not accept gets a handshake_failure alert. Every other ClientHello gets a real
TLS handshake (Python's ssl, the test certificate) and a small IMAP dialog inside it.

  legacytls.py --address 127.95.5.1 --port 25993 --cert C --key K --accept sslv3,rc4,des,export

Prints "ready" once listening; runs until killed.
"""
import argparse
import os
import signal
import socket
import ssl
import struct
import threading

CLASSES = {
    "export": {0x0003, 0x0006, 0x0008, 0x000B, 0x000E, 0x0011, 0x0014, 0x0017, 0x0019, 0x0062, 0x0063, 0x0064, 0x0065},
    "rc4": {0x0004, 0x0005, 0x0018, 0xC002, 0xC007, 0xC00C, 0xC011, 0xC016},
    "des": {0x0009, 0x000A, 0x0012, 0x0013, 0x0015, 0x0016, 0x001A, 0x001B, 0xC003, 0xC008, 0xC00D, 0xC012, 0xC017},
}
SCSV = 0x00FF


def peek_hello(conn):
    """The ClientHello's (client_version, suites) without consuming it, or None."""
    conn.settimeout(3)
    data = b""
    for _ in range(50):
        data = conn.recv(4096, socket.MSG_PEEK)
        if len(data) >= 5 and len(data) >= 5 + struct.unpack(">H", data[3:5])[0]:
            break
        threading.Event().wait(0.02)
    if len(data) < 44 or data[0] != 22 or data[5] != 1:
        return None
    version = struct.unpack(">H", data[9:11])[0]
    at = 43
    at += 1 + data[at]                       # session id
    count = struct.unpack(">H", data[at:at + 2])[0]
    suites = [struct.unpack(">H", data[at + 2 + i:at + 4 + i])[0] for i in range(0, count, 2)]
    return version, [s for s in suites if s != SCSV]


def server_hello(version, suite):
    body = struct.pack(">H", version) + os.urandom(32) + b"\x00" + struct.pack(">H", suite) + b"\x00"
    handshake = b"\x02" + struct.pack(">I", len(body))[1:] + body
    return b"\x16" + struct.pack(">H", version) + struct.pack(">H", len(handshake)) + handshake


def serve(conn, context, accept):
    try:
        hello = peek_hello(conn)
        if hello is not None:
            version, suites = hello
            legacy = next((name for name, members in CLASSES.items() if suites and set(suites) <= members), None)
            if version == 0x0300 or legacy:
                wanted = "sslv3" if version == 0x0300 else legacy
                conn.recv(65536)
                if wanted in accept:
                    conn.sendall(server_hello(min(version, 0x0303), suites[0]))
                else:
                    conn.sendall(b"\x15\x03\x01\x00\x02\x02\x28")  # fatal handshake_failure
                return
        tls = context.wrap_socket(conn, server_side=True)
        tls.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] legacy lab ready\r\n")
        buffer = b""
        while True:
            chunk = tls.recv(4096)
            if not chunk:
                return
            buffer += chunk
            while b"\r\n" in buffer:
                line, buffer = buffer.split(b"\r\n", 1)
                tag, _, command = line.decode(errors="replace").partition(" ")
                if command.upper() == "CAPABILITY":
                    tls.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag.encode() + b" OK done\r\n")
                elif command.upper() == "LOGOUT":
                    tls.sendall(b"* BYE bye\r\n" + tag.encode() + b" OK done\r\n")
                    return
                else:
                    tls.sendall(tag.encode() + b" BAD unknown\r\n")
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--accept", default="")
    args = parser.parse_args()
    # A parent such as the Swift test runner may start us with SIGTERM blocked; unblock so we can be stopped.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    accept = {name for name in args.accept.split(",") if name}
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.address, args.port))
    listener.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, context, accept), daemon=True).start()


if __name__ == "__main__":
    main()
