-- Invite links (`findOrCreateInvite`). An invite is upstream's document without its token:
-- only SHA-256 digests of tokens are kept (`invite_tokens`), so a copy of the database holds
-- no usable link. Asking again for an equal invite hands out a fresh token for the same
-- invite (the earlier links keep working), since a stored digest cannot be handed back.
CREATE TABLE invites (
    id TEXT PRIMARY KEY,
    rid TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    days INTEGER NOT NULL,
    max_uses INTEGER NOT NULL,
    uses INTEGER NOT NULL DEFAULT 0,
    expires INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX invites_creator_room ON invites (user_id, rid);
CREATE INDEX invites_created ON invites (created_at);

-- The digests of an invite's tokens, keyed by the digest (`id`).
CREATE TABLE invite_tokens (
    id TEXT PRIMARY KEY,
    invite_id TEXT NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);
CREATE INDEX invite_tokens_invite ON invite_tokens (invite_id);
