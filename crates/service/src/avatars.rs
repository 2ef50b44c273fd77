//! Avatars of users and rooms (upstream's `setUserAvatar`, `resetAvatar`, `setRoomAvatar`, the
//! `/avatar/...` routes' lookups).
//!
//! An avatar is an image the server has checked itself: the bytes are sniffed and only PNG,
//! JPEG, GIF and WebP are kept (an SVG could carry script and is served from our origin, so it
//! is refused). Sizes are bounded by `FileUpload_MaxFileSize`, as upstream bounds avatar
//! uploads. Images from a URL are fetched through the guard of `outbound` (`http` and `https`
//! only) with a timeout, a size cap while streaming, and (unless
//! `ServiceConfig::avatar_url_allow_private`) only from public addresses, checked after name
//! resolution and on every redirect.
//!
//! Every change publishes `Event::AvatarChanged` after it has committed, which DDP clients see
//! as `updateAvatar` on `stream-notify-logged`.

use crate::Files;
use crate::files::{encode_uri, human_size};
use crate::outbound::{self, url_allowed};
use crate::rooms::RoomAccess;
use crate::{Session, store_error};
use base64::Engine as _;
use comet_core::room::Room;
use comet_core::user::User;
use comet_core::{Error, Result, id, now};
use comet_events::Event;
use comet_media::blobs::{BlobError, BlobReader, BlobStore};
use comet_media::images;
use comet_media::sniff::sniff;
/// Avatar records, as the edges read them.
pub use comet_store::{Avatar, AvatarOwner};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The types kept as avatars: raster images browsers draw without running anything.
pub const AVATAR_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];
/// The largest avatar when `FileUpload_MaxFileSize` says "unlimited" (-1): an avatar is
/// held in memory while it is checked, so some bound is needed.
const UNLIMITED_AVATAR_BYTES: u64 = 20 * 1024 * 1024;
/// How long fetching an avatar URL may take, all redirects and the body included.
const URL_FETCH_TIMEOUT: Duration = Duration::from_secs(15);
const URL_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const URL_MAX_REDIRECTS: usize = 5;

/// `API.v1.unauthorized()`: 403 with `"unauthorized"`.
fn unauthorized() -> Error {
    let mut error = Error::forbidden();
    error.reason = "unauthorized".into();
    error
}

fn invalid_url(url: &str) -> Error {
    Error::meteor(
        "error-avatar-invalid-url",
        format!("Invalid avatar URL: {}", encode_uri(url)),
    )
    .with_details(json!({"function": "setUserAvatar", "url": url}))
}

