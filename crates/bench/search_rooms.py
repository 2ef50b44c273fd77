# BENCHMARKS.md, "Search in a database of many rooms". Starts `comet` (pinned to one core with
# taskset) on a data directory `comet-load seed` filled (10,000 users, 2,000 channels,
# 5,000,000 messages), logs in as one seeded user and asks `chat.search` one request at a time,
# as `comet-load` does (a random channel, one of its 28 words, 50 results), so each latency is
# about the server's CPU time for that search. Prints mean, p50, p99 and max, and the server's
# CPU seconds per search.
# usage: python3 crates/bench/search_rooms.py <comet binary> <data dir> [searches] [core]
import json, os, random, subprocess, sys, time, urllib.parse, urllib.request

comet, data_dir = sys.argv[1], sys.argv[2]
searches = int(sys.argv[3]) if len(sys.argv) > 3 else 400
core = sys.argv[4] if len(sys.argv) > 4 else "1"
port = 3918
base = f"http://127.0.0.1:{port}/api/v1"
# crates/load/src/seed.rs: WORDS, username(), room_id(); crates/bench/src/process.rs: PASSWORD.
WORDS = ["deploy", "server", "release", "review", "lunch", "meeting", "incident", "database",
         "latency", "coffee", "ticket", "merge", "branch", "rollback", "monitor", "alert",
         "customer", "design", "queue", "backup", "cluster", "token", "olá", "obrigado", "café",
         "naïve", "weekend", "budget"]
ROOMS = 2000
env = dict(os.environ, COMET_DATA_DIR=data_dir, PORT=str(port), BIND_IP="127.0.0.1", COMET_LOG="warn")
server = subprocess.Popen(["taskset", "-c", core, comet], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/info", timeout=1):
                break
        except Exception:
            if server.poll() is not None:
                sys.exit(f"comet exited with {server.returncode}")
            time.sleep(0.05)
    login = urllib.request.Request(
        f"{base}/login", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"user": "load0", "password": "Bench-Pass-1!"}).encode())
    with urllib.request.urlopen(login) as response:
        data = json.load(response)["data"]
    auth = {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}
    rng = random.Random(7)

    def search():
        query = urllib.parse.urlencode({
            "roomId": f"loadroom{rng.randrange(ROOMS):09}",
            "searchText": rng.choice(WORDS), "count": "50"})
        started = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(f"{base}/chat.search?{query}", headers=auth)) as r:
            found = len(json.load(r)["messages"])
        return time.perf_counter() - started, found

    for _ in range(40):  # warm the page cache and the session
        search()
    ticks = os.sysconf("SC_CLK_TCK")
    def cpu():
        fields = open(f"/proc/{server.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks
    cpu_before = cpu()
    latencies, found = [], 0
    for _ in range(searches):
        took, n = search()
        latencies.append(took * 1000)
        found += n
    cpu_used = cpu() - cpu_before
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(f"{searches} searches, {found / searches:.1f} messages each: "
          f"mean {sum(latencies) / len(latencies):.1f} ms, p50 {pick(0.5):.1f} ms, "
          f"p99 {pick(0.99):.1f} ms, max {latencies[-1]:.1f} ms; "
          f"server CPU {cpu_used * 1000 / searches:.1f} ms per search")
finally:
    server.terminate()
    server.wait()
