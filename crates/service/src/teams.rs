//! Teams (upstream's `TeamService` and `v1/teams.ts`): a team is a main room (`teamMain`) with
//! members of its own (`team_members`, with team roles) and rooms that belong to it
//! (`teamId`). Joining the main room joins the team and its auto-join (`teamDefault`) rooms;
//! leaving it leaves the team. Team permissions are checked in the scope of the main room, so a
//! team owner or moderator holds them through their roles there.
//!
//! Upstream throws plain `Error`s here, which its API answers as `failure(message)`; those are
//! `Error::failure` with upstream's message.

use crate::room_settings::RoomChange;
use crate::rooms::{NewRoom, RoomAccess, system_message};
use crate::{Session, Teams, store_error};
use comet_core::id;
use comet_core::page::{Page, RoomFilter};
use comet_core::room::{Message, Room, RoomType, UserStub};
use comet_core::team::{Creator, Team, TeamMember, TeamType};
use comet_core::user::User;
use comet_core::{Error, Result, now};
pub use comet_store::TeamMemberFilter;

/// A team named by id or by name (`teamId` / `teamName`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamRef {
    Id(String),
    Name(String),
}

/// A team with the counts `teams.list` shows.
#[derive(Debug, Clone)]
pub struct TeamInfo {
    pub team: Team,
    pub rooms: u64,
    pub members: u64,
}

/// What `teams.create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewTeam {
    pub name: String,
    pub team_type: Option<TeamType>,
    /// Usernames or ids.
    pub members: Vec<String>,
    /// The id of the user who owns the team and its main room instead of the caller.
    pub owner: Option<String>,
    pub read_only: bool,
    /// The main room's side panel items (`sidepanel.items`).
    pub sidepanel: Vec<String>,
}

/// A member to add, with the team roles to give them.
#[derive(Debug, Clone)]
pub struct MemberRoles {
    pub user_id: String,
    pub roles: Option<Vec<String>>,
}

/// Which of a team's children `teams.listChildren` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildKind {
    /// The team's rooms, its main room among them (`channels`).
    Rooms,
    /// The discussions of its main room (`discussions`).
    Discussions,
}

/// A team named by id or name, or by its main room (`teams.listChildren`'s `roomId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamOrMainRoom {
    Team(TeamRef),
    MainRoom(String),
}

/// What `teams.listChildren` asks for.
#[derive(Debug, Clone)]
pub struct ChildrenQuery {
    pub team: TeamOrMainRoom,
    /// Text found in the name or display name.
    pub filter: Option<String>,
    /// Only rooms or only discussions (`None`: both).
    pub kind: Option<ChildKind>,
    pub page: Page<comet_core::page::RoomSortKey>,
}

/// A page of a team's rooms or members.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    pub records: Vec<T>,
    pub total: u64,
}

fn failure(message: &'static str) -> Error {
    Error::failure(message)
}

fn creator(user: &User) -> Creator {
    Creator {
        id: user.id.clone(),
        username: user.username.clone(),
    }
}

/// The notice of joining or leaving a team's main room says the team (upstream's
/// `addUserToRoom` and `removeUserFromRoom`).
pub(crate) fn team_notice(notice: &mut Message) {
    let kind = match notice.kind.as_deref() {
        Some("uj") => "ujt",
        Some("au") => "added-user-to-team",
        Some("ul") => "ult",
        Some("ru") => "removed-user-from-team",
        _ => return,
    };
    notice.kind = Some(kind.to_owned());
}

