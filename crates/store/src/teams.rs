//! Teams (`rocketchat_team`) and their members (`rocketchat_team_member`). A team's rooms are
//! rooms whose `team_id` names it (see `RoomFilter::team_id`).

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::team::{Team, TeamMember};
use comet_core::user::User;

/// Which members `teams.members` lists: active users only, narrowed by these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamMemberFilter {
    /// Case-insensitive text in the username.
    pub username: Option<String>,
    /// Case-insensitive text in the name.
    pub name: Option<String>,
    /// Only users with one of these statuses (empty: any).
    pub statuses: Vec<String>,
    /// Leave this user out.
    pub except_user: Option<String>,
}

#[async_trait]
pub trait TeamStore: Send + Sync {
    /// Inserts a team with its first members and makes `team.room_id` its main room
    /// (`teamId`, `teamMain`), atomically.
    async fn insert_team(&self, team: &Team, members: &[TeamMember]) -> StoreResult<()>;
    async fn team_by_id(&self, id: &str) -> StoreResult<Option<Team>>;
    /// The oldest team with exactly this name.
    async fn team_by_name(&self, name: &str) -> StoreResult<Option<Team>>;
    /// Replaces a team's name, type and `_updatedAt`; false when it does not exist.
    async fn update_team(&self, team: &Team) -> StoreResult<bool>;
    /// Deletes a team with its memberships and takes every room out of it (`teamId`,
    /// `teamMain` and `teamDefault` unset), atomically; the ids of those rooms.
    async fn delete_team(&self, id: &str) -> StoreResult<Vec<String>>;
    /// A page of teams, oldest first: every team, or only those `member` belongs to; and how
    /// many there are.
    async fn list_teams(
        &self,
        member: Option<&str>,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<Team>, u64)>;
    /// How many rooms belong to the team, its main room included.
    async fn count_team_rooms(&self, team_id: &str) -> StoreResult<u64>;
    /// How many members the team has (any user, active or not).
    async fn count_team_members(&self, team_id: &str) -> StoreResult<u64>;
    /// How many of the team's members hold `role`.
    async fn count_team_members_with_role(&self, team_id: &str, role: &str) -> StoreResult<u64>;
    async fn team_member(&self, team_id: &str, user_id: &str) -> StoreResult<Option<TeamMember>>;
    /// Adds a membership; false, with nothing written, when the user is a member already.
    async fn add_team_member(&self, member: &TeamMember) -> StoreResult<bool>;
    /// Replaces a member's roles; false when they are not a member.
    async fn set_team_member_roles(
        &self,
        team_id: &str,
        user_id: &str,
        roles: &[String],
    ) -> StoreResult<bool>;
    /// False when they were not a member.
    async fn remove_team_member(&self, team_id: &str, user_id: &str) -> StoreResult<bool>;
    /// A page of a team's members who are active users matching `filter`, in the order they
    /// joined, each with their user; and how many match.
    async fn team_members(
        &self,
        team_id: &str,
        filter: &TeamMemberFilter,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<(TeamMember, User)>, u64)>;
    /// Every membership of a user.
    async fn teams_of_user(&self, user_id: &str) -> StoreResult<Vec<TeamMember>>;
}
