-- A room's display name (fname) lowercased by the server, so that searches match it in any
-- case and any script, and rooms can be found by their display name.
ALTER TABLE rooms ADD COLUMN fname_key TEXT;
UPDATE rooms SET fname_key = lower(fname);
CREATE INDEX rooms_fname_key ON rooms (fname_key);
