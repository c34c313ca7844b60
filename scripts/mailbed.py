#!/usr/bin/env python3
"""The real-server test bed: Postfix and Dovecot from Debian, inside a namespace lab, one configuration per address.

  mailbed.py up [--name mpmail] [--certs | --defended | --relay]   prints the bed's description (JSON) once every server answers
  mailbed.py down [--name mpmail]
  mailbed.py login-relay --address IP [--ca-file FILE]   run in the scanner's namespace: logs in on IP:587 and asks
                                                         whether an outside recipient is taken then (JSON)

The lab (scripts/nslab.py --bare) makes 198.18.50.0/24 local in NAME-t; the scanner runs in NAME-s, whose only
route leads there. Addresses and what they are configured to do (the tests compare the scanner's facts with this):

  198.18.50.10 strict  SMTP 25/587: STARTTLS offered, AUTH only after TLS (587 requires TLS)
                       IMAP 143: STARTTLS, LOGINDISABLED    POP3 110: STLS, no USER/PLAIN before STLS
  198.18.50.11 lax     SMTP 25/587: STARTTLS offered, AUTH PLAIN LOGIN before TLS
                       IMAP 143: STARTTLS, plaintext LOGIN and AUTH=PLAIN allowed   POP3 110: STLS, USER before STLS
                       Dovecot (143/993/110/995) also accepts TLS 1.0 and 1.1
  198.18.50.12 plain   SMTP 25/587: no TLS at all, an open relay (mynetworks = 0.0.0.0/0, the classic mistake)
                       IMAP 143 and POP3 110: no TLS
  198.18.50.13 modern  what an administrator should run: SMTP 25 (STARTTLS, no AUTH; declare it MX), submission
                       587 (TLS required before AUTH) and 465 (implicit TLS), IMAPS 993 and POP3S 995 only;
                       TLS 1.2+ with forward-secret AEAD ciphers only; VRFY disabled
  (Debian's Postfix answers VRFY by default: the other hosts keep that.)

With --certs, one more address per certificate variant (scripts/testcerts.py), each with Dovecot on 993 and, where
Postfix can load the certificate, Postfix submissions on 465 (CA file: certs/roots.pem):

  198.18.50.20 full chain   .21 leaf without its intermediate   .22 expired   .23 not yet valid
  198.18.50.24 RSA-1024 (Dovecot only)   .25 SHA-1 signature (Dovecot only)   .26 self-signed

With --defended, instead of all the above (no Dovecot), Postfix hosts that defend themselves as servers on the
internet do (issue 17): SMTP 25 only, STARTTLS offered, no AUTH; each smtpd logs as postfix/NAME in postfix.log, so tests can count what it saw. Postfix's
anvil counts connections per client and service in a window of anvil_rate_time_unit, set to 10 s for the whole bed
(instead of 60 s, to keep tests short); the scanner's address is no exception:

  198.18.50.30 ratelimit  smtpd_client_connection_rate_limit = 3: the 4th connection in a window gets
                          "421 4.7.0 lab.mailport.test Error: too many connections from ..."; the modern host's TLS
                          policy (TLS 1.2+, no weak cipher class): every legacy or weak question is refused by TLS
  198.18.50.31 postscreen postscreen with its defaults (postscreen_greet_wait 6 s, pinned against stress's 2 s; greet banner "220-" then smtpd's
                          "220 "), except postscreen_greet_action = drop: a client that speaks early is cut off;
                          smtpd behind it keeps Debian's TLS defaults (TLS 1.0 and anonymous ciphers accepted)
  198.18.50.32 legacy     TLS 1.0 and 1.1 accepted (smtpd_tls_protocols >=TLSv1, medium ciphers at OpenSSL
                          security level 0), behind the same rate limit as .30

With --relay, besides the four hosts above, Postfix hosts that refuse the plain relay form but are configured to
miss one bypass form (issue 23), SMTP 25 only (STARTTLS offered, no AUTH), each with its own trivial-rewrite
instance (rewrite_service_name), since the rewriting settings are trivial-rewrite's, not smtpd's:

  198.18.50.14 percent  allow_percent_hack = no: user%domain stays a local part, so relaytest%example.org@[IP]
                        is mail for a local user once [IP] is local (proxy_interfaces = IP: the bed's addresses
                        are routes, not interfaces, so inet_interfaces = all never lists them)
  198.18.50.15 quoted   resolve_dequoted_address = no: "relaytest@example.org"@[IP] is not cracked open
  198.18.50.16 bang     swap_bangpath = no: example.org!relaytest@[IP] is not turned into relaytest@example.org
  198.18.50.17 byname   resolve_dequoted_address = no with mydestination = $myhostname and no proxy_interfaces:
                        every form routed through the address literal is refused before any rewriting (the
                        literal is not local), "relaytest@example.org"@lab.mailport.test is accepted
  Each also needs allow_untrusted_routing = yes (smtpd): trivial-rewrite flags any address whose local part still
  holds @, ! or % as sender-routed (resolve.c does so "even when we do not recognize ! or % as valid routing
  operators locally"), and reject_unauth_destination refuses routed addresses, local ones too, unless that is set
  (postconf(5), allow_untrusted_routing and reject_unauth_destination).

  Two of the relay check's forms cannot be missed by Postfix, whatever its configuration:
    source-route       <@[IP]:relaytest@example.org>: Postfix always strips a source route (the reply names
                       <relaytest@example.org>); no parameter keeps it (postconf(5) has none).
    quoted-local-part  <"relaytest@example.org">: smtpd keeps the address in internal (unquoted) form, which is
                       the plain address itself, so it resolves exactly as the plain form does, also with
                       resolve_dequoted_address = no (the reply names <relaytest@example.org>).
  Not a bed host: a backup MX with allow_untrusted_routing = yes accepts every routed form through a domain in
  relay_domains (relaytest%example.org@backup.test and the quoted and bang forms) with no other setting. The relay
  check does not try forms through a domain: it does not know the relay domains, and through an MX's own domain
  a catch-all mailbox would accept them as local mail (a false open relay).

Installs postfix, dovecot-imapd and dovecot-pop3d when missing (without starting Debian's own instances).
Everything lives under /run/mailport-mailbed/NAME; `down` stops the servers and removes the namespaces.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nslab  # noqa: E402

BASE = "/run/mailport-mailbed"
CIDR = "198.18.50.0/24"
HOSTS = {
    "strict": {"address": "198.18.50.10", "smtp_tls": "may", "submission_tls": "encrypt", "tls_auth_only": "yes",
               "dovecot_ssl": "yes", "plaintext_auth": "no"},
    "lax": {"address": "198.18.50.11", "smtp_tls": "may", "submission_tls": "may", "tls_auth_only": "no",
            "dovecot_ssl": "yes", "plaintext_auth": "yes", "legacy_tls": True},
    "plain": {"address": "198.18.50.12", "smtp_tls": "none", "submission_tls": "none", "tls_auth_only": "no",
              "dovecot_ssl": "no", "plaintext_auth": "yes", "smtpd": " -o mynetworks=0.0.0.0/0 -o smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination"},
    "modern": {"address": "198.18.50.13", "smtp_tls": "may", "submission_tls": "encrypt", "tls_auth_only": "yes",
               "dovecot_ssl": "required", "plaintext_auth": "no", "modern": True,
               "smtpd": " -o disable_vrfy_command=yes"},
}

# The modern host's TLS policy, as the Rules/ remediation texts recommend.
MODERN_POSTFIX = ("-o smtpd_tls_protocols=>=TLSv1.2 -o smtpd_tls_mandatory_protocols=>=TLSv1.2"
                  " -o smtpd_tls_exclude_ciphers=aNULL,eNULL,kRSA,EXPORT,DES,3DES,RC4,MD5"
                  " -o smtpd_tls_mandatory_exclude_ciphers=aNULL,eNULL,kRSA,EXPORT,DES,3DES,RC4,MD5")
MODERN_DOVECOT = "ssl_min_protocol = TLSv1.2\nssl_cipher_list = ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!kRSA\n"

# The defended hosts (--defended), Postfix only: what each adds to smtpd's options on port 25.
RATE_LIMIT = " -o smtpd_client_connection_rate_limit=3 -o smtpd_client_event_limit_exceptions="
DEFENDED_HOSTS = {
    "ratelimit": {"address": "198.18.50.30", "defended": RATE_LIMIT + " " + MODERN_POSTFIX},
    "postscreen": {"address": "198.18.50.31", "defended": "", "postscreen": True},
    "legacy": {"address": "198.18.50.32",
               "defended": RATE_LIMIT + " -o smtpd_tls_protocols=>=TLSv1 -o smtpd_tls_mandatory_protocols=>=TLSv1"
                           " -o smtpd_tls_ciphers=medium -o tls_medium_cipherlist=DEFAULT:@SECLEVEL=0"},
}
# The relay-bypass hosts (--relay), Postfix only, port 25: smtpd's options and their own trivial-rewrite's
# (see the description at the top).
RELAY_HOSTS = {
    "percent": {"address": "198.18.50.14", "relay_smtpd": "-o allow_untrusted_routing=yes",
                "relay_rewrite": "-o allow_percent_hack=no -o proxy_interfaces=198.18.50.14",
                "missed_form": "percent-hack"},
    "quoted": {"address": "198.18.50.15", "relay_smtpd": "-o allow_untrusted_routing=yes",
               "relay_rewrite": "-o resolve_dequoted_address=no -o proxy_interfaces=198.18.50.15",
               "missed_form": "quoted-with-literal"},
    "bang": {"address": "198.18.50.16", "relay_smtpd": "-o allow_untrusted_routing=yes",
             "relay_rewrite": "-o swap_bangpath=no -o proxy_interfaces=198.18.50.16", "missed_form": "bang-path"},
    "byname": {"address": "198.18.50.17", "relay_smtpd": "-o allow_untrusted_routing=yes -o mydestination=$myhostname",
               "relay_rewrite": "-o resolve_dequoted_address=no -o mydestination=$myhostname",
               "missed_form": "quoted-with-name"},
}

# The window anvil counts connections in (Postfix's default is 60 s).
ANVIL_TIME_UNIT = "10s"


# Certificate variants (--certs): address, chain file, key file, and whether Postfix serves it too (Debian's
# OpenSSL refuses to load a 1024-bit key or a SHA-1 signature at Postfix's security level; Dovecot is told
# @SECLEVEL=0 for those, as an old server would be).
CERT_VARIANTS = {
    "full": ("198.18.50.20", "chain-full.pem", "leaf.key", True),
    "leafonly": ("198.18.50.21", "chain-leaf-only.pem", "leaf.key", True),
    "expired": ("198.18.50.22", "expired.pem", "expired.key", True),
    "future": ("198.18.50.23", "future.pem", "future.key", True),
    "rsa1024": ("198.18.50.24", "rsa1024.pem", "rsa1024.key", False),
    "sha1": ("198.18.50.25", "sha1.pem", "sha1.key", False),
    "selfsigned": ("198.18.50.26", None, None, True),
}


def cert_hosts(directory, cert, key):
    """The variant hosts, in the shape of HOSTS, with their certificate files."""
    hosts = {}
    for variant, (address, chain, variant_key, postfix) in CERT_VARIANTS.items():
        hosts[f"cert-{variant}"] = {
            "address": address, "dovecot_ssl": "required", "plaintext_auth": "no", "implicit_only": True,
            "postfix": postfix, "weak": not postfix,
            "cert": f"{directory}/certs/{chain}" if chain else cert,
            "key": f"{directory}/certs/{variant_key}" if variant_key else key,
        }
    return hosts


def ports_of(host):
    """The ports a bed host listens on."""
    if "defended" in host or "relay_smtpd" in host:
        return (25,)
    if host.get("implicit_only"):
        return (993, 465) if host.get("postfix") else (993,)
    if host.get("modern"):
        return (25, 587, 465, 993, 995)
    return (25, 587, 143, 110)


def run(*args, check=True):
    result = subprocess.run(list(args), text=True, capture_output=True)
    if check and result.returncode != 0:
        raise SystemExit(f"mailbed: {' '.join(args)} failed: {result.stderr.strip()[:2000]}")
    return result


def daemon(*args):
    """Starts a program that daemonizes. Its output goes to a file, not a pipe: the daemon keeps the descriptors
    open, and waiting for a pipe's end would wait forever."""
    with open(f"{BASE}/daemon-start.log", "a") as log:
        if subprocess.run(list(args), stdout=log, stderr=log, stdin=subprocess.DEVNULL).returncode != 0:
            raise SystemExit(f"mailbed: {' '.join(args)} failed; see {BASE}/daemon-start.log")


