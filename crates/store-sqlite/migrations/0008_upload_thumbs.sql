-- Thumbnails are uploads of their own (upstream's typeGroup 'thumb', originalFileId): the
-- original they were made from, so listings can leave them out.
ALTER TABLE uploads ADD COLUMN original_file_id TEXT;
