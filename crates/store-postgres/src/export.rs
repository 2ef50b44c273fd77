//! The export order of each table (`comet migrate-db`).
//!
//! Tables with an insertion sequence (`seq`: messages, login tokens, roles) are exported in
//! that order, since queries break ties by it and importing in export order reproduces it;
//! tables with a primary key by that key; the keyless ones (failed logins and the sync trash)
//! by `ctid`, which no row changes while nothing writes to the table.

use crate::{PgResultRow, PostgresDatabase};
use comet_store::transfer::RecordKind;
use comet_store::{StoreError, StoreResult};
use comet_store_sql::{Database, Param, Query, SqlRow, export_alias, export_columns};

/// The order a kind is exported in, and so what its export positions are.
#[derive(Clone, Copy)]
enum Order {
    /// The text primary key `id`.
    Id,
    /// The identity column `seq` (insertion order).
    Seq,
    /// The physical row address, for tables without a key.
    Ctid,
}

fn order(kind: RecordKind) -> Order {
    match kind {
        RecordKind::LoginToken
        | RecordKind::Role
        | RecordKind::Message
        | RecordKind::AuditEntry => Order::Seq,
        RecordKind::FailedLogin | RecordKind::SubscriptionTrash | RecordKind::RoomTrash => {
            Order::Ctid
        }
        // Keyed by (owner kind, owner id), not by one text id.
        RecordKind::Avatar => Order::Ctid,
        // Keyed by (room, user).
        RecordKind::RoomBan => Order::Ctid,
        RecordKind::User
        | RecordKind::Permission
        | RecordKind::Setting
        | RecordKind::Room
        | RecordKind::Subscription
        | RecordKind::Upload
        | RecordKind::ModerationReport
        | RecordKind::BlockedFileHash
        | RecordKind::Invite
        | RecordKind::InviteToken => Order::Id,
        RecordKind::UserTotp | RecordKind::UserEmailTwoFactor | RecordKind::QueuedMail => Order::Id,
        // Keyed by the token's digest, not by an `id`.
        RecordKind::EmailToken => Order::Ctid,
        RecordKind::Team | RecordKind::TeamMember => Order::Id,
        RecordKind::CustomEmoji
        | RecordKind::CustomEmojiTrash
        | RecordKind::CustomUserStatus
        | RecordKind::CustomSound
        | RecordKind::VideoConference => Order::Id,
    }
}

/// Up to `limit` rows of `kind` after `after`, with the position of the next page.
pub(crate) async fn rows(
    db: &PostgresDatabase,
    kind: RecordKind,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<(Vec<PgResultRow>, Option<String>)> {
    let invalid = |cursor: &str| {
        StoreError::Backend(format!("invalid export position {cursor:?} for {kind}"))
    };
    let a = export_alias(kind);
    let (column, start): (&str, Param) = match order(kind) {
        Order::Id => ("id", after.unwrap_or_default().into()),
        Order::Seq => (
            "seq",
            match after {
                None => i64::MIN,
                Some(cursor) => cursor.parse::<i64>().map_err(|_| invalid(cursor))?,
            }
            .into(),
        ),
        Order::Ctid => return by_ctid(db, kind, after, limit).await,
    };
    let cast = if column == "seq" { "bigint" } else { "text" };
    // The first page starts at (and includes) the smallest value of the order's type, so
    // that every page is one index range scan.
    let after_op = if after.is_some() { ">" } else { ">=" };
    let select = Query::new(format!(
        "SELECT {a}.{column}::text AS pos, {columns} FROM {table} {a} \
         WHERE {a}.{column} {after_op} $1::{cast} ORDER BY {a}.{column} LIMIT $2",
        columns = export_columns::<PostgresDatabase>(kind),
        table = kind.name(),
    ));
    let rows = db.read(select.bind(start).bind(i64::from(limit))).await?;
    let next = match rows.last() {
        Some(last) if rows.len() >= limit as usize => Some(last.text("pos")?),
        _ => None,
    };
    Ok((rows, next))
}

/// Heap blocks read per query when paging a table without a key: a range of `ctid`s is a
/// direct scan of those blocks, so each query sorts at most a window's rows (a few thousand)
/// rather than the rest of the table.
const CTID_WINDOW_BLOCKS: i64 = 16;

/// The block number of a `ctid` as PostgreSQL prints it, `(block,item)`.
fn ctid_block(ctid: &str) -> Option<i64> {
    let (block, _) = ctid.strip_prefix('(')?.split_once(',')?;
    block.parse().ok()
}

/// A page of a keyless table in `ctid` order, gathered window by window up to the table's
/// last block.
async fn by_ctid(
    db: &PostgresDatabase,
    kind: RecordKind,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<(Vec<PgResultRow>, Option<String>)> {
    let table = kind.name();
    // No row lives at item 0 of a block: items start at 1.
    let mut position = after.unwrap_or("(0,0)").to_owned();
    let mut block = ctid_block(&position).ok_or_else(|| {
        StoreError::Backend(format!("invalid export position {position:?} for {kind}"))
    })?;
    let size = Query::new(format!(
        "SELECT pg_relation_size('{table}') / current_setting('block_size')::bigint AS n"
    ));
    let blocks = match db.read(size).await?.first() {
        Some(row) => row.int("n")?,
        None => 0,
    };
    let sql = format!(
        "SELECT x.ctid::text AS pos, {columns} FROM {table} x \
         WHERE x.ctid > $1::tid AND x.ctid < $2::tid ORDER BY x.ctid LIMIT $3",
        columns = export_columns::<PostgresDatabase>(kind),
    );
    let limit = limit as usize;
    let mut found = Vec::new();
    while found.len() < limit && block < blocks {
        let window_end = block.saturating_add(CTID_WINDOW_BLOCKS);
        let window = Query::new(sql.clone())
            .bind(position.clone())
            .bind(format!("({window_end},0)"))
            .bind(i64::try_from(limit - found.len()).unwrap_or(i64::MAX));
        found.extend(db.read(window).await?);
        if found.len() < limit {
            position = format!("({window_end},0)");
            block = window_end;
        }
    }
    let next = match found.last() {
        Some(last) if found.len() >= limit => Some(last.text("pos")?),
        _ => None,
    };
    Ok((found, next))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ctid_blocks_are_read_from_postgres_notation() {
        assert_eq!(super::ctid_block("(0,0)"), Some(0));
        assert_eq!(super::ctid_block("(4294967295,12)"), Some(4_294_967_295));
        assert_eq!(super::ctid_block("12"), None);
        assert_eq!(super::ctid_block("(x,1)"), None);
    }
}
