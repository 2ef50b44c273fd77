//! Upload and avatar records (see `comet_store::FileStore` and `AvatarStore`).

use crate::rows::{
    AVATAR_COLUMNS, BLOCKED_FILE_HASH_COLUMNS, UPLOAD_COLUMNS, avatar_from_row,
    blocked_file_hash_from_row, upload_from_row,
};
use crate::{Database, Query, SqlStore, Transaction, counted, limit, offset};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_store::encoding::{like_pattern, millis};
use comet_store::{
    Avatar, AvatarOwner, AvatarStore, BlockedFileHash, FileStore, StoreError, StoreResult, Upload,
    UploadFilter,
};

/// Inserts a blocklist entry (also used by the import); `if_new` skips one listed already.
pub(crate) fn insert_blocked_file_hash_query(entry: &BlockedFileHash, if_new: bool) -> Query {
    Query::new(format!(
        "INSERT INTO blocked_file_hashes ({BLOCKED_FILE_HASH_COLUMNS}) VALUES ($1, $2, $3, $4){}",
        if if_new {
            " ON CONFLICT (id) DO NOTHING"
        } else {
            ""
        }
    ))
    .bind(&entry.sha256)
    .bind(&entry.added_by)
    .bind(&entry.reason)
    .bind(millis(entry.added_at))
}

fn signed(n: u64) -> StoreResult<i64> {
    i64::try_from(n).map_err(|e| StoreError::Backend(e.to_string()))
}

/// Inserts an upload row as given (also used by the import).
pub(crate) fn insert_upload_query(u: &Upload) -> StoreResult<Query> {
    Ok(Query::new(format!(
        "INSERT INTO uploads (name_key, type_group, {UPLOAD_COLUMNS}) VALUES ($1, $2, $3, $4, \
         $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
    ))
    .bind(u.name.to_lowercase())
    .bind(u.type_group())
    .bind(&u.id)
    .bind(&u.name)
    .bind(signed(u.size)?)
    .bind(&u.content_type)
    .bind(&u.extension)
    .bind(&u.room_id)
    .bind(&u.user_id)
    .bind(&u.store_key)
    .bind(&u.store)
    .bind(u.complete)
    .bind(&u.description)
    .bind(u.dimensions.map(|d| i64::from(d.0)))
    .bind(u.dimensions.map(|d| i64::from(d.1)))
    .bind(&u.format)
    .bind(u.expires_at.map(millis))
    .bind(millis(u.uploaded_at))
    .bind(millis(u.updated_at))
    .bind(&u.original_file_id))
}

/// Writes an avatar row, replacing the owner's previous one when `replace` (an import never
/// replaces: a duplicate is a conflict there).
pub(crate) fn insert_avatar_query(a: &Avatar, replace: bool) -> StoreResult<Query> {
    let upsert = if replace {
        " ON CONFLICT (owner_kind, owner_id) DO UPDATE SET origin = excluded.origin, \
         content_type = excluded.content_type, size = excluded.size, etag = excluded.etag, \
         store = excluded.store, store_key = excluded.store_key, updated_at = excluded.updated_at"
    } else {
        ""
    };
    Ok(Query::new(format!(
        "INSERT INTO avatars ({AVATAR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)\
         {upsert}"
    ))
    .bind(a.owner.as_str())
    .bind(&a.owner_id)
    .bind(&a.origin)
    .bind(&a.content_type)
    .bind(signed(a.size)?)
    .bind(&a.etag)
    .bind(&a.store)
    .bind(&a.store_key)
    .bind(millis(a.updated_at)))
}

fn find_avatar(owner: AvatarOwner, owner_id: &str, lock: &str) -> Query {
    Query::new(format!(
        "SELECT {AVATAR_COLUMNS} FROM avatars WHERE owner_kind = $1 AND owner_id = $2{lock}"
    ))
    .bind(owner.as_str())
    .bind(owner_id)
}

