-- Accounts, tokens, roles, permissions, settings and failed logins.
-- Times are epoch milliseconds (UTC). *_key columns hold lowercased values for
-- case-insensitive uniqueness (SQLite's lower() only folds ASCII, so Rust folds them).

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT,
    email_key TEXT UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 0,
    user_type TEXT NOT NULL,
    active INTEGER NOT NULL,
    status TEXT NOT NULL,
    status_default TEXT NOT NULL,
    status_connection TEXT NOT NULL,
    status_text TEXT NOT NULL DEFAULT '',
    utc_offset REAL NOT NULL DEFAULT 0,
    password_bcrypt TEXT,
    require_password_change INTEGER NOT NULL DEFAULT 0,
    language TEXT,
    nickname TEXT,
    bio TEXT,
    preferences TEXT NOT NULL DEFAULT '{}',
    custom_fields TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_login INTEGER
);
CREATE INDEX users_created_at ON users (created_at);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    ord INTEGER NOT NULL,
    PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_role ON user_roles (role);

CREATE TABLE login_tokens (
    hashed_token TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('login', 'pat')),
    name TEXT,
    last_token_part TEXT,
    bypass_two_factor INTEGER NOT NULL DEFAULT 0,
    two_factor_until INTEGER,
    two_factor_client TEXT
);
CREATE INDEX login_tokens_user ON login_tokens (user_id);
CREATE UNIQUE INDEX login_tokens_pat_name ON login_tokens (user_id, name) WHERE kind = 'pat';

CREATE TABLE roles (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    protected INTEGER NOT NULL DEFAULT 0,
    mandatory_2fa INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);

CREATE TABLE permissions (
    id TEXT PRIMARY KEY NOT NULL,
    roles TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE settings (
    id TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    package_value TEXT NOT NULL,
    setting_type TEXT NOT NULL,
    public INTEGER NOT NULL,
    grp TEXT NOT NULL,
    section TEXT,
    choices TEXT NOT NULL DEFAULT '[]',
    updated_at INTEGER NOT NULL
);

CREATE TABLE failed_logins (
    key TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX failed_logins_key_at ON failed_logins (key, at);
