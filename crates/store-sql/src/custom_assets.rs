//! Custom emoji, user statuses and sounds (see `comet_store::CustomAssetStore`).

use crate::{Database, Query, SqlRow, SqlStore, Transaction, counted, limit, offset};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_store::encoding::{like_pattern, millis};
use comet_store::{
    AssetFile, CustomAssetStore, CustomEmoji, CustomEmojiFilter, CustomSound, CustomUserStatus,
    DeletedCustomEmoji, StoreResult,
};

pub(crate) const CUSTOM_EMOJI_COLUMNS: &str = "id, name, aliases, extension, etag, content_type, \
     size, store, store_key, uploaded_at, updated_at";
pub(crate) const CUSTOM_EMOJI_TRASH_COLUMNS: &str = "id, name, deleted_at";
pub(crate) const CUSTOM_USER_STATUS_COLUMNS: &str = "id, name, status_type, updated_at";
pub(crate) const CUSTOM_SOUND_COLUMNS: &str =
    "id, name, extension, content_type, size, store, store_key, uploaded_at, updated_at";

fn asset_file_from_row(row: &impl SqlRow) -> StoreResult<Option<AssetFile>> {
    let (Some(store), Some(store_key)) = (row.opt_text("store")?, row.opt_text("store_key")?)
    else {
        return Ok(None);
    };
    Ok(Some(AssetFile {
        content_type: row.opt_text("content_type")?.unwrap_or_default(),
        size: u64::try_from(row.opt_int("size")?.unwrap_or(0)).unwrap_or(0),
        store,
        store_key,
        uploaded_at: match row.opt_time("uploaded_at")? {
            Some(at) => at,
            None => row.time("updated_at")?,
        },
    }))
}

/// Binds a file's columns in [`CUSTOM_EMOJI_COLUMNS`]' order from `content_type` on.
fn bind_file(query: Query, file: Option<&AssetFile>) -> Query {
    query
        .bind(file.map(|f| f.content_type.clone()))
        .bind(file.map(|f| i64::try_from(f.size).unwrap_or(i64::MAX)))
        .bind(file.map(|f| f.store.clone()))
        .bind(file.map(|f| f.store_key.clone()))
        .bind(file.map(|f| millis(f.uploaded_at)))
}

