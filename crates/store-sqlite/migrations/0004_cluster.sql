-- Coordination between instances sharing the database (and a single instance's presence):
-- live instances, every live connection's presence, job leases and rate-limit windows.
CREATE TABLE instances (
    id TEXT PRIMARY KEY NOT NULL,
    heartbeat_at INTEGER NOT NULL
);
CREATE TABLE connections (
    instance_id TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (instance_id, id)
);
CREATE INDEX connections_user ON connections (user_id);
CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    until INTEGER NOT NULL
);
CREATE TABLE rate_windows (
    key TEXT PRIMARY KEY NOT NULL,
    started INTEGER NOT NULL,
    calls INTEGER NOT NULL
);
CREATE INDEX rate_windows_started ON rate_windows (started);
