-- Of a subscription's unread threads (tunread), those whose unread replies mention the user
-- (upstream's tunreadUser) and those with an @all/@here reply (tunreadGroup).
ALTER TABLE subscriptions ADD COLUMN tunread_user TEXT NOT NULL DEFAULT '[]';
ALTER TABLE subscriptions ADD COLUMN tunread_group TEXT NOT NULL DEFAULT '[]';
