# BENCHMARKS.md, "Cold start and idle memory". Starts `comet` on an existing data directory
# (e.g. one `comet-load seed` filled with 5,000,000 messages), times how long until
# `GET /api/info` answers, and reads the idle process's RSS a few seconds later. With
# --drop-caches (root) the kernel's page cache is emptied before each start, so the database
# is read from the disk: a cold start after a reboot.
# usage: python3 crates/bench/cold_start.py <comet binary> <data dir> [runs] [--drop-caches]
import os, subprocess, sys, time, urllib.request

comet, data_dir = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3].isdigit() else 3
drop = "--drop-caches" in sys.argv
port = 3917
env = dict(os.environ, COMET_DATA_DIR=data_dir, PORT=str(port), BIND_IP="127.0.0.1", COMET_LOG="warn")

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

for run in range(runs):
    if drop:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    started = time.perf_counter()
    server = subprocess.Popen([comet], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/info", timeout=1) as response:
                if response.status == 200:
                    break
        except Exception:
            if server.poll() is not None:
                sys.exit(f"comet exited with {server.returncode}")
            time.sleep(0.005)
    ready = time.perf_counter() - started
    time.sleep(5)
    rss = rss_kib(server.pid)
    server.terminate()
    server.wait(timeout=30)
    print(f"run {run + 1}: answering after {ready * 1000:.0f} ms{' (page cache dropped)' if drop else ''}, idle RSS {rss / 1024:.1f} MiB")
