//! Finding people and rooms: `directory` and `spotlight`.

use crate::Rooms;
use crate::accounts::{UserView, VisibleUser};
use crate::{Session, store_error};
use comet_core::page::{Direction, Page, UserSortKey};
use comet_core::room::{Room, RoomType};
use comet_core::{Error, Result};
use comet_store::{RoomFilter, RoomSortKey, UserFilter};

/// How many results `spotlight` returns per kind.
const SPOTLIGHT_LIMIT: u64 = 10;

/// What `directory` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryKind {
    Users,
    Channels,
    /// Teams' main rooms: public ones and those the caller is in.
    Teams,
}

/// `spotlight` results.
#[derive(Debug, Clone, Default)]
pub struct Spotlight {
    pub users: Vec<comet_core::user::User>,
    pub rooms: Vec<Room>,
}

/// `directory` results: either kind, with the total.
#[derive(Debug, Clone)]
pub enum DirectoryPage {
    Users(Vec<VisibleUser>, u64),
    Channels(Vec<Room>, u64),
    /// Main rooms, each with how many rooms its team has.
    Teams(Vec<(Room, u64)>, u64),
}

impl Rooms<'_> {
    /// `directory`: active users, public channels, or teams, matching a text.
    pub async fn directory(
        &self,
        session: &Session,
        kind: DirectoryKind,
        text: &str,
        sort_descending: bool,
        offset: u64,
        count: Option<u64>,
    ) -> Result<DirectoryPage> {
        let direction = if sort_descending {
            Direction::Descending
        } else {
            Direction::Ascending
        };
        let search = Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        match kind {
            DirectoryKind::Users => {
                if !self.ctx.has_permission(&session.user, "view-outside-room") {
                    return Err(Error::meteor("error-not-allowed", "Not allowed"));
                }
                let filter = UserFilter {
                    active: Some(true),
                    search,
                    ..UserFilter::default()
                };
                let page = Page {
                    offset,
                    count,
                    sort: vec![(UserSortKey::Username, direction)],
                };
                let (users, total) = self
                    .ctx
                    .store
                    .list_users(&filter, &page)
                    .await
                    .map_err(store_error)?;
                let view = if self
                    .ctx
                    .has_permission(&session.user, "view-full-other-user-info")
                {
                    UserView::Full
                } else {
                    UserView::Limited
                };
                let users = users
                    .into_iter()
                    .filter(|u| u.user_type == comet_core::user::UserType::User)
                    .map(|user| VisibleUser { user, view })
                    .collect();
                Ok(DirectoryPage::Users(users, total))
            }
            DirectoryKind::Channels => {
                let filter = RoomFilter {
                    types: vec![RoomType::Channel],
                    name_or_fname: search,
                    ..RoomFilter::default()
                };
                let page = Page {
                    offset,
                    count,
                    sort: vec![(RoomSortKey::Name, direction)],
                };
                let (rooms, total) = self
                    .ctx
                    .store
                    .list_rooms(&filter, &page)
                    .await
                    .map_err(store_error)?;
                Ok(DirectoryPage::Channels(rooms, total))
            }
            DirectoryKind::Teams => {
                let filter = RoomFilter {
                    team_main_only: true,
                    name_or_fname: search,
                    visible_to: Some(session.user.id.clone()),
                    ..RoomFilter::default()
                };
                let page = Page {
                    offset,
                    count,
                    sort: vec![(RoomSortKey::Name, direction)],
                };
                let (rooms, total) = self
                    .ctx
                    .store
                    .list_rooms(&filter, &page)
                    .await
                    .map_err(store_error)?;
                let mut teams = Vec::with_capacity(rooms.len());
                for room in rooms {
                    let rooms_count = match &room.team_id {
                        Some(team_id) => self
                            .ctx
                            .store
                            .count_team_rooms(team_id)
                            .await
                            .map_err(store_error)?,
                        None => 0,
                    };
                    teams.push((room, rooms_count));
                }
                Ok(DirectoryPage::Teams(teams, total))
            }
        }
    }

    /// `spotlight`: `@name` finds users, `#name` rooms, plain text both.
    pub async fn spotlight(&self, session: &Session, query: &str) -> Result<Spotlight> {
        let query = query.trim();
        let (want_users, want_rooms, text) = match query.chars().next() {
            Some('@') => (true, false, &query[1..]),
            Some('#') => (false, true, &query[1..]),
            _ => (true, true, query),
        };
        let mut result = Spotlight::default();
        let search = Some(text.to_owned()).filter(|t| !t.is_empty());
        if want_users && self.ctx.has_permission(&session.user, "view-outside-room") {
            let filter = UserFilter {
                active: Some(true),
                search: search.clone(),
                ..UserFilter::default()
            };
            let page = Page {
                offset: 0,
                count: Some(SPOTLIGHT_LIMIT),
                sort: vec![(UserSortKey::Username, Direction::Ascending)],
            };
            let (users, _) = self
                .ctx
                .store
                .list_users(&filter, &page)
                .await
                .map_err(store_error)?;
            result.users = users;
        }
        if want_rooms {
            // Public channels, and private rooms the caller is in.
            let page = Page {
                offset: 0,
                count: Some(SPOTLIGHT_LIMIT),
                sort: vec![(RoomSortKey::Name, Direction::Ascending)],
            };
            let public = RoomFilter {
                types: vec![RoomType::Channel],
                name_or_fname: search.clone(),
                ..RoomFilter::default()
            };
            let (mut rooms, _) = self
                .ctx
                .store
                .list_rooms(&public, &page)
                .await
                .map_err(store_error)?;
            let private = RoomFilter {
                types: vec![RoomType::Private],
                name_or_fname: search,
                member: Some(session.user.id.clone()),
                ..RoomFilter::default()
            };
            let (joined, _) = self
                .ctx
                .store
                .list_rooms(&private, &page)
                .await
                .map_err(store_error)?;
            rooms.extend(joined);
            rooms.sort_by(|a, b| a.name.cmp(&b.name));
            rooms.truncate(usize::try_from(SPOTLIGHT_LIMIT).unwrap_or(usize::MAX));
            result.rooms = rooms;
        }
        Ok(result)
    }
}
