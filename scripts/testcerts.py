#!/usr/bin/env python3
"""Makes the certificate variants the TLS tests serve (with Python's `cryptography`): a root CA, an intermediate,
a leaf for mail.test.mailport (and *.wild.test.mailport) issued by the intermediate, an expired and a not-yet-valid
leaf issued by the root. Test material only; the keys are throwaway.

  testcerts.py OUTDIR       writes root.pem, leaf.key, chain-full.pem (leaf + intermediate), chain-leaf-only.pem,
                            expired.pem/.key, future.pem/.key, rsa1024.pem/.key, root-rsa.pem and sha1.pem/.key
                            (a SHA-1 signature from an RSA root)
"""
import datetime
import os
import subprocess
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def certificate(subject, issuer, key, signing_key, not_before, not_after, ca=False, sans=(), digest=None):
    builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    return builder.sign(signing_key, digest or hashes.SHA256())


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    year = datetime.timedelta(days=365)
    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = certificate("MailPort Test Root", "MailPort Test Root", root_key, root_key, now - year, now + 10 * year, ca=True)
    inter = certificate("MailPort Test Intermediate", "MailPort Test Root", inter_key, root_key, now - year,
                        now + 5 * year, ca=True)
    sans = ("mail.test.mailport", "*.wild.test.mailport")
    leaf = certificate("mail.test.mailport", "MailPort Test Intermediate", leaf_key, inter_key, now - year,
                       now + year, sans=sans)
    files = {"root.pem": pem(root), "leaf.key": key_pem(leaf_key), "chain-full.pem": pem(leaf) + pem(inter),
             "chain-leaf-only.pem": pem(leaf)}
    for label, start, end in (("expired", now - 3 * year, now - 2 * year), ("future", now + 2 * year, now + 3 * year)):
        key = ec.generate_private_key(ec.SECP256R1())
        files[f"{label}.pem"] = pem(certificate("mail.test.mailport", "MailPort Test Root", key, root_key, start, end,
                                                sans=sans))
        files[f"{label}.key"] = key_pem(key)
    # Weak variants, issued by the root: a 1024-bit RSA key, and a SHA-1 signature.
    weak_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    files["rsa1024.pem"] = pem(certificate("mail.test.mailport", "MailPort Test Root", weak_key, root_key, now - year,
                                           now + year, sans=sans))
    files["rsa1024.key"] = key_pem(weak_key)
    sha1_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_rsa = certificate("MailPort Test RSA Root", "MailPort Test RSA Root", root_rsa_key, root_rsa_key, now - year,
                           now + 10 * year, ca=True)
    files["root-rsa.pem"] = pem(root_rsa)
    files["root-rsa.key"] = key_pem(root_rsa_key)
    files["sha1.key"] = key_pem(sha1_key)
    for filename, data in files.items():
        with open(os.path.join(out, filename), "wb") as handle:
            handle.write(data)
    # `cryptography` refuses to sign with SHA-1; the openssl command line still does, as old CAs did.
    path = lambda name: os.path.join(out, name)  # noqa: E731
    with open(path("sha1.ext"), "w") as handle:
        handle.write("subjectAltName=DNS:mail.test.mailport\nbasicConstraints=CA:FALSE\n")
    subprocess.run(["openssl", "req", "-new", "-key", path("sha1.key"), "-subj", "/CN=mail.test.mailport",
                    "-out", path("sha1.csr")], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", path("sha1.csr"), "-CA", path("root-rsa.pem"), "-CAkey",
                    path("root-rsa.key"), "-CAcreateserial", "-sha1", "-days", "365", "-extfile", path("sha1.ext"),
                    "-out", path("sha1.pem")], check=True, capture_output=True)


if __name__ == "__main__":
    main()
