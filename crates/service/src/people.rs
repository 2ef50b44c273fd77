//! Looking people up and keeping the roster tidy: `users.presence`, `users.autocomplete` and
//! `users.deactivateIdle`.

use crate::authz::Required;
use crate::{Accounts, Session, store_error};
use comet_core::page::{Direction, Page, UserSortKey};
use comet_core::room::RoomType;
use comet_core::user::User;
use comet_core::{Error, Result, Timestamp, conditions, now};
use comet_store::UserFilter;
use serde_json::{Value, json};

/// How many users `users.autocomplete` answers from each of its searches.
const AUTOCOMPLETE_LIMIT: usize = 10;

/// How many candidates are read at a time while looking for users who meet a selector's
/// conditions (which are evaluated here, not by the store).
const CANDIDATE_BATCH: u64 = 50;

/// How recent a `users.presence` `from` must be for an update since then (rather than the
/// full list) to be worth answering, as upstream decides.
const PRESENCE_DELTA_MINUTES: i64 = 10;

/// What `users.presence` was asked for.
#[derive(Debug, Clone, Default)]
pub struct PresenceQuery {
    /// The users who changed since this time (only when it is recent; a `from` that is not
    /// a date asks for the full list, as upstream answers it).
    pub from: Option<Timestamp>,
    /// Only these users, if they are not offline.
    pub ids: Option<Vec<String>>,
}

/// `users.autocomplete`'s parsed `selector`.
#[derive(Debug, Clone, Default)]
pub struct AutocompleteSelector {
    /// Text to find in usernames and names.
    pub term: String,
    /// Usernames to leave out.
    pub exceptions: Vec<String>,
    /// Mongo-style conditions every user found must meet (see `comet_core::conditions`).
    pub conditions: Option<Value>,
}

