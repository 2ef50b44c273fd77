-- Abuse controls. `approved`: an administrator trusts the account, so the limits on new
-- accounts no longer apply to it; accounts that exist before this migration are trusted.
-- `blocked_file_hashes`: SHA-256 digests (lowercase hex) of files no one may upload.
ALTER TABLE users ADD COLUMN approved BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET approved = TRUE;

CREATE TABLE blocked_file_hashes (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    added_by TEXT NOT NULL,
    reason TEXT,
    created_at BIGINT NOT NULL
);
