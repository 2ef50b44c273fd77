#!/usr/bin/env bash
# Prints the path of coturn's `turnserver`, installing Debian's `coturn` package (apt) the first
# time. The web tests (web/tests/calls.test.mjs) start it on loopback themselves.
set -euo pipefail
if ! command -v turnserver >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends coturn >&2 ||
            { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends coturn >&2; }
    else
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends coturn >&2
    fi
fi
command -v turnserver
