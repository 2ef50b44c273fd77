-- A room's display name (fname) lowercased by the server, so that searches match it in any
-- case and any script, and rooms can be found by their display name. SQLite's lower() folds
-- ASCII letters only: rows written before this migration get that, rows written after get
-- full Unicode lowercase from Rust.
ALTER TABLE rooms ADD COLUMN fname_key TEXT;
UPDATE rooms SET fname_key = lower(fname);
CREATE INDEX rooms_fname_key ON rooms (fname_key);
