//! Teams (`ITeam`, `ITeamMember`): a group of people with a main room and rooms of its own.

use crate::Timestamp;

/// A team's visibility (`TEAM_TYPE`): its main room is a channel or a private group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TeamType {
    /// `0`: the main room is a public channel.
    Public,
    /// `1`: the main room is a private group.
    Private,
}

impl TeamType {
    /// The number upstream stores and sends.
    pub fn as_number(self) -> i64 {
        match self {
            TeamType::Public => 0,
            TeamType::Private => 1,
        }
    }

    pub fn from_number(n: i64) -> Option<Self> {
        match n {
            0 => Some(TeamType::Public),
            1 => Some(TeamType::Private),
            _ => None,
        }
    }

    /// The type of the team's main room.
    pub fn room_type(self) -> crate::room::RoomType {
        match self {
            TeamType::Public => crate::room::RoomType::Channel,
            TeamType::Private => crate::room::RoomType::Private,
        }
    }
}

/// Who created a team or added a member (`{_id, username}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Creator {
    pub id: String,
    pub username: String,
}

/// A team (`ITeam`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Team {
    pub id: String,
    /// The main room's name at creation or the last `teams.update`.
    pub name: String,
    pub team_type: TeamType,
    /// The main room (`roomId`).
    pub room_id: String,
    pub created_by: Creator,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One person's membership of a team (`ITeamMember`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TeamMember {
    pub id: String,
    pub team_id: String,
    pub user_id: String,
    /// Team roles: `owner`, `moderator`, ...
    pub roles: Vec<String>,
    pub created_by: Creator,
    pub created_at: Timestamp,
}