def install():
    wanted = ["postfix", "dovecot-imapd", "dovecot-pop3d", "openssl"]
    missing = [p for p in wanted if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                                                   text=True).stdout.find("install ok installed") < 0]
    if not missing:
        return
    # Debian's packages would start their own system-wide instances; a policy-rc.d that says "no" prevents that.
    policy = "/usr/sbin/policy-rc.d"
    created_policy = not os.path.exists(policy)
    if created_policy:
        with open(policy, "w") as handle:
            handle.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
    try:
        subprocess.run(["debconf-set-selections"], input="postfix postfix/main_mailer_type select No configuration\n",
                       text=True, check=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if subprocess.run(["apt-get", "install", "-y", "-qq"] + missing, env=env, capture_output=True).returncode != 0:
            run("apt-get", "update", "-qq")
            subprocess.run(["apt-get", "install", "-y", "-qq"] + missing, env=env, check=True, capture_output=True)
    finally:
        if created_policy:
            os.remove(policy)


def make_certificate(directory):
    key, cert = f"{directory}/key.pem", f"{directory}/cert.pem"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "365",
        "-subj", "/CN=lab.mailport.test", "-addext", "subjectAltName=DNS:lab.mailport.test")
    os.chmod(key, 0o644)  # the test bed's throwaway key; Dovecot's and Postfix's unprivileged processes read it
    return cert, key


