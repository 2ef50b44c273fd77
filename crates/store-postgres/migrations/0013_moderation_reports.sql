-- Moderation reports (Rocket.Chat's moderation_reports): a member's report of a message, with
-- a copy of the message as it was, or of a user. The columns the console filters, groups and
-- searches on are copied out of those documents; a moderator's decision closes a report
-- (hidden, with who, when, why and what was done) without deleting it.
CREATE TABLE moderation_reports (
    id TEXT PRIMARY KEY,
    ts BIGINT NOT NULL,
    description TEXT NOT NULL,
    reported_by JSONB NOT NULL,
    message_id TEXT,
    message_author_id TEXT,
    message_author_username TEXT COLLATE "C",
    message_author_name TEXT COLLATE "C",
    message_text TEXT,
    message JSONB,
    room_id TEXT,
    room_name TEXT,
    room_fname TEXT,
    room_type TEXT,
    room_federated BOOLEAN NOT NULL DEFAULT FALSE,
    reported_user_id TEXT,
    reported_user_username TEXT COLLATE "C",
    reported_user_name TEXT COLLATE "C",
    reported_user JSONB,
    hidden BOOLEAN NOT NULL DEFAULT FALSE,
    hidden_at BIGINT,
    moderated_by TEXT,
    moderation_reason TEXT,
    moderation_action TEXT
);
-- The console only ever lists open reports: by date, by message, by message author, by user.
CREATE INDEX moderation_reports_open ON moderation_reports (ts) WHERE hidden = FALSE;
CREATE INDEX moderation_reports_message ON moderation_reports (message_id, ts)
    WHERE hidden = FALSE AND message_id IS NOT NULL;
CREATE INDEX moderation_reports_author ON moderation_reports (message_author_id, ts)
    WHERE hidden = FALSE AND message_author_id IS NOT NULL;
CREATE INDEX moderation_reports_user ON moderation_reports (reported_user_id, ts)
    WHERE hidden = FALSE AND reported_user_id IS NOT NULL;
