//! Whole-database export and import (`comet migrate-db`).
//!
//! Each backend pages a kind's rows in its own stable order ([`Database::export_rows`]);
//! the rows become records here. Imports insert the records as they are, in one transaction
//! (messages many to a statement: they are most of a database, and a round trip per row would
//! make the copy as slow as the network), taking no room locks: an import targets a database
//! no server is using. Derived search indexes are filled as posting fills them.

use crate::accounts::{
    insert_permission_query, insert_role_query, insert_setting_query, insert_token_query,
    insert_user_in,
};
use crate::bans::insert_room_ban_query;
use crate::chat::{
    MESSAGES_PER_INSERT, insert_messages, insert_room_query, insert_subscription_query,
};
use crate::files::{insert_avatar_query, insert_upload_query};
use crate::rows::record_from_row;
use crate::{Database, Query, SqlStore, Transaction, counted};
use async_trait::async_trait;
use comet_core::room::Message;
use comet_store::StoreResult;
use comet_store::encoding::millis;
use comet_store::transfer::{ExportPage, Record, RecordKind, TransferStore};

async fn insert_record<D: Database>(tx: &mut D::Tx, record: &Record) -> StoreResult<()> {
    let insert = match record {
        Record::User(user) => return insert_user_in::<D>(tx, user).await,
        Record::LoginToken(token) => insert_token_query(token),
        Record::Role(role) => insert_role_query(role, false),
        Record::Permission(permission) => insert_permission_query(permission, false),
        Record::Setting(setting) => insert_setting_query(setting, false),
        Record::FailedLogin(failed) => {
            Query::new("INSERT INTO failed_logins (key, at) VALUES ($1, $2)")
                .bind(&failed.key)
                .bind(millis(failed.at))
        }
        Record::Room(room) => insert_room_query(
            room,
            room.message_count,
            room.users_count,
            (
                room.last_message_at.map(millis),
                room.last_message_id.clone(),
            ),
        ),
        Record::Subscription(subscription) => insert_subscription_query(subscription, false),
        Record::Message(message) => return insert_messages::<D>(tx, &[message]).await,
        Record::SubscriptionTrash(trashed) => Query::new(
            "INSERT INTO subscription_trash (id, user_id, rid, deleted_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&trashed.id)
        .bind(&trashed.user_id)
        .bind(&trashed.room_id)
        .bind(millis(trashed.removed_at)),
        Record::RoomTrash(trashed) => {
            Query::new("INSERT INTO room_trash (id, deleted_at) VALUES ($1, $2)")
                .bind(&trashed.id)
                .bind(millis(trashed.removed_at))
        }
        Record::Upload(upload) => insert_upload_query(upload)?,
        Record::Avatar(avatar) => insert_avatar_query(avatar, false)?,
        Record::ModerationReport(report) => crate::reports::insert_report_query(report)?,
        Record::BlockedFileHash(entry) => {
            crate::files::insert_blocked_file_hash_query(entry, false)
        }
        Record::RoomBan(ban) => insert_room_ban_query(ban),
        Record::AuditEntry(entry) => crate::audit::insert_audit_query(entry),
        Record::Invite(invite) => crate::invites::insert_invite_query(invite),
        Record::InviteToken(token) => crate::invites::insert_invite_token_query(token),
        Record::UserTotp(totp) => crate::two_factor::insert_user_totp_query(totp),
        Record::UserEmailTwoFactor(state) => {
            crate::two_factor::insert_email_two_factor_query(state)
        }
        Record::QueuedMail(mail) => crate::mail::insert_mail_query(mail),
        Record::EmailToken(token) => crate::mail::insert_email_token_query(token),
        Record::Team(team) => crate::teams::insert_team_query(team),
        Record::TeamMember(member) => crate::teams::insert_team_member_query(member),
        Record::CustomEmoji(emoji) => crate::custom_assets::insert_custom_emoji_query(emoji),
        Record::CustomEmojiTrash(deleted) => {
            crate::custom_assets::insert_custom_emoji_trash_query(deleted)
        }
        Record::CustomUserStatus(status) => {
            crate::custom_assets::insert_custom_user_status_query(status)
        }
        Record::CustomSound(sound) => crate::custom_assets::insert_custom_sound_query(sound),
        Record::VideoConference(call) => {
            crate::video_conferences::insert_video_conference_query(call)?
        }
    };
    tx.write(insert).await.map(drop)
}

#[async_trait]
impl<D: Database> TransferStore for SqlStore<D> {
    async fn export(
        &self,
        kind: RecordKind,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<ExportPage> {
        let (rows, next) = self.db.export_rows(kind, after, limit).await?;
        let records = rows
            .iter()
            .map(|row| record_from_row(kind, row))
            .collect::<StoreResult<_>>()?;
        Ok(ExportPage { records, next })
    }

    async fn import(&self, records: &[Record]) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        let mut rest = records;
        while let Some(first) = rest.first() {
            // A run of messages goes in together; everything else a row at a time.
            let messages: Vec<&Message> = rest
                .iter()
                .map_while(|record| match record {
                    Record::Message(message) => Some(message),
                    _ => None,
                })
                .collect();
            if messages.is_empty() {
                insert_record::<D>(&mut tx, first).await?;
                rest = &rest[1..];
            } else {
                for chunk in messages.chunks(MESSAGES_PER_INSERT) {
                    insert_messages::<D>(&mut tx, chunk).await?;
                }
                rest = &rest[messages.len()..];
            }
        }
        tx.commit().await
    }

    async fn count_records(&self, kind: RecordKind) -> StoreResult<u64> {
        let select = Query::new(format!("SELECT COUNT(*) AS n FROM {}", kind.name()));
        counted(&self.db.read(select).await?)
    }
}