def postfix_config(directory, cert, key, extra_hosts=None, defended=False, relay=False):
    config = f"{directory}/postfix"
    os.makedirs(config)
    for sub in ("queue", "data"):
        os.makedirs(f"{directory}/postfix-{sub}")
    shutil.chown(f"{directory}/postfix-data", "postfix")
    main = f"""
compatibility_level = 3.6
queue_directory = {directory}/postfix-queue
data_directory = {directory}/postfix-data
mail_owner = postfix
myhostname = lab.mailport.test
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = all
inet_protocols = ipv4
maillog_file_prefixes = /run, /var, /dev/stdout
maillog_file = {directory}/postfix.log
smtpd_banner = $myhostname ESMTP Postfix (Debian/GNU)
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_sasl_type = dovecot
smtpd_sasl_path = {directory}/dovecot-HOST/auth-client
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
relay_domains = regexp:{config}/relay-domains
"""
    # The domains of the domain-mode tests (*.test) are taken in, as an MX takes its domains' mail (it is asked
    # RCPT TO:<postmaster@DOMAIN>); refused.test is the one it turns away, and its own name stays outside.
    with open(f"{config}/relay-domains", "w") as handle:
        handle.write("if /\\.test$/\nif !/^(refused\\.test|lab\\.mailport\\.test)$/\n/./ OK\nendif\nendif\n")
    if defended:
        main += f"anvil_rate_time_unit = {ANVIL_TIME_UNIT}\n"
    with open(f"{config}/main.cf", "w") as handle:
        handle.write(main.replace("dovecot-HOST", "dovecot-lax"))
    lines = [
        "postlog unix-dgram n - n - 1 postlogd",
        "pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
        "rewrite unix - - n - - trivial-rewrite", "bounce unix - - n - 0 bounce", "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify", "flush unix n - n 1000? 0 flush",
        "proxymap unix - - n - - proxymap", "smtp unix - - n - - smtp", "relay unix - - n - - smtp",
        "error unix - - n - - error", "retry unix - - n - - error", "discard unix - - n - - discard",
        "local unix - n n - - local", "virtual unix - n n - - virtual", "lmtp unix - - n - - lmtp",
        "anvil unix - - n - 1 anvil", "scache unix - - n - 1 scache", "tlsmgr unix - - n 1000? 1 tlsmgr",
        "showq unix n - n - - showq",
    ]
    for name, host in (extra_hosts or {}).items():
        if host.get("postfix"):
            lines.append(
                f"{host['address']}:465 inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt"
                f" -o smtpd_tls_chain_files={host['key']},{host['cert']} -o smtpd_sasl_auth_enable=no")
    for name, host in (DEFENDED_HOSTS if defended else {}).items():
        # Each logs under its own name (postfix/ratelimit/smtpd[PID]: ...), so tests can count what each server saw.
        options = (f"-o syslog_name=postfix/{name} -o smtpd_tls_security_level=may -o smtpd_sasl_auth_enable=no"
                   f"{host['defended']}")
        if host.get("postscreen"):
            # postscreen hands a client that passed its tests to the "smtpd" pass service (smtpd_service_name).
            # The greet wait pinned at its normal 6 s: Postfix's default, ${stress?{2}:{6}}s, drops to 2 s when the
            # master runs postscreen under stress, and one CI run audited this host in 5.2 s, which only a shorter
            # wait explains (the test holds the audit to the greet wait).
            lines.append(f"{host['address']}:25 inet n - n - 1 postscreen -o postscreen_greet_action=drop"
                         " -o postscreen_greet_wait=6s")
            lines.append(f"smtpd pass - - n - - smtpd {options}")
        else:
            lines.append(f"{host['address']}:25 inet n - n - - smtpd {options}")
    for name, host in (RELAY_HOSTS if relay else {}).items():
        lines.append(f"{host['address']}:25 inet n - n - - smtpd -o syslog_name=postfix/{name}"
                     f" -o smtpd_tls_security_level=may -o smtpd_sasl_auth_enable=no"
                     f" -o rewrite_service_name=rewrite-{name} {host['relay_smtpd']}")
        lines.append(f"rewrite-{name} unix - - n - - trivial-rewrite {host['relay_rewrite']}")
    for name, host in ({} if defended else HOSTS).items():
        sasl_path = f"{directory}/dovecot-{name}/auth-client"
        services = [(25, host["smtp_tls"], ""), (587, host["submission_tls"], "")]
        if host.get("modern"):
            services.append((465, "encrypt", " -o smtpd_tls_wrappermode=yes"))
        for port, level, extra in services:
            sasl = "yes" if port != 25 or name == "lax" else "no"
            policy = f" {MODERN_POSTFIX}" if host.get("modern") else ""
            lines.append(
                f"{host['address']}:{port} inet n - n - - smtpd -o smtpd_tls_security_level={level}"
                f" -o smtpd_tls_auth_only={host['tls_auth_only']} -o smtpd_sasl_auth_enable={sasl}"
                f" -o smtpd_sasl_path={sasl_path}{extra}{policy}{host.get('smtpd', '')}")
    with open(f"{config}/master.cf", "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return config


def dovecot_config(directory, name, host, cert, key):
    base = f"{directory}/dovecot-{name}"
    os.makedirs(base)
    ssl_lines = f"ssl = {host['dovecot_ssl']}\n"
    if host["dovecot_ssl"] != "no":
        ssl_lines += f"ssl_cert = <{cert}\nssl_key = <{key}\n"
    if host.get("legacy_tls"):
        # TLS 1.0 and 1.1 as an old server would allow them (OpenSSL 3 needs security level 0 for that).
        ssl_lines += "ssl_min_protocol = TLSv1\nssl_cipher_list = ALL:@SECLEVEL=0\n"
    if host.get("modern"):
        ssl_lines += MODERN_DOVECOT
    if host.get("weak"):
        ssl_lines += "ssl_cipher_list = ALL:@SECLEVEL=0\n"
    # The modern and certificate hosts close the plaintext ports (port 0: no listener).
    plaintext = 0 if host.get("modern") or host.get("implicit_only") else None
    listeners_imap = f"inet_listener imap {{\n port = {plaintext if plaintext is not None else 143}\n }}\n"
    listeners_pop3 = f"inet_listener pop3 {{\n port = {plaintext if plaintext is not None else 110}\n }}\n"
    if host["dovecot_ssl"] != "no":
        listeners_imap += "inet_listener imaps {\n port = 993\n ssl = yes\n }\n"
        listeners_pop3 += "inet_listener pop3s {\n port = 995\n ssl = yes\n }\n"
    config = f"""
base_dir = {base}/run
instance_name = mailport-{name}
state_dir = {base}/state
listen = {host['address']}
protocols = imap pop3
log_path = {base}/dovecot.log
{ssl_lines}
disable_plaintext_auth = {"no" if host['plaintext_auth'] == "yes" else "yes"}
auth_mechanisms = plain login
passdb {{
  driver = static
  args = password=mailport-lab-password
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={base}/home
}}
mail_location = maildir:~/Maildir
service imap-login {{
{listeners_imap}}}
service pop3-login {{
{listeners_pop3}}}
service auth {{
  unix_listener {base}/auth-client {{
    mode = 0666
  }}
}}
"""
    path = f"{base}/dovecot.conf"
    with open(path, "w") as handle:
        handle.write(config)
    return path


def wait_for(namespace, address, port, deadline):
    while time.monotonic() < deadline:
        probe = subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-c",
                                f"import socket; socket.create_connection(('{address}', {port}), 1).close()"],
                               capture_output=True)
        if probe.returncode == 0:
            return True
        time.sleep(0.2)
    return False


