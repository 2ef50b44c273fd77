//! Who may listen to what: the access decision for live streams, declared beside the rules it
//! follows. Transports name what a client asks to listen to in these terms and ask here.

use crate::rooms::{RoomFamily, RoomRef};
use crate::{Service, Session};
use comet_core::{Error, Result};

/// What a client asks to receive live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listening<'a> {
    /// Public announcements (public settings and the like): anyone, even before logging in.
    Everyone,
    /// What every logged-in user sees (presence, status, role definitions).
    LoggedIn,
    /// A room's messages: whoever may read the room.
    RoomMessages(&'a str),
    /// The messages of every room the user is in.
    OwnRooms,
    /// A room's activity (typing, deletions, read receipts): its members.
    RoomActivity(&'a str),
    /// One user's own events (subscriptions, notifications, sessions): that user only.
    User(&'a str),
}

fn not_allowed() -> Error {
    Error::meteor("not-allowed", "Not allowed")
}

impl Service {
    /// Whether `session` (none: not logged in) may listen to `what`; upstream's refusal
    /// (`not-allowed`) when not.
    pub async fn may_listen(&self, session: Option<&Session>, what: Listening<'_>) -> Result<()> {
        if what == Listening::Everyone {
            return Ok(());
        }
        let Some(session) = session else {
            return Err(not_allowed());
        };
        match what {
            Listening::Everyone | Listening::LoggedIn | Listening::OwnRooms => Ok(()),
            Listening::RoomMessages(room_id) => self
                .rooms()
                .room_for(session, &RoomRef::Id(room_id.to_owned()), RoomFamily::Any)
                .await
                .map(|_| ())
                .map_err(|_| not_allowed()),
            Listening::RoomActivity(room_id) => {
                match self.rooms().subscription(session, room_id).await? {
                    Some(_) => Ok(()),
                    None => Err(not_allowed()),
                }
            }
            Listening::User(user_id) if user_id == session.user.id => Ok(()),
            Listening::User(_) => Err(not_allowed()),
        }
    }
}
