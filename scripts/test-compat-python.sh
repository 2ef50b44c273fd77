#!/usr/bin/env bash
# Python compatibility suite: drives a real Comet server with the unchanged
# PyPI client rocketchat-api (see compat/python/). Exits non-zero on failure.
#
# Env:
#   COMET_BIN      server binary (default: <repo>/target/debug/comet)
#   SKIP_BUILD=1   do not run cargo build (use an existing binary)
#   PYTHON         interpreter used to create the venv (default: python3)
#   PYTEST_TIMEOUT per-test timeout in seconds (default: 90)
# Extra arguments are passed to pytest (e.g. -k register, -x).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
SUITE_DIR="${REPO_ROOT}/compat/python"
VENV="${REPO_ROOT}/target/compat-venv"
PYTHON="${PYTHON:-python3}"
export COMET_BIN="${COMET_BIN:-${REPO_ROOT}/target/debug/comet}"

if [[ ! -x "${VENV}/bin/python" ]]; then
    echo "==> creating venv ${VENV}"
    mkdir -p "$(dirname "${VENV}")"
    "${PYTHON}" -m venv "${VENV}"
fi

echo "==> installing ${SUITE_DIR}/requirements.txt"
"${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "${SUITE_DIR}/requirements.txt"

if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    echo "==> cargo build -p comet-server --bin comet"
    (cd "${REPO_ROOT}" && cargo build -p comet-server --bin comet)
fi

if [[ ! -x "${COMET_BIN}" ]]; then
    echo "error: comet binary not found at ${COMET_BIN}" >&2
    exit 1
fi

echo "==> pytest (server: ${COMET_BIN})"
cd "${SUITE_DIR}"
exec "${VENV}/bin/python" -m pytest -q \
    --timeout="${PYTEST_TIMEOUT:-90}" \
    -p no:cacheprovider \
    "$@"
