//! A user's TOTP second factor (see `comet_store::TwoFactorStore`).
//!
//! Backup code digests are one space-separated text, so that using one is a single
//! compare-and-set `UPDATE` on both backends: of two requests using the same code, the one
//! that writes second finds the text changed and writes nothing.

use crate::{Database, Query, SqlRow, SqlStore};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_store::encoding::millis;
use comet_store::{EmailTwoFactor, StoreResult, TwoFactorStore, UserTotp};

/// The columns [`user_totp_from_row`] reads.
pub(crate) const USER_TOTP_COLUMNS: &str =
    "id, secret, temp_secret, enabled, backup_codes, updated_at";

fn join_codes(codes: &[String]) -> String {
    codes.join(" ")
}

fn split_codes(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

pub(crate) fn user_totp_from_row(row: &impl SqlRow) -> StoreResult<UserTotp> {
    Ok(UserTotp {
        user_id: row.text("id")?,
        secret: row.opt_text("secret")?,
        temp_secret: row.opt_text("temp_secret")?,
        enabled: row.bool("enabled")?,
        backup_codes: split_codes(&row.text("backup_codes")?),
        updated_at: row.time("updated_at")?,
    })
}

/// Inserts a user's TOTP state as given (the import).
pub(crate) fn insert_user_totp_query(totp: &UserTotp) -> Query {
    Query::new(format!(
        "INSERT INTO user_totp ({USER_TOTP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(&totp.user_id)
    .bind(&totp.secret)
    .bind(&totp.temp_secret)
    .bind(totp.enabled)
    .bind(join_codes(&totp.backup_codes))
    .bind(millis(totp.updated_at))
}

/// The columns [`email_two_factor_from_row`] reads.
pub(crate) const EMAIL_TWO_FACTOR_COLUMNS: &str =
    "id, enabled, code_hash, code_expires_at, updated_at";

pub(crate) fn email_two_factor_from_row(row: &impl SqlRow) -> StoreResult<EmailTwoFactor> {
    Ok(EmailTwoFactor {
        user_id: row.text("id")?,
        enabled: row.bool("enabled")?,
        code_hash: row.opt_text("code_hash")?,
        code_expires_at: row.opt_time("code_expires_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// Inserts a user's email second factor as given (the import).
pub(crate) fn insert_email_two_factor_query(state: &EmailTwoFactor) -> Query {
    Query::new(format!(
        "INSERT INTO user_email_two_factor ({EMAIL_TWO_FACTOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
    ))
    .bind(&state.user_id)
    .bind(state.enabled)
    .bind(&state.code_hash)
    .bind(state.code_expires_at.map(millis))
    .bind(millis(state.updated_at))
}

#[async_trait]
impl<D: Database> TwoFactorStore for SqlStore<D> {
    async fn user_totp(&self, user_id: &str) -> StoreResult<Option<UserTotp>> {
        let select = Query::new(format!(
            "SELECT {USER_TOTP_COLUMNS} FROM user_totp WHERE id = $1"
        ));
        let rows = self.db.read(select.bind(user_id)).await?;
        rows.first().map(user_totp_from_row).transpose()
    }

    async fn set_totp_temp_secret(
        &self,
        user_id: &str,
        temp_secret: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let upsert = Query::new(
            "INSERT INTO user_totp (id, temp_secret, enabled, backup_codes, updated_at) \
             VALUES ($1, $2, $3, '', $4) \
             ON CONFLICT (id) DO UPDATE SET temp_secret = $2, updated_at = $4",
        )
        .bind(user_id)
        .bind(temp_secret)
        .bind(false)
        .bind(millis(at));
        self.db.write(upsert).await.map(drop)
    }

    async fn enable_totp(
        &self,
        user_id: &str,
        expected_temp_secret: &str,
        backup_codes: &[String],
        at: Timestamp,
    ) -> StoreResult<bool> {
        let update = Query::new(
            "UPDATE user_totp SET secret = temp_secret, temp_secret = NULL, enabled = $3, \
             backup_codes = $4, updated_at = $5 WHERE id = $1 AND temp_secret = $2",
        )
        .bind(user_id)
        .bind(expected_temp_secret)
        .bind(true)
        .bind(join_codes(backup_codes))
        .bind(millis(at));
        Ok(self.db.write(update).await? == 1)
    }

    async fn disable_totp(&self, user_id: &str) -> StoreResult<bool> {
        let delete = Query::new("DELETE FROM user_totp WHERE id = $1 AND enabled = $2")
            .bind(user_id)
            .bind(true);
        Ok(self.db.write(delete).await? == 1)
    }

    async fn replace_backup_codes(
        &self,
        user_id: &str,
        backup_codes: &[String],
        at: Timestamp,
    ) -> StoreResult<bool> {
        let update = Query::new(
            "UPDATE user_totp SET backup_codes = $2, updated_at = $3 \
             WHERE id = $1 AND enabled = $4",
        )
        .bind(user_id)
        .bind(join_codes(backup_codes))
        .bind(millis(at))
        .bind(true);
        Ok(self.db.write(update).await? == 1)
    }

    async fn use_backup_code(&self, user_id: &str, code_hash: &str) -> StoreResult<bool> {
        // A few rounds: another code of the same user used at the same moment changes the
        // text without using this one.
        for _ in 0..8 {
            let Some(current) = self.user_totp(user_id).await? else {
                return Ok(false);
            };
            if !current.enabled || !current.backup_codes.iter().any(|c| c == code_hash) {
                return Ok(false);
            }
            let remaining: Vec<String> = current
                .backup_codes
                .iter()
                .filter(|c| *c != code_hash)
                .cloned()
                .collect();
            let update = Query::new(
                "UPDATE user_totp SET backup_codes = $3 WHERE id = $1 AND backup_codes = $2",
            )
            .bind(user_id)
            .bind(join_codes(&current.backup_codes))
            .bind(join_codes(&remaining));
            if self.db.write(update).await? == 1 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn email_two_factor(&self, user_id: &str) -> StoreResult<Option<EmailTwoFactor>> {
        let select = Query::new(format!(
            "SELECT {EMAIL_TWO_FACTOR_COLUMNS} FROM user_email_two_factor WHERE id = $1"
        ));
        let rows = self.db.read(select.bind(user_id)).await?;
        rows.first().map(email_two_factor_from_row).transpose()
    }

    async fn set_email_two_factor_enabled(
        &self,
        user_id: &str,
        enabled: bool,
        at: Timestamp,
    ) -> StoreResult<()> {
        let upsert = Query::new(
            "INSERT INTO user_email_two_factor (id, enabled, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET enabled = $2, updated_at = $3, \
             code_hash = NULL, code_expires_at = NULL",
        )
        .bind(user_id)
        .bind(enabled)
        .bind(millis(at));
        self.db.write(upsert).await.map(drop)
    }

    async fn set_email_code(
        &self,
        user_id: &str,
        code_hash: &str,
        expires_at: Timestamp,
        at: Timestamp,
    ) -> StoreResult<()> {
        let upsert = Query::new(
            "INSERT INTO user_email_two_factor (id, enabled, code_hash, code_expires_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET code_hash = $3, code_expires_at = $4, updated_at = $5",
        )
        .bind(user_id)
        .bind(false)
        .bind(code_hash)
        .bind(millis(expires_at))
        .bind(millis(at));
        self.db.write(upsert).await.map(drop)
    }

    async fn use_email_code(&self, user_id: &str, code_hash: &str) -> StoreResult<bool> {
        let update = Query::new(
            "UPDATE user_email_two_factor SET code_hash = NULL, code_expires_at = NULL \
             WHERE id = $1 AND code_hash = $2",
        )
        .bind(user_id)
        .bind(code_hash);
        Ok(self.db.write(update).await? == 1)
    }

    async fn remove_expired_email_code(&self, user_id: &str, at: Timestamp) -> StoreResult<()> {
        let update = Query::new(
            "UPDATE user_email_two_factor SET code_hash = NULL, code_expires_at = NULL \
             WHERE id = $1 AND code_expires_at <= $2",
        )
        .bind(user_id)
        .bind(millis(at));
        self.db.write(update).await.map(drop)
    }
}
