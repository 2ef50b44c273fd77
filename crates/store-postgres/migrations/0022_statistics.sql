-- Snapshots of the workspace statistics (`statistics`, `statistics.list`): the document as it
-- was answered, newest first by `created_at`.
CREATE TABLE statistics (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    document JSONB NOT NULL
);
CREATE INDEX statistics_created_at ON statistics (created_at);
