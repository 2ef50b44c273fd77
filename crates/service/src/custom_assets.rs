//! The workspace's custom emoji, user statuses and sounds (upstream's `emoji-custom`,
//! `user-status` and `custom-sounds` apps).
//!
//! Each is managed by holders of one permission (`manage-emoji`, `manage-user-status`,
//! `manage-sounds`), refused with upstream's `not_authorized`, and every change is told to
//! clients after it commits: `updateEmojiCustom`/`deleteEmojiCustom` and
//! `updateCustomUserStatus`/`deleteCustomUserStatus` on `stream-notify-logged`,
//! `updateCustomSound`/`deleteCustomSound` on `stream-notify-all`.
//!
//! Files are checked by their bytes, never by the name or type a client claims: an emoji is a
//! PNG, JPEG, GIF or WebP image (an SVG could carry script and would be served from our
//! origin), a sound an MP3 (as upstream, which takes nothing else). Both are bounded by
//! `FileUpload_MaxFileSize` (an emoji) or upstream's 5 MB (a sound), and kept in the blob
//! store uploads go to.

use crate::{Session, store_error};
use comet_core::{Error, Result, Timestamp, id, now};
use comet_events::Event;
use comet_media::blobs::{BlobError, BlobReader};
use comet_media::sniff::sniff;
pub use comet_store::{
    AssetFile, CustomEmoji, CustomEmojiFilter, CustomSound, CustomUserStatus, DeletedCustomEmoji,
    StoreError,
};
use serde_json::{Map, Value, json};

/// The image types kept as emoji, with the extension upstream derives from each.
pub const EMOJI_TYPES: &[(&str, &str)] = &[
    ("image/png", "png"),
    ("image/jpeg", "jpeg"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
];
/// The largest emoji when `FileUpload_MaxFileSize` says "unlimited" (-1): an emoji is held in
/// memory while it is checked.
const UNLIMITED_EMOJI_BYTES: u64 = 20 * 1024 * 1024;
/// Upstream's `MAX_CUSTOM_SOUND_SIZE_BYTES`.
pub const MAX_SOUND_BYTES: u64 = 5 * 1024 * 1024;
/// The status types a custom status may take (empty: none).
pub const STATUS_TYPES: &[&str] = &["online", "away", "busy", "offline"];

fn not_authorized() -> Error {
    Error::meteor("not_authorized", "")
}

fn details(method: &str) -> Value {
    json!({ "method": method })
}

fn name_required(method: &str) -> Error {
    Error::meteor("error-the-field-is-required", "The field Name is required")
        .with_details(json!({"method": method, "field": "Name"}))
}

fn invalid_field(text: String, method: &str, input: &str, field: &str) -> Error {
    Error::meteor("error-input-is-not-a-valid-field", text)
        .with_details(json!({"method": method, "input": input, "field": field}))
}

/// Upstream's `limax(name, {replacement: '_'})` for the names people type: lowercased, runs of
/// whitespace joined by `_`. (Upstream also transliterates other scripts to Latin letters;
/// names here keep their letters as typed.)
pub fn slug(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
        .to_lowercase()
}

/// Characters an emoji or sound name may not have (upstream's `nameValidation`).
fn bad_name_char(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | ':' | '>' | '<' | '&' | '"' | '\'' | '/' | '\\' | '(' | ')'
        )
}

/// Characters an emoji's alias list may not have (upstream's `aliasValidation`).
fn bad_alias_char(c: char) -> bool {
    matches!(
        c,
        ':' | '>' | '<' | '&' | '|' | '"' | '\'' | '/' | '\\' | '(' | ')'
    )
}

fn ejson_date(at: Timestamp) -> Value {
    json!({ "$date": at.timestamp_millis() })
}

/// An emoji as upstream's notices carry it (`emojiData`), in EJSON.
fn emoji_notice(emoji: &CustomEmoji) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("_id".into(), json!(emoji.id));
    doc.insert("name".into(), json!(emoji.name));
    doc.insert("aliases".into(), json!(emoji.aliases));
    doc.insert("extension".into(), json!(emoji.extension));
    if let Some(etag) = &emoji.etag {
        doc.insert("etag".into(), json!(etag));
    }
    doc.insert("_updatedAt".into(), ejson_date(emoji.updated_at));
    doc
}

