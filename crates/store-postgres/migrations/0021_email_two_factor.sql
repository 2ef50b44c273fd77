-- A user's second factor by email (upstream's `services.email2fa` and `services.emailCode`):
-- whether it is on, and the code mailed last, as its SHA-256 digest keyed to the user (see
-- comet_store::EmailTwoFactor), until it is used or expires.
CREATE TABLE user_email_two_factor (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    enabled BOOLEAN NOT NULL DEFAULT FALSE,
    code_hash TEXT,
    code_expires_at BIGINT,
    updated_at BIGINT NOT NULL
);
