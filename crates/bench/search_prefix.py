# BENCHMARKS.md, "Search: prefix index". Times chat.search's full-text query (newest first, a page
# of 20) on one room of N messages, with the index as migration 0002 made it and with 0027's
# two- and three-letter prefix index, in one run on one database; prints both indexes' sizes.
# Words: comet-bench's 28-word vocabulary (each in about 30 % of the messages: the worst case)
# plus a tail of 20,000 rarer words. Uses pysqlite3 (a current SQLite, like the one Comet
# bundles) when installed, else Python's own sqlite3.
import os, random, sys, time
try:
    import pysqlite3 as sqlite3
except ImportError:
    import sqlite3

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
WORDS = ["deploy", "server", "release", "review", "lunch", "meeting", "incident", "database",
         "latency", "coffee", "ticket", "merge", "branch", "rollback", "monitor", "alert",
         "customer", "design", "مرحبا", "شكرا", "olá", "obrigado", "café", "naïve", "queue",
         "backup", "cluster", "token"]
rng = random.Random(1)
TAIL = ["".join(rng.choice("abcdefghijklmnoprstu") for _ in range(rng.randint(4, 9)))
        for _ in range(20_000)]
here = os.path.dirname(os.path.abspath(__file__))
migrations = os.path.join(here, "..", "store-sqlite", "migrations")
path = "/tmp/comet-search-prefix.db"
if os.path.exists(path):
    os.remove(path)
db = sqlite3.connect(path)
sql = open(os.path.join(migrations, "0002_rooms_messages.sql")).read()
db.executescript(sql[sql.index("CREATE TABLE messages ("):sql.index("CREATE INDEX messages_thread_roots")]
                 .replace("REFERENCES rooms (id) ON DELETE CASCADE", ""))
t0 = 1_700_000_000_000
step = 30 * 24 * 3600 * 1000 // N
batch = []
for i in range(N):
    words = [rng.choice(WORDS) for _ in range(8)] + [rng.choice(TAIL) for _ in range(2)]
    batch.append(("m%d" % i, "big", " ".join(words), "u", "u", t0 + step * i, t0 + step * i))
    if len(batch) == 20_000 or i == N - 1:
        db.executemany("INSERT INTO messages (id,rid,msg,u_id,u_username,ts,updated_at) VALUES (?,?,?,?,?,?,?)", batch)
        db.commit()
        batch = []
tables = {}
for name, migration in [("before", "0002_rooms_messages.sql"), ("after", "0027_search_prefixes.sql")]:
    text = open(os.path.join(migrations, migration)).read()
    create = text[text.index("CREATE VIRTUAL TABLE messages_fts"):]
    create = create[:create.index(");") + 2].replace("messages_fts", f"fts_{name}")
    started = time.time()
    db.execute(create)
    db.execute(f"INSERT INTO fts_{name} (fts_{name}) VALUES ('rebuild')")
    db.commit()
    size = db.execute(f"SELECT sum(length(block)) FROM fts_{name}_data").fetchone()[0]
    tables[name] = f"fts_{name}"
    print(f"{name}: index built in {time.time() - started:.1f} s, {size / 1e6:.1f} MB")

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round((len(xs) - 1) * p))] * 1000

print(f"SQLite {sqlite3.sqlite_version}, {N} messages in one room")
for label, prefixes in [("whole words as prefixes", WORDS),
                        ("4-letter prefixes", [w[:4] for w in WORDS]),
                        ("3-letter prefixes", [w[:3] for w in WORDS]),
                        ("2-letter prefixes", [w[:2] for w in WORDS])]:
    for name, table in tables.items():
        q = (f"SELECT messages.id FROM (SELECT rowid AS fts_rowid FROM {table} WHERE {table} MATCH ?) "
             "CROSS JOIN messages ON messages.rowid = fts_rowid WHERE rid = 'big' "
             "AND deleted_at IS NULL AND t IS NULL ORDER BY fts_rowid DESC LIMIT 20")
        lat = []
        for _ in range(3):
            for word in prefixes:
                started = time.perf_counter()
                assert db.execute(q, (f'"{word}"*',)).fetchall(), word
                lat.append(time.perf_counter() - started)
        print(f"  {label:24s} {name:6s} p50 {pct(lat, .5):7.2f} ms  p99 {pct(lat, .99):7.2f} ms")
