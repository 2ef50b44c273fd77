# BENCHMARKS.md, "Issue 21". Times chat.search's and channels.history's SQL, before and after, on a 1,000,000-message room
# with comet-bench's 28-word vocabulary (schema from crates/store-sqlite/migrations/0002).
import os, sqlite3, random, time, sys
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
WORDS = ["deploy","server","release","review","lunch","meeting","incident","database","latency",
 "coffee","ticket","merge","branch","rollback","monitor","alert","customer","design","مرحبا",
 "شكرا","olá","obrigado","café","naïve","queue","backup","cluster","token"]
path = "/tmp/comet-store-queries.db"
if os.path.exists(path): os.remove(path)
db = sqlite3.connect(path)
sql = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "store-sqlite", "migrations", "0002_rooms_messages.sql")).read()
db.executescript(sql[sql.index("CREATE TABLE messages ("):sql.index("CREATE INDEX messages_thread_roots")].replace("REFERENCES rooms (id) ON DELETE CASCADE", ""))
db.executescript(sql[sql.index("CREATE VIRTUAL TABLE messages_fts"):])
rng = random.Random(1)
t0 = 1_700_000_000_000
step = 30*24*3600*1000 // N
started = time.time()
batch = []
for i in range(N):
    batch.append(("m%d" % i, "big", " ".join(rng.choice(WORDS) for _ in range(10)), "u", "u", t0 + step*i, t0 + step*i))
    if len(batch) == 20000:
        db.executemany("INSERT INTO messages (id,rid,msg,u_id,u_username,ts,updated_at) VALUES (?,?,?,?,?,?,?)", batch); db.commit(); batch = []
if batch:
    db.executemany("INSERT INTO messages (id,rid,msg,u_id,u_username,ts,updated_at) VALUES (?,?,?,?,?,?,?)", batch); db.commit()
print(f"sqlite {sqlite3.sqlite_version}, seeded {N} messages in {time.time()-started:.0f} s")
base = "SELECT messages.id, messages.msg FROM (SELECT rowid AS fts_rowid{rank} FROM messages_fts WHERE messages_fts MATCH ?) CROSS JOIN messages ON messages.rowid = fts_rowid WHERE rid = 'big' AND deleted_at IS NULL AND t IS NULL ORDER BY {order} LIMIT 20 OFFSET 0"
before = base.format(rank=", rank AS fts_rank", order="fts_rank, ts DESC")
after = base.format(rank="", order="fts_rowid DESC")
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs)-1, round((len(xs)-1)*p))]*1000
for name, q in [("before (ranked)", before), ("after (newest first, bounded)", after)]:
    print(name, "plan:", [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + q, ('"deploy"*',))])
    lat = []
    for n in range(200):
        w = WORDS[n % len(WORDS)]
        s = time.perf_counter(); rows = db.execute(q, (f'"{w}"*',)).fetchall(); lat.append(time.perf_counter()-s)
        assert rows, w
    print(f"  search p50 {pct(lat,.5):.2f} ms p99 {pct(lat,.99):.2f} ms")
hist = "SELECT * FROM messages WHERE rid = 'big' AND deleted_at IS NULL AND ts < ? AND (tmid IS NULL OR tshow = 1) ORDER BY ts DESC, rowid DESC LIMIT 50 OFFSET 0"
print("history plan:", [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + hist, (t0,))])
lat = []
for n in range(2000):
    latest = t0 + rng.randrange(30*24*3600*1000)
    s = time.perf_counter(); rows = db.execute(hist, (latest,)).fetchall(); lat.append(time.perf_counter()-s)
print(f"  history (50 messages) p50 {pct(lat,.5):.3f} ms p99 {pct(lat,.99):.3f} ms over 2000 pages")
