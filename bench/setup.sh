#!/usr/bin/env bash
# Install what the benchmark harness needs (idempotent): nginx and wrk from Debian's
# packages, py-spy from PyPI into the project's virtual environment.
# Usage: bash bench/setup.sh   (as root, or with sudo available)
set -euo pipefail

cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]} (Debian packages)"
    $SUDO apt-get update -qq
    # nginx-light is gone from newer Debian releases; plain nginx works the same here.
    if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; then
        missing=("${missing[@]/nginx-light/nginx}")
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
    fi
    # The package starts a system nginx on port 80; the harness runs its own.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
        $SUDO systemctl stop nginx || true
    fi
fi

if [ ! -x "$VENV/bin/py-spy" ]; then
    echo "installing py-spy into $VENV (PyPI)"
    "$VENV/bin/python" -m pip install --quiet py-spy
fi

echo "bench setup ok: $(command -v nginx || echo /usr/sbin/nginx), $(command -v wrk), $VENV/bin/py-spy"
