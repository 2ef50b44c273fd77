-- Accounts, tokens, roles, permissions, settings and failed logins.
-- Times are epoch milliseconds (UTC), as in the SQLite backend. *_key columns hold values
-- lowercased by Comet (Rust's Unicode lowercasing) for case-insensitive uniqueness, so the
-- result does not depend on the database's locale. Columns that listings sort by use the "C"
-- collation: byte order, the same as SQLite's, whatever the database's default collation.

CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    username TEXT NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL CONSTRAINT users_username_unique UNIQUE,
    name TEXT COLLATE "C" NOT NULL,
    email TEXT,
    email_key TEXT COLLATE "C" CONSTRAINT users_email_unique UNIQUE,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    user_type TEXT COLLATE "C" NOT NULL,
    active BOOLEAN NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    status_default TEXT NOT NULL,
    status_connection TEXT NOT NULL,
    status_text TEXT NOT NULL DEFAULT '',
    utc_offset DOUBLE PRECISION NOT NULL DEFAULT 0,
    password_bcrypt TEXT,
    require_password_change BOOLEAN NOT NULL DEFAULT FALSE,
    language TEXT,
    nickname TEXT,
    bio TEXT,
    preferences JSONB NOT NULL DEFAULT '{}',
    custom_fields JSONB,
    -- Global roles in the order given, without repeats.
    roles TEXT[] NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_login BIGINT
);
CREATE INDEX users_created_at ON users (created_at);
CREATE INDEX users_roles ON users USING GIN (roles);

CREATE TABLE login_tokens (
    hashed_token TEXT PRIMARY KEY,
    -- Insertion order, the tie-break between tokens created in the same millisecond.
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('login', 'pat')),
    name TEXT COLLATE "C",
    last_token_part TEXT,
    bypass_two_factor BOOLEAN NOT NULL DEFAULT FALSE,
    two_factor_until BIGINT,
    two_factor_client TEXT
);
CREATE INDEX login_tokens_user ON login_tokens (user_id, created_at);
CREATE INDEX login_tokens_created ON login_tokens (created_at) WHERE kind = 'login';
CREATE UNIQUE INDEX login_tokens_pat_name ON login_tokens (user_id, name) WHERE kind = 'pat';

CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    name TEXT NOT NULL CONSTRAINT roles_name_unique UNIQUE,
    scope TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    protected BOOLEAN NOT NULL DEFAULT FALSE,
    mandatory_2fa BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at BIGINT NOT NULL
);

CREATE TABLE permissions (
    id TEXT COLLATE "C" PRIMARY KEY,
    roles TEXT[] NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE settings (
    id TEXT COLLATE "C" PRIMARY KEY,
    value JSONB NOT NULL,
    package_value JSONB NOT NULL,
    setting_type TEXT NOT NULL,
    public BOOLEAN NOT NULL,
    grp TEXT NOT NULL,
    section TEXT,
    choices TEXT[] NOT NULL DEFAULT '{}',
    updated_at BIGINT NOT NULL
);

CREATE TABLE failed_logins (
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX failed_logins_key_at ON failed_logins (key, at);
