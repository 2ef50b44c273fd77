//! Column lists and row → domain conversions.

use crate::driver::{Database, SqlRow, corrupt};
use comet_core::role::{Permission, Role};
use comet_core::room::{Message, Room, RoomType, Subscription, UserStub};
use comet_core::setting::{Setting, SettingType};
use comet_core::user::{Email, LoginToken, Presence, TokenKind, User, UserType};
use comet_store::transfer::{FailedLogin, Record, RecordKind, TrashedRoom, TrashedSubscription};
use comet_store::{
    Avatar, AvatarOwner, BlockedFileHash, Invite, InviteToken, RoomBan, StoreError, StoreResult,
    Upload,
};
use serde_json::Value;

/// The user columns but the roles (users aliased `u`); see [`user_columns`].
const USER_FIELDS: &str = "u.id, u.username, u.name, u.email, u.email_verified, u.user_type, \
    u.active, u.status, u.status_default, u.status_connection, u.status_text, u.utc_offset, \
    u.password_bcrypt, u.require_password_change, u.language, u.nickname, u.bio, \
    u.preferences, u.custom_fields, u.created_at, u.updated_at, u.last_login, u.approved";

/// The columns [`user_from_row`] reads, from `users` aliased `u`.
pub(crate) fn user_columns<D: Database>() -> String {
    format!("{USER_FIELDS}, {}", D::USER_ROLES_COLUMN)
}

/// The columns [`token_from_row`] reads, from `login_tokens` aliased `t`.
pub(crate) const TOKEN_COLUMNS: &str = "t.hashed_token, t.user_id AS token_user_id, \
    t.created_at AS token_created_at, t.kind, t.name AS token_name, t.last_token_part, \
    t.bypass_two_factor, t.two_factor_until, t.two_factor_client";

pub(crate) const ROLE_COLUMNS: &str =
    "id, name, scope, description, protected, mandatory_2fa, updated_at";

pub(crate) const SETTING_COLUMNS: &str =
    "id, value, package_value, setting_type, public, grp, section, choices, updated_at";

pub(crate) const ROOM_COLUMNS: &str = "id, t, name, fname, creator_id, creator_username, \
    creator_name, topic, description, announcement, read_only, react_when_read_only, archived, \
    is_default, featured, encrypted, broadcast, join_code, muted, user_ids, usernames, msgs, \
    users_count, lm, last_message_id, sys_mes, prid, custom_fields, created_at, updated_at, \
    unmuted, favorite, team_id, team_main, team_default, sidepanel";

pub(crate) const SUBSCRIPTION_COLUMNS: &str = "id, rid, t, user_id, username, user_name, name, \
    fname, roles, open, alert, unread, user_mentions, group_mentions, favorite, archived, ts, \
    ls, lr, tunread, ignored, updated_at, notifications, tunread_user, tunread_group, \
    auto_translate, auto_translate_language";

/// The columns a message row is read from.
pub const MESSAGE_COLUMNS: &str = "id, rid, msg, t, u_id, u_username, u_name, ts, \
    updated_at, tmid, tshow, tcount, tlm, pinned, deleted_at, extra, unread";

pub(crate) const UPLOAD_COLUMNS: &str = "id, name, size, content_type, extension, room_id, \
    user_id, store_key, store, complete, description, width, height, format, expires_at, \
    uploaded_at, updated_at, original_file_id";

pub(crate) const ROOM_BAN_COLUMNS: &str = "rid, user_id, banned_by, banned_at";

pub(crate) const INVITE_COLUMNS: &str =
    "id, rid, user_id, days, max_uses, uses, expires, created_at, updated_at";

pub(crate) const INVITE_TOKEN_COLUMNS: &str = "id, invite_id, created_at";

pub(crate) const AVATAR_COLUMNS: &str =
    "owner_kind, owner_id, origin, content_type, size, etag, store, store_key, updated_at";