fn status_notice(status: &CustomUserStatus) -> Value {
    json!({
        "_id": status.id,
        "name": status.name,
        "statusType": status.status_type,
        "_updatedAt": ejson_date(status.updated_at),
    })
}

fn sound_notice(sound: &CustomSound) -> Value {
    json!({
        "_id": sound.id,
        "name": sound.name,
        "extension": sound.extension,
        "_updatedAt": ejson_date(sound.updated_at),
    })
}

/// What `insertOrUpdateSound` is given.
#[derive(Debug, Clone, Default)]
pub struct SoundInput {
    pub id: Option<String>,
    pub name: String,
    pub extension: String,
    pub previous_name: Option<String>,
    pub previous_extension: Option<String>,
    pub new_file: bool,
}

impl crate::CustomAssets<'_> {
    fn require(&self, session: &Session, permission: &str) -> Result<()> {
        if self.ctx.has_permission(&session.user, permission) {
            Ok(())
        } else {
            Err(not_authorized())
        }
    }

    fn notify(&self, everyone: bool, name: &str, payload: Value) {
        self.ctx.publish(Event::WorkspaceNotice {
            everyone,
            name: name.to_owned(),
            payload,
        });
    }

    /// The largest emoji file accepted (`FileUpload_MaxFileSize`, as upstream).
    pub fn emoji_max_size(&self) -> u64 {
        self.ctx
            .files()
            .max_file_size()
            .unwrap_or(UNLIMITED_EMOJI_BYTES)
    }

    /// Stores an asset's bytes in the uploads' blob store.
    async fn store_file(
        &self,
        prefix: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<AssetFile> {
        let blobs = self.ctx.files().blob_store_for_writing()?;
        let key = format!("{prefix}-{}", id::new_id());
        let mut body: &[u8] = bytes;
        let size = match blobs.put(&key, &mut body, None).await {
            Ok(size) => size,
            Err(BlobError::TooLarge(_)) => {
                return Err(Error::meteor("error-file-too-large", "File is too large"));
            }
            Err(BlobError::Io(e)) => return Err(Error::internal(e)),
            Err(BlobError::Unavailable(cause)) => {
                return Err(crate::storage::storage_unavailable(blobs.name(), &cause));
            }
        };
        Ok(AssetFile {
            content_type: content_type.to_owned(),
            size,
            store: blobs.name().to_owned(),
            store_key: key,
            uploaded_at: now(),
        })
    }

    async fn discard_file(&self, file: &AssetFile) {
        let result = match self.ctx.files().blob_store_named(&file.store) {
            Ok(blobs) => blobs
                .delete(&file.store_key)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.message()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, key = %file.store_key, "could not remove a custom asset's blob");
        }
    }

    /// Opens a custom emoji's or sound's bytes; `None` when the blob is missing.
    pub async fn open_file(&self, file: &AssetFile) -> Result<Option<BlobReader>> {
        self.ctx
            .files()
            .blob_store_named(&file.store)?
            .open(&file.store_key, 0)
            .await
            .map_err(Error::internal)
    }

    // ---- Custom emoji ----

    /// `emoji-custom.list`: every emoji (changed after `updated_after`, or only `id`), and
    /// with `updated_since` only those changed since then plus those deleted since then.
    pub async fn list_emoji(
        &self,
        updated_since: Option<Timestamp>,
        updated_after: Option<Timestamp>,
        id: Option<String>,
    ) -> Result<(Vec<CustomEmoji>, Vec<DeletedCustomEmoji>)> {
        let after = match (updated_since, updated_after) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let filter = CustomEmojiFilter {
            id,
            name_contains: None,
            updated_after: after,
        };
        let (emoji, _) = self
            .ctx
            .store
            .list_custom_emoji(&filter, 0, None)
            .await
            .map_err(store_error)?;
        let removed = match updated_since {
            Some(since) => self
                .ctx
                .store
                .deleted_custom_emoji_since(since)
                .await
                .map_err(store_error)?,
            None => Vec::new(),
        };
        Ok((emoji, removed))
    }

    /// `emoji-custom.all`: a page of emoji by name.
    pub async fn emoji_page(
        &self,
        name_contains: Option<String>,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<CustomEmoji>, u64)> {
        let filter = CustomEmojiFilter {
            name_contains: name_contains.filter(|n| !n.is_empty()),
            ..CustomEmojiFilter::default()
        };
        self.ctx
            .store
            .list_custom_emoji(&filter, offset, count)
            .await
            .map_err(store_error)
    }

    /// The emoji `/emoji-custom/<file name>` names (`<name>.<extension>`).
    pub async fn emoji_by_file_name(&self, file_name: &str) -> Result<Option<CustomEmoji>> {
        let name = file_name.split('.').next().unwrap_or_default();
        let emoji = self
            .ctx
            .store
            .custom_emoji_by_name(name)
            .await
            .map_err(store_error)?;
        Ok(emoji.filter(|e| file_name == format!("{}.{}", e.name, e.extension)))
    }

    /// The media type and extension of an emoji image, refusing anything else (upstream's
    /// `Media.isImage` check, with its error).
    pub fn emoji_image_type(&self, bytes: &[u8]) -> Result<(&'static str, &'static str)> {
        let sniffed = sniff(bytes);
        EMOJI_TYPES
            .iter()
            .find(|(content_type, _)| *content_type == sniffed)
            .copied()
            .ok_or_else(|| {
                Error::meteor(
                    "emoji-is-not-image",
                    "Emoji file provided cannot be uploaded since it's not an image",
                )
            })
    }

    /// Upstream's `insertOrUpdateEmoji` checks: permission, name, aliases, conflicts. Returns
    /// the name and aliases to keep.
    async fn checked_emoji_names(
        &self,
        session: &Session,
        id: Option<&str>,
        name: &str,
        aliases: &str,
    ) -> Result<(String, Vec<String>)> {
        const METHOD: &str = "insertOrUpdateEmoji";
        self.require(session, "manage-emoji")?;
        if name.trim().is_empty() {
            return Err(name_required(METHOD));
        }
        let name = slug(name).replace(':', "");
        let aliases = aliases.replace(':', "");
        if name.chars().any(bad_name_char) || name.is_empty() {
            return Err(invalid_field(
                format!("{name} is not a valid name"),
                METHOD,
                &name,
                "Name",
            ));
        }
        let mut kept: Vec<String> = Vec::new();
        if !aliases.is_empty() {
            if aliases.chars().any(bad_alias_char) {
                return Err(invalid_field(
                    format!("{aliases} is not a valid alias set"),
                    METHOD,
                    &aliases,
                    "Alias_Set",
                ));
            }
            for alias in aliases.split(',').map(slug) {
                if !alias.is_empty() && alias != name && !kept.contains(&alias) {
                    kept.push(alias);
                }
            }
        }
        for wanted in std::iter::once(&name).chain(kept.iter()) {
            let using = self
                .ctx
                .store
                .custom_emoji_using(wanted, id)
                .await
                .map_err(store_error)?;
            if !using.is_empty() {
                return Err(name_in_use());
            }
        }
        Ok((name, kept))
    }

    /// `emoji-custom.create`: a new emoji from an image.
    pub async fn create_emoji(
        &self,
        session: &Session,
        name: &str,
        aliases: &str,
        bytes: &[u8],
    ) -> Result<CustomEmoji> {
        let (content_type, extension) = self.emoji_image_type(bytes)?;
        let (name, aliases) = self
            .checked_emoji_names(session, None, name, aliases)
            .await?;
        let file = self.store_file("emoji", content_type, bytes).await?;
        let emoji = CustomEmoji {
            id: id::new_id(),
            name,
            aliases,
            extension: extension.to_owned(),
            etag: Some(new_etag()),
            file: Some(file),
            updated_at: now(),
        };
        if let Err(e) = self.ctx.store.insert_custom_emoji(&emoji).await {
            if let Some(file) = &emoji.file {
                self.discard_file(file).await;
            }
            return Err(match e {
                StoreError::Conflict(_) => name_in_use(),
                other => store_error(other),
            });
        }
        tracing::info!(emoji = %emoji.name, by = %session.user.id, "custom emoji created");
        self.notify(
            false,
            "updateEmojiCustom",
            json!({"emojiData": emoji_notice(&emoji)}),
        );
        Ok(emoji)
    }

    /// `emoji-custom.update`: renames an emoji, sets its aliases and, with `bytes`, its image.
    pub async fn update_emoji(
        &self,
        session: &Session,
        id: Option<&str>,
        name: &str,
        aliases: &str,
        bytes: Option<&[u8]>,
    ) -> Result<CustomEmoji> {
        let Some(id) = id.filter(|id| !id.is_empty()) else {
            return Err(Error::meteor(
                "The required \"_id\" query param is missing.",
                "",
            ));
        };
        let previous = self
            .ctx
            .store
            .custom_emoji_by_id(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::meteor("Emoji not found.", ""))?;
        let image = bytes
            .filter(|b| !b.is_empty())
            .map(|b| self.emoji_image_type(b).map(|t| (t, b)))
            .transpose()?;
        let (name, aliases) = self
            .checked_emoji_names(session, Some(id), name, aliases)
            .await?;
        let mut emoji = previous.clone();
        emoji.name = name;
        emoji.aliases = aliases;
        emoji.updated_at = now();
        if let Some(((content_type, extension), bytes)) = image {
            emoji.file = Some(self.store_file("emoji", content_type, bytes).await?);
            emoji.extension = extension.to_owned();
            emoji.etag = Some(new_etag());
        }
        let updated = match self.ctx.store.update_custom_emoji(&emoji).await {
            Ok(updated) => updated,
            Err(e) => {
                if image.is_some()
                    && let Some(file) = &emoji.file
                {
                    self.discard_file(file).await;
                }
                return Err(match e {
                    StoreError::Conflict(_) => name_in_use(),
                    other => store_error(other),
                });
            }
        };
        if !updated {
            return Err(Error::meteor("Emoji not found.", ""));
        }
        if image.is_some()
            && let Some(old) = &previous.file
        {
            self.discard_file(old).await;
        }
        let mut notice = emoji_notice(&emoji);
        notice.insert("previousName".into(), json!(previous.name));
        notice.insert("previousExtension".into(), json!(previous.extension));
        notice.insert("newFile".into(), json!(image.is_some()));
        self.notify(false, "updateEmojiCustom", json!({"emojiData": notice}));
        Ok(emoji)
    }

    /// `emoji-custom.delete` and `deleteEmojiCustom`.
    pub async fn delete_emoji(&self, session: &Session, id: &str) -> Result<()> {
        self.require(session, "manage-emoji")?;
        let invalid = || {
            Error::meteor("Custom_Emoji_Error_Invalid_Emoji", "Invalid emoji")
                .with_details(details("deleteEmojiCustom"))
        };
        let emoji = self
            .ctx
            .store
            .delete_custom_emoji(id, now())
            .await
            .map_err(store_error)?
            .ok_or_else(invalid)?;
        if let Some(file) = &emoji.file {
            self.discard_file(file).await;
        }
        self.notify(
            false,
            "deleteEmojiCustom",
            json!({"emojiData": emoji_notice(&emoji)}),
        );
        Ok(())
    }

    // ---- Custom user statuses ----

    /// `custom-user-status.list`.
    pub async fn status_page(
        &self,
        id: Option<&str>,
        name_contains: Option<&str>,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<CustomUserStatus>, u64)> {
        self.ctx
            .store
            .list_custom_user_statuses(
                id.filter(|i| !i.is_empty()),
                name_contains.filter(|n| !n.is_empty()),
                offset,
                count,
            )
            .await
            .map_err(store_error)
    }

    pub async fn status_by_id(&self, id: &str) -> Result<Option<CustomUserStatus>> {
        self.ctx
            .store
            .custom_user_status_by_id(id)
            .await
            .map_err(store_error)
    }

    /// Upstream's `insertOrUpdateUserStatus`: creates a status (no `id`) or changes one.
    pub async fn save_status(
        &self,
        session: &Session,
        id: Option<&str>,
        name: &str,
        status_type: &str,
    ) -> Result<CustomUserStatus> {
        const METHOD: &str = "insertOrUpdateUserStatus";
        self.require(session, "manage-user-status")?;
        if name.trim().is_empty() {
            return Err(name_required(METHOD));
        }
        if name
            .chars()
            .any(|c| matches!(c, '>' | '<' | '&' | '"' | '\''))
        {
            return Err(invalid_field(
                format!("{name} is not a valid name"),
                METHOD,
                name,
                "Name",
            ));
        }
        let in_use = || {
            Error::meteor(
                "Custom_User_Status_Error_Name_Already_In_Use",
                "The custom user status name is already in use",
            )
            .with_details(details(METHOD))
        };
        let holder = self
            .ctx
            .store
            .custom_user_status_by_name(name)
            .await
            .map_err(store_error)?;
        if holder.is_some_and(|h| Some(h.id.as_str()) != id) {
            return Err(in_use());
        }
        if !status_type.is_empty() && !STATUS_TYPES.contains(&status_type) {
            return Err(invalid_field(
                format!("{status_type} is not a valid status type"),
                METHOD,
                status_type,
                "StatusType",
            ));
        }
        let status = CustomUserStatus {
            id: id.map_or_else(id::new_id, str::to_owned),
            name: name.to_owned(),
            status_type: status_type.to_owned(),
            updated_at: now(),
        };
        let written = match id {
            None => self
                .ctx
                .store
                .insert_custom_user_status(&status)
                .await
                .map(|()| true),
            Some(_) => self.ctx.store.update_custom_user_status(&status).await,
        };
        match written {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::meteor(
                    "error-updating-custom-user-status",
                    "Error updating custom user status",
                ));
            }
            Err(StoreError::Conflict(_)) => return Err(in_use()),
            Err(e) => return Err(store_error(e)),
        }
        self.notify(
            false,
            "updateCustomUserStatus",
            json!({"userStatusData": status_notice(&status)}),
        );
        Ok(status)
    }

    /// `custom-user-status.delete` and `deleteCustomUserStatus`.
    pub async fn delete_status(&self, session: &Session, id: &str) -> Result<()> {
        self.require(session, "manage-user-status")?;
        let status = self
            .ctx
            .store
            .delete_custom_user_status(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                Error::meteor(
                    "Custom_User_Status_Error_Invalid_User_Status",
                    "Invalid user status",
                )
                .with_details(details("deleteCustomUserStatus"))
            })?;
        self.notify(
            false,
            "deleteCustomUserStatus",
            json!({"userStatusData": status_notice(&status)}),
        );
        Ok(())
    }

    // ---- Custom sounds ----

    /// `custom-sounds.list`.
    pub async fn sound_page(
        &self,
        name_contains: Option<&str>,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<CustomSound>, u64)> {
        self.ctx
            .store
            .list_custom_sounds(name_contains.filter(|n| !n.is_empty()), offset, count)
            .await
            .map_err(store_error)
    }

    pub async fn sound_by_id(&self, id: &str) -> Result<Option<CustomSound>> {
        self.ctx
            .store
            .custom_sound_by_id(id)
            .await
            .map_err(store_error)
    }

    /// The sound `/custom-sounds/<id>.<extension>` names, if its file is stored.
    pub async fn sound_by_file_name(&self, file_name: &str) -> Result<Option<CustomSound>> {
        let Some((id, extension)) = file_name.split_once('.') else {
            return Ok(None);
        };
        let sound = self.sound_by_id(id).await?;
        Ok(sound.filter(|s| s.extension == extension && s.file.is_some()))
    }

    /// `insertOrUpdateSound`: creates a sound's record or changes its name; returns its id.
    pub async fn save_sound(&self, session: &Session, input: SoundInput) -> Result<String> {
        const METHOD: &str = "insertOrUpdateSound";
        self.require(session, "manage-sounds")?;
        let name = input.name.replace(':', "");
        if name.trim().is_empty() {
            return Err(name_required(METHOD));
        }
        if name.chars().any(bad_name_char) {
            return Err(invalid_field(
                format!("{name} is not a valid name"),
                METHOD,
                &name,
                "Name",
            ));
        }
        let in_use = || {
            Error::meteor(
                "Custom_Sound_Error_Name_Already_In_Use",
                "The custom sound name is already in use",
            )
            .with_details(details(METHOD))
        };
        let holder = self
            .ctx
            .store
            .custom_sound_by_name(&name)
            .await
            .map_err(store_error)?;
        if holder.is_some_and(|h| Some(h.id.as_str()) != input.id.as_deref()) {
            return Err(in_use());
        }
        let conflict = |e: StoreError| match e {
            StoreError::Conflict(_) => in_use(),
            other => store_error(other),
        };
        let Some(id) = input.id else {
            let sound = CustomSound {
                id: id::new_id(),
                name,
                extension: input.extension,
                file: None,
                updated_at: now(),
            };
            self.ctx
                .store
                .insert_custom_sound(&sound)
                .await
                .map_err(conflict)?;
            return Ok(sound.id);
        };
        let Some(mut sound) = self.sound_by_id(&id).await? else {
            return Err(
                Error::meteor("Custom_Sound_Error_Invalid_Sound", "Invalid sound")
                    .with_details(details(METHOD)),
            );
        };
        if sound.name != name || sound.extension != input.extension {
            sound.name = name;
            sound.extension = input.extension;
            sound.updated_at = now();
            self.ctx
                .store
                .update_custom_sound(&sound)
                .await
                .map_err(conflict)?;
            self.notify(
                true,
                "updateCustomSound",
                json!({"soundData": sound_notice(&sound)}),
            );
        }
        Ok(id)
    }

    /// `uploadCustomSound`: stores an MP3 as a sound's file.
    pub async fn upload_sound(&self, session: &Session, id: &str, bytes: &[u8]) -> Result<()> {
        self.require(session, "manage-sounds")?;
        if bytes.len() as u64 > MAX_SOUND_BYTES {
            return Err(Error::meteor("file-too-large", "Max size is 5MB"));
        }
        let Some(mut sound) = self.sound_by_id(id).await? else {
            return Err(
                Error::meteor("Custom_Sound_Error_Invalid_Sound", "Invalid sound")
                    .with_details(details("uploadCustomSound")),
            );
        };
        if sniff(bytes) != "audio/mpeg" || sound.extension != "mp3" {
            return Err(Error::meteor(
                "invalid-file-type",
                "Only MP3 files are allowed",
            ));
        }
        let previous = sound.file.take();
        sound.file = Some(self.store_file("sound", "audio/mpeg", bytes).await?);
        sound.updated_at = now();
        match self.ctx.store.update_custom_sound(&sound).await {
            Ok(true) => {}
            result => {
                if let Some(file) = &sound.file {
                    self.discard_file(file).await;
                }
                result.map_err(store_error)?;
                return Err(Error::meteor(
                    "Custom_Sound_Error_Invalid_Sound",
                    "Invalid sound",
                ));
            }
        }
        if let Some(old) = &previous {
            self.discard_file(old).await;
        }
        self.notify(
            true,
            "updateCustomSound",
            json!({"soundData": sound_notice(&sound)}),
        );
        Ok(())
    }

    /// `deleteCustomSound`.
    pub async fn delete_sound(&self, session: &Session, id: &str) -> Result<()> {
        self.require(session, "manage-sounds")?;
        let sound = self
            .ctx
            .store
            .delete_custom_sound(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                Error::meteor("Custom_Sound_Error_Invalid_Sound", "Invalid sound")
                    .with_details(details("deleteCustomSound"))
            })?;
        if let Some(file) = &sound.file {
            self.discard_file(file).await;
        }
        self.notify(
            true,
            "deleteCustomSound",
            json!({"soundData": sound_notice(&sound)}),
        );
        Ok(())
    }
}

fn name_in_use() -> Error {
    Error::meteor(
        "Custom_Emoji_Error_Name_Or_Alias_Already_In_Use",
        "The custom emoji or one of its aliases is already in use",
    )
    .with_details(details("insertOrUpdateEmoji"))
}

/// Upstream's `Random.hexString(6)`.
fn new_etag() -> String {
    id::new_id().chars().take(6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_slugged_as_typed() {
        assert_eq!(slug("Party  Parrot"), "party_parrot");
        assert_eq!(slug("my-emoji-1"), "my-emoji-1");
        assert!("a<b".chars().any(bad_name_char));
        assert!(!"ok_name-1".chars().any(bad_name_char));
        assert!("x|y".chars().any(bad_alias_char));
    }
}
