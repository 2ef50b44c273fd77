//! Outgoing mail and email tokens (see `comet_store::MailStore`).

use crate::driver::corrupt;
use crate::{Database, Query, SqlRow, SqlStore, Transaction, counted};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_store::encoding::millis;
use comet_store::{EmailToken, EmailTokenKind, MailStore, QueuedMail, StoreResult};

pub(crate) const MAIL_COLUMNS: &str = "id, recipient, subject, text_body, html_body, created_at, \
     next_attempt_at, attempts, last_error";
pub(crate) const EMAIL_TOKEN_COLUMNS: &str =
    "hashed_token, kind, user_id, address, created_at, expires_at";

pub(crate) fn mail_from_row(row: &impl SqlRow) -> StoreResult<QueuedMail> {
    let attempts = row.int("attempts")?;
    Ok(QueuedMail {
        id: row.text("id")?,
        recipient: row.text("recipient")?,
        subject: row.text("subject")?,
        text_body: row.text("text_body")?,
        html_body: row.text("html_body")?,
        created_at: row.time("created_at")?,
        next_attempt_at: row.time("next_attempt_at")?,
        attempts: u32::try_from(attempts)
            .map_err(|_| corrupt("attempts", &attempts.to_string()))?,
        last_error: row.opt_text("last_error")?,
    })
}

pub(crate) fn email_token_from_row(row: &impl SqlRow) -> StoreResult<EmailToken> {
    let kind = row.text("kind")?;
    Ok(EmailToken {
        hashed_token: row.text("hashed_token")?,
        kind: EmailTokenKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        user_id: row.text("user_id")?,
        address: row.text("address")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
    })
}

/// Inserts a queued message as it is (the import).
pub(crate) fn insert_mail_query(mail: &QueuedMail) -> Query {
    Query::new(format!(
        "INSERT INTO mail_queue ({MAIL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&mail.id)
    .bind(&mail.recipient)
    .bind(&mail.subject)
    .bind(&mail.text_body)
    .bind(&mail.html_body)
    .bind(millis(mail.created_at))
    .bind(millis(mail.next_attempt_at))
    .bind(i64::from(mail.attempts))
    .bind(&mail.last_error)
}

/// Inserts an email token as it is (the import).
pub(crate) fn insert_email_token_query(token: &EmailToken) -> Query {
    Query::new(format!(
        "INSERT INTO email_tokens ({EMAIL_TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(&token.hashed_token)
    .bind(token.kind.as_str())
    .bind(&token.user_id)
    .bind(&token.address)
    .bind(millis(token.created_at))
    .bind(millis(token.expires_at))
}

#[async_trait]
impl<D: Database> MailStore for SqlStore<D> {
    async fn enqueue_mail(&self, mail: &QueuedMail, capacity: u64) -> StoreResult<bool> {
        // One statement, so the count and the insert cannot be split by another writer.
        let insert = Query::new(format!(
            "INSERT INTO mail_queue ({MAIL_COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             WHERE (SELECT COUNT(*) FROM mail_queue) < $10"
        ))
        .bind(&mail.id)
        .bind(&mail.recipient)
        .bind(&mail.subject)
        .bind(&mail.text_body)
        .bind(&mail.html_body)
        .bind(millis(mail.created_at))
        .bind(millis(mail.next_attempt_at))
        .bind(i64::from(mail.attempts))
        .bind(&mail.last_error)
        .bind(i64::try_from(capacity).unwrap_or(i64::MAX));
        Ok(self.db.write(insert).await? == 1)
    }

    async fn claim_due_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u64,
    ) -> StoreResult<Vec<QueuedMail>> {
        // The outer `next_attempt_at <= $1` is checked again on the row a concurrent claim
        // left behind (PostgreSQL re-reads a row it waited for), so no message is claimed twice.
        let claim = Query::new(format!(
            "UPDATE mail_queue SET next_attempt_at = $2 \
             WHERE next_attempt_at <= $1 AND id IN (\
                 SELECT id FROM mail_queue WHERE next_attempt_at <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $3) \
             RETURNING {MAIL_COLUMNS}"
        ))
        .bind(millis(now))
        .bind(millis(lease_until))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = self.db.write_returning(claim).await?;
        let mut claimed = rows
            .iter()
            .map(mail_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(claimed)
    }

    async fn remove_mail(&self, id: &str) -> StoreResult<()> {
        self.db
            .write(Query::new("DELETE FROM mail_queue WHERE id = $1").bind(id))
            .await?;
        Ok(())
    }

    async fn mail_attempt_failed(
        &self,
        id: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> StoreResult<()> {
        let update = Query::new(
            "UPDATE mail_queue SET attempts = attempts + 1, next_attempt_at = $2, \
             last_error = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(millis(next_attempt_at))
        .bind(error);
        self.db.write(update).await?;
        Ok(())
    }

    async fn pending_mail_count(&self) -> StoreResult<u64> {
        let rows = self
            .db
            .read(Query::new("SELECT COUNT(*) AS n FROM mail_queue"))
            .await?;
        counted(&rows)
    }

    async fn replace_email_token(&self, token: &EmailToken) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        tx.write(
            Query::new("DELETE FROM email_tokens WHERE user_id = $1 AND kind = $2")
                .bind(&token.user_id)
                .bind(token.kind.as_str()),
        )
        .await?;
        tx.write(
            Query::new(format!(
                "INSERT INTO email_tokens ({EMAIL_TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .bind(&token.hashed_token)
            .bind(token.kind.as_str())
            .bind(&token.user_id)
            .bind(&token.address)
            .bind(millis(token.created_at))
            .bind(millis(token.expires_at)),
        )
        .await?;
        tx.commit().await
    }

    async fn take_email_token(
        &self,
        hashed_token: &str,
        kind: EmailTokenKind,
    ) -> StoreResult<Option<EmailToken>> {
        let take = Query::new(format!(
            "DELETE FROM email_tokens WHERE hashed_token = $1 AND kind = $2 \
             RETURNING {EMAIL_TOKEN_COLUMNS}"
        ))
        .bind(hashed_token)
        .bind(kind.as_str());
        let rows = self.db.write_returning(take).await?;
        rows.first().map(email_token_from_row).transpose()
    }

    async fn delete_expired_email_tokens(&self, cutoff: Timestamp) -> StoreResult<u64> {
        let delete =
            Query::new("DELETE FROM email_tokens WHERE expires_at < $1").bind(millis(cutoff));
        self.db.write(delete).await
    }
}