/// The columns an export of `kind` selects, from its table aliased [`export_alias`].
pub fn export_columns<D: Database>(kind: RecordKind) -> String {
    match kind {
        RecordKind::User => user_columns::<D>(),
        RecordKind::LoginToken => TOKEN_COLUMNS.to_owned(),
        RecordKind::Role => ROLE_COLUMNS.to_owned(),
        RecordKind::Permission => "id, roles, updated_at".to_owned(),
        RecordKind::Setting => SETTING_COLUMNS.to_owned(),
        RecordKind::FailedLogin => "key, at".to_owned(),
        RecordKind::Room => ROOM_COLUMNS.to_owned(),
        RecordKind::Subscription => SUBSCRIPTION_COLUMNS.to_owned(),
        RecordKind::Message => MESSAGE_COLUMNS.to_owned(),
        RecordKind::SubscriptionTrash => "id, user_id, rid, deleted_at".to_owned(),
        RecordKind::RoomTrash => "id, deleted_at".to_owned(),
        RecordKind::Upload => UPLOAD_COLUMNS.to_owned(),
        RecordKind::Avatar => AVATAR_COLUMNS.to_owned(),
        RecordKind::ModerationReport => crate::reports::export_report_columns(),
        RecordKind::BlockedFileHash => BLOCKED_FILE_HASH_COLUMNS.to_owned(),
        RecordKind::RoomBan => ROOM_BAN_COLUMNS.to_owned(),
        RecordKind::AuditEntry => crate::audit::AUDIT_COLUMNS.to_owned(),
        RecordKind::Invite => INVITE_COLUMNS.to_owned(),
        RecordKind::InviteToken => INVITE_TOKEN_COLUMNS.to_owned(),
        RecordKind::UserTotp => crate::two_factor::USER_TOTP_COLUMNS.to_owned(),
        RecordKind::UserEmailTwoFactor => crate::two_factor::EMAIL_TWO_FACTOR_COLUMNS.to_owned(),
        RecordKind::QueuedMail => crate::mail::MAIL_COLUMNS.to_owned(),
        RecordKind::EmailToken => crate::mail::EMAIL_TOKEN_COLUMNS.to_owned(),
        RecordKind::Team => crate::teams::TEAM_COLUMNS.to_owned(),
        RecordKind::TeamMember => crate::teams::TEAM_MEMBER_COLUMNS.to_owned(),
        RecordKind::CustomEmoji => crate::custom_assets::CUSTOM_EMOJI_COLUMNS.to_owned(),
        RecordKind::CustomEmojiTrash => crate::custom_assets::CUSTOM_EMOJI_TRASH_COLUMNS.to_owned(),
        RecordKind::CustomUserStatus => crate::custom_assets::CUSTOM_USER_STATUS_COLUMNS.to_owned(),
        RecordKind::CustomSound => crate::custom_assets::CUSTOM_SOUND_COLUMNS.to_owned(),
        RecordKind::VideoConference => {
            crate::video_conferences::VIDEO_CONFERENCE_COLUMNS.to_owned()
        }
    }
}

/// The alias [`export_columns`] expects the kind's table under.
pub fn export_alias(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::User => "u",
        RecordKind::LoginToken => "t",
        _ => "x",
    }
}

