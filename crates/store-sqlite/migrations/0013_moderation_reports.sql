-- Moderation reports (Rocket.Chat's moderation_reports): a member's report of a message, with
-- a copy of the message as it was, or of a user. The columns the console filters, groups and
-- searches on are copied out of those documents; a moderator's decision closes a report
-- (hidden, with who, when, why and what was done) without deleting it.
CREATE TABLE moderation_reports (
    id TEXT PRIMARY KEY,
    ts INTEGER NOT NULL,
    description TEXT NOT NULL,
    reported_by TEXT NOT NULL,
    message_id TEXT,
    message_author_id TEXT,
    message_author_username TEXT,
    message_author_name TEXT,
    message_text TEXT,
    message TEXT,
    room_id TEXT,
    room_name TEXT,
    room_fname TEXT,
    room_type TEXT,
    room_federated INTEGER NOT NULL DEFAULT 0,
    reported_user_id TEXT,
    reported_user_username TEXT,
    reported_user_name TEXT,
    reported_user TEXT,
    hidden INTEGER NOT NULL DEFAULT 0,
    hidden_at INTEGER,
    moderated_by TEXT,
    moderation_reason TEXT,
    moderation_action TEXT
);
-- The console only ever lists open reports: by date, by message, by message author, by user.
CREATE INDEX moderation_reports_open ON moderation_reports (ts) WHERE hidden = 0;
CREATE INDEX moderation_reports_message ON moderation_reports (message_id, ts)
    WHERE hidden = 0 AND message_id IS NOT NULL;
CREATE INDEX moderation_reports_author ON moderation_reports (message_author_id, ts)
    WHERE hidden = 0 AND message_author_id IS NOT NULL;
CREATE INDEX moderation_reports_user ON moderation_reports (reported_user_id, ts)
    WHERE hidden = 0 AND reported_user_id IS NOT NULL;