def up(args):
    if os.geteuid() != 0:
        raise SystemExit("mailbed: needs root (packages, network namespaces)")
    install()
    down(args)
    directory = f"{BASE}/{args.name}"
    os.makedirs(directory, exist_ok=True)
    os.chmod(BASE, 0o755)
    nslab.up(argparse.Namespace(name=args.name, cidr=CIDR, ports="25", live=0, refuse=0, unreach=0, seed=1,
                                delay_ms=0, loss=0, greet=False, truth=None, bare=True))
    target = f"{args.name}-t"
    cert, key = make_certificate(directory)
    extra = {}
    if args.certs:
        run(sys.executable, f"{HERE}/testcerts.py", f"{directory}/certs")
        for name in os.listdir(f"{directory}/certs"):
            os.chmod(f"{directory}/certs/{name}", 0o644)  # throwaway test keys, read by unprivileged processes
        with open(f"{directory}/certs/roots.pem", "w") as roots:
            for root in ("root.pem", "root-rsa.pem"):  # not the bed's self-signed certificate: .26 stays untrusted
                roots.write(open(f"{directory}/certs/{root}").read())
        extra = cert_hosts(directory, cert, key)
    hosts = DEFENDED_HOSTS if args.defended else {**HOSTS, **extra, **(RELAY_HOSTS if args.relay else {})}
    for name, host in ({} if args.defended else {**HOSTS, **extra}).items():
        config = dovecot_config(directory, name, host, host.get("cert", cert), host.get("key", key))
        daemon("ip", "netns", "exec", target, "dovecot", "-c", config)
    postfix = postfix_config(directory, cert, key, extra, defended=args.defended, relay=args.relay)
    daemon("ip", "netns", "exec", target, "postfix", "-c", postfix, "start")
    deadline = time.monotonic() + 30
    # The readiness checks connect too: anvil counts those connections, postscreen logs them as hang-ups.
    for host in hosts.values():
        for port in ports_of(host):
            if not wait_for(f"{args.name}-s", host["address"], port, deadline):
                raise SystemExit(f"mailbed: {host['address']}:{port} did not come up; see {directory}")
    print(json.dumps({"name": args.name, "scanner": f"{args.name}-s", "hosts": hosts, "directory": directory}))


