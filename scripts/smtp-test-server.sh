#!/usr/bin/env bash
# Prints the path of a test mail server (scripts/smtp_sink.py: aiosmtpd writing each message
# it receives to a directory), installing the PyPI package aiosmtpd into target/tools-venv
# the first time. Installs nothing system-wide. The tests run it as
# `$SMTP_SERVER_BIN --port PORT --dir DIRECTORY`.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REPO_ROOT}/target/tools-venv"
SERVER="${VENV}/bin/comet-smtp-sink"
if ! "${VENV}/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
    mkdir -p "${REPO_ROOT}/target"
    [[ -x "${VENV}/bin/python" ]] || "${PYTHON:-python3}" -m venv "${VENV}" >&2
    "${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check \
        'aiosmtpd==1.4.6' >&2
fi
# A launcher naming this checkout's sink, rewritten each time so it follows the script.
cat > "${SERVER}.tmp" <<LAUNCHER
#!/bin/sh
exec "${VENV}/bin/python" "${REPO_ROOT}/scripts/smtp_sink.py" "\$@"
LAUNCHER
chmod +x "${SERVER}.tmp"
mv "${SERVER}.tmp" "${SERVER}"
echo "${SERVER}"
