#!/usr/bin/env bash
# Prints the path of coturn's `turnserver`, installing Debian's `coturn` package with apt the
# first time (as root, or through sudo). Used to test Comet's calls through a real TURN relay;
# scripts/coturn-start.sh starts one on loopback.
set -euo pipefail
if ! command -v turnserver >/dev/null 2>&1 && [[ ! -x /usr/bin/turnserver ]]; then
    SUDO=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "coturn.sh: coturn is not installed and this is not root (no sudo)" >&2
            exit 1
        }
        SUDO=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no package lists yet.
    "${SUDO[@]}" apt-get install -y --no-install-recommends coturn >&2 ||
        { "${SUDO[@]}" apt-get update >&2 && "${SUDO[@]}" apt-get install -y --no-install-recommends coturn >&2; }
fi
command -v turnserver 2>/dev/null || echo /usr/bin/turnserver