pub(crate) fn record_from_row(kind: RecordKind, row: &impl SqlRow) -> StoreResult<Record> {
    Ok(match kind {
        RecordKind::User => Record::User(user_from_row(row)?),
        RecordKind::LoginToken => Record::LoginToken(token_from_row(row)?),
        RecordKind::Role => Record::Role(role_from_row(row)?),
        RecordKind::Permission => Record::Permission(permission_from_row(row)?),
        RecordKind::Setting => Record::Setting(setting_from_row(row)?),
        RecordKind::FailedLogin => Record::FailedLogin(FailedLogin {
            key: row.text("key")?,
            at: row.time("at")?,
        }),
        RecordKind::Room => Record::Room(room_from_row(row)?),
        RecordKind::Subscription => Record::Subscription(subscription_from_row(row)?),
        RecordKind::Message => Record::Message(message_from_row(row)?),
        RecordKind::SubscriptionTrash => Record::SubscriptionTrash(TrashedSubscription {
            id: row.text("id")?,
            user_id: row.text("user_id")?,
            room_id: row.text("rid")?,
            removed_at: row.time("deleted_at")?,
        }),
        RecordKind::RoomTrash => Record::RoomTrash(TrashedRoom {
            id: row.text("id")?,
            removed_at: row.time("deleted_at")?,
        }),
        RecordKind::Upload => Record::Upload(upload_from_row(row)?),
        RecordKind::Avatar => Record::Avatar(avatar_from_row(row)?),
        RecordKind::ModerationReport => {
            Record::ModerationReport(crate::reports::report_from_row(row)?)
        }
        RecordKind::BlockedFileHash => Record::BlockedFileHash(blocked_file_hash_from_row(row)?),
        RecordKind::RoomBan => Record::RoomBan(room_ban_from_row(row)?),
        RecordKind::AuditEntry => Record::AuditEntry(crate::audit::audit_entry_from_row(row)?),
        RecordKind::Invite => Record::Invite(invite_from_row(row)?),
        RecordKind::InviteToken => Record::InviteToken(invite_token_from_row(row)?),
        RecordKind::UserTotp => Record::UserTotp(crate::two_factor::user_totp_from_row(row)?),
        RecordKind::UserEmailTwoFactor => {
            Record::UserEmailTwoFactor(crate::two_factor::email_two_factor_from_row(row)?)
        }
        RecordKind::QueuedMail => Record::QueuedMail(crate::mail::mail_from_row(row)?),
        RecordKind::EmailToken => Record::EmailToken(crate::mail::email_token_from_row(row)?),
        RecordKind::Team => Record::Team(crate::teams::team_from_row(row)?),
        RecordKind::TeamMember => Record::TeamMember(crate::teams::team_member_from_row(row)?),
        RecordKind::CustomEmoji => {
            Record::CustomEmoji(crate::custom_assets::custom_emoji_from_row(row)?)
        }
        RecordKind::CustomEmojiTrash => {
            Record::CustomEmojiTrash(crate::custom_assets::deleted_custom_emoji_from_row(row)?)
        }
        RecordKind::CustomUserStatus => {
            Record::CustomUserStatus(crate::custom_assets::custom_user_status_from_row(row)?)
        }
        RecordKind::CustomSound => {
            Record::CustomSound(crate::custom_assets::custom_sound_from_row(row)?)
        }
        RecordKind::VideoConference => {
            Record::VideoConference(crate::video_conferences::video_conference_from_row(row)?)
        }
    })
}

fn presence(row: &impl SqlRow, column: &str) -> StoreResult<Presence> {
    let text = row.text(column)?;
    Presence::parse(&text).ok_or_else(|| corrupt(column, &text))
}

pub(crate) fn user_from_row(row: &impl SqlRow) -> StoreResult<User> {
    let user_type = row.text("user_type")?;
    Ok(User {
        id: row.text("id")?,
        username: row.text("username")?,
        name: row.text("name")?,
        email: match row.opt_text("email")? {
            Some(address) => Some(Email {
                address,
                verified: row.bool("email_verified")?,
            }),
            None => None,
        },
        user_type: UserType::parse(&user_type).ok_or_else(|| corrupt("user_type", &user_type))?,
        active: row.bool("active")?,
        roles: row.text_list("roles")?,
        status: presence(row, "status")?,
        status_default: presence(row, "status_default")?,
        status_connection: presence(row, "status_connection")?,
        status_text: row.text("status_text")?,
        utc_offset: row.float("utc_offset")?,
        password_bcrypt: row.opt_text("password_bcrypt")?,
        require_password_change: row.bool("require_password_change")?,
        language: row.opt_text("language")?,
        nickname: row.opt_text("nickname")?,
        bio: row.opt_text("bio")?,
        preferences: row.json("preferences")?,
        custom_fields: row.opt_json("custom_fields")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        last_login: row.opt_time("last_login")?,
        approved: row.bool("approved")?,
    })
}

pub(crate) fn token_from_row(row: &impl SqlRow) -> StoreResult<LoginToken> {
    let kind = match row.text("kind")?.as_str() {
        "login" => TokenKind::Login,
        "pat" => TokenKind::PersonalAccess {
            name: row.opt_text("token_name")?.unwrap_or_default(),
            last_token_part: row.opt_text("last_token_part")?.unwrap_or_default(),
            bypass_two_factor: row.bool("bypass_two_factor")?,
        },
        other => return Err(corrupt("token kind", other)),
    };
    Ok(LoginToken {
        user_id: row.text("token_user_id")?,
        hashed_token: row.text("hashed_token")?,
        created_at: row.time("token_created_at")?,
        kind,
        two_factor_until: row.opt_time("two_factor_until")?,
        two_factor_client: row.opt_text("two_factor_client")?,
    })
}

