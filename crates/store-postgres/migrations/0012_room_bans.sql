-- Users banned from a room (`rooms.banUser`). Upstream keeps the banned user's subscription
-- with status BANNED; here a ban removes the subscription like a kick and leaves this row,
-- which joining, inviting and invite links check. Unbanning deletes the row.
CREATE TABLE room_bans (
    rid TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    banned_by TEXT NOT NULL,
    banned_at BIGINT NOT NULL,
    PRIMARY KEY (rid, user_id)
);
CREATE INDEX room_bans_room_time ON room_bans (rid, banned_at);
