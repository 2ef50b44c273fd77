-- Upstream's `unmuted` (members of a read-only room allowed to post), a room's `favorite`
-- default (saveRoomSettings' favorite with defaultValue), and each subscription's
-- notification preferences (`rooms.saveNotification`), one JSON object of upstream's keys.
ALTER TABLE rooms ADD COLUMN unmuted TEXT NOT NULL DEFAULT '[]';
ALTER TABLE rooms ADD COLUMN favorite INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN notifications TEXT NOT NULL DEFAULT '{}';