pub(crate) fn setting_from_row(row: &impl SqlRow) -> StoreResult<Setting> {
    let setting_type = row.text("setting_type")?;
    Ok(Setting {
        id: row.text("id")?,
        value: row.json("value")?,
        package_value: row.json("package_value")?,
        setting_type: SettingType::parse(&setting_type)
            .ok_or_else(|| corrupt("setting_type", &setting_type))?,
        public: row.bool("public")?,
        group: row.text("grp")?,
        section: row.opt_text("section")?,
        choices: row.text_list("choices")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn permission_from_row(row: &impl SqlRow) -> StoreResult<Permission> {
    Ok(Permission {
        id: row.text("id")?,
        roles: row.text_list("roles")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn role_from_row(row: &impl SqlRow) -> StoreResult<Role> {
    Ok(Role {
        id: row.text("id")?,
        name: row.text("name")?,
        scope: row.text("scope")?,
        description: row.text("description")?,
        protected: row.bool("protected")?,
        mandatory_2fa: row.bool("mandatory_2fa")?,
        updated_at: row.time("updated_at")?,
    })
}

fn room_type(row: &impl SqlRow, column: &str) -> StoreResult<RoomType> {
    let t = row.text(column)?;
    RoomType::parse(&t).ok_or_else(|| corrupt(column, &t))
}

pub(crate) fn room_from_row(row: &impl SqlRow) -> StoreResult<Room> {
    Ok(Room {
        id: row.text("id")?,
        room_type: room_type(row, "t")?,
        name: row.opt_text("name")?,
        fname: row.opt_text("fname")?,
        creator: match row.opt_text("creator_id")? {
            Some(id) => Some(UserStub {
                id,
                username: row.opt_text("creator_username")?.unwrap_or_default(),
                name: row.opt_text("creator_name")?,
            }),
            None => None,
        },
        topic: row.opt_text("topic")?,
        description: row.opt_text("description")?,
        announcement: row.opt_text("announcement")?,
        read_only: row.bool("read_only")?,
        react_when_read_only: row.bool("react_when_read_only")?,
        archived: row.bool("archived")?,
        default: row.bool("is_default")?,
        featured: row.bool("featured")?,
        encrypted: row.bool("encrypted")?,
        broadcast: row.bool("broadcast")?,
        join_code: row.opt_text("join_code")?,
        muted: row.text_list("muted")?,
        unmuted: row.text_list("unmuted")?,
        favorite: row.bool("favorite")?,
        user_ids: row.text_list("user_ids")?,
        usernames: row.text_list("usernames")?,
        message_count: row.int("msgs")?,
        users_count: row.int("users_count")?,
        last_message_at: row.opt_time("lm")?,
        last_message_id: row.opt_text("last_message_id")?,
        hidden_system_messages: row.text_list("sys_mes")?,
        parent_id: row.opt_text("prid")?,
        custom_fields: row.json("custom_fields")?,
        team_id: row.opt_text("team_id")?,
        team_main: row.bool("team_main")?,
        team_default: row.bool("team_default")?,
        sidepanel: row.text_list("sidepanel")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn subscription_from_row(row: &impl SqlRow) -> StoreResult<Subscription> {
    Ok(Subscription {
        id: row.text("id")?,
        room_id: row.text("rid")?,
        room_type: room_type(row, "t")?,
        user: UserStub {
            id: row.text("user_id")?,
            username: row.text("username")?,
            name: row.opt_text("user_name")?,
        },
        name: row.text("name")?,
        fname: row.opt_text("fname")?,
        roles: row.text_list("roles")?,
        open: row.bool("open")?,
        alert: row.bool("alert")?,
        unread: row.int("unread")?,
        user_mentions: row.int("user_mentions")?,
        group_mentions: row.int("group_mentions")?,
        favorite: row.bool("favorite")?,
        archived: row.bool("archived")?,
        joined_at: row.time("ts")?,
        last_seen: row.time("ls")?,
        last_reply: row.opt_time("lr")?,
        thread_unread: row.text_list("tunread")?,
        thread_unread_user: row.text_list("tunread_user")?,
        thread_unread_group: row.text_list("tunread_group")?,
        ignored: row.text_list("ignored")?,
        notifications: match row.json("notifications")? {
            Value::Object(map) => map,
            other => return Err(corrupt("notifications", &other.to_string())),
        },
        auto_translate: row.opt_bool("auto_translate")?,
        auto_translate_language: row.opt_text("auto_translate_language")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn message_from_row(row: &impl SqlRow) -> StoreResult<Message> {
    let mut message = Message::new(
        row.text("id")?,
        &row.text("rid")?,
        UserStub {
            id: row.text("u_id")?,
            username: row.text("u_username")?,
            name: row.opt_text("u_name")?,
        },
        &row.text("msg")?,
        row.time("ts")?,
    );
    message.kind = row.opt_text("t")?;
    message.updated_at = row.time("updated_at")?;
    message.thread_id = row.opt_text("tmid")?;
    message.thread_show = row.bool("tshow")?;
    message.thread_count = row.int("tcount")?;
    message.thread_last_at = row.opt_time("tlm")?;
    message.pinned = row.bool("pinned")?;
    message.deleted_at = row.opt_time("deleted_at")?;
    message.unread = row.bool("unread")?;
    comet_store::encoding::apply_message_extra(&mut message, &row.json("extra")?)?;
    Ok(message)
}

fn unsigned<T: TryFrom<i64>>(column: &str, n: i64) -> StoreResult<T> {
    T::try_from(n).map_err(|_| corrupt(column, &n.to_string()))
}

pub(crate) fn upload_from_row(row: &impl SqlRow) -> StoreResult<Upload> {
    let dimensions = match (row.opt_int("width")?, row.opt_int("height")?) {
        (Some(w), Some(h)) => Some((unsigned("width", w)?, unsigned("height", h)?)),
        _ => None,
    };
    Ok(Upload {
        id: row.text("id")?,
        name: row.text("name")?,
        size: unsigned("size", row.int("size")?)?,
        content_type: row.text("content_type")?,
        extension: row.text("extension")?,
        room_id: row.text("room_id")?,
        user_id: row.text("user_id")?,
        store_key: row.text("store_key")?,
        store: row.text("store")?,
        complete: row.bool("complete")?,
        description: row.opt_text("description")?,
        dimensions,
        format: row.opt_text("format")?,
        expires_at: row.opt_time("expires_at")?,
        uploaded_at: row.time("uploaded_at")?,
        updated_at: row.time("updated_at")?,
        original_file_id: row.opt_text("original_file_id")?,
    })
}

pub(crate) fn room_ban_from_row(row: &impl SqlRow) -> StoreResult<RoomBan> {
    Ok(RoomBan {
        room_id: row.text("rid")?,
        user_id: row.text("user_id")?,
        banned_by: row.text("banned_by")?,
        banned_at: row.time("banned_at")?,
    })
}

pub(crate) fn avatar_from_row(row: &impl SqlRow) -> StoreResult<Avatar> {
    let kind = row.text("owner_kind")?;
    Ok(Avatar {
        owner: AvatarOwner::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("unknown avatar owner kind {kind:?}")))?,
        owner_id: row.text("owner_id")?,
        origin: row.text("origin")?,
        content_type: row.text("content_type")?,
        size: unsigned("size", row.int("size")?)?,
        etag: row.text("etag")?,
        store: row.text("store")?,
        store_key: row.text("store_key")?,
        updated_at: row.time("updated_at")?,
    })
}

/// The columns [`blocked_file_hash_from_row`] reads.
pub(crate) const BLOCKED_FILE_HASH_COLUMNS: &str = "id, added_by, reason, created_at";

pub(crate) fn blocked_file_hash_from_row(row: &impl SqlRow) -> StoreResult<BlockedFileHash> {
    Ok(BlockedFileHash {
        sha256: row.text("id")?,
        added_by: row.text("added_by")?,
        reason: row.opt_text("reason")?,
        added_at: row.time("created_at")?,
    })
}

pub(crate) fn invite_from_row(row: &impl SqlRow) -> StoreResult<Invite> {
    Ok(Invite {
        id: row.text("id")?,
        room_id: row.text("rid")?,
        user_id: row.text("user_id")?,
        days: row.int("days")?,
        max_uses: row.int("max_uses")?,
        uses: row.int("uses")?,
        expires: row.opt_time("expires")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn invite_token_from_row(row: &impl SqlRow) -> StoreResult<InviteToken> {
    Ok(InviteToken {
        token_hash: row.text("id")?,
        invite_id: row.text("invite_id")?,
        created_at: row.time("created_at")?,
    })
}
