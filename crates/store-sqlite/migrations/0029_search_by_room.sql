-- Every search is in one room, but the full-text index knew only message text: a search walked
-- the matches of the whole database from the newest, looking each message up to find the
-- room's, so in a database of many rooms a room's page could cost every match of every other
-- room (a common word in 5,000,000 messages over 2,000 rooms: seconds of CPU per search).
-- The room id is now a column of the index too, and a search matches it with the words
-- (`rid : "<room>" AND msg : (<words>)`): FTS5 walks the room's document list and the words'
-- together, seeking in each, so a page costs about the smaller of the two. The index
-- tokenizes the id like text, so ids differing only in letter case share a token; the search
-- still checks each message's room.
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    msg,
    rid,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, msg, rid) VALUES (new.rowid, new.msg, new.rid);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, msg, rid)
        VALUES ('delete', old.rowid, old.msg, old.rid);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF msg, rid ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, msg, rid)
        VALUES ('delete', old.rowid, old.msg, old.rid);
    INSERT INTO messages_fts (rowid, msg, rid) VALUES (new.rowid, new.msg, new.rid);
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