impl Teams<'_> {
    async fn user(&self, id: &str) -> Result<Option<User>> {
        self.ctx.store.user_by_id(id).await.map_err(store_error)
    }

    /// The team a `teamId` or `teamName` names.
    pub async fn find(&self, team: &TeamRef) -> Result<Option<Team>> {
        let (TeamRef::Id(key) | TeamRef::Name(key)) = team;
        if key.is_empty() {
            return Ok(None);
        }
        match team {
            TeamRef::Id(id) => self.ctx.store.team_by_id(id).await,
            TeamRef::Name(name) => self.ctx.store.team_by_name(name).await,
        }
        .map_err(store_error)
    }

    /// The team, or upstream's `team-does-not-exist`.
    async fn existing(&self, team: &TeamRef) -> Result<Team> {
        self.find(team)
            .await?
            .ok_or_else(|| failure("team-does-not-exist"))
    }

    async fn can(&self, user: &User, permission: &str, team: &Team) -> Result<bool> {
        self.ctx
            .rooms()
            .has_room_permission(user, permission, &team.room_id)
            .await
    }

    async fn require(&self, user: &User, permission: &str, team: &Team) -> Result<()> {
        if self.can(user, permission, team).await? {
            Ok(())
        } else {
            Err(Error::forbidden())
        }
    }

    async fn is_member(&self, team: &Team, user_id: &str) -> Result<bool> {
        Ok(self
            .ctx
            .store
            .team_member(&team.id, user_id)
            .await
            .map_err(store_error)?
            .is_some())
    }

    fn publish_room(&self, room: Room) {
        self.ctx.publish(comet_events::Event::Room {
            room: Box::new(room),
            last_message: None,
        });
    }

    async fn room(&self, id: &str) -> Result<Option<Room>> {
        self.ctx.store.room_by_id(id).await.map_err(store_error)
    }

    /// `teams.create`.
    pub async fn create(&self, session: &Session, new_team: NewTeam) -> Result<Team> {
        if !self.ctx.has_permission(&session.user, "create-team") {
            return Err(Error::permission_required());
        }
        let team_type = new_team.team_type.unwrap_or(TeamType::Public);
        let name = new_team.name;
        let store = &self.ctx.store;
        let taken_by_user = store
            .user_by_username(&name)
            .await
            .map_err(store_error)?
            .is_some();
        if taken_by_user
            || store
                .team_by_name(&name)
                .await
                .map_err(store_error)?
                .is_some()
        {
            return Err(failure("team-name-already-exists"));
        }
        if store
            .room_by_name(&name)
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Err(failure("room-name-already-exists"));
        }
        let owner = match &new_team.owner {
            Some(owner_id) => self
                .user(owner_id)
                .await?
                .ok_or_else(|| failure("error-team-creation"))?,
            None => session.user.clone(),
        };
        // Members by id or username, active users only.
        let mut members: Vec<User> = Vec::new();
        for wanted in &new_team.members {
            let found = match store.user_by_id(wanted).await.map_err(store_error)? {
                Some(user) => Some(user),
                None => store.user_by_username(wanted).await.map_err(store_error)?,
            };
            if let Some(user) = found.filter(|u| u.active)
                && !members.iter().any(|m| m.id == user.id)
            {
                members.push(user);
            }
        }
        let owner_session = Session {
            user: owner.clone(),
            token: session.token.clone(),
        };
        let room_type = team_type.room_type();
        let room = self
            .ctx
            .rooms()
            .create_room(
                &owner_session,
                room_type,
                NewRoom {
                    name: name.clone(),
                    members: members.iter().map(|m| m.username.clone()).collect(),
                    read_only: new_team.read_only,
                    ..NewRoom::default()
                },
            )
            .await
            .map_err(|e| {
                tracing::info!(error = %e.message(), "team room not created");
                failure("error-team-creation")
            })?;
        let at = now();
        let created_by = creator(&session.user);
        let team = Team {
            id: id::new_id(),
            name,
            team_type,
            room_id: room.id.clone(),
            created_by: created_by.clone(),
            created_at: at,
            updated_at: at,
        };
        let mut memberships: Vec<TeamMember> = members
            .iter()
            .filter(|m| m.id != owner.id)
            .map(|m| TeamMember {
                id: id::new_id(),
                team_id: team.id.clone(),
                user_id: m.id.clone(),
                roles: Vec::new(),
                created_by: created_by.clone(),
                created_at: at,
            })
            .collect();
        memberships.push(TeamMember {
            id: id::new_id(),
            team_id: team.id.clone(),
            user_id: owner.id.clone(),
            roles: vec!["owner".to_owned()],
            created_by,
            created_at: at,
        });
        if let Err(e) = store.insert_team(&team, &memberships).await {
            tracing::warn!(error = %e, "team not stored; removing its room");
            self.ctx.rooms().erase_room(&room.id).await?;
            return Err(failure("error-team-creation"));
        }
        if let Some(mut main) = self.room(&room.id).await? {
            if !new_team.sidepanel.is_empty() {
                main.sidepanel = new_team.sidepanel;
                self.ctx
                    .store
                    .update_room(&main)
                    .await
                    .map_err(store_error)?;
            }
            self.publish_room(main);
        }
        Ok(team)
    }

    async fn with_counts(&self, teams: Vec<Team>) -> Result<Vec<TeamInfo>> {
        let mut infos = Vec::with_capacity(teams.len());
        for team in teams {
            let rooms = self
                .ctx
                .store
                .count_team_rooms(&team.id)
                .await
                .map_err(store_error)?;
            let members = self
                .ctx
                .store
                .count_team_members(&team.id)
                .await
                .map_err(store_error)?;
            infos.push(TeamInfo {
                team,
                rooms,
                members,
            });
        }
        Ok(infos)
    }

    /// `teams.list`: the caller's teams.
    pub async fn list(
        &self,
        session: &Session,
        offset: u64,
        count: Option<u64>,
    ) -> Result<Listing<TeamInfo>> {
        let (teams, total) = self
            .ctx
            .store
            .list_teams(Some(&session.user.id), offset, count)
            .await
            .map_err(store_error)?;
        Ok(Listing {
            records: self.with_counts(teams).await?,
            total,
        })
    }

    /// `teams.listAll`: every team, for `view-all-teams`.
    pub async fn list_all(
        &self,
        session: &Session,
        offset: u64,
        count: Option<u64>,
    ) -> Result<Listing<TeamInfo>> {
        if !self.ctx.has_permission(&session.user, "view-all-teams") {
            return Err(Error::permission_required());
        }
        let (teams, total) = self
            .ctx
            .store
            .list_teams(None, offset, count)
            .await
            .map_err(store_error)?;
        Ok(Listing {
            records: self.with_counts(teams).await?,
            total,
        })
    }

    /// `teams.info`: for whoever may read the main room, or holds `view-all-teams`.
    pub async fn info(&self, session: &Session, team: &TeamRef) -> Result<Team> {
        let team = self
            .find(team)
            .await?
            .ok_or_else(|| failure("Team not found"))?;
        let room = self
            .room(&team.room_id)
            .await?
            .ok_or_else(|| failure("Room not found"))?;
        let may_read = self
            .ctx
            .rooms()
            .can_access_room(&session.user, &room)
            .await?;
        if !may_read && !self.ctx.has_permission(&session.user, "view-all-teams") {
            return Err(Error::forbidden());
        }
        Ok(team)
    }

    /// The usernames of the members of the named teams that the caller may list (as
    /// `teams.members` would show them); unknown names are skipped, as upstream does.
    pub async fn member_usernames(
        &self,
        session: &Session,
        team_names: &[String],
    ) -> Result<Vec<String>> {
        let mut usernames = Vec::new();
        for name in team_names {
            let team = TeamRef::Name(name.clone());
            if self.find(&team).await?.is_none() {
                continue;
            }
            let listing = self
                .members(session, &team, &TeamMemberFilter::default(), 0, None)
                .await?;
            usernames.extend(listing.records.into_iter().map(|(_, user)| user.username));
        }
        Ok(usernames)
    }

    /// A channel created inside a team is announced in the team's main room.
    pub(crate) async fn announce_new_room(
        &self,
        session: &Session,
        team: &Team,
        room: &Room,
    ) -> Result<()> {
        if let Some(main) = self.room(&team.room_id).await? {
            let name = room.name.clone().unwrap_or_default();
            self.ctx
                .rooms()
                .post_system_message(&main, "user-added-room-to-team", &session.user, &name, None)
                .await?;
        }
        Ok(())
    }

    /// `teams.members`: empty for someone outside the team without `view-all-teams`.
    pub async fn members(
        &self,
        session: &Session,
        team: &TeamRef,
        filter: &TeamMemberFilter,
        offset: u64,
        count: Option<u64>,
    ) -> Result<Listing<(TeamMember, User)>> {
        let team = self.existing(team).await?;
        let sees_all = self.can(&session.user, "view-all-teams", &team).await?;
        if !sees_all && !self.is_member(&team, &session.user.id).await? {
            return Ok(Listing {
                records: Vec::new(),
                total: 0,
            });
        }
        let (records, total) = self
            .ctx
            .store
            .team_members(&team.id, filter, offset, count)
            .await
            .map_err(store_error)?;
        Ok(Listing { records, total })
    }

    /// Gives roles to a member in the team and in its main room (upstream adds, keeping the
    /// roles they had).
    async fn add_roles(&self, team: &Team, user_id: &str, roles: &[String]) -> Result<()> {
        let store = &self.ctx.store;
        if let Some(member) = store
            .team_member(&team.id, user_id)
            .await
            .map_err(store_error)?
        {
            let mut all = member.roles;
            for role in roles {
                if !all.contains(role) {
                    all.push(role.clone());
                }
            }
            store
                .set_team_member_roles(&team.id, user_id, &all)
                .await
                .map_err(store_error)?;
        }
        if let Some(mut subscription) = store
            .subscription(&team.room_id, user_id)
            .await
            .map_err(store_error)?
        {
            for role in roles {
                if !subscription.roles.contains(role) {
                    subscription.roles.push(role.clone());
                }
            }
            self.set_subscription_roles(subscription).await?;
        }
        Ok(())
    }

    async fn set_subscription_roles(
        &self,
        mut subscription: comet_core::room::Subscription,
    ) -> Result<()> {
        subscription.updated_at = now();
        self.ctx
            .store
            .update_subscription(&subscription)
            .await
            .map_err(store_error)?;
        self.ctx
            .rooms()
            .publish_subscription(comet_events::Change::Updated, subscription);
        Ok(())
    }

    /// `teams.addMembers`: each joins the main room (and so the team and its auto-join rooms).
    pub async fn add_members(
        &self,
        session: &Session,
        team: &TeamRef,
        members: &[MemberRoles],
    ) -> Result<()> {
        let team = self.existing(team).await?;
        if !self.can(&session.user, "add-team-member", &team).await?
            && !self.can(&session.user, "edit-team-member", &team).await?
        {
            return Err(Error::forbidden());
        }
        let main = self
            .room(&team.room_id)
            .await?
            .ok_or_else(|| failure("team-does-not-exist"))?;
        let rooms = self.ctx.rooms();
        for member in members {
            let Some(user) = self.user(&member.user_id).await? else {
                return Err(failure("invalid-user"));
            };
            let at = now();
            let subscription = rooms.new_subscription(&main, &user, Vec::new(), at);
            let notice = system_message("au", &main.id, &session.user, &user.username, at);
            rooms.add_member(&main, subscription, notice).await?;
            if let Some(roles) = &member.roles {
                self.add_roles(&team, &user.id, roles).await?;
            }
        }
        Ok(())
    }

    /// After someone joined a team's main room: they join the team, and its auto-join rooms.
    pub(crate) async fn joined_main_room(
        &self,
        team_id: &str,
        user_id: &str,
        inviter: &UserStub,
    ) -> Result<()> {
        let member = TeamMember {
            id: id::new_id(),
            team_id: team_id.to_owned(),
            user_id: user_id.to_owned(),
            roles: Vec::new(),
            created_by: Creator {
                id: inviter.id.clone(),
                username: inviter.username.clone(),
            },
            created_at: now(),
        };
        let added = self
            .ctx
            .store
            .add_team_member(&member)
            .await
            .map_err(store_error)?;
        if !added {
            return Ok(());
        }
        let Some(user) = self.user(user_id).await?.filter(|u| u.active) else {
            return Ok(());
        };
        let actor = self
            .user(&inviter.id)
            .await?
            .unwrap_or_else(|| user.clone());
        let defaults = RoomFilter {
            team_id: Some(team_id.to_owned()),
            team_default_only: true,
            ..RoomFilter::default()
        };
        let (rooms, _) = self
            .ctx
            .store
            .list_rooms(&defaults, &Page::all())
            .await
            .map_err(store_error)?;
        for room in rooms.iter().filter(|r| !r.team_main) {
            self.join(room, &user, &actor).await?;
        }
        Ok(())
    }

    /// Adds a user to a team's room with `au` (by `actor`), unless they are in it.
    async fn join(&self, room: &Room, user: &User, actor: &User) -> Result<bool> {
        let at = now();
        let rooms = self.ctx.rooms();
        let subscription = rooms.new_subscription(room, user, Vec::new(), at);
        let notice = system_message("au", &room.id, actor, &user.username, at);
        rooms.add_member(room, subscription, notice).await
    }

    /// Upstream's `removeMembers` for one member: the last owner stays.
    async fn remove_one(&self, session: &Session, team: &Team, user: &User) -> Result<()> {
        let store = &self.ctx.store;
        let member = store
            .team_member(&team.id, &user.id)
            .await
            .map_err(store_error)?;
        let subscription = store
            .subscription(&team.room_id, &user.id)
            .await
            .map_err(store_error)?;
        if member.is_none() && subscription.is_none() {
            return Err(failure("member-does-not-exist"));
        }
        if let Some(member) = &member {
            if member.roles.iter().any(|r| r == "owner")
                && store
                    .count_team_members_with_role(&team.id, "owner")
                    .await
                    .map_err(store_error)?
                    == 1
            {
                return Err(failure("last-owner-can-not-be-removed"));
            }
            store
                .remove_team_member(&team.id, &user.id)
                .await
                .map_err(store_error)?;
        }
        if subscription.is_some()
            && let Some(main) = self.room(&team.room_id).await?
        {
            let kind = if session.user.id == user.id {
                "ul"
            } else {
                "ru"
            };
            let notice = system_message(kind, &main.id, &session.user, &user.username, now());
            self.ctx
                .rooms()
                .remove_member(&main, &user.id, notice)
                .await?;
        }
        Ok(())
    }

    /// Takes a user out of those of `rooms` that belong to the team.
    async fn leave_team_rooms(
        &self,
        session: &Session,
        team: &Team,
        user: &User,
        rooms: &[String],
    ) -> Result<()> {
        for room in self.matching_rooms(team, rooms).await? {
            let kind = if session.user.id == user.id {
                "ul"
            } else {
                "ru"
            };
            let notice = system_message(kind, &room.id, &session.user, &user.username, now());
            self.ctx
                .rooms()
                .remove_member(&room, &user.id, notice)
                .await?;
        }
        Ok(())
    }

    /// Those of `ids` that are rooms of the team (upstream's `getMatchingTeamRooms`).
    async fn matching_rooms(&self, team: &Team, ids: &[String]) -> Result<Vec<Room>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rooms = self
            .ctx
            .store
            .rooms_by_ids(ids)
            .await
            .map_err(store_error)?;
        Ok(rooms
            .into_iter()
            .filter(|r| r.team_id.as_deref() == Some(team.id.as_str()))
            .collect())
    }

    /// `teams.removeMember`.
    pub async fn remove_member(
        &self,
        session: &Session,
        team: &TeamRef,
        user_id: &str,
        rooms: &[String],
    ) -> Result<()> {
        let team = self.existing(team).await?;
        self.require(&session.user, "edit-team-member", &team)
            .await?;
        let Some(user) = self.user(user_id).await?.filter(|u| u.active) else {
            return Err(failure("invalid-user"));
        };
        self.remove_one(session, &team, &user).await?;
        self.leave_team_rooms(session, &team, &user, rooms).await
    }

    /// `teams.leave`.
    pub async fn leave(&self, session: &Session, team: &TeamRef, rooms: &[String]) -> Result<()> {
        let team = self.existing(team).await?;
        self.remove_one(session, &team, &session.user).await?;
        self.leave_team_rooms(session, &team, &session.user, rooms)
            .await
    }

    /// `teams.updateMember`: replaces the member's roles in the team and in its main room.
    pub async fn update_member(
        &self,
        session: &Session,
        team: &TeamRef,
        member: &MemberRoles,
    ) -> Result<()> {
        let team = self.existing(team).await?;
        self.require(&session.user, "edit-team-member", &team)
            .await?;
        let roles = member.roles.clone().unwrap_or_default();
        let store = &self.ctx.store;
        store
            .set_team_member_roles(&team.id, &member.user_id, &roles)
            .await
            .map_err(store_error)?;
        if let Some(mut subscription) = store
            .subscription(&team.room_id, &member.user_id)
            .await
            .map_err(store_error)?
        {
            subscription.roles = roles;
            self.set_subscription_roles(subscription).await?;
        }
        Ok(())
    }

    /// Erases each of `ids` that belongs to the team.
    async fn erase_team_rooms(&self, team: &Team, ids: &[String]) -> Result<()> {
        for room in self.matching_rooms(team, ids).await? {
            if room.id != team.room_id {
                self.ctx.rooms().erase_room(&room.id).await?;
            }
        }
        Ok(())
    }

    /// Deletes the team record and its memberships; its rooms return to the workspace.
    async fn dissolve(&self, team: &Team) -> Result<()> {
        let released = self
            .ctx
            .store
            .delete_team(&team.id)
            .await
            .map_err(store_error)?;
        let rooms = self
            .ctx
            .store
            .rooms_by_ids(&released)
            .await
            .map_err(store_error)?;
        for room in rooms {
            self.publish_room(room);
        }
        Ok(())
    }

    /// `teams.delete`: `roomsToRemove` and the main room are erased, the other rooms return to
    /// the workspace.
    pub async fn delete(
        &self,
        session: &Session,
        team: &TeamRef,
        rooms_to_remove: &[String],
    ) -> Result<()> {
        let team = self.existing(team).await?;
        self.require(&session.user, "delete-team", &team).await?;
        self.erase_team_rooms(&team, rooms_to_remove).await?;
        self.dissolve(&team).await?;
        self.ctx.rooms().erase_room(&team.room_id).await?;
        tracing::info!(by = %session.user.id, team = %team.id, "team deleted");
        Ok(())
    }

    /// `teams.convertToChannel`: the main room stays as a plain room.
    pub async fn convert_to_channel(
        &self,
        session: &Session,
        team: &TeamRef,
        rooms_to_remove: &[String],
    ) -> Result<()> {
        let team = self.existing(team).await?;
        self.require(&session.user, "convert-team", &team).await?;
        self.erase_team_rooms(&team, rooms_to_remove).await?;
        if let Some(main) = self.room(&team.room_id).await? {
            let name = main.name.clone().unwrap_or_default();
            self.ctx
                .rooms()
                .post_system_message(
                    &main,
                    "user-converted-to-channel",
                    &session.user,
                    &name,
                    None,
                )
                .await?;
        }
        self.dissolve(&team).await
    }

    /// `teams.addRooms`: the caller must read each room and own it.
    pub async fn add_rooms(
        &self,
        session: &Session,
        team: &TeamRef,
        room_ids: &[String],
    ) -> Result<Vec<Room>> {
        let team = self.existing(team).await?;
        if !self.can(&session.user, "add-team-channel", &team).await? {
            return Err(Error::forbidden_because("error-no-permission-team-channel"));
        }
        let ids: Vec<String> = room_ids.iter().filter(|r| !r.is_empty()).cloned().collect();
        let mut rooms = self
            .ctx
            .store
            .rooms_by_ids(&ids)
            .await
            .map_err(store_error)?;
        if rooms.len() < ids.len() {
            return Err(failure("invalid-room"));
        }
        let access = self.ctx.rooms();
        for room in &rooms {
            if !access.can_access_room(&session.user, room).await? {
                return Err(failure("invalid-room"));
            }
        }
        for room in &rooms {
            if room.team_id.is_some() {
                return Err(failure("room-already-on-team"));
            }
            let owns = self
                .ctx
                .store
                .subscription(&room.id, &session.user.id)
                .await
                .map_err(store_error)?
                .is_some_and(|s| s.roles.iter().any(|r| r == "owner"));
            if !owns {
                return Err(failure("error-no-owner-channel"));
            }
        }
        let main = self.room(&team.room_id).await?;
        for room in &mut rooms {
            room.team_id = Some(team.id.clone());
            room.updated_at = now();
            self.ctx
                .store
                .update_room(room)
                .await
                .map_err(store_error)?;
            if room.room_type == RoomType::Channel
                && let Some(main) = &main
            {
                let name = room.name.clone().unwrap_or_default();
                access
                    .post_system_message(
                        main,
                        "user-added-room-to-team",
                        &session.user,
                        &name,
                        None,
                    )
                    .await?;
            }
            self.publish_room(room.clone());
        }
        Ok(rooms)
    }

    /// `teams.removeRoom`.
    pub async fn remove_room(
        &self,
        session: &Session,
        team: &TeamRef,
        room_id: &str,
    ) -> Result<Room> {
        let team = self.existing(team).await?;
        self.require(&session.user, "remove-team-channel", &team)
            .await?;
        let any_room = self
            .can(&session.user, "view-all-team-channels", &team)
            .await?;
        let mut room = self
            .room(room_id)
            .await?
            .ok_or_else(|| failure("invalid-room"))?;
        if !any_room
            && !self
                .ctx
                .rooms()
                .can_access_room(&session.user, &room)
                .await?
        {
            return Err(failure("invalid-room"));
        }
        if room.team_id.as_deref() != Some(team.id.as_str()) {
            return Err(failure("room-not-on-that-team"));
        }
        room.team_id = None;
        room.team_default = false;
        room.updated_at = now();
        self.ctx
            .store
            .update_room(&room)
            .await
            .map_err(store_error)?;
        self.publish_room(room.clone());
        if room.room_type == RoomType::Channel
            && let Some(main) = self.room(&team.room_id).await?
        {
            let name = room.name.clone().unwrap_or_default();
            self.ctx
                .rooms()
                .post_system_message(
                    &main,
                    "user-removed-room-from-team",
                    &session.user,
                    &name,
                    None,
                )
                .await?;
        }
        Ok(room)
    }

    /// `teams.updateRoom`: an auto-join room gets every member of the team.
    pub async fn update_room(
        &self,
        session: &Session,
        room_id: &str,
        is_default: bool,
    ) -> Result<Room> {
        let mut room = self
            .room(room_id)
            .await?
            .ok_or_else(|| failure("invalid-room"))?;
        let Some(team_id) = room.team_id.clone() else {
            return Err(failure("room-not-on-team"));
        };
        let team = self.existing(&TeamRef::Id(team_id)).await?;
        self.require(&session.user, "edit-team-channel", &team)
            .await?;
        let any_room = self
            .can(&session.user, "view-all-team-channels", &team)
            .await?;
        if !any_room
            && !self
                .ctx
                .rooms()
                .can_access_room(&session.user, &room)
                .await?
        {
            return Err(failure("invalid-room"));
        }
        room.team_default = is_default;
        room.updated_at = now();
        self.ctx
            .store
            .update_room(&room)
            .await
            .map_err(store_error)?;
        if is_default {
            let limit = u64::try_from(self.ctx.setting_int("API_User_Limit").max(0)).unwrap_or(0);
            let filter = TeamMemberFilter {
                except_user: room.creator.as_ref().map(|c| c.id.clone()),
                ..TeamMemberFilter::default()
            };
            let (members, _) = self
                .ctx
                .store
                .team_members(&team.id, &filter, 0, Some(limit))
                .await
                .map_err(store_error)?;
            for (_, user) in members {
                if self.join(&room, &user, &session.user).await? {
                    room.users_count += 1;
                }
            }
        }
        self.publish_room(room.clone());
        Ok(room)
    }

    /// `teams.listRooms`: every room of the team for `view-all-team-channels`, else its public
    /// rooms and those the caller is in.
    pub async fn list_rooms(
        &self,
        session: &Session,
        team: &TeamRef,
        name: Option<String>,
        auto_join_only: bool,
        offset: u64,
        count: Option<u64>,
    ) -> Result<Listing<Room>> {
        let team = self.existing(team).await?;
        let private_allowed = self.can(&session.user, "view-all-teams", &team).await?;
        let all_rooms = self
            .can(&session.user, "view-all-team-channels", &team)
            .await?;
        if team.team_type == TeamType::Private
            && !private_allowed
            && !self.is_member(&team, &session.user.id).await?
        {
            return Err(failure("user-not-on-private-team"));
        }
        let filter = RoomFilter {
            team_id: Some(team.id.clone()),
            without_team_main: true,
            team_default_only: auto_join_only,
            name: name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
            visible_to: (!all_rooms).then(|| session.user.id.clone()),
            ..RoomFilter::default()
        };
        let page = Page {
            offset,
            count,
            ..Page::all()
        };
        let (records, total) = self
            .ctx
            .store
            .list_rooms(&filter, &page)
            .await
            .map_err(store_error)?;
        Ok(Listing { records, total })
    }

    /// `teams.listChildren`: the team's rooms (its main room among them) and the discussions
    /// of its main room, for a member of the team: its public rooms and those the caller is
    /// in. `None` when there is no such team (upstream's `notFound`).
    pub async fn list_children(
        &self,
        session: &Session,
        query: ChildrenQuery,
    ) -> Result<Option<Listing<Room>>> {
        let team = match &query.team {
            TeamOrMainRoom::Team(team) => self.find(team).await?,
            TeamOrMainRoom::MainRoom(room_id) if room_id.is_empty() => None,
            TeamOrMainRoom::MainRoom(room_id) => match self.room(room_id).await? {
                Some(Room {
                    team_main: true,
                    team_id: Some(team_id),
                    ..
                }) => self.find(&TeamRef::Id(team_id)).await?,
                _ => None,
            },
        };
        let Some(team) = team else {
            return Ok(None);
        };
        if self.room(&team.room_id).await?.is_none() {
            return Err(failure("error-invalid-team-no-main-room"));
        }
        if !self.is_member(&team, &session.user.id).await? {
            return Err(failure("error-invalid-team-not-a-member"));
        }
        let mut filter = RoomFilter {
            name_or_fname: query
                .filter
                .map(|f| f.trim().to_owned())
                .filter(|f| !f.is_empty()),
            visible_to: Some(session.user.id.clone()),
            ..RoomFilter::default()
        };
        match query.kind {
            Some(ChildKind::Rooms) => filter.team_id = Some(team.id.clone()),
            Some(ChildKind::Discussions) => filter.parent_id = Some(team.room_id.clone()),
            None => filter.team_children = Some((team.id.clone(), team.room_id.clone())),
        }
        let (records, total) = self
            .ctx
            .store
            .list_rooms(&filter, &query.page)
            .await
            .map_err(store_error)?;
        Ok(Some(Listing { records, total }))
    }

    /// `teams.autocomplete`: up to ten main rooms whose name or display name begins with
    /// `name`, public ones and those the caller is in.
    pub async fn autocomplete(&self, session: &Session, name: &str) -> Result<Vec<Room>> {
        let filter = RoomFilter {
            team_main_only: true,
            name_or_fname: Some(name.trim().to_owned()),
            name_or_fname_prefix: true,
            visible_to: Some(session.user.id.clone()),
            ..RoomFilter::default()
        };
        let page = Page {
            offset: 0,
            count: Some(10),
            sort: vec![(
                comet_core::page::RoomSortKey::Name,
                comet_core::page::Direction::Ascending,
            )],
        };
        let (rooms, _) = self
            .ctx
            .store
            .list_rooms(&filter, &page)
            .await
            .map_err(store_error)?;
        Ok(rooms)
    }

    /// The refusals a new team's name meets (upstream's `checkUsernameAvailability` and its
    /// room-name check); `own_room` is the room becoming the team's main room, if any.
    async fn check_team_name(&self, name: &str, own_room: Option<&str>) -> Result<()> {
        let store = &self.ctx.store;
        let taken_by_user = store
            .user_by_username(name)
            .await
            .map_err(store_error)?
            .is_some();
        if taken_by_user
            || store
                .team_by_name(name)
                .await
                .map_err(store_error)?
                .is_some()
        {
            return Err(failure("team-name-already-exists"));
        }
        let room = store.room_by_name(name).await.map_err(store_error)?;
        if room.is_some_and(|r| Some(r.id.as_str()) != own_room) {
            return Err(failure("room-name-already-exists"));
        }
        Ok(())
    }

    /// `channels.convertToTeam`, `groups.convertToTeam` (upstream's `Team.create` with an
    /// existing room): the room becomes the main room of a team named after it, its active
    /// members the team's members and the caller its owner; `user-converted-to-team` is posted
    /// in it. The caller's permissions are the route's to check.
    pub async fn convert_room(&self, session: &Session, room: &Room) -> Result<Team> {
        let name = room.name.clone().unwrap_or_default();
        self.check_team_name(&name, Some(&room.id)).await?;
        let store = &self.ctx.store;
        let (subscriptions, _) = store
            .subscriptions_of_room(&room.id, 0, None)
            .await
            .map_err(store_error)?;
        let at = now();
        let created_by = creator(&session.user);
        let team_type = if room.room_type == RoomType::Channel {
            TeamType::Public
        } else {
            TeamType::Private
        };
        let team = Team {
            id: id::new_id(),
            name: name.clone(),
            team_type,
            room_id: room.id.clone(),
            created_by: created_by.clone(),
            created_at: at,
            updated_at: at,
        };
        let mut memberships = Vec::new();
        for subscription in subscriptions {
            if subscription.user.id == session.user.id {
                continue;
            }
            let active = self
                .user(&subscription.user.id)
                .await?
                .is_some_and(|u| u.active);
            if active {
                memberships.push(TeamMember {
                    id: id::new_id(),
                    team_id: team.id.clone(),
                    user_id: subscription.user.id,
                    roles: Vec::new(),
                    created_by: created_by.clone(),
                    created_at: at,
                });
            }
        }
        memberships.push(TeamMember {
            id: id::new_id(),
            team_id: team.id.clone(),
            user_id: session.user.id.clone(),
            roles: vec!["owner".to_owned()],
            created_by,
            created_at: at,
        });
        if let Err(e) = store.insert_team(&team, &memberships).await {
            tracing::warn!(error = %e, room = %room.id, "room not converted to a team");
            return Err(failure("error-team-creation"));
        }
        if let Some(main) = self.room(&room.id).await? {
            self.ctx
                .rooms()
                .post_system_message(&main, "user-converted-to-team", &session.user, &name, None)
                .await?;
            self.publish_room(main);
        }
        tracing::info!(by = %session.user.id, team = %team.id, room = %room.id, "room converted to a team");
        Ok(team)
    }

    /// `teams.update`: a new name and type, for `edit-team` in the main room's scope. With
    /// `update_room` (upstream's default) the main room is renamed and its type changed with
    /// their system messages, which carries them to the team; without, only the team record.
    pub async fn update(
        &self,
        session: &Session,
        team: &TeamRef,
        name: Option<String>,
        team_type: Option<TeamType>,
        update_room: bool,
    ) -> Result<()> {
        let mut team = self.existing(team).await?;
        if !self.can(&session.user, "edit-team", &team).await? {
            return Err(Error::forbidden());
        }
        let name = name.filter(|n| !n.is_empty());
        if update_room && let Some(mut main) = self.room(&team.room_id).await? {
            let rooms = self.ctx.rooms();
            if let Some(name) = &name {
                main = rooms
                    .apply_change(&session.user, &main, RoomChange::Name(name.clone()))
                    .await?;
            }
            if let Some(team_type) = team_type {
                main = rooms
                    .apply_change(
                        &session.user,
                        &main,
                        RoomChange::Type(team_type.room_type()),
                    )
                    .await?;
            }
            self.publish_room(main);
        }
        if let Some(name) = name {
            team.name = name;
        }
        if let Some(team_type) = team_type {
            team.team_type = team_type;
        }
        team.updated_at = now();
        self.ctx
            .store
            .update_team(&team)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// `teams.listRoomsOfUser`: the team's channels and groups `user_id` is in, each with
    /// whether they are its last owner; with `deletable_only`, only those they may delete
    /// (`delete-team-channel`/`delete-team-group` in the team, `delete-c`/`delete-p` in the
    /// room).
    pub async fn list_rooms_of_user(
        &self,
        session: &Session,
        team: &TeamRef,
        user_id: &str,
        deletable_only: bool,
        offset: u64,
        count: Option<u64>,
    ) -> Result<Listing<(Room, bool)>> {
        let team = self.existing(team).await?;
        let private_allowed = self.can(&session.user, "view-all-teams", &team).await?;
        if session.user.id != user_id
            && !self
                .can(&session.user, "view-all-team-channels", &team)
                .await?
        {
            return Err(Error::forbidden());
        }
        if team.team_type == TeamType::Private
            && !private_allowed
            && !self.is_member(&team, &session.user.id).await?
        {
            return Err(failure("user-not-on-private-team"));
        }
        let filter = RoomFilter {
            team_id: Some(team.id.clone()),
            without_team_main: true,
            types: vec![RoomType::Channel, RoomType::Private],
            member: Some(user_id.to_owned()),
            ..RoomFilter::default()
        };
        let (mut rooms, _) = self
            .ctx
            .store
            .list_rooms(&filter, &Page::all())
            .await
            .map_err(store_error)?;
        if deletable_only {
            let user = self
                .user(user_id)
                .await?
                .ok_or_else(|| failure("invalid-user"))?;
            let access = self.ctx.rooms();
            let team_channel = access
                .has_room_permission(&user, "delete-team-channel", &team.room_id)
                .await?;
            let team_group = access
                .has_room_permission(&user, "delete-team-group", &team.room_id)
                .await?;
            let mut deletable = Vec::with_capacity(rooms.len());
            for room in rooms {
                let public = room.room_type == RoomType::Channel;
                let in_team = if public { team_channel } else { team_group };
                let permission = if public { "delete-c" } else { "delete-p" };
                if in_team
                    && access
                        .has_room_permission(&user, permission, &room.id)
                        .await?
                {
                    deletable.push(room);
                }
            }
            rooms = deletable;
        }
        let total = rooms.len() as u64;
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = count.map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
        let mut records = Vec::new();
        for room in rooms.into_iter().skip(skip).take(take) {
            let owner = self
                .ctx
                .store
                .subscription(&room.id, user_id)
                .await
                .map_err(store_error)?
                .is_some_and(|s| s.roles.iter().any(|r| r == "owner"));
            let last_owner = owner && self.ctx.rooms().count_owners(&room.id).await? == 1;
            records.push((room, last_owner));
        }
        Ok(Listing { records, total })
    }

    /// The access a team operation's caller has to a room, when they have it.
    pub async fn room_access(&self, session: &Session, room: Room) -> Result<Option<RoomAccess>> {
        self.ctx.rooms().room_access(session, room).await
    }
}
