# BENCHMARKS.md, "Durable posts: where the writer's time goes". What SQLite itself spends on one
# posted message, statement by statement, on Comet's schema (every migration applied), in
# group-commit batches as the writer makes them (BEGIN IMMEDIATE, then per message a SAVEPOINT,
# the message INSERT with its full-text entry, the room's counters, the other members'
# subscriptions, RELEASE; COMMIT per batch, synchronous=FULL in WAL mode), plus the WAL pages
# each message costs. Then the full-text index alone, in memory, in the variants a schema could
# choose. Usage: python3 crates/bench/post_statements.py [batch]  (default 24, the batch size
# measured through the server). Uses pysqlite3 when installed, else Python's own sqlite3.
# Python's call overhead (a few µs per statement) is included in every figure.
import glob, os, random, string, sys, tempfile, time
try:
    import pysqlite3 as sqlite3
except ImportError:
    import sqlite3

BATCH = int(sys.argv[1]) if len(sys.argv) > 1 else 24
MESSAGES = 2_400
ROOMS = 64
WORDS = ("deploy server release review lunch meeting incident database latency coffee ticket "
         "merge branch rollback monitor alert customer design").split()
rng = random.Random(1)
here = os.path.dirname(os.path.abspath(__file__))


def new_id():
    return "".join(rng.choice(string.ascii_letters) for _ in range(17))


def text():
    return " ".join(rng.choice(WORDS) for _ in range(8))


def insert_minimal(db, table, values):
    """A row with `values` and a zero or empty string in every other required column."""
    names, args = [], []
    for _, name, kind, notnull, default, _ in db.execute(f"PRAGMA table_info({table})"):
        if name in values:
            names.append(name)
            args.append(values[name])
        elif notnull and default is None:
            names.append(name)
            args.append(0 if "INT" in kind.upper() else "")
    db.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(args))})",
               args)


INSERT = ("INSERT INTO messages (id, rid, msg, u_id, u_username, ts, updated_at) "
          "VALUES (?, ?, ?, 'author', 'author', ?, ?)")

# 1. Comet's schema on disk, as the server runs it.
path = os.path.join(tempfile.mkdtemp(), "comet.db")
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
for migration in sorted(glob.glob(os.path.join(here, "..", "store-sqlite", "migrations", "*.sql"))):
    db.executescript(open(migration).read())
rooms = [new_id() for _ in range(ROOMS)]
db.execute("BEGIN")
for room in rooms:
    insert_minimal(db, "rooms", {"id": room, "name": room, "t": "c"})
    for user in ("author", "member-" + room):
        insert_minimal(db, "subscriptions",
                       {"id": new_id(), "rid": room, "user_id": user, "name": room, "t": "c"})
ts = 1
for i in range(1_000 * ROOMS):
    db.execute(INSERT, (new_id(), rooms[i % ROOMS], text(), ts, ts))
    ts += 1
db.execute("COMMIT")
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
# The WAL grows by every page each commit writes; no checkpoint resets it meanwhile.
db.execute("PRAGMA wal_autocheckpoint=0")

spent = {"savepoint + release": 0.0, "insert message (+ full-text)": 0.0,
         "room counters": 0.0, "other members' subscriptions": 0.0, "commit (share)": 0.0}
started = time.perf_counter()
for _ in range(MESSAGES // BATCH):
    db.execute("BEGIN IMMEDIATE")
    for _ in range(BATCH):
        room = rng.choice(rooms)
        message_id = new_id()
        ts += 1
        for name, sql, args in (
            ("savepoint + release", "SAVEPOINT member", ()),
            ("insert message (+ full-text)", INSERT, (message_id, room, text(), ts, ts)),
            ("room counters", "UPDATE rooms SET msgs = msgs + 1, lm = ?, last_message_id = ?, "
             "updated_at = ? WHERE id = ?", (ts, message_id, ts, room)),
            ("other members' subscriptions", "UPDATE subscriptions SET updated_at = ?, "
             "alert = 1, open = 1, unread = unread + 1 WHERE rid = ? AND user_id <> ?",
             (ts, room, "author")),
            ("savepoint + release", "RELEASE member", ()),
        ):
            at = time.perf_counter()
            db.execute(sql, args)
            spent[name] += time.perf_counter() - at
    at = time.perf_counter()
    db.execute("COMMIT")
    spent["commit (share)"] += time.perf_counter() - at
elapsed = time.perf_counter() - started
frames = (os.path.getsize(path + "-wal") - 32) / (4096 + 24)
print(f"SQLite {sqlite3.sqlite_version}, {MESSAGES} messages into {ROOMS} rooms, "
      f"batches of {BATCH}, synchronous=FULL:")
for name, seconds in spent.items():
    print(f"  {name:32} {seconds / MESSAGES * 1e6:7.1f} µs per message")
print(f"  {'total':32} {elapsed / MESSAGES * 1e6:7.1f} µs per message "
      f"({MESSAGES / elapsed:.0f} messages/s), {frames / MESSAGES:.1f} WAL pages per message")

# 2. The message insert alone, in memory (no disk), by full-text index variant.
print("message INSERT in memory, 24 per transaction, by full-text index:")
for label, options in (("none", None), ("fts5", ""), ("fts5 prefix='2 3' (Comet today)", ", prefix='2 3'"),
                       ("fts5 prefix='2 3' columnsize=0", ", prefix='2 3', columnsize=0")):
    mem = sqlite3.connect(":memory:", isolation_level=None)
    mem.execute("CREATE TABLE messages (id TEXT PRIMARY KEY NOT NULL, rid TEXT NOT NULL, "
                "msg TEXT NOT NULL, u_id TEXT, u_username TEXT, ts INTEGER NOT NULL, "
                "updated_at INTEGER NOT NULL)")
    mem.execute("CREATE INDEX messages_room_ts ON messages (rid, ts)")
    mem.execute("CREATE INDEX messages_room_updated ON messages (rid, updated_at)")
    if options is not None:
        mem.execute("CREATE VIRTUAL TABLE messages_fts USING fts5 (msg, content = 'messages', "
                    "content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2'"
                    f"{options})")
        mem.execute("CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
                    "INSERT INTO messages_fts (rowid, msg) VALUES (new.rowid, new.msg); END")
    for i in range(20_000):
        ts += 1
        mem.execute(INSERT, (new_id(), rooms[i % ROOMS], text(), ts, ts))
    inserting = 0.0
    for _ in range(1_000):
        mem.execute("BEGIN")
        for _ in range(24):
            ts += 1
            args = (new_id(), rng.choice(rooms), text(), ts, ts)
            at = time.perf_counter()
            mem.execute(INSERT, args)
            inserting += time.perf_counter() - at
        mem.execute("COMMIT")
    print(f"  {label:32} {inserting / 24_000 * 1e6:7.1f} µs per message")
