#!/usr/bin/env python3
"""Scripted MTA-STS policy web servers for domain-mode tests: HTTPS on port 443 of each listed address (inside the
test's own namespace, or on loopback with --port), each serving one behaviour. Certificates come from a throwaway CA
made at start-up and written to --ca-out, so the scanner can trust it with --ca-file.

  policylab.py CONFIG.json --ca-out CA.pem [--port 443]      prints "ready" once every listener is up; runs until killed

CONFIG.json: {"hosts": [{"address": "198.18.50.60", "name": "mta-sts.good.test", "behaviour": "serve",
                         "body": "version: STSv1\\nmode: enforce\\n..."}, ...]}

Behaviours:
  serve      200, text/plain, the body                 html      200, text/html, the body
  redirect   301 to https://elsewhere.test/policy      notfound  404
  big        200, text/plain, 100 KiB of mx lines      slow      the handshake, then nothing at all (never answers)
  badcert    serve, but with a certificate for another name (www.elsewhere.test) from the same CA
Each request is logged to stderr as one line ("GET 198.18.50.60 mta-sts.good.test /.well-known/mta-sts.txt").
"""
import argparse
import datetime
import json
import socket
import ssl
import sys
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MailPort policy lab CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_leaf(ca_key, ca_cert, dns_name):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def context_for(ca_key, ca_cert, dns_name, folder):
    key, cert = make_leaf(ca_key, ca_cert, dns_name)
    path = f"{folder}/{dns_name}.pem"
    with open(path, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(path)
    return context


def response(status, reason, content_type, body):
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n")
    return head.encode() + body


def serve_connection(connection, host):
    connection.settimeout(10)
    try:
        request = b""
        while b"\r\n\r\n" not in request and len(request) < 8192:
            chunk = connection.recv(4096)
            if not chunk:
                return
            request += chunk
        first = request.split(b"\r\n", 1)[0].decode("latin-1")
        print(f"{first.split(' ')[0]} {host['address']} {host['name']} {first.split(' ')[1] if ' ' in first else ''}",
              file=sys.stderr, flush=True)
        behaviour = host["behaviour"]
        body = host.get("body", "").encode()
        if behaviour == "slow":
            time.sleep(60)
            return
        if behaviour == "redirect":
            reply = (b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere.test/policy\r\n"
                     b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        elif behaviour == "notfound":
            reply = response(404, "Not Found", "text/plain", b"no policy here\n")
        elif behaviour == "html":
            reply = response(200, "OK", "text/html; charset=utf-8", body)
        elif behaviour == "big":
            lines = b"version: STSv1\nmode: enforce\nmax_age: 604800\n"
            lines += b"".join(b"mx: mx%06d.example.org\n" % n for n in range(5000))
            reply = response(200, "OK", "text/plain", lines)
        else:  # serve, badcert
            reply = response(200, "OK", "text/plain; charset=utf-8", body)
        connection.sendall(reply)
    except (OSError, ssl.SSLError) as error:
        print(f"error {host['address']}: {error}", file=sys.stderr, flush=True)
    finally:
        try:
            connection.close()
        except OSError:
            pass


def listen(host, context, port):
    family = socket.AF_INET6 if ":" in host["address"] else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host["address"], port))
    server.listen(16)

    def accept_loop():
        while True:
            raw, _ = server.accept()
            def handle(raw=raw):
                try:
                    raw.settimeout(10)
                    connection = context.wrap_socket(raw, server_side=True)
                except (OSError, ssl.SSLError) as error:
                    print(f"handshake {host['address']}: {error}", file=sys.stderr, flush=True)
                    raw.close()
                    return
                serve_connection(connection, host)
            threading.Thread(target=handle, daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--ca-out", required=True)
    parser.add_argument("--port", type=int, default=443)
    args = parser.parse_args()
    config = json.load(open(args.config))
    ca_key, ca_cert = make_ca()
    with open(args.ca_out, "wb") as out:
        out.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    folder = tempfile.mkdtemp(prefix="policylab-")
    for host in config["hosts"]:
        name = "www.elsewhere.test" if host["behaviour"] == "badcert" else host["name"]
        listen(host, context_for(ca_key, ca_cert, name, folder), args.port)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
