#!/usr/bin/env python3
"""Makes the certificate variants the TLS tests serve (with Python's `cryptography`): a root CA, an intermediate,
a leaf for mail.test.mailport (and *.wild.test.mailport) issued by the intermediate, an expired and a not-yet-valid
leaf issued by the root. Test material only; the keys are throwaway.

  testcerts.py OUTDIR       writes root.pem, leaf.key, chain-full.pem (leaf + intermediate), chain-leaf-only.pem,
                            expired.pem/.key, future.pem/.key
"""
import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def certificate(subject, issuer, key, signing_key, not_before, not_after, ca=False, sans=()):
    builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


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
    for filename, data in files.items():
        with open(os.path.join(out, filename), "wb") as handle:
            handle.write(data)


if __name__ == "__main__":
    main()
