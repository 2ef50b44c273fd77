-- The workspace's custom emoji, user statuses and sounds. An emoji's and a sound's bytes live
-- in a blob store (`store`, `store_key`); the file columns are NULL until a file is stored.
-- A deleted emoji leaves a row in `custom_emoji_trash` for `emoji-custom.list?updatedSince=`.
CREATE TABLE custom_emoji (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    aliases TEXT[] NOT NULL DEFAULT '{}',
    extension TEXT NOT NULL,
    etag TEXT,
    content_type TEXT,
    size BIGINT,
    store TEXT,
    store_key TEXT,
    uploaded_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX custom_emoji_name ON custom_emoji (name);
CREATE INDEX custom_emoji_updated ON custom_emoji (updated_at);

CREATE TABLE custom_emoji_trash (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    deleted_at BIGINT NOT NULL
);
CREATE INDEX custom_emoji_trash_deleted ON custom_emoji_trash (deleted_at);

CREATE TABLE custom_user_statuses (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    status_type TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX custom_user_statuses_name ON custom_user_statuses (name);

CREATE TABLE custom_sounds (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    extension TEXT NOT NULL,
    content_type TEXT,
    size BIGINT,
    store TEXT,
    store_key TEXT,
    uploaded_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX custom_sounds_name ON custom_sounds (name);