pub(crate) fn custom_emoji_from_row(row: &impl SqlRow) -> StoreResult<CustomEmoji> {
    Ok(CustomEmoji {
        id: row.text("id")?,
        name: row.text("name")?,
        aliases: row.text_list("aliases")?,
        extension: row.text("extension")?,
        etag: row.opt_text("etag")?,
        file: asset_file_from_row(row)?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn deleted_custom_emoji_from_row(row: &impl SqlRow) -> StoreResult<DeletedCustomEmoji> {
    Ok(DeletedCustomEmoji {
        id: row.text("id")?,
        name: row.text("name")?,
        deleted_at: row.time("deleted_at")?,
    })
}

pub(crate) fn custom_user_status_from_row(row: &impl SqlRow) -> StoreResult<CustomUserStatus> {
    Ok(CustomUserStatus {
        id: row.text("id")?,
        name: row.text("name")?,
        status_type: row.text("status_type")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn custom_sound_from_row(row: &impl SqlRow) -> StoreResult<CustomSound> {
    Ok(CustomSound {
        id: row.text("id")?,
        name: row.text("name")?,
        extension: row.text("extension")?,
        file: asset_file_from_row(row)?,
        updated_at: row.time("updated_at")?,
    })
}

/// Records an emoji as given (also used by the import).
pub(crate) fn insert_custom_emoji_query(emoji: &CustomEmoji) -> Query {
    let query = Query::new(format!(
        "INSERT INTO custom_emoji ({CUSTOM_EMOJI_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&emoji.id)
    .bind(&emoji.name)
    .bind(emoji.aliases.as_slice())
    .bind(&emoji.extension)
    .bind(&emoji.etag);
    bind_file(query, emoji.file.as_ref()).bind(millis(emoji.updated_at))
}

pub(crate) fn insert_custom_emoji_trash_query(deleted: &DeletedCustomEmoji) -> Query {
    Query::new("INSERT INTO custom_emoji_trash (id, name, deleted_at) VALUES ($1, $2, $3)")
        .bind(&deleted.id)
        .bind(&deleted.name)
        .bind(millis(deleted.deleted_at))
}

pub(crate) fn insert_custom_user_status_query(status: &CustomUserStatus) -> Query {
    Query::new(format!(
        "INSERT INTO custom_user_statuses ({CUSTOM_USER_STATUS_COLUMNS}) VALUES ($1, $2, $3, $4)"
    ))
    .bind(&status.id)
    .bind(&status.name)
    .bind(&status.status_type)
    .bind(millis(status.updated_at))
}

pub(crate) fn insert_custom_sound_query(sound: &CustomSound) -> Query {
    let query = Query::new(format!(
        "INSERT INTO custom_sounds ({CUSTOM_SOUND_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&sound.id)
    .bind(&sound.name)
    .bind(&sound.extension);
    bind_file(query, sound.file.as_ref()).bind(millis(sound.updated_at))
}

impl<D: Database> SqlStore<D> {
    async fn emoji_rows(&self, query: Query) -> StoreResult<Vec<CustomEmoji>> {
        let rows = self.db.read(query).await?;
        rows.iter().map(custom_emoji_from_row).collect()
    }

    async fn one_status(&self, query: Query) -> StoreResult<Option<CustomUserStatus>> {
        let rows = self.db.read(query).await?;
        rows.first().map(custom_user_status_from_row).transpose()
    }

    async fn one_sound(&self, query: Query) -> StoreResult<Option<CustomSound>> {
        let rows = self.db.read(query).await?;
        rows.first().map(custom_sound_from_row).transpose()
    }

    /// A page of `table`'s rows by name under the `WHERE` clause `filter` pushes, with the
    /// total, read together.
    async fn name_page<T>(
        &self,
        table: &str,
        columns: &str,
        filter: &(dyn Fn(&mut Query) + Sync),
        page: (u64, Option<u64>),
        from_row: fn(&D::Row) -> StoreResult<T>,
    ) -> StoreResult<(Vec<T>, u64)> {
        let mut tx = self.db.snapshot().await?;
        let mut total = Query::new(format!("SELECT COUNT(*) AS n FROM {table} WHERE 1 = 1"));
        filter(&mut total);
        let total = counted(&tx.read(total).await?)?;
        let mut select = Query::new(format!("SELECT {columns} FROM {table} WHERE 1 = 1"));
        filter(&mut select);
        select.push(&format!(
            " ORDER BY name {}, id {}",
            D::BYTEWISE,
            D::BYTEWISE
        ));
        select.push(" LIMIT ").push_bind(limit(page.1));
        select.push(" OFFSET ").push_bind(offset(page.0));
        let rows = tx.read(select).await?;
        tx.commit().await?;
        let items = rows.iter().map(from_row).collect::<StoreResult<_>>()?;
        Ok((items, total))
    }
}

fn push_name_contains(q: &mut Query, name_contains: Option<&str>) {
    if let Some(name) = name_contains {
        let pattern = q.param(like_pattern(name));
        q.push(&format!(" AND lower(name) LIKE {pattern} ESCAPE '\\'"));
    }
}

#[async_trait]
impl<D: Database> CustomAssetStore for SqlStore<D> {
    async fn insert_custom_emoji(&self, emoji: &CustomEmoji) -> StoreResult<()> {
        self.db
            .write(insert_custom_emoji_query(emoji))
            .await
            .map(drop)
    }

    async fn update_custom_emoji(&self, emoji: &CustomEmoji) -> StoreResult<bool> {
        let update = Query::new(
            "UPDATE custom_emoji SET name = $2, aliases = $3, extension = $4, etag = $5, \
             content_type = $6, size = $7, store = $8, store_key = $9, uploaded_at = $10, \
             updated_at = $11 WHERE id = $1",
        )
        .bind(&emoji.id)
        .bind(&emoji.name)
        .bind(emoji.aliases.as_slice())
        .bind(&emoji.extension)
        .bind(&emoji.etag);
        let update = bind_file(update, emoji.file.as_ref()).bind(millis(emoji.updated_at));
        Ok(self.db.write(update).await? > 0)
    }

    async fn custom_emoji_by_id(&self, id: &str) -> StoreResult<Option<CustomEmoji>> {
        let select = Query::new(format!(
            "SELECT {CUSTOM_EMOJI_COLUMNS} FROM custom_emoji WHERE id = $1"
        ));
        Ok(self.emoji_rows(select.bind(id)).await?.into_iter().next())
    }

    async fn custom_emoji_by_name(&self, name: &str) -> StoreResult<Option<CustomEmoji>> {
        let select = Query::new(format!(
            "SELECT {CUSTOM_EMOJI_COLUMNS} FROM custom_emoji WHERE name = $1"
        ));
        Ok(self.emoji_rows(select.bind(name)).await?.into_iter().next())
    }

    async fn custom_emoji_using(
        &self,
        name: &str,
        except_id: Option<&str>,
    ) -> StoreResult<Vec<CustomEmoji>> {
        let mut select = Query::new(format!(
            "SELECT {CUSTOM_EMOJI_COLUMNS} FROM custom_emoji WHERE "
        ));
        let name = select.param(name);
        select.push(&format!(
            "(name = {name} OR {})",
            D::list_contains("aliases", &name)
        ));
        if let Some(except_id) = except_id {
            select.push(" AND id <> ").push_bind(except_id);
        }
        select.push(" ORDER BY id");
        self.emoji_rows(select).await
    }

    async fn list_custom_emoji(
        &self,
        filter: &CustomEmojiFilter,
        page_offset: u64,
        page_count: Option<u64>,
    ) -> StoreResult<(Vec<CustomEmoji>, u64)> {
        let push_filter = |q: &mut Query| {
            if let Some(id) = &filter.id {
                q.push(" AND id = ").push_bind(id);
            }
            push_name_contains(q, filter.name_contains.as_deref());
            if let Some(after) = filter.updated_after {
                q.push(" AND updated_at > ").push_bind(millis(after));
            }
        };
        self.name_page(
            "custom_emoji",
            CUSTOM_EMOJI_COLUMNS,
            &push_filter,
            (page_offset, page_count),
            custom_emoji_from_row,
        )
        .await
    }

    async fn delete_custom_emoji(
        &self,
        id: &str,
        at: Timestamp,
    ) -> StoreResult<Option<CustomEmoji>> {
        let mut tx = self.db.begin().await?;
        let select = Query::new(format!(
            "SELECT {CUSTOM_EMOJI_COLUMNS} FROM custom_emoji WHERE id = $1"
        ));
        let Some(emoji) = tx
            .read(select.bind(id))
            .await?
            .first()
            .map(custom_emoji_from_row)
            .transpose()?
        else {
            return Ok(None);
        };
        let delete = Query::new("DELETE FROM custom_emoji WHERE id = $1").bind(id);
        if tx.write(delete).await? == 0 {
            return Ok(None);
        }
        // An id deleted, recreated by import and deleted again keeps one trash row.
        tx.write(Query::new("DELETE FROM custom_emoji_trash WHERE id = $1").bind(id))
            .await?;
        let trash = DeletedCustomEmoji {
            id: emoji.id.clone(),
            name: emoji.name.clone(),
            deleted_at: at,
        };
        tx.write(insert_custom_emoji_trash_query(&trash)).await?;
        tx.commit().await?;
        Ok(Some(emoji))
    }

    async fn deleted_custom_emoji_since(
        &self,
        since: Timestamp,
    ) -> StoreResult<Vec<DeletedCustomEmoji>> {
        let select = Query::new(format!(
            "SELECT {CUSTOM_EMOJI_TRASH_COLUMNS} FROM custom_emoji_trash WHERE deleted_at > $1 \
             ORDER BY deleted_at, id"
        ));
        let rows = self.db.read(select.bind(millis(since))).await?;
        rows.iter().map(deleted_custom_emoji_from_row).collect()
    }

    async fn insert_custom_user_status(&self, status: &CustomUserStatus) -> StoreResult<()> {
        self.db
            .write(insert_custom_user_status_query(status))
            .await
            .map(drop)
    }

    async fn update_custom_user_status(&self, status: &CustomUserStatus) -> StoreResult<bool> {
        let update = Query::new(
            "UPDATE custom_user_statuses SET name = $2, status_type = $3, updated_at = $4 \
             WHERE id = $1",
        )
        .bind(&status.id)
        .bind(&status.name)
        .bind(&status.status_type)
        .bind(millis(status.updated_at));
        Ok(self.db.write(update).await? > 0)
    }

    async fn custom_user_status_by_id(&self, id: &str) -> StoreResult<Option<CustomUserStatus>> {
        let select = Query::new(format!(
            "SELECT {CUSTOM_USER_STATUS_COLUMNS} FROM custom_user_statuses WHERE id = $1"
        ));
        self.one_status(select.bind(id)).await
    }

    async fn custom_user_status_by_name(
        &self,
        name: &str,
    ) -> StoreResult<Option<CustomUserStatus>> {
        let select = Query::new(format!(
            "SELECT {CUSTOM_USER_STATUS_COLUMNS} FROM custom_user_statuses WHERE name = $1"
        ));
        self.one_status(select.bind(name)).await
    }

    async fn list_custom_user_statuses(
        &self,
        id: Option<&str>,
        name_contains: Option<&str>,
        page_offset: u64,
        page_count: Option<u64>,
    ) -> StoreResult<(Vec<CustomUserStatus>, u64)> {
        let push_filter = |q: &mut Query| {
            if let Some(id) = id {
                q.push(" AND id = ").push_bind(id);
            }
            push_name_contains(q, name_contains);
        };
        self.name_page(
            "custom_user_statuses",
            CUSTOM_USER_STATUS_COLUMNS,
            &push_filter,
            (page_offset, page_count),
            custom_user_status_from_row,
        )
        .await
    }

    async fn delete_custom_user_status(&self, id: &str) -> StoreResult<Option<CustomUserStatus>> {
        let mut tx = self.db.begin().await?;
        let select = Query::new(format!(
            "SELECT {CUSTOM_USER_STATUS_COLUMNS} FROM custom_user_statuses WHERE id = $1"
        ));
        let status = tx
            .read(select.bind(id))
            .await?
            .first()
            .map(custom_user_status_from_row)
            .transpose()?;
        let delete = Query::new("DELETE FROM custom_user_statuses WHERE id = $1").bind(id);
        let deleted = tx.write(delete).await? > 0;
        tx.commit().await?;
        Ok(status.filter(|_| deleted))
    }

    async fn insert_custom_sound(&self, sound: &CustomSound) -> StoreResult<()> {
        self.db
            .write(insert_custom_sound_query(sound))
            .await
            .map(drop)
    }

    async fn update_custom_sound(&self, sound: &CustomSound) -> StoreResult<bool> {
        let update = Query::new(
            "UPDATE custom_sounds SET name = $2, extension = $3, content_type = $4, size = $5, \
             store = $6, store_key = $7, uploaded_at = $8, updated_at = $9 WHERE id = $1",
        )
        .bind(&sound.id)
        .bind(&sound.name)
        .bind(&sound.extension);
        let update = bind_file(update, sound.file.as_ref()).bind(millis(sound.updated_at));
        Ok(self.db.write(update).await? > 0)
    }

    async fn custom_sound_by_id(&self, id: &str) -> StoreResult<Option<CustomSound>> {
        let select = Query::new(format!(
            "SELECT {CUSTOM_SOUND_COLUMNS} FROM custom_sounds WHERE id = $1"
        ));
        self.one_sound(select.bind(id)).await
    }

    async fn custom_sound_by_name(&self, name: &str) -> StoreResult<Option<CustomSound>> {
        let select = Query::new(format!(
            "SELECT {CUSTOM_SOUND_COLUMNS} FROM custom_sounds WHERE name = $1"
        ));
        self.one_sound(select.bind(name)).await
    }

    async fn list_custom_sounds(
        &self,
        name_contains: Option<&str>,
        page_offset: u64,
        page_count: Option<u64>,
    ) -> StoreResult<(Vec<CustomSound>, u64)> {
        let push_filter = |q: &mut Query| push_name_contains(q, name_contains);
        self.name_page(
            "custom_sounds",
            CUSTOM_SOUND_COLUMNS,
            &push_filter,
            (page_offset, page_count),
            custom_sound_from_row,
        )
        .await
    }

    async fn delete_custom_sound(&self, id: &str) -> StoreResult<Option<CustomSound>> {
        let mut tx = self.db.begin().await?;
        let select = Query::new(format!(
            "SELECT {CUSTOM_SOUND_COLUMNS} FROM custom_sounds WHERE id = $1"
        ));
        let sound = tx
            .read(select.bind(id))
            .await?
            .first()
            .map(custom_sound_from_row)
            .transpose()?;
        let delete = Query::new("DELETE FROM custom_sounds WHERE id = $1").bind(id);
        let deleted = tx.write(delete).await? > 0;
        tx.commit().await?;
        Ok(sound.filter(|_| deleted))
    }
}
