-- A search takes its last word as a prefix (search as you type). Without a prefix index FTS5
-- answers `dep*` by merging the document lists of every term that starts with `dep` before it
-- can walk them newest first, so a short prefix of common words cost tens of milliseconds in a
-- room of a million messages. Two- and three-letter prefixes now have their own entries
-- (`prefix = '2 3'`), which FTS5 walks like any term: the page is found without the merge.
-- A one-letter last word is matched whole (crates/store-sqlite: fts_query), so it never needs
-- the merge either. The index grows (about 3x for the full-text part alone); rebuilding it
-- here reads every message once.
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    msg,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
