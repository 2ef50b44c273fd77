-- Video conferences (upstream's `IVideoConference`). The call is one JSON document (`doc`)
-- written whole on every change; `revision` makes concurrent changes (two people joining at
-- once) retry instead of overwriting each other. The columns are what calls are looked up by.
CREATE TABLE video_conferences (
    id TEXT PRIMARY KEY,
    rid TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    status INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL
);
CREATE INDEX video_conferences_room ON video_conferences (rid, created_at);
CREATE INDEX video_conferences_ringing ON video_conferences (kind, status, created_at);
