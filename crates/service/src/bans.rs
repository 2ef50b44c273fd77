//! Room bans: `rooms.banUser`, `rooms.unbanUser`, `rooms.bannedUsers` and `/ban`, `/unban`.
//!
//! Banning removes the member exactly as a kick does (their subscription goes, their sockets
//! stop receiving the room at once) and records the ban, which keeps them from joining, being
//! added and reading a public channel until a moderator unbans them. Unbanning does not make
//! them a member again. Upstream reports these refusals as plain errors (no `errorType`), in
//! the order followed here.

use crate::rooms::system_message;
use crate::{Rooms, Session, store_error};
use comet_core::room::{Room, RoomType};
use comet_core::user::User;
use comet_core::{Error, Result, now};
use comet_store::RoomBan;
use serde_json::json;

const NOT_ALLOWED: &str = "Not allowed";
const NOT_READABLE: &str =
    "The required \"roomId\" or \"roomName\" param provided does not match any group";

/// A banned user as `rooms.bannedUsers` lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct BannedUser {
    pub id: String,
    pub username: String,
    pub name: String,
}

impl Rooms<'_> {
    /// Whether a user is banned from a room.
    pub(crate) async fn is_banned(&self, room_id: &str, user_id: &str) -> Result<bool> {
        Ok(self
            .ctx
            .store
            .room_ban(room_id, user_id)
            .await
            .map_err(store_error)?
            .is_some())
    }

    /// The room `channels.join` and `joinRoom` join: as [`Rooms::room_for`], except that a user banned
    /// from it is told they may not join (upstream finds the channel first, then refuses the
    /// join because a banned user may not access it).
    pub async fn room_for_join(
        &self,
        session: &Session,
        reference: &crate::rooms::RoomRef,
        family: crate::rooms::RoomFamily,
    ) -> Result<crate::rooms::RoomAccess> {
        match self.room_for(session, reference, family).await {
            Err(refusal) => match self.find_room_unchecked(reference).await? {
                Some(room)
                    if room.room_type == RoomType::Channel
                        && self.is_banned(&room.id, &session.user.id).await? =>
                {
                    Err(Error::meteor("error-not-allowed", NOT_ALLOWED)
                        .with_details(serde_json::json!({"method": "joinRoom"})))
                }
                _ => Err(refusal),
            },
            found => found,
        }
    }

    /// The room a moderator bans from or unbans in, after upstream's checks: the room-scoped
    /// `ban-user`, a room type whose members can be banned, and read access.
    async fn room_to_moderate(
        &self,
        session: &Session,
        room_id: &str,
        missing_room: &'static str,
    ) -> Result<Room> {
        if !self
            .has_room_permission(&session.user, "ban-user", room_id)
            .await?
        {
            return Err(Error::failure(NOT_ALLOWED));
        }
        let Some(room) = self
            .ctx
            .store
            .room_by_id(room_id)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::failure(missing_room));
        };
        if room.room_type == RoomType::Direct {
            return Err(Error::failure(NOT_ALLOWED));
        }
        if !self.can_access_room(&session.user, &room).await? {
            return Err(Error::failure(NOT_READABLE));
        }
        Ok(room)
    }

    /// `rooms.banUser`, `/ban @user`.
    pub async fn ban_user(&self, session: &Session, room_id: &str, user: &User) -> Result<()> {
        let room = self.room_to_moderate(session, room_id, NOT_ALLOWED).await?;
        let Some(subscription) = self
            .ctx
            .store
            .subscription(&room.id, &user.id)
            .await
            .map_err(store_error)?
        else {
            if self.is_banned(&room.id, &user.id).await? {
                return Err(Error::failure("User is already banned from this room"));
            }
            return Err(Error::failure("User is not in this room"));
        };
        if subscription.roles.iter().any(|r| r == "owner")
            && self.count_owners(&room.id).await? <= 1
        {
            return Err(Error::failure(
                "You are the last owner. Please set new owner before banning the user.",
            ));
        }
        let at = now();
        let ban = RoomBan {
            room_id: room.id.clone(),
            user_id: user.id.clone(),
            banned_by: session.user.id.clone(),
            banned_at: at,
        };
        let notice = system_message("user-banned", &room.id, &session.user, &user.username, at);
        let banned = self
            .ctx
            .store
            .ban_member(&ban, Some(&notice))
            .await
            .map_err(store_error)?;
        // Gone between the read and the ban (left or kicked meanwhile): not a member any more.
        if !banned {
            return Err(Error::failure("User is not in this room"));
        }
        self.publish_subscription(comet_events::Change::Removed, subscription);
        self.ctx
            .publish(comet_events::Event::Message(Box::new(notice)));
        self.ctx
            .audit_by(
                session,
                "room.ban",
                crate::audit::AuditTarget::user(user),
                None,
                Some(json!({"room": {"_id": room.id, "name": room.name}})),
            )
            .await
    }

    /// `rooms.unbanUser`, `/unban @user`: lifts the ban; the user may join or be added again.
    pub async fn unban_user(&self, session: &Session, room_id: &str, user: &User) -> Result<()> {
        let room = self
            .room_to_moderate(session, room_id, "Invalid room")
            .await?;
        let at = now();
        let notice = system_message("user-unbanned", &room.id, &session.user, &user.username, at);
        let lifted = self
            .ctx
            .store
            .unban(&room.id, &user.id, Some(&notice))
            .await
            .map_err(store_error)?;
        if !lifted {
            return Err(Error::failure("error-user-not-banned"));
        }
        self.ctx
            .publish(comet_events::Event::Message(Box::new(notice)));
        self.ctx
            .audit_by(
                session,
                "room.unban",
                crate::audit::AuditTarget::user(user),
                None,
                Some(json!({"room": {"_id": room.id, "name": room.name}})),
            )
            .await
    }

    /// `rooms.bannedUsers`: a page of the users banned from a room the caller may read, in the
    /// order they were banned, and how many there are.
    pub async fn banned_users(
        &self,
        session: &Session,
        room_id: &str,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<BannedUser>, u64)> {
        let room = self
            .ctx
            .store
            .room_by_id(room_id)
            .await
            .map_err(store_error)?;
        let readable = match &room {
            Some(room) => self.can_access_room(&session.user, room).await?,
            None => false,
        };
        if !readable {
            return Err(Error::unauthorized());
        }
        let (bans, total) = self
            .ctx
            .store
            .room_bans(room_id, offset, count)
            .await
            .map_err(store_error)?;
        let ids: Vec<String> = bans.iter().map(|b| b.user_id.clone()).collect();
        let users = self
            .ctx
            .store
            .users_by_ids(&ids)
            .await
            .map_err(store_error)?;
        let listed = bans
            .iter()
            .filter_map(|ban| users.iter().find(|u| u.id == ban.user_id))
            .map(|u| BannedUser {
                id: u.id.clone(),
                username: u.username.clone(),
                name: u.name.clone(),
            })
            .collect();
        Ok((listed, total))
    }
}
