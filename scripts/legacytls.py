"""A loopback IMAPS server that also answers hand-built legacy ClientHellos, for the tests of MailPort's probes.

Debian's OpenSSL 3 can neither offer nor serve SSLv3, EXPORT, RC4 or DES/3DES, so no real server here can show
what a legacy server answers. This one answers at the level MailPort looks at, negotiating as a real server would:
a ClientHello without TLS 1.3 suites (the hand-built probes) whose version is TLS 1.1 or older gets a ServerHello
with the newest accepted legacy version not above it (or a protocol_version alert); a TLS 1.2 one gets a ServerHello
choosing the first offered suite the server has enabled (a suite is enabled when every weak class it belongs to is
accepted) or a handshake_failure alert. Then the connection is closed. Every other ClientHello (OpenSSL's, with
TLS 1.3 suites) gets a real TLS handshake (Python's ssl, the test certificate) and a small IMAP dialog inside it.

  legacytls.py --address 127.95.5.1 --port 25993 --cert C --key K --accept sslv3,tls1,rc4,des,export
               [--hang-up] [--turn-away-after N]

--hang-up refuses by closing the connection without an alert (as Dovecot and SChannel do); --turn-away-after N
closes every connection after the first N at once, before reading anything (a server out of connection slots).

Prints "ready" once listening; runs until killed.
"""
import argparse
import os
import signal
import socket
import ssl
import struct
import threading

# The weak classes as MailPort's WeakCipherQuestion files them (a suite may be in several).
CLASSES = {
    "anonymous": {0x0017, 0x0018, 0x0019, 0x001A, 0x001B, 0x0034, 0x003A, 0x0046, 0x006C, 0x006D, 0x0089, 0x009B,
                  0x00A6, 0x00A7, 0xC015, 0xC016, 0xC017, 0xC018, 0xC019},
    "null": {0x0001, 0x0002, 0x003B, 0xC001, 0xC006, 0xC00B, 0xC010, 0xC015},
    "export": {0x0003, 0x0006, 0x0008, 0x000B, 0x000E, 0x0011, 0x0014, 0x0017, 0x0019, 0x0062, 0x0063, 0x0064, 0x0065},
    "rc4": {0x0003, 0x0004, 0x0005, 0x0017, 0x0018, 0x0064, 0x0065, 0xC002, 0xC007, 0xC00C, 0xC011, 0xC016},
    "des": {0x0008, 0x0009, 0x000A, 0x000B, 0x000C, 0x000D, 0x000E, 0x000F, 0x0010, 0x0011, 0x0012, 0x0013, 0x0014,
            0x0015, 0x0016, 0x0019, 0x001A, 0x001B, 0x0062, 0x0063, 0xC003, 0xC008, 0xC00D, 0xC012, 0xC017},
    "no-forward-secrecy": {0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x0007, 0x0008, 0x0009, 0x000A, 0x002F,
                           0x0035, 0x003B, 0x003C, 0x003D, 0x0041, 0x0084, 0x0096, 0x009C, 0x009D, 0x0062, 0x0064,
                           0xC001, 0xC002, 0xC003, 0xC004, 0xC005, 0xC00B, 0xC00C, 0xC00D, 0xC00E, 0xC00F,
                           0xC09C, 0xC09D, 0xC0A0, 0xC0A1},
}
VERSIONS = {"sslv3": 0x0300, "tls1": 0x0301, "tls1.1": 0x0302}
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


def serve(conn, context, accept, hang_up=False):
    try:
        hello = peek_hello(conn)
        if hello is not None and not any(0x1300 <= suite <= 0x13FF for suite in hello[1]):
            version, suites = hello
            conn.recv(65536)
            if version <= 0x0302:
                accepted = [VERSIONS[name] for name in accept if name in VERSIONS and VERSIONS[name] <= version]
                if accepted:
                    conn.sendall(server_hello(max(accepted), suites[0]))
                else:
                    if not hang_up:
                        conn.sendall(b"\x15\x03\x01\x00\x02\x02\x46")  # fatal protocol_version
            else:
                def enabled(suite):
                    classes = {name for name, members in CLASSES.items() if suite in members}
                    return bool(classes) and classes <= accept
                chosen = next((suite for suite in suites if enabled(suite)), None)
                if chosen is not None:
                    conn.sendall(server_hello(0x0303, chosen))
                else:
                    if not hang_up:
                        conn.sendall(b"\x15\x03\x03\x00\x02\x02\x28")  # fatal handshake_failure
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
    parser.add_argument("--hang-up", action="store_true")
    parser.add_argument("--turn-away-after", type=int, default=0)
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
    served = 0
    while True:
        conn, _ = listener.accept()
        served += 1
        if args.turn_away_after and served > args.turn_away_after:
            conn.close()
            continue
        threading.Thread(target=serve, args=(conn, context, accept, args.hang_up), daemon=True).start()


if __name__ == "__main__":
    main()
