-- Teams (`ITeam`) and their members (`ITeamMember`), as upstream's `rocketchat_team` and
-- `rocketchat_team_member`; rooms gain upstream's `teamId`, `teamMain` and `teamDefault`.
CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    team_type INTEGER NOT NULL,
    room_id TEXT NOT NULL,
    created_by_id TEXT NOT NULL,
    created_by_username TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX teams_name ON teams (name);
CREATE INDEX teams_room ON teams (room_id);
CREATE INDEX teams_created ON teams (created_at);

CREATE TABLE team_members (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    roles TEXT NOT NULL DEFAULT '[]',
    created_by_id TEXT NOT NULL,
    created_by_username TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

ALTER TABLE rooms ADD COLUMN team_id TEXT;
ALTER TABLE rooms ADD COLUMN team_main INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN team_default INTEGER NOT NULL DEFAULT 0;
CREATE INDEX rooms_team ON rooms (team_id) WHERE team_id IS NOT NULL;
