#!/usr/bin/env bash
# Node compatibility suite: drives a real Comet server with the unchanged npm
# package @rocket.chat/ddp-client (see compat/node/). Exits non-zero on failure.
#
# Env:
#   COMET_BIN          server binary (default: <repo>/target/debug/comet)
#   SKIP_BUILD=1       do not run cargo build (use an existing binary)
#   NODE_TEST_TIMEOUT  per-test timeout in ms (default: 60000)
# Extra arguments are passed to `node --test` (e.g. --test-name-pattern=typing).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
SUITE_DIR="${REPO_ROOT}/compat/node"
export COMET_BIN="${COMET_BIN:-${REPO_ROOT}/target/debug/comet}"

cd "${SUITE_DIR}"

echo "==> npm ci (${SUITE_DIR})"
# @rocket.chat/message-parser declares node 22; it works on Node 20, so the
# EBADENGINE warning is expected there.
npm ci --no-audit --no-fund --loglevel=error

if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    echo "==> cargo build -p comet-server --bin comet"
    (cd "${REPO_ROOT}" && cargo build -p comet-server --bin comet)
fi

if [[ ! -x "${COMET_BIN}" ]]; then
    echo "error: comet binary not found at ${COMET_BIN}" >&2
    exit 1
fi

# ddp-client uses the global WebSocket: built in from Node 22, behind a flag on Node 20.
NODE_FLAGS=()
if ! node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' 2>/dev/null; then
    NODE_FLAGS+=(--experimental-websocket)
fi

echo "==> node --test (server: ${COMET_BIN})"
exec node "${NODE_FLAGS[@]}" --test \
    --test-timeout="${NODE_TEST_TIMEOUT:-60000}" \
    "$@" \
    ddp-client.test.mjs
