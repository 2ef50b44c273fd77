-- Outgoing mail waiting for delivery (see comet_store::MailStore). A worker claims due rows by
-- moving next_attempt_at past a lease, and deletes a row once the mail server accepted it.
CREATE TABLE mail_queue (
    id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at);

-- Single-use tokens carried by mailed links (email verification, password reset), stored as
-- the SHA-256 of the token. Taking one deletes it.
CREATE TABLE email_tokens (
    hashed_token TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, kind);
CREATE INDEX email_tokens_expiry ON email_tokens (expires_at);
