//! Upload records (see `comet_store::FileStore`).

use crate::rows::{from_millis, get, millis};
use crate::{SqliteStore, backend, like_pattern, write_error};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_store::{FileStore, StoreResult, Upload, UploadFilter};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite};

/// The columns `upload_from_row` reads (a macro so queries stay literal strings).
macro_rules! columns {
    () => {
        "id, name, size, content_type, extension, room_id, user_id, store_key, store, complete, \
         description, width, height, format, expires_at, uploaded_at, updated_at, original_file_id"
    };
}

/// The columns `upload_from_row` reads.
pub(crate) const UPLOAD_COLUMNS: &str = "id, name, size, content_type, extension, room_id, user_id, store_key, store, complete, \
         description, width, height, format, expires_at, uploaded_at, updated_at, original_file_id";

pub(crate) fn upload_from_row(row: &SqliteRow) -> StoreResult<Upload> {
    let width: Option<i64> = get(row, "width")?;
    let height: Option<i64> = get(row, "height")?;
    let dimensions = match (width, height) {
        (Some(w), Some(h)) => Some((
            u32::try_from(w).map_err(backend)?,
            u32::try_from(h).map_err(backend)?,
        )),
        _ => None,
    };
    let expires: Option<i64> = get(row, "expires_at")?;
    Ok(Upload {
        id: get(row, "id")?,
        name: get(row, "name")?,
        size: u64::try_from(get::<i64>(row, "size")?).map_err(backend)?,
        content_type: get(row, "content_type")?,
        extension: get(row, "extension")?,
        room_id: get(row, "room_id")?,
        user_id: get(row, "user_id")?,
        store_key: get(row, "store_key")?,
        store: get(row, "store")?,
        complete: get::<i64>(row, "complete")? != 0,
        description: get(row, "description")?,
        dimensions,
        format: get(row, "format")?,
        expires_at: expires.map(from_millis).transpose()?,
        uploaded_at: from_millis(get(row, "uploaded_at")?)?,
        updated_at: from_millis(get(row, "updated_at")?)?,
        original_file_id: get(row, "original_file_id")?,
    })
}

fn signed(n: u64) -> StoreResult<i64> {
    i64::try_from(n).map_err(backend)
}

/// Inserts an upload row as given (also used by `migrate-db`'s import, in its transaction).
pub(crate) async fn insert_upload_row<'c, E>(executor: E, u: &Upload) -> StoreResult<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT INTO uploads (id, name, name_key, size, content_type, type_group, extension, \
             room_id, user_id, store_key, store, complete, description, width, height, format, \
             expires_at, uploaded_at, updated_at, original_file_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&u.id)
    .bind(&u.name)
    .bind(u.name.to_lowercase())
    .bind(signed(u.size)?)
    .bind(&u.content_type)
    .bind(u.type_group())
    .bind(&u.extension)
    .bind(&u.room_id)
    .bind(&u.user_id)
    .bind(&u.store_key)
    .bind(&u.store)
    .bind(i64::from(u.complete))
    .bind(&u.description)
    .bind(u.dimensions.map(|d| i64::from(d.0)))
    .bind(u.dimensions.map(|d| i64::from(d.1)))
    .bind(&u.format)
    .bind(u.expires_at.map(millis))
    .bind(millis(u.uploaded_at))
    .bind(millis(u.updated_at))
    .bind(&u.original_file_id)
    .execute(executor)
    .await
    .map_err(write_error)?;
    Ok(())
}

#[async_trait]
impl FileStore for SqliteStore {
    async fn insert_upload(&self, u: &Upload) -> StoreResult<()> {
        insert_upload_row(&self.writer, u).await
    }

    async fn upload_by_id(&self, id: &str) -> StoreResult<Option<Upload>> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM uploads WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(upload_from_row).transpose()
    }

    async fn update_upload(&self, u: &Upload) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE uploads SET name = ?, name_key = ?, complete = ?, description = ?, \
             width = ?, height = ?, format = ?, expires_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&u.name)
        .bind(u.name.to_lowercase())
        .bind(i64::from(u.complete))
        .bind(&u.description)
        .bind(u.dimensions.map(|d| i64::from(d.0)))
        .bind(u.dimensions.map(|d| i64::from(d.1)))
        .bind(&u.format)
        .bind(u.expires_at.map(millis))
        .bind(millis(u.updated_at))
        .bind(&u.id)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_upload(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn room_uploads(
        &self,
        room_id: &str,
        filter: &UploadFilter,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<Upload>, u64)> {
        let narrow = |q: &mut QueryBuilder<Sqlite>| {
            q.push(" WHERE room_id = ").push_bind(room_id.to_owned());
            if let Some(name) = &filter.name {
                q.push(" AND name_key LIKE ")
                    .push_bind(like_pattern(name))
                    .push(" ESCAPE '\\'");
            }
            if let Some(group) = &filter.type_group {
                q.push(" AND type_group = ").push_bind(group.clone());
            }
            if filter.only_complete {
                q.push(" AND complete = 1");
            }
            if !filter.include_thumbs {
                q.push(" AND type_group <> 'thumb'");
            }
            if let Some(at) = filter.uploaded_up_to {
                q.push(" AND uploaded_at <= ").push_bind(millis(at));
            }
        };
        let mut total = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM uploads");
        narrow(&mut total);
        let total: i64 = total
            .build_query_scalar()
            .fetch_one(&self.reader)
            .await
            .map_err(backend)?;
        let mut q = QueryBuilder::<Sqlite>::new(concat!("SELECT ", columns!(), " FROM uploads"));
        narrow(&mut q);
        q.push(" ORDER BY uploaded_at DESC, id DESC LIMIT ")
            .push_bind(count.map_or(Ok(-1), signed)?)
            .push(" OFFSET ")
            .push_bind(signed(offset)?);
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        let uploads = rows
            .iter()
            .map(upload_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((uploads, u64::try_from(total).unwrap_or(0)))
    }

    async fn expired_uploads(&self, before: Timestamp) -> StoreResult<Vec<Upload>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM uploads WHERE complete = 0 AND expires_at IS NOT NULL ",
            "AND expires_at < ? ORDER BY expires_at"
        ))
        .bind(millis(before))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(upload_from_row).collect()
    }

    async fn user_uploads(&self, user_id: &str) -> StoreResult<Vec<Upload>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM uploads WHERE user_id = ? ORDER BY uploaded_at"
        ))
        .bind(user_id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(upload_from_row).collect()
    }
}
