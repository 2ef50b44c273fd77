-- Snapshots of the workspace statistics (`statistics`, `statistics.list`): the document as it
-- was answered, newest first by `created_at`.
CREATE TABLE statistics (
    id TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX statistics_created_at ON statistics (created_at);