impl<D: Database> SqlStore<D> {
    /// In a transaction: the owner's avatar, after serializing the writers of it where rows
    /// are locked (also when it has no row yet to lock), so that each sees, and hands back for
    /// removal, the one it replaces.
    async fn avatar_for_change(
        tx: &mut D::Tx,
        owner: AvatarOwner,
        owner_id: &str,
    ) -> StoreResult<Option<Avatar>> {
        if let Some(lock) = D::KEY_LOCK {
            let key = format!("avatar:{}:{owner_id}", owner.as_str());
            tx.read(Query::new(lock).bind(key)).await?;
        }
        let rows = tx
            .read(find_avatar(owner, owner_id, crate::chat::for_update::<D>()))
            .await?;
        rows.first().map(avatar_from_row).transpose()
    }
}

#[async_trait]
impl<D: Database> FileStore for SqlStore<D> {
    async fn insert_upload(&self, u: &Upload) -> StoreResult<()> {
        self.db.write(insert_upload_query(u)?).await.map(drop)
    }

    async fn upload_by_id(&self, id: &str) -> StoreResult<Option<Upload>> {
        let select = Query::new(format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = $1"
        ));
        let rows = self.db.read(select.bind(id)).await?;
        rows.first().map(upload_from_row).transpose()
    }

    async fn update_upload(&self, u: &Upload) -> StoreResult<bool> {
        let update = Query::new(
            "UPDATE uploads SET name = $1, name_key = $2, complete = $3, description = $4, \
             width = $5, height = $6, format = $7, expires_at = $8, updated_at = $9, \
             size = $11, store = $12 WHERE id = $10",
        )
        .bind(&u.name)
        .bind(u.name.to_lowercase())
        .bind(u.complete)
        .bind(&u.description)
        .bind(u.dimensions.map(|d| i64::from(d.0)))
        .bind(u.dimensions.map(|d| i64::from(d.1)))
        .bind(&u.format)
        .bind(u.expires_at.map(millis))
        .bind(millis(u.updated_at))
        .bind(&u.id)
        .bind(i64::try_from(u.size).unwrap_or(i64::MAX))
        .bind(&u.store);
        Ok(self.db.write(update).await? > 0)
    }

    async fn delete_upload(&self, id: &str) -> StoreResult<bool> {
        let delete = Query::new("DELETE FROM uploads WHERE id = $1").bind(id);
        Ok(self.db.write(delete).await? > 0)
    }

    async fn room_uploads(
        &self,
        room_id: &str,
        filter: &UploadFilter,
        page_offset: u64,
        page_count: Option<u64>,
    ) -> StoreResult<(Vec<Upload>, u64)> {
        let narrow = |q: &mut Query| {
            q.push(" WHERE room_id = ").push_bind(room_id);
            if let Some(name) = &filter.name {
                q.push(" AND name_key LIKE ")
                    .push_bind(like_pattern(name))
                    .push(" ESCAPE '\\'");
            }
            if let Some(group) = &filter.type_group {
                q.push(" AND type_group = ").push_bind(group);
            }
            if filter.only_complete {
                q.push(" AND complete = ").push(D::TRUE);
            }
            if !filter.include_thumbs {
                q.push(" AND type_group <> 'thumb'");
            }
            if let Some(at) = filter.uploaded_up_to {
                q.push(" AND uploaded_at <= ").push_bind(millis(at));
            }
        };
        let mut total = Query::new("SELECT COUNT(*) AS n FROM uploads");
        narrow(&mut total);
        let total = counted(&self.db.read(total).await?)?;
        let mut q = Query::new(format!("SELECT {UPLOAD_COLUMNS} FROM uploads"));
        narrow(&mut q);
        q.push(&format!(
            " ORDER BY uploaded_at DESC, id{} DESC LIMIT ",
            D::BYTEWISE
        ))
        .push_bind(limit(page_count))
        .push(" OFFSET ")
        .push_bind(offset(page_offset));
        let rows = self.db.read(q).await?;
        let uploads = rows
            .iter()
            .map(upload_from_row)
            .collect::<StoreResult<_>>()?;
        Ok((uploads, total))
    }

    async fn expired_uploads(&self, before: Timestamp) -> StoreResult<Vec<Upload>> {
        let select = Query::new(format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE complete = {} AND expires_at IS NOT NULL \
             AND expires_at < $1 ORDER BY expires_at",
            D::FALSE
        ));
        let rows = self.db.read(select.bind(millis(before))).await?;
        rows.iter().map(upload_from_row).collect()
    }

    async fn user_uploads(&self, user_id: &str) -> StoreResult<Vec<Upload>> {
        let select = Query::new(format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE user_id = $1 ORDER BY uploaded_at"
        ));
        let rows = self.db.read(select.bind(user_id)).await?;
        rows.iter().map(upload_from_row).collect()
    }

    async fn block_file_hash(&self, entry: &BlockedFileHash) -> StoreResult<bool> {
        Ok(self
            .db
            .write(insert_blocked_file_hash_query(entry, true))
            .await?
            > 0)
    }

    async fn unblock_file_hash(&self, sha256: &str) -> StoreResult<bool> {
        let delete = Query::new("DELETE FROM blocked_file_hashes WHERE id = $1").bind(sha256);
        Ok(self.db.write(delete).await? > 0)
    }

    async fn is_file_hash_blocked(&self, sha256: &str) -> StoreResult<bool> {
        let select = Query::new("SELECT COUNT(*) AS n FROM blocked_file_hashes WHERE id = $1");
        Ok(counted(&self.db.read(select.bind(sha256)).await?)? > 0)
    }

    async fn blocked_file_hashes(
        &self,
        page_offset: u64,
        page_count: Option<u64>,
    ) -> StoreResult<(Vec<BlockedFileHash>, u64)> {
        let total = counted(
            &self
                .db
                .read(Query::new("SELECT COUNT(*) AS n FROM blocked_file_hashes"))
                .await?,
        )?;
        let mut q = Query::new(format!(
            "SELECT {BLOCKED_FILE_HASH_COLUMNS} FROM blocked_file_hashes \
             ORDER BY created_at DESC, id{} DESC LIMIT ",
            D::BYTEWISE
        ));
        q.push_bind(limit(page_count))
            .push(" OFFSET ")
            .push_bind(offset(page_offset));
        let rows = self.db.read(q).await?;
        let entries = rows
            .iter()
            .map(blocked_file_hash_from_row)
            .collect::<StoreResult<_>>()?;
        Ok((entries, total))
    }
}

#[async_trait]
impl<D: Database> AvatarStore for SqlStore<D> {
    async fn put_avatar(&self, avatar: &Avatar) -> StoreResult<Option<Avatar>> {
        let mut tx = self.db.begin().await?;
        let previous = Self::avatar_for_change(&mut tx, avatar.owner, &avatar.owner_id).await?;
        tx.write(insert_avatar_query(avatar, true)?).await?;
        tx.commit().await?;
        Ok(previous)
    }

    async fn avatar(&self, owner: AvatarOwner, owner_id: &str) -> StoreResult<Option<Avatar>> {
        let rows = self.db.read(find_avatar(owner, owner_id, "")).await?;
        rows.first().map(avatar_from_row).transpose()
    }

    async fn delete_avatar(
        &self,
        owner: AvatarOwner,
        owner_id: &str,
    ) -> StoreResult<Option<Avatar>> {
        let delete = Query::new(format!(
            "DELETE FROM avatars WHERE owner_kind = $1 AND owner_id = $2 RETURNING {AVATAR_COLUMNS}"
        ));
        let rows = self
            .db
            .write_returning(delete.bind(owner.as_str()).bind(owner_id))
            .await?;
        rows.first().map(avatar_from_row).transpose()
    }
}
