-- Rooms, subscriptions and messages, with full-text search over message text.
-- Times are epoch milliseconds (UTC). Lists of ids and names are text arrays; the message
-- fields without a column of their own are one JSONB document (`extra`).

CREATE TABLE rooms (
    id TEXT COLLATE "C" PRIMARY KEY,
    t TEXT NOT NULL CHECK (t IN ('c', 'p', 'd')),
    name TEXT COLLATE "C",
    name_key TEXT COLLATE "C" CONSTRAINT rooms_name_unique UNIQUE,
    fname TEXT,
    creator_id TEXT,
    creator_username TEXT,
    creator_name TEXT,
    topic TEXT,
    description TEXT,
    announcement TEXT,
    read_only BOOLEAN NOT NULL DEFAULT FALSE,
    react_when_read_only BOOLEAN NOT NULL DEFAULT FALSE,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    featured BOOLEAN NOT NULL DEFAULT FALSE,
    encrypted BOOLEAN NOT NULL DEFAULT FALSE,
    broadcast BOOLEAN NOT NULL DEFAULT FALSE,
    join_code TEXT,
    muted TEXT[] NOT NULL DEFAULT '{}',
    user_ids TEXT[] NOT NULL DEFAULT '{}',
    usernames TEXT[] NOT NULL DEFAULT '{}',
    msgs BIGINT NOT NULL DEFAULT 0,
    users_count BIGINT NOT NULL DEFAULT 0,
    lm BIGINT,
    last_message_id TEXT,
    sys_mes TEXT[] NOT NULL DEFAULT '{}',
    prid TEXT,
    custom_fields JSONB NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX rooms_type_name ON rooms (t, name_key);
CREATE INDEX rooms_default ON rooms (is_default) WHERE is_default;
CREATE INDEX rooms_parent ON rooms (prid) WHERE prid IS NOT NULL;

CREATE TABLE subscriptions (
    id TEXT COLLATE "C" PRIMARY KEY,
    rid TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    t TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    username TEXT COLLATE "C" NOT NULL,
    user_name TEXT,
    name TEXT NOT NULL,
    fname TEXT,
    roles TEXT[] NOT NULL DEFAULT '{}',
    open BOOLEAN NOT NULL DEFAULT TRUE,
    alert BOOLEAN NOT NULL DEFAULT FALSE,
    unread BIGINT NOT NULL DEFAULT 0,
    user_mentions BIGINT NOT NULL DEFAULT 0,
    group_mentions BIGINT NOT NULL DEFAULT 0,
    favorite BOOLEAN NOT NULL DEFAULT FALSE,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    ts BIGINT NOT NULL,
    ls BIGINT NOT NULL,
    lr BIGINT,
    tunread TEXT[] NOT NULL DEFAULT '{}',
    ignored TEXT[] NOT NULL DEFAULT '{}',
    updated_at BIGINT NOT NULL,
    CONSTRAINT subscriptions_member_unique UNIQUE (rid, user_id)
);
CREATE INDEX subscriptions_user ON subscriptions (user_id, updated_at);
CREATE INDEX subscriptions_room_username ON subscriptions (rid, username);

-- Message search: the `simple` configuration (no stemming, no stop words: right for any
-- language and script) with diacritics folded by `unaccent` first, so "implantacao" finds
-- "implantação" as SQLite's unicode61 tokenizer does. unaccent is in postgresql-contrib.
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE TEXT SEARCH CONFIGURATION comet_search (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION comet_search
    ALTER MAPPING FOR asciiword, word, numword, asciihword, hword, numhword, hword_asciipart,
        hword_part, hword_numpart
    WITH unaccent, simple;

CREATE TABLE messages (
    id TEXT COLLATE "C" PRIMARY KEY,
    -- Insertion order, the tie-break between messages of the same millisecond.
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    rid TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    msg TEXT COLLATE "C" NOT NULL,
    t TEXT,
    u_id TEXT NOT NULL,
    u_username TEXT NOT NULL,
    u_name TEXT,
    ts BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    tmid TEXT,
    tshow BOOLEAN NOT NULL DEFAULT FALSE,
    tcount BIGINT NOT NULL DEFAULT 0,
    tlm BIGINT,
    pinned BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at BIGINT,
    extra JSONB NOT NULL DEFAULT '{}',
    -- to_tsvector('comet_search', <the text's words, lowercased by Comet>), written with
    -- every change of `msg`; NULL for tombstones. Comet splits the words and folds case itself
    -- so that the index means the same as SQLite's whatever the database's locale.
    search_vector TSVECTOR
);
CREATE INDEX messages_room_ts ON messages (rid, ts);
CREATE INDEX messages_room_updated ON messages (rid, updated_at);
CREATE INDEX messages_thread ON messages (tmid, ts) WHERE tmid IS NOT NULL;
CREATE INDEX messages_thread_roots ON messages (rid, tlm) WHERE tlm IS NOT NULL;
CREATE INDEX messages_deleted ON messages (rid, deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX messages_search ON messages USING GIN (search_vector);

-- What was removed, so that sync requests (`subscriptions.get`, `rooms.get` with
-- `updatedSince`) can tell clients to drop it.
CREATE TABLE subscription_trash (
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    rid TEXT NOT NULL,
    deleted_at BIGINT NOT NULL
);
CREATE INDEX subscription_trash_user ON subscription_trash (user_id, deleted_at);

CREATE TABLE room_trash (
    id TEXT NOT NULL,
    deleted_at BIGINT NOT NULL
);
CREATE INDEX room_trash_deleted ON room_trash (deleted_at);
