-- A user's TOTP second factor. `secret` and `temp_secret` are sealed by the server (AES-256-GCM
-- under its secret key); `backup_codes` holds the SHA-256 hex digests of the unused backup
-- codes, separated by spaces.
CREATE TABLE user_totp (
    id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret TEXT,
    temp_secret TEXT,
    enabled INTEGER NOT NULL DEFAULT 0,
    backup_codes TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);
