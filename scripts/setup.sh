#!/usr/bin/env bash
# Installs what MailPort needs to build and test on Debian 12, and nothing that is already there.
#   build: pkg-config, libssl-dev (OpenSSL 3), libpcap-dev
#   tests (with --tests): iproute2 and nftables (namespace labs), python3 with jsonschema (report schema checks)
#          and prometheus_client (the .prom report through Prometheus' text parser),
#          chromium + chromium-driver + selenium (the HTML report in a real browser), libxml2-utils (xmllint
#          validates JUnit XML), PyYAML (scripts/examples.py parses the CI and Kubernetes examples)
# Safe to run again; uses sudo only when not root.
set -euo pipefail

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

packages=(pkg-config libssl-dev libpcap-dev iproute2 nftables python3)
if [ "${1:-}" = "--tests" ]; then packages+=(chromium chromium-driver libxml2-utils); fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Tests: jsonschema checks reports against the schema; cryptography makes the test certificates; selenium drives
# Chromium through chromedriver; rfc3987 lets jsonschema's format checker check URI formats (without it they are
# skipped silently, and SARIF locations could never fail the check); prometheus_client's parser reads the .prom
# report as Prometheus would. The Debian package name is python3- and the module name with - for _.
modules=(jsonschema cryptography)
if [ "${1:-}" = "--tests" ]; then modules+=(selenium rfc3987 prometheus_client); fi
for module in "${modules[@]}"; do
    if ! python3 -c "import $module" 2>/dev/null; then
        echo "setup: installing python $module"
        python3 -m pip install --quiet "$module" 2>/dev/null \
            || { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "python3-${module//_/-}" >/dev/null; }
    fi
done
# Tests: PyYAML parses the CI and Kubernetes examples (scripts/examples.py).
if [ "${1:-}" = "--tests" ] && ! python3 -c "import yaml" 2>/dev/null; then
    echo "setup: installing python yaml"
    python3 -m pip install --quiet PyYAML 2>/dev/null \
        || { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-yaml >/dev/null; }
fi

command -v swift >/dev/null || { echo "setup: swift is not on PATH; install the Swift toolchain first" >&2; exit 1; }
