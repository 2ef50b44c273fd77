-- A search takes its last word as a prefix (search as you type). For a prefix longer than the
-- prefix index's three letters FTS5 merges the document lists of every term the prefix starts,
-- across the whole database, before it meets the room's: in 5,000,000 messages over 2,000
-- rooms a common word's long prefix cost about 70 ms of CPU per search, whatever the room.
-- The index now keeps each word under its room: a term is a 12-character key of the room
-- (crates/store-sqlite: room_search_key) followed by the word, so a room's terms sort
-- together and any prefix expands to that room's terms alone. The prefix index covers the
-- key with two and three letters of the word (14 and 15 characters). The terms are made in
-- Rust from the words a search splits text into (comet_store::encoding::search_words: letters
-- and digits, as Rust's `char::is_alphanumeric` says, which counts some marks and symbols),
-- so the tokenizer takes those categories as part of a term: one word, one term. Nothing
-- is read back from the index but rowids, so it stores no text (`content = ''`); rows are
-- deleted by rowid (`contentless_delete`). It keeps positions (`detail = full`): without
-- them FTS5 merged a long prefix's terms twice as slowly in a room of 1,000,000 messages.
-- Messages reach it from the store (SqliteDatabase::index_messages), which computes the terms;
-- the triggers take a message out when it is deleted or its text or room changes.
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE message_words USING fts5 (
    words,
    content = '',
    contentless_delete = 1,
    detail = full,
    tokenize = "unicode61 remove_diacritics 2 categories 'L* N* M* S*'",
    prefix = '14 15'
);
CREATE TRIGGER message_words_delete AFTER DELETE ON messages BEGIN
    DELETE FROM message_words WHERE rowid = old.rowid;
END;
CREATE TRIGGER message_words_update AFTER UPDATE OF msg, rid ON messages BEGIN
    DELETE FROM message_words WHERE rowid = old.rowid;
END;
-- The messages already stored are indexed at the first start after this migration, a batch
-- per transaction from `next_rowid` (so an interrupted start resumes), then this table goes.
CREATE TABLE search_rebuild (next_rowid INTEGER NOT NULL);
INSERT INTO search_rebuild (next_rowid) VALUES (0);
