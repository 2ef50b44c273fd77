//! Avatar records (see `comet_store::AvatarStore`).

use crate::rows::{from_millis, get, millis};
use crate::{SqliteStore, backend, write_error};
use async_trait::async_trait;
use comet_store::{Avatar, AvatarOwner, AvatarStore, StoreResult};
use sqlx::sqlite::SqliteRow;

/// The columns `avatar_from_row` reads.
pub(crate) const AVATAR_COLUMNS: &str =
    "owner_kind, owner_id, origin, content_type, size, etag, store, store_key, updated_at";

pub(crate) fn avatar_from_row(row: &SqliteRow) -> StoreResult<Avatar> {
    let kind: String = get(row, "owner_kind")?;
    Ok(Avatar {
        owner: AvatarOwner::parse(&kind)
            .ok_or_else(|| backend(format!("unknown avatar owner kind {kind:?}")))?,
        owner_id: get(row, "owner_id")?,
        origin: get(row, "origin")?,
        content_type: get(row, "content_type")?,
        size: u64::try_from(get::<i64>(row, "size")?).map_err(backend)?,
        etag: get(row, "etag")?,
        store: get(row, "store")?,
        store_key: get(row, "store_key")?,
        updated_at: from_millis(get(row, "updated_at")?)?,
    })
}

/// Writes an avatar row, replacing the owner's previous one when `replace` (an import never
/// replaces: a duplicate is a conflict there).
pub(crate) async fn insert_avatar_row<'c, E>(
    executor: E,
    a: &Avatar,
    replace: bool,
) -> StoreResult<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    let upsert = if replace {
        " ON CONFLICT (owner_kind, owner_id) DO UPDATE SET origin = excluded.origin, \
         content_type = excluded.content_type, size = excluded.size, etag = excluded.etag, \
         store = excluded.store, store_key = excluded.store_key, updated_at = excluded.updated_at"
    } else {
        ""
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO avatars ({AVATAR_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?){upsert}"
    )))
    .bind(a.owner.as_str())
    .bind(&a.owner_id)
    .bind(&a.origin)
    .bind(&a.content_type)
    .bind(i64::try_from(a.size).map_err(backend)?)
    .bind(&a.etag)
    .bind(&a.store)
    .bind(&a.store_key)
    .bind(millis(a.updated_at))
    .execute(executor)
    .await
    .map_err(write_error)?;
    Ok(())
}

async fn find<'c, E>(executor: E, owner: AvatarOwner, owner_id: &str) -> StoreResult<Option<Avatar>>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {AVATAR_COLUMNS} FROM avatars WHERE owner_kind = ? AND owner_id = ?"
    )))
    .bind(owner.as_str())
    .bind(owner_id)
    .fetch_optional(executor)
    .await
    .map_err(backend)?;
    row.as_ref().map(avatar_from_row).transpose()
}

#[async_trait]
impl AvatarStore for SqliteStore {
    async fn put_avatar(&self, avatar: &Avatar) -> StoreResult<Option<Avatar>> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let previous = find(&mut *tx, avatar.owner, &avatar.owner_id).await?;
        insert_avatar_row(&mut *tx, avatar, true).await?;
        tx.commit().await.map_err(write_error)?;
        Ok(previous)
    }

    async fn avatar(&self, owner: AvatarOwner, owner_id: &str) -> StoreResult<Option<Avatar>> {
        find(&self.reader, owner, owner_id).await
    }

    async fn delete_avatar(
        &self,
        owner: AvatarOwner,
        owner_id: &str,
    ) -> StoreResult<Option<Avatar>> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let previous = find(&mut *tx, owner, owner_id).await?;
        sqlx::query("DELETE FROM avatars WHERE owner_kind = ? AND owner_id = ?")
            .bind(owner.as_str())
            .bind(owner_id)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        tx.commit().await.map_err(write_error)?;
        Ok(previous)
    }
}
