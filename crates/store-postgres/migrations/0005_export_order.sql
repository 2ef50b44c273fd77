-- Whole-database export (`comet migrate-db`) reads messages a page at a time in insertion order
-- (`seq`, the tie-break of every message listing, which a copy must keep); without an index each
-- page would scan and sort the whole table.
CREATE INDEX messages_seq ON messages (seq);
