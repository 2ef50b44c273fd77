-- Uploaded files (Rocket.Chat's rocketchat_uploads); the bytes are in the blob store.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- Lowercased by Rust for case-insensitive name filters.
    name_key TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    type_group TEXT NOT NULL,
    extension TEXT NOT NULL,
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    store_key TEXT NOT NULL,
    store TEXT NOT NULL,
    complete INTEGER NOT NULL,
    description TEXT,
    width INTEGER,
    height INTEGER,
    format TEXT,
    expires_at INTEGER,
    uploaded_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX uploads_room ON uploads (room_id, uploaded_at);
CREATE INDEX uploads_expiry ON uploads (expires_at) WHERE expires_at IS NOT NULL;
