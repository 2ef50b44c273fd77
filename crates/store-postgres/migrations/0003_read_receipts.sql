-- Read receipts (`Message_Read_Receipt_Enabled`): a message stays `unread` until every member's
-- last-seen time has passed it. Only unread messages are indexed, so marking a room read
-- touches just those, however long its history.
ALTER TABLE messages ADD COLUMN unread BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX messages_unread ON messages (rid, ts) WHERE unread;
CREATE INDEX subscriptions_room_last_seen ON subscriptions (rid, ls);