def down(args):
    directory = f"{BASE}/{args.name}"
    target = f"{args.name}-t"
    if os.path.isdir(f"{directory}/postfix"):
        run("ip", "netns", "exec", target, "postfix", "-c", f"{directory}/postfix", "stop", check=False)
    # Each Dovecot takes seconds to stop: all at once.
    stopping = []
    for entry in (os.listdir(directory) if os.path.isdir(directory) else []):
        config = f"{directory}/{entry}/dovecot.conf"
        if entry.startswith("dovecot-") and os.path.exists(config):
            stopping.append(subprocess.Popen(["ip", "netns", "exec", target, "doveadm", "-c", config, "stop"],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for process in stopping:
        process.wait()
    nslab.down(argparse.Namespace(name=args.name), quiet=True)
    shutil.rmtree(directory, ignore_errors=True)


# Every Dovecot of the bed has a static passdb: any user name with this password logs in (labuser is the one the
# tests use). Postfix's submission ports authenticate through it (smtpd_sasl_type = dovecot).
LAB_USER = "labuser"
LAB_PASSWORD = "mailport-lab-password"


def login_relay(args):
    """The server's own truth about relaying after AUTH, which the scanner (never logging in) cannot see: on
    IP:587, STARTTLS, the relay question without a login, AUTH PLAIN as a bed user, the same question again. One
    transaction each, reset; never DATA. Prints the replies and every command sent (the credential masked)."""
    import base64
    import smtplib
    import ssl
    sent = []

    def ask(client, command, shown=None):
        sent.append(shown or command)
        code, text = client.docmd(command)
        return [code, text.decode("utf-8", "replace")]

    def relay_question(client):
        mail = ask(client, "MAIL FROM:<mailport-relay-check@example.net>")
        rcpt = ask(client, "RCPT TO:<relaytest@example.org>")
        ask(client, "RSET")
        return {"mail": mail, "rcpt": rcpt}

    context = ssl.create_default_context(cafile=args.ca_file)
    context.check_hostname = False  # the bed's certificate names lab.mailport.test; this connects by address
    client = smtplib.SMTP(args.address, 587, timeout=15)
    sent.append("EHLO mailport.invalid")
    client.ehlo("mailport.invalid")
    sent.append("STARTTLS")
    client.starttls(context=context)
    sent.append("EHLO mailport.invalid")
    client.ehlo("mailport.invalid")
    before = relay_question(client)
    token = base64.b64encode(f"\0{LAB_USER}\0{LAB_PASSWORD}".encode()).decode()
    auth = ask(client, f"AUTH PLAIN {token}", shown="AUTH PLAIN (credential)")
    after = relay_question(client)
    sent.append("QUIT")
    client.quit()
    print(json.dumps({"before": before, "auth": auth, "after": after, "sent": sent}))


def main():
    # A parent such as the Swift test runner may spawn us with SIGTERM and SIGINT blocked; children (the listener,
    # Postfix, Dovecot) would inherit that and could never be stopped. Start from an empty signal mask.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "login-relay"])
    parser.add_argument("--address", help="login-relay: the submission host")
    parser.add_argument("--ca-file", help="login-relay: the bed's certificate")
    parser.add_argument("--name", default="mpmail")
    hosts = parser.add_mutually_exclusive_group()
    hosts.add_argument("--certs", action="store_true", help="also the certificate-variant hosts (.20-.26)")
    hosts.add_argument("--defended", action="store_true",
                        help="only the self-defending Postfix hosts (.30-.32), no Dovecot")
    hosts.add_argument("--relay", action="store_true",
                       help="also the Postfix hosts that miss one relay bypass form (.14-.17)")
    args = parser.parse_args()
    {"up": up, "down": down, "login-relay": login_relay}[args.command](args)


if __name__ == "__main__":
    main()
