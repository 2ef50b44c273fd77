//! Invite links (see `comet_store::InviteStore`).

use crate::rows::{INVITE_COLUMNS, invite_from_row};
use crate::{Database, Query, SqlStore, Transaction};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_store::encoding::millis;
use comet_store::{Invite, InviteStore, InviteToken, StoreResult};

/// Records an invite as given (also used by the import).
pub(crate) fn insert_invite_query(invite: &Invite) -> Query {
    Query::new(format!(
        "INSERT INTO invites ({INVITE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&invite.id)
    .bind(&invite.room_id)
    .bind(&invite.user_id)
    .bind(invite.days)
    .bind(invite.max_uses)
    .bind(invite.uses)
    .bind(invite.expires.map(millis))
    .bind(millis(invite.created_at))
    .bind(millis(invite.updated_at))
}

/// Records a token digest as given (also used by the import).
pub(crate) fn insert_invite_token_query(token: &InviteToken) -> Query {
    Query::new("INSERT INTO invite_tokens (id, invite_id, created_at) VALUES ($1, $2, $3)")
        .bind(&token.token_hash)
        .bind(&token.invite_id)
        .bind(millis(token.created_at))
}

impl<D: Database> SqlStore<D> {
    async fn one_invite(&self, query: Query) -> StoreResult<Option<Invite>> {
        let rows = self.db.read(query).await?;
        rows.first().map(invite_from_row).transpose()
    }
}

#[async_trait]
impl<D: Database> InviteStore for SqlStore<D> {
    async fn insert_invite(&self, invite: &Invite, token: &InviteToken) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        tx.write(insert_invite_query(invite)).await?;
        tx.write(insert_invite_token_query(token)).await?;
        tx.commit().await
    }

    async fn add_invite_token(&self, token: &InviteToken) -> StoreResult<bool> {
        // Inserted only while the invite exists, so a token never outlives its removal.
        let insert = Query::new(
            "INSERT INTO invite_tokens (id, invite_id, created_at) \
             SELECT $1, id, $3 FROM invites WHERE id = $2",
        )
        .bind(&token.token_hash)
        .bind(&token.invite_id)
        .bind(millis(token.created_at));
        Ok(self.db.write(insert).await? > 0)
    }

    async fn reusable_invite(
        &self,
        user_id: &str,
        room_id: &str,
        max_uses: i64,
        days: i64,
        now: Timestamp,
    ) -> StoreResult<Option<Invite>> {
        let select = Query::new(format!(
            "SELECT {INVITE_COLUMNS} FROM invites WHERE user_id = $1 AND rid = $2 \
             AND max_uses = $3 AND days = $4 AND (expires IS NULL OR expires > $5) \
             AND (max_uses = 0 OR uses < max_uses) \
             ORDER BY created_at DESC, id LIMIT 1"
        ))
        .bind(user_id)
        .bind(room_id)
        .bind(max_uses)
        .bind(days)
        .bind(millis(now));
        self.one_invite(select).await
    }

    async fn invite_by_id(&self, id: &str) -> StoreResult<Option<Invite>> {
        let select = Query::new(format!(
            "SELECT {INVITE_COLUMNS} FROM invites WHERE id = $1"
        ));
        self.one_invite(select.bind(id)).await
    }

    async fn invite_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Invite>> {
        let select = Query::new(format!(
            "SELECT {INVITE_COLUMNS} FROM invites \
             WHERE id = (SELECT invite_id FROM invite_tokens WHERE id = $1)"
        ));
        self.one_invite(select.bind(token_hash)).await
    }

    async fn invites(&self) -> StoreResult<Vec<Invite>> {
        let select = Query::new(format!(
            "SELECT {INVITE_COLUMNS} FROM invites ORDER BY created_at, id"
        ));
        let rows = self.db.read(select).await?;
        rows.iter().map(invite_from_row).collect()
    }

    async fn delete_invite(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        let tokens = Query::new("DELETE FROM invite_tokens WHERE invite_id = $1");
        tx.write(tokens.bind(id)).await?;
        let invite = Query::new("DELETE FROM invites WHERE id = $1");
        let deleted = tx.write(invite.bind(id)).await? > 0;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn take_invite_use(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        let update = Query::new(
            "UPDATE invites SET uses = uses + 1, updated_at = $2 \
             WHERE id = $1 AND (max_uses = 0 OR uses < max_uses)",
        )
        .bind(id)
        .bind(millis(at));
        Ok(self.db.write(update).await? > 0)
    }
}
