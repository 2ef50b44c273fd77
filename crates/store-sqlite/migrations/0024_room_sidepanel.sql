-- A team main room's side panel (upstream's `sidepanel.items`: `channels`, `discussions`);
-- empty when the room has none.
ALTER TABLE rooms ADD COLUMN sidepanel TEXT NOT NULL DEFAULT '[]';
