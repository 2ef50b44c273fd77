//! Room bans (see `comet_store::RoomBanStore`).

use crate::chat::{lock_room, post_system_message, remove_subscription_in};
use crate::rows::{ROOM_BAN_COLUMNS, room_ban_from_row};
use crate::{Database, Query, SqlStore, Transaction, counted, limit, offset};
use async_trait::async_trait;
use comet_core::room::Message;
use comet_store::encoding::millis;
use comet_store::{RoomBan, RoomBanStore, StoreResult};

/// Records a ban as given (also used by the import).
pub(crate) fn insert_room_ban_query(ban: &RoomBan) -> Query {
    Query::new(format!(
        "INSERT INTO room_bans ({ROOM_BAN_COLUMNS}) VALUES ($1, $2, $3, $4)"
    ))
    .bind(&ban.room_id)
    .bind(&ban.user_id)
    .bind(&ban.banned_by)
    .bind(millis(ban.banned_at))
}

#[async_trait]
impl<D: Database> RoomBanStore for SqlStore<D> {
    async fn ban_member(&self, ban: &RoomBan, message: Option<&Message>) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        lock_room::<D>(&mut tx, &ban.room_id).await?;
        if !remove_subscription_in::<D>(&mut tx, &ban.room_id, &ban.user_id, ban.banned_at).await? {
            return Ok(false);
        }
        tx.write(insert_room_ban_query(ban)).await?;
        post_system_message::<D>(&mut tx, message).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn unban(
        &self,
        room_id: &str,
        user_id: &str,
        message: Option<&Message>,
    ) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        lock_room::<D>(&mut tx, room_id).await?;
        let delete = Query::new("DELETE FROM room_bans WHERE rid = $1 AND user_id = $2");
        if tx.write(delete.bind(room_id).bind(user_id)).await? == 0 {
            return Ok(false);
        }
        post_system_message::<D>(&mut tx, message).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn room_ban(&self, room_id: &str, user_id: &str) -> StoreResult<Option<RoomBan>> {
        let select = Query::new(format!(
            "SELECT {ROOM_BAN_COLUMNS} FROM room_bans WHERE rid = $1 AND user_id = $2"
        ));
        let rows = self.db.read(select.bind(room_id).bind(user_id)).await?;
        rows.first().map(room_ban_from_row).transpose()
    }

    async fn room_bans(
        &self,
        room_id: &str,
        page_offset: u64,
        page_count: Option<u64>,
    ) -> StoreResult<(Vec<RoomBan>, u64)> {
        let mut tx = self.db.snapshot().await?;
        let total = Query::new("SELECT COUNT(*) AS n FROM room_bans WHERE rid = $1");
        let total = counted(&tx.read(total.bind(room_id)).await?)?;
        let page = Query::new(format!(
            "SELECT {ROOM_BAN_COLUMNS} FROM room_bans WHERE rid = $1 \
             ORDER BY banned_at, user_id LIMIT $2 OFFSET $3"
        ))
        .bind(room_id)
        .bind(limit(page_count))
        .bind(offset(page_offset));
        let rows = tx.read(page).await?;
        tx.commit().await?;
        let bans = rows
            .iter()
            .map(room_ban_from_row)
            .collect::<StoreResult<_>>()?;
        Ok((bans, total))
    }
}