/// A `data:<type>;base64,<data>` URI's bytes (upstream's `RocketChatFile.dataURIParse`).
fn parse_data_uri(data_uri: &str) -> Option<Vec<u8>> {
    let rest = data_uri.trim().strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    if !meta.ends_with(";base64") {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(data.trim().as_bytes())
        .ok()
}

impl Files<'_> {
    /// The blob store new avatars are written to: the bucket's `avatars/` prefix when files
    /// go to S3 (upstream's `AmazonS3:Avatars`), else the local store.
    fn avatar_blobs_for_writing(&self) -> Result<Arc<dyn BlobStore>> {
        match self.ctx.setting_str("FileUpload_Storage_Type").as_str() {
            "AmazonS3" => self.blob_store_named(crate::storage::AMAZON_S3_AVATARS),
            _ => self.blob_store_for_writing(),
        }
    }

    /// Resizes an avatar to a square of `Accounts_AvatarSize` pixels when
    /// `Accounts_AvatarResize` is on (as upstream), decoding within the image limits on the
    /// bounded decoder; an image that cannot be decoded is refused.
    async fn resize_avatar(
        &self,
        content_type: &'static str,
        bytes: Vec<u8>,
    ) -> Result<(&'static str, Vec<u8>)> {
        if !self.ctx.setting_bool("Accounts_AvatarResize") {
            return Ok((content_type, bytes));
        }
        let size = u32::try_from(self.ctx.setting_int("Accounts_AvatarSize").clamp(16, 2048))
            .unwrap_or(200);
        match images::run_bounded(move || images::avatar_image(&bytes, size)).await {
            Ok((resized, resized_type)) => Ok((resized_type, resized)),
            Err(e) => {
                tracing::info!(error = %e, "avatar image refused");
                Err(Error::meteor(
                    "error-invalid-image",
                    "The image could not be read.",
                ))
            }
        }
    }

    /// The largest avatar accepted, in bytes (`FileUpload_MaxFileSize`, as upstream).
    pub fn avatar_max_size(&self) -> u64 {
        self.max_file_size().unwrap_or(UNLIMITED_AVATAR_BYTES)
    }

    fn avatar_too_large(&self) -> Error {
        Error::meteor(
            "error-file-too-large",
            format!(
                "File exceeds allowed size of {}.",
                human_size(self.avatar_max_size())
            ),
        )
    }

    /// The user whose avatar `users.setAvatar` changes, as upstream decides before reading
    /// the image: the caller unless `userId`/`username` name someone else, which needs
    /// `edit-other-user-avatar`; with `Accounts_AllowUserAvatarChange` off only holders of that
    /// permission change avatars at all.
    pub async fn avatar_target(
        &self,
        session: &Session,
        target: Option<&crate::accounts::UserRef>,
    ) -> Result<User> {
        let can_edit_others = self
            .ctx
            .has_permission(&session.user, "edit-other-user-avatar");
        if !self.ctx.setting_bool("Accounts_AllowUserAvatarChange") && !can_edit_others {
            return Err(
                Error::meteor("error-not-allowed", "Change avatar is not allowed")
                    .with_details(json!({"method": "users.setAvatar"})),
            );
        }
        let is_self = match target {
            None => true,
            Some(crate::accounts::UserRef::Id(id)) => *id == session.user.id,
            Some(crate::accounts::UserRef::Username(name)) => {
                name.eq_ignore_ascii_case(&session.user.username)
            }
            Some(crate::accounts::UserRef::Email(email)) => session
                .user
                .email
                .as_ref()
                .is_some_and(|e| e.address.eq_ignore_ascii_case(email)),
        };
        let user = match target {
            _ if is_self => session.user.clone(),
            Some(target) if can_edit_others => self.ctx.accounts().require_user(target).await?,
            _ => return Err(unauthorized()),
        };
        // An avatar is an upload: it counts against the caller's upload rate.
        self.ctx.check_upload_rate(&session.user).await?;
        Ok(user)
    }

    /// The form fields of a `users.setAvatar` upload naming a user (upstream reads them after
    /// the image): that user, if the caller may change their avatar.
    pub async fn avatar_form_target(
        &self,
        session: &Session,
        target: &crate::accounts::UserRef,
    ) -> Result<User> {
        let user = self.ctx.accounts().find_user(target).await?.ok_or_else(|| {
            Error::meteor(
                "error-invalid-user",
                "The optional \"userId\" or \"username\" param provided does not match any users",
            )
        })?;
        if user.id != session.user.id
            && !self
                .ctx
                .has_permission(&session.user, "edit-other-user-avatar")
        {
            return Err(Error::meteor("error-not-allowed", "Not allowed"));
        }
        Ok(user)
    }

    /// Checks, stores and records an image as `owner`'s avatar, replacing (and removing) the
    /// previous one; returns the new record.
    async fn store_avatar(
        &self,
        owner: AvatarOwner,
        owner_id: &str,
        origin: &str,
        bytes: Vec<u8>,
    ) -> Result<Avatar> {
        if bytes.len() as u64 > self.avatar_max_size() {
            return Err(self.avatar_too_large());
        }
        let sniffed = sniff(&bytes);
        if !AVATAR_TYPES.contains(&sniffed) {
            return Err(Error::meteor(
                "error-invalid-file-type",
                "File type is not accepted.",
            ));
        }
        let (content_type, bytes) = self.resize_avatar(sniffed, bytes).await?;
        let key = format!("avatar-{}", id::new_id());
        let blobs = self.avatar_blobs_for_writing()?;
        let mut body: &[u8] = &bytes;
        let size = match blobs.put(&key, &mut body, None).await {
            Ok(size) => size,
            Err(BlobError::TooLarge(_)) => return Err(self.avatar_too_large()),
            Err(BlobError::Io(e)) => return Err(Error::internal(e)),
            Err(BlobError::Unavailable(cause)) => {
                return Err(crate::storage::storage_unavailable(blobs.name(), &cause));
            }
        };
        let avatar = Avatar {
            owner,
            owner_id: owner_id.to_owned(),
            origin: origin.to_owned(),
            content_type: content_type.to_owned(),
            size,
            etag: id::new_id(),
            store: blobs.name().to_owned(),
            store_key: key,
            updated_at: now(),
        };
        let previous = match self.ctx.store.put_avatar(&avatar).await {
            Ok(previous) => previous,
            Err(e) => {
                self.discard_avatar_blob(&avatar).await;
                return Err(store_error(e));
            }
        };
        if let Some(previous) = previous {
            self.discard_avatar_blob(&previous).await;
        }
        Ok(avatar)
    }

    async fn discard_avatar_blob(&self, avatar: &Avatar) {
        let key = avatar.store_key.as_str();
        let result = match self.blob_store_named(&avatar.store) {
            Ok(blobs) => blobs.delete(key).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.message()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, key, store = %avatar.store, "could not remove an avatar blob");
        }
    }

    fn publish_user_avatar(&self, user: &User, etag: Option<String>) {
        self.ctx.publish(Event::AvatarChanged {
            user_id: Some(user.id.clone()),
            username: Some(user.username.clone()),
            room_id: None,
            etag,
        });
    }

    /// Sets `user`'s avatar from image bytes (`users.setAvatar` upload: origin `rest`; a data
    /// URI: origin `upload` or the service's name).
    pub async fn set_user_avatar_bytes(
        &self,
        user: &User,
        bytes: Vec<u8>,
        origin: &str,
    ) -> Result<()> {
        let avatar = self
            .store_avatar(AvatarOwner::User, &user.id, origin, bytes)
            .await?;
        tracing::info!(user = %user.id, origin, size = avatar.size, "avatar set");
        self.publish_user_avatar(user, Some(avatar.etag));
        Ok(())
    }

    /// Sets `user`'s avatar from an image on the web (`users.setAvatar` with `avatarUrl`).
    pub async fn set_user_avatar_from_url(&self, user: &User, url: &str) -> Result<()> {
        let bytes = self.fetch_avatar(user, url).await?;
        self.set_user_avatar_bytes(user, bytes, "url").await
    }

    async fn fetch_avatar(&self, user: &User, raw_url: &str) -> Result<Vec<u8>> {
        let allow_private = self.ctx.config.avatar_url_allow_private;
        let url = reqwest::Url::parse(raw_url).map_err(|_| invalid_url(raw_url))?;
        if !url_allowed(&url, allow_private) {
            tracing::info!(url = %encode_uri(raw_url), "avatar URL refused");
            return Err(invalid_url(raw_url));
        }
        let client = outbound::client(
            allow_private,
            outbound::Limits {
                total: URL_FETCH_TIMEOUT,
                connect: URL_CONNECT_TIMEOUT,
                max_redirects: URL_MAX_REDIRECTS,
                user_agent: concat!("Comet/", env!("CARGO_PKG_VERSION")).to_owned(),
            },
            |_| true,
        )
        .map_err(Error::internal)?;
        let mut response = match client.get(url).send().await {
            Ok(response) => response,
            Err(e) => {
                tracing::info!(error = %e, url = %encode_uri(raw_url), "avatar URL fetch failed");
                return Err(invalid_url(raw_url));
            }
        };
        let status = response.status().as_u16();
        if status != 200 {
            if status != 404 {
                return Err(Error::meteor(
                    "error-avatar-url-handling",
                    format!(
                        "Error while handling avatar setting from a URL ({}) for {}",
                        encode_uri(raw_url),
                        user.username
                    ),
                )
                .with_details(json!({
                    "function": "RocketChat.setUserAvatar",
                    "url": raw_url,
                    "username": user.username,
                })));
            }
            return Err(invalid_url(raw_url));
        }
        let claimed_image = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("image/"));
        if !claimed_image {
            return Err(invalid_url(raw_url));
        }
        let limit = self.avatar_max_size();
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(self.avatar_too_large());
        }
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if (bytes.len() + chunk.len()) as u64 > limit {
                        return Err(self.avatar_too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::info!(error = %e, url = %encode_uri(raw_url), "avatar URL body failed");
                    return Err(invalid_url(raw_url));
                }
            }
        }
        Ok(bytes)
    }

    /// The DDP method `setAvatarFromService(dataURI, contentType, service, targetUserId?)`.
    pub async fn set_avatar_from_service(
        &self,
        session: &Session,
        data: &str,
        service: &str,
        target_user_id: Option<&str>,
    ) -> Result<()> {
        let details = json!({"method": "setAvatarFromService"});
        if data.is_empty() {
            return Err(
                Error::meteor("error-invalid-data", "Invalid dataURI").with_details(details)
            );
        }
        if !self.ctx.setting_bool("Accounts_AllowUserAvatarChange") {
            return Err(Error::meteor("error-not-allowed", "Not allowed").with_details(details));
        }
        let user = match target_user_id.filter(|id| *id != session.user.id) {
            Some(target) => {
                if !self
                    .ctx
                    .has_permission(&session.user, "edit-other-user-avatar")
                {
                    return Err(
                        Error::meteor("error-unauthorized", "Unauthorized").with_details(details)
                    );
                }
                self.ctx
                    .accounts()
                    .find_user(&crate::accounts::UserRef::Id(target.to_owned()))
                    .await?
            }
            None => Some(session.user.clone()),
        };
        let Some(user) = user else {
            return Err(
                Error::meteor("error-invalid-desired-user", "Invalid desired user")
                    .with_details(details),
            );
        };
        if service != "initials" {
            self.ctx.check_upload_rate(&session.user).await?;
        }
        match service {
            "url" => self.set_user_avatar_from_url(&user, data).await,
            "initials" => self.reset_avatar_of(&user).await,
            _ => {
                let bytes = parse_data_uri(data).ok_or_else(|| {
                    Error::meteor("error-invalid-data", "Invalid dataURI")
                        .with_details(json!({"method": "setAvatarFromService"}))
                })?;
                let origin = if service.is_empty() {
                    "upload"
                } else {
                    service
                };
                self.set_user_avatar_bytes(&user, bytes, origin).await
            }
        }
    }

    /// `users.resetAvatar`: the named user back to initials; one's own with
    /// `Accounts_AllowUserAvatarChange`, anyone's with `edit-other-user-avatar`.
    pub async fn reset_avatar(
        &self,
        session: &Session,
        target: &crate::accounts::UserRef,
    ) -> Result<()> {
        let user = self.ctx.accounts().require_user(target).await?;
        let own = user.id == session.user.id;
        if !(own && self.ctx.setting_bool("Accounts_AllowUserAvatarChange")
            || self
                .ctx
                .has_permission(&session.user, "edit-other-user-avatar"))
        {
            return Err(
                Error::meteor("error-not-allowed", "Reset avatar is not allowed")
                    .with_details(json!({"method": "users.resetAvatar"})),
            );
        }
        self.reset_avatar_of(&user).await
    }

    /// The DDP method `resetAvatar(userId?)`.
    pub async fn reset_avatar_method(
        &self,
        session: &Session,
        target_user_id: Option<&str>,
    ) -> Result<()> {
        let details = json!({"method": "resetAvatar"});
        let can_edit_others = self
            .ctx
            .has_permission(&session.user, "edit-other-user-avatar");
        if !self.ctx.setting_bool("Accounts_AllowUserAvatarChange") && !can_edit_others {
            return Err(Error::meteor("error-not-allowed", "Not allowed").with_details(details));
        }
        let user = match target_user_id.filter(|id| *id != session.user.id) {
            Some(target) => {
                if !can_edit_others {
                    return Err(
                        Error::meteor("error-unauthorized", "Unauthorized").with_details(details)
                    );
                }
                self.ctx
                    .accounts()
                    .find_user(&crate::accounts::UserRef::Id(target.to_owned()))
                    .await?
            }
            None => Some(session.user.clone()),
        };
        let Some(user) = user else {
            return Err(
                Error::meteor("error-invalid-desired-user", "Invalid desired user")
                    .with_details(details),
            );
        };
        self.reset_avatar_of(&user).await
    }

    async fn reset_avatar_of(&self, user: &User) -> Result<()> {
        self.remove_avatar(AvatarOwner::User, &user.id).await?;
        tracing::info!(user = %user.id, "avatar reset");
        self.publish_user_avatar(user, None);
        Ok(())
    }

    /// Removes an owner's avatar record and bytes (reset, or the owner was deleted).
    pub(crate) async fn remove_avatar(&self, owner: AvatarOwner, owner_id: &str) -> Result<()> {
        let removed = self
            .ctx
            .store
            .delete_avatar(owner, owner_id)
            .await
            .map_err(store_error)?;
        if let Some(removed) = removed {
            self.discard_avatar_blob(&removed).await;
        }
        Ok(())
    }

    /// `saveRoomSettings`' `roomAvatar`: a data URI sets the room's avatar, `None` (or an empty
    /// string) removes it; either way with a `room_changed_avatar` system message. Needs
    /// `edit-room` in the room.
    pub async fn set_room_avatar(
        &self,
        session: &Session,
        room: &RoomAccess,
        data_uri: Option<&str>,
    ) -> Result<()> {
        if !self
            .ctx
            .rooms()
            .has_room_permission(&session.user, "edit-room", &room.id)
            .await?
        {
            return Err(
                Error::meteor("error-action-not-allowed", "Editing room is not allowed")
                    .with_details(json!({"method": "saveRoomSettings", "action": "Editing_room"})),
            );
        }
        let etag = match data_uri.filter(|d| !d.is_empty()) {
            Some(data_uri) => {
                let bytes = parse_data_uri(data_uri).ok_or_else(|| {
                    Error::meteor("error-invalid-data", "Invalid dataURI")
                        .with_details(json!({"method": "saveRoomSettings"}))
                })?;
                let avatar = self
                    .store_avatar(AvatarOwner::Room, &room.id, "upload", bytes)
                    .await?;
                Some(avatar.etag)
            }
            None => {
                self.remove_avatar(AvatarOwner::Room, &room.id).await?;
                None
            }
        };
        tracing::info!(by = %session.user.id, room = %room.id, set = etag.is_some(), "room avatar changed");
        self.ctx
            .rooms()
            .post_system_message(room, "room_changed_avatar", &session.user, "", None)
            .await?;
        self.ctx.publish(Event::AvatarChanged {
            user_id: None,
            username: None,
            room_id: Some(room.id.clone()),
            etag,
        });
        Ok(())
    }

    /// A user's or room's avatar record (for `avatarETag` in documents).
    pub async fn avatar_of(&self, owner: AvatarOwner, owner_id: &str) -> Result<Option<Avatar>> {
        self.ctx
            .store
            .avatar(owner, owner_id)
            .await
            .map_err(store_error)
    }

    /// What `/avatar/<name>` shows: the user with that username (any case) and their avatar.
    pub async fn user_avatar_by_username(
        &self,
        username: &str,
    ) -> Result<Option<(User, Option<Avatar>)>> {
        let user = self
            .ctx
            .accounts()
            .find_user(&crate::accounts::UserRef::Username(username.to_owned()))
            .await?;
        let Some(user) = user else {
            return Ok(None);
        };
        let avatar = self.avatar_of(AvatarOwner::User, &user.id).await?;
        Ok(Some((user, avatar)))
    }

    /// What `/avatar/uid/<id>` shows.
    pub async fn user_avatar_by_id(&self, user_id: &str) -> Result<Option<(User, Option<Avatar>)>> {
        let user = self
            .ctx
            .accounts()
            .find_user(&crate::accounts::UserRef::Id(user_id.to_owned()))
            .await?;
        let Some(user) = user else {
            return Ok(None);
        };
        let avatar = self.avatar_of(AvatarOwner::User, &user.id).await?;
        Ok(Some((user, avatar)))
    }

    /// What `/avatar/room/<rid>` shows: the room and its avatar, a discussion without one of
    /// its own showing its parent's (as upstream).
    pub async fn room_avatar(&self, room_id: &str) -> Result<Option<(Room, Option<Avatar>)>> {
        let mut id = room_id.to_owned();
        // Discussions nest; a bound keeps a malformed chain from looping.
        for _ in 0..8 {
            let Some(room) = self.ctx.store.room_by_id(&id).await.map_err(store_error)? else {
                return Ok(None);
            };
            let avatar = self.avatar_of(AvatarOwner::Room, &room.id).await?;
            match (&avatar, &room.parent_id) {
                (None, Some(parent)) => id = parent.clone(),
                _ => return Ok(Some((room, avatar))),
            }
        }
        Ok(None)
    }

    /// Opens an avatar's bytes; `None` when the blob is missing.
    pub async fn open_avatar(&self, avatar: &Avatar) -> Result<Option<BlobReader>> {
        self.blob_store_named(&avatar.store)?
            .open(&avatar.store_key, 0)
            .await
            .map_err(Error::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris() {
        assert_eq!(
            parse_data_uri("data:image/png;base64,aGVsbG8="),
            Some(b"hello".to_vec())
        );
        assert_eq!(parse_data_uri("data:image/png,hello"), None);
        assert_eq!(parse_data_uri("hello"), None);
    }
}
