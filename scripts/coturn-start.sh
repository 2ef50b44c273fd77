#!/usr/bin/env bash
# Starts coturn's turnserver on 127.0.0.1 for tests, with coturn's REST-API credentials
# (use-auth-secret) under the given shared secret, and prints the port it listens on (TCP and
# UDP). The server runs in the background: its pid is written to "$DIR/turnserver.pid", its log
# to "$DIR/turnserver.log" (DIR is the second argument, default target/coturn); stop it with
# `kill "$(cat "$DIR/turnserver.pid")"`.
#
#   usage: scripts/coturn-start.sh <shared-secret> [dir]
#
# Comet then needs Comet_Calls_ICE_Servers = "turn:127.0.0.1:<port>?transport=udp
# turn:127.0.0.1:<port>?transport=tcp" and Comet_Calls_TURN_Secret = <shared-secret>.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECRET="${1:?usage: coturn-start.sh <shared-secret> [dir]}"
DIR="${2:-${REPO_ROOT}/target/coturn}"
TURNSERVER="$("${REPO_ROOT}/scripts/coturn.sh")"
mkdir -p "${DIR}"

# A port free for both TCP and UDP on loopback (the kernel picks; checked for UDP too).
PORT="$(python3 - <<'PY'
import socket
for _ in range(50):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp.bind(("127.0.0.1", port))
    except OSError:
        tcp.close()
        continue
    udp.close()
    tcp.close()
    print(port)
    break
else:
    raise SystemExit("no free port")
PY
)"

# The secret goes in a file only we can read, not on the command line (visible in ps).
CONF="${DIR}/turnserver.conf"
umask 077
cat >"${CONF}" <<CONF
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=${PORT}
min-port=49152
max-port=65535
use-auth-secret
static-auth-secret=${SECRET}
realm=comet.test
fingerprint
no-tls
no-dtls
no-cli
allow-loopback-peers
no-multicast-peers
pidfile=${DIR}/turnserver.pid
log-file=${DIR}/turnserver.log
simple-log
CONF

rm -f "${DIR}/turnserver.pid"
nohup "${TURNSERVER}" -c "${CONF}" >/dev/null 2>&1 &
PID=$!
echo "${PID}" >"${DIR}/turnserver.pid"

# Ready when it accepts TCP on the port.
for _ in $(seq 1 100); do
    if ! kill -0 "${PID}" 2>/dev/null; then
        echo "coturn-start.sh: turnserver exited; see ${DIR}/turnserver.log" >&2
        exit 1
    fi
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 0.2).close()" "${PORT}" 2>/dev/null; then
        echo "${PID}" >"${DIR}/turnserver.pid"
        echo "${PORT}"
        exit 0
    fi
    sleep 0.1
done
echo "coturn-start.sh: turnserver did not listen on ${PORT}; see ${DIR}/turnserver.log" >&2
kill "${PID}" 2>/dev/null || true
exit 1
