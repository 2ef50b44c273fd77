-- A user's presence is asked at each login and logout of any of their connections: whether
-- one of them is online is a probe of this index, whatever their number.
CREATE INDEX connections_user_status ON connections (user_id, status);
DROP INDEX connections_user;
