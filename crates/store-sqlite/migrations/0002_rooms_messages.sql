-- Rooms, subscriptions and messages, with full-text search over message text.
-- Times are epoch milliseconds (UTC). Lists and rarely filtered fields are JSON text.

CREATE TABLE rooms (
    id TEXT PRIMARY KEY NOT NULL,
    t TEXT NOT NULL CHECK (t IN ('c', 'p', 'd')),
    name TEXT,
    name_key TEXT UNIQUE,
    fname TEXT,
    creator_id TEXT,
    creator_username TEXT,
    creator_name TEXT,
    topic TEXT,
    description TEXT,
    announcement TEXT,
    read_only INTEGER NOT NULL DEFAULT 0,
    react_when_read_only INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    is_default INTEGER NOT NULL DEFAULT 0,
    featured INTEGER NOT NULL DEFAULT 0,
    encrypted INTEGER NOT NULL DEFAULT 0,
    broadcast INTEGER NOT NULL DEFAULT 0,
    join_code TEXT,
    muted TEXT NOT NULL DEFAULT '[]',
    user_ids TEXT NOT NULL DEFAULT '[]',
    usernames TEXT NOT NULL DEFAULT '[]',
    msgs INTEGER NOT NULL DEFAULT 0,
    users_count INTEGER NOT NULL DEFAULT 0,
    lm INTEGER,
    last_message_id TEXT,
    sys_mes TEXT NOT NULL DEFAULT '[]',
    prid TEXT,
    custom_fields TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX rooms_type_name ON rooms (t, name_key);
CREATE INDEX rooms_default ON rooms (is_default) WHERE is_default = 1;
CREATE INDEX rooms_parent ON rooms (prid) WHERE prid IS NOT NULL;

CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    rid TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    t TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    user_name TEXT,
    name TEXT NOT NULL,
    fname TEXT,
    roles TEXT NOT NULL DEFAULT '[]',
    open INTEGER NOT NULL DEFAULT 1,
    alert INTEGER NOT NULL DEFAULT 0,
    unread INTEGER NOT NULL DEFAULT 0,
    user_mentions INTEGER NOT NULL DEFAULT 0,
    group_mentions INTEGER NOT NULL DEFAULT 0,
    favorite INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    ts INTEGER NOT NULL,
    ls INTEGER NOT NULL,
    lr INTEGER,
    tunread TEXT NOT NULL DEFAULT '[]',
    ignored TEXT NOT NULL DEFAULT '[]',
    updated_at INTEGER NOT NULL,
    UNIQUE (rid, user_id)
);
CREATE INDEX subscriptions_user ON subscriptions (user_id, updated_at);
CREATE INDEX subscriptions_room_username ON subscriptions (rid, username);

CREATE TABLE messages (
    id TEXT PRIMARY KEY NOT NULL,
    rid TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    msg TEXT NOT NULL,
    t TEXT,
    u_id TEXT NOT NULL,
    u_username TEXT NOT NULL,
    u_name TEXT,
    ts INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    tmid TEXT,
    tshow INTEGER NOT NULL DEFAULT 0,
    tcount INTEGER NOT NULL DEFAULT 0,
    tlm INTEGER,
    pinned INTEGER NOT NULL DEFAULT 0,
    deleted_at INTEGER,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX messages_room_ts ON messages (rid, ts);
CREATE INDEX messages_room_updated ON messages (rid, updated_at);
CREATE INDEX messages_thread ON messages (tmid, ts) WHERE tmid IS NOT NULL;
CREATE INDEX messages_thread_roots ON messages (rid, tlm) WHERE tlm IS NOT NULL;

-- What was removed, so that sync requests (`subscriptions.get`, `rooms.get` with
-- `updatedSince`) can tell clients to drop it.
CREATE TABLE subscription_trash (
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    rid TEXT NOT NULL,
    deleted_at INTEGER NOT NULL
);
CREATE INDEX subscription_trash_user ON subscription_trash (user_id, deleted_at);

CREATE TABLE room_trash (
    id TEXT NOT NULL,
    deleted_at INTEGER NOT NULL
);
CREATE INDEX room_trash_deleted ON room_trash (deleted_at);

-- Full-text index over live message text. unicode61 tokenizes every script by Unicode
-- letter/number classes (Arabic, Cyrillic, ...) and folds Latin diacritics.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    msg,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, msg) VALUES (new.rowid, new.msg);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, msg) VALUES ('delete', old.rowid, old.msg);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF msg ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, msg) VALUES ('delete', old.rowid, old.msg);
    INSERT INTO messages_fts (rowid, msg) VALUES (new.rowid, new.msg);
END;
