-- The audit log (comet_core::audit): an append-only hash chain of privileged actions. `seq`
-- is the chain position; `before_json`/`after_json` hold canonical JSON text, kept as text
-- (not JSONB, which would reorder keys) so that the bytes hashed are the bytes stored.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_username TEXT NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    target_name TEXT,
    client_address TEXT,
    user_agent TEXT,
    before_json TEXT,
    after_json TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor_id ON audit_log (actor_id, seq);
CREATE INDEX audit_log_actor_username ON audit_log (actor_username, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_target_id ON audit_log (target_id, seq);
CREATE INDEX audit_log_target_name ON audit_log (target_name, seq);
-- Entries are never changed in place (pruning deletes the oldest whole); the hash chain is
-- what shows tampering by anyone who gets past this.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