impl Accounts<'_> {
    /// Who may deactivate idle users.
    pub const DEACTIVATE_IDLE: Required = Required::All(&["edit-other-user-active-status"]);

    /// `users.deactivateIdle`: deactivates the active holders of `role` who have not logged in
    /// for `days_idle` days (those who never did, counted from their creation); answers how
    /// many. Like upstream, nothing is announced: these users are not connected.
    pub async fn deactivate_idle(
        &self,
        session: &Session,
        days_idle: f64,
        role: &str,
    ) -> Result<u64> {
        self.ctx.authorize(&session.user, Self::DEACTIVATE_IDLE)?;
        let at = now();
        // Whole days, as JavaScript's `setDate` takes them; a span too long for the calendar
        // reaches before every account.
        let days = days_idle.trunc();
        let cutoff = if days.abs() > 1.0e8 {
            None
        } else {
            chrono::Duration::try_days(days as i64).and_then(|span| at.checked_sub_signed(span))
        };
        let Some(cutoff) = cutoff else {
            return Ok(if days > 0.0 {
                0
            } else {
                self.deactivate_idle_before(role, at, at).await?
            });
        };
        self.deactivate_idle_before(role, cutoff, at).await
    }

    async fn deactivate_idle_before(
        &self,
        role: &str,
        cutoff: Timestamp,
        at: Timestamp,
    ) -> Result<u64> {
        let count = self
            .ctx
            .store
            .deactivate_idle_users(role, cutoff, at)
            .await
            .map_err(store_error)?;
        if count > 0 {
            self.ctx
                .publish(comet_events::Event::SessionsStale { user_id: None });
        }
        tracing::info!(role, count, "idle users deactivated");
        Ok(count)
    }

    /// `users.presence`: the users who are not offline (`full`), or with a recent `from` the
    /// other users who changed since then, or the given users who are not offline. With
    /// presence broadcasting disabled everyone counts as offline.
    pub async fn presence_list(
        &self,
        session: &Session,
        query: &PresenceQuery,
    ) -> Result<(Vec<User>, bool)> {
        if self.ctx.setting_bool("Presence_broadcast_disabled") {
            return Ok((Vec::new(), true));
        }
        if let Some(ids) = &query.ids {
            let filter = UserFilter {
                ids: Some(ids.clone()),
                not_offline: true,
                ..UserFilter::default()
            };
            return Ok((self.all_users(&filter).await?, false));
        }
        if let Some(from) = query.from {
            let age = now().signed_duration_since(from);
            if age < chrono::Duration::minutes(PRESENCE_DELTA_MINUTES) {
                let filter = UserFilter {
                    updated_since: Some(from),
                    exclude_ids: vec![session.user.id.clone()],
                    ..UserFilter::default()
                };
                return Ok((self.all_users(&filter).await?, false));
            }
        }
        let filter = UserFilter {
            not_offline: true,
            ..UserFilter::default()
        };
        Ok((self.all_users(&filter).await?, true))
    }

    async fn all_users(&self, filter: &UserFilter) -> Result<Vec<User>> {
        let page = Page {
            offset: 0,
            count: None,
            sort: vec![(UserSortKey::Username, Direction::Ascending)],
        };
        let (users, _) = self
            .ctx
            .store
            .list_users(filter, &page)
            .await
            .map_err(store_error)?;
        Ok(users)
    }

    /// `users.autocomplete`: people whose username or name holds the term, those the caller
    /// has direct conversations with first. Without `view-outside-room` the caller finds only
    /// people who share a room with them.
    pub async fn autocomplete(
        &self,
        session: &Session,
        selector: &AutocompleteSelector,
    ) -> Result<Vec<User>> {
        if let Some(conditions) = &selector.conditions {
            // Upstream answers a bare failure here, without a message.
            conditions::check(conditions).map_err(|_| Error::failure(""))?;
        }
        let mut exceptions = selector.exceptions.clone();
        let base = UserFilter {
            active: Some(true),
            search: Some(selector.term.clone()).filter(|t| !t.is_empty()),
            search_names_only: true,
            ..UserFilter::default()
        };
        let me = session.user.id.clone();
        let contacts_filter = UserFilter {
            shares_room_with: Some((me.clone(), Some(RoomType::Direct))),
            exclude_usernames: exceptions.clone(),
            ..base.clone()
        };
        let mut found = self
            .users_meeting(&contacts_filter, selector, AUTOCOMPLETE_LIMIT)
            .await?;
        if found.len() >= AUTOCOMPLETE_LIMIT {
            return Ok(found);
        }
        exceptions.extend(found.iter().map(|u| u.username.clone()));
        let others = if self.ctx.has_permission(&session.user, "view-outside-room") {
            let filter = UserFilter {
                exclude_usernames: exceptions,
                ..base
            };
            self.users_meeting(&filter, selector, AUTOCOMPLETE_LIMIT - found.len())
                .await?
        } else {
            let filter = UserFilter {
                shares_room_with: Some((me, None)),
                exclude_usernames: exceptions,
                ..base
            };
            self.users_meeting(&filter, selector, AUTOCOMPLETE_LIMIT)
                .await?
        };
        found.extend(others);
        Ok(found)
    }

    /// Up to `limit` users matching `filter` and the selector's conditions, by username.
    async fn users_meeting(
        &self,
        filter: &UserFilter,
        selector: &AutocompleteSelector,
        limit: usize,
    ) -> Result<Vec<User>> {
        let mut found = Vec::new();
        let mut offset = 0;
        loop {
            let page = Page {
                offset,
                count: Some(match selector.conditions {
                    None => u64::try_from(limit).unwrap_or(CANDIDATE_BATCH),
                    Some(_) => CANDIDATE_BATCH,
                }),
                sort: vec![(UserSortKey::Username, Direction::Ascending)],
            };
            let (users, _) = self
                .ctx
                .store
                .list_users(filter, &page)
                .await
                .map_err(store_error)?;
            let read = users.len() as u64;
            for user in users {
                let meets = selector
                    .conditions
                    .as_ref()
                    .is_none_or(|c| conditions::matches(&condition_document(&user), c));
                if meets {
                    found.push(user);
                    if found.len() >= limit {
                        return Ok(found);
                    }
                }
            }
            if selector.conditions.is_none() || read < CANDIDATE_BATCH {
                return Ok(found);
            }
            offset += read;
        }
    }
}

/// The fields of a user that autocomplete conditions may test, named as upstream stores them
/// (no addresses, roles or secrets).
fn condition_document(user: &User) -> Value {
    json!({
        "_id": user.id,
        "username": user.username,
        "name": user.name,
        "nickname": user.nickname,
        "bio": user.bio,
        "status": user.status.as_str(),
        "statusText": user.status_text,
        "active": user.active,
        "type": user.user_type.as_str(),
        "utcOffset": user.utc_offset,
    })
}
