-- Uploaded files (Rocket.Chat's rocketchat_uploads); the bytes are in the blob store.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    -- Lowercased by Rust for case-insensitive name filters.
    name_key TEXT NOT NULL,
    size BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    type_group TEXT NOT NULL,
    extension TEXT NOT NULL,
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    store_key TEXT NOT NULL,
    store TEXT NOT NULL,
    complete BOOLEAN NOT NULL,
    description TEXT,
    width BIGINT,
    height BIGINT,
    format TEXT,
    expires_at BIGINT,
    uploaded_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX uploads_room ON uploads (room_id, uploaded_at);
CREATE INDEX uploads_expiry ON uploads (expires_at) WHERE expires_at IS NOT NULL;
