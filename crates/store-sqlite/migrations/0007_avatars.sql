-- Avatars of users and rooms (Rocket.Chat's rocketchat_avatars); the bytes are in the blob
-- store. One per owner: setting a new image replaces the row.
CREATE TABLE avatars (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    store TEXT NOT NULL,
    store_key TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
);
