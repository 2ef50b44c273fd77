//! The audit log (see `comet_store::AuditStore` and `comet_core::audit`).

use crate::{Database, Query, SqlRow, SqlStore, Transaction, count, counted, limit, offset};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::audit::{AuditDraft, AuditEntry, GENESIS_HASH, PruneAnchor, canonical_json};
use comet_store::encoding::millis;
use comet_store::{AuditFilter, AuditStore, StoreResult};

pub(crate) const AUDIT_COLUMNS: &str = "seq, at, actor_id, actor_username, action, target_kind, \
    target_id, target_name, client_address, user_agent, before_json, after_json, prev_hash, hash";

/// The key appenders serialize on where writers interleave (PostgreSQL): the chain's head.
const CHAIN_LOCK_KEY: &str = "audit_log:head";

fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

pub(crate) fn audit_entry_from_row(row: &impl SqlRow) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        seq: count(row.int("seq")?),
        draft: AuditDraft {
            at: row.time("at")?,
            actor_id: row.text("actor_id")?,
            actor_username: row.text("actor_username")?,
            action: row.text("action")?,
            target_kind: row.text("target_kind")?,
            target_id: row.text("target_id")?,
            target_name: row.opt_text("target_name")?,
            client_address: row.opt_text("client_address")?,
            user_agent: row.opt_text("user_agent")?,
            before: row.opt_text("before_json")?,
            after: row.opt_text("after_json")?,
        },
        prev_hash: row.text("prev_hash")?,
        hash: row.text("hash")?,
    })
}

/// The insert of an entry exactly as it is (appends and imports alike).
pub(crate) fn insert_audit_query(entry: &AuditEntry) -> Query {
    let d = &entry.draft;
    Query::new(format!(
        "INSERT INTO audit_log ({AUDIT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(seq_param(entry.seq))
    .bind(millis(d.at))
    .bind(&d.actor_id)
    .bind(&d.actor_username)
    .bind(&d.action)
    .bind(&d.target_kind)
    .bind(&d.target_id)
    .bind(&d.target_name)
    .bind(&d.client_address)
    .bind(&d.user_agent)
    .bind(&d.before)
    .bind(&d.after)
    .bind(&entry.prev_hash)
    .bind(&entry.hash)
}

impl<D: Database> SqlStore<D> {
    /// In a write transaction: the newest entry's sequence number and hash (0 and the genesis
    /// hash for an empty log), after taking the chain's lock where writers interleave, so that
    /// no other append reads the same head before this transaction ends.
    async fn audit_head(tx: &mut D::Tx) -> StoreResult<(u64, String)> {
        if let Some(lock) = D::KEY_LOCK {
            tx.read(Query::new(lock).bind(CHAIN_LOCK_KEY)).await?;
        }
        let rows = tx
            .read(Query::new(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            ))
            .await?;
        match rows.first() {
            Some(row) => Ok((count(row.int("seq")?), row.text("hash")?)),
            None => Ok((0, GENESIS_HASH.to_owned())),
        }
    }

    async fn append_in(tx: &mut D::Tx, draft: &AuditDraft) -> StoreResult<AuditEntry> {
        let (seq, hash) = Self::audit_head(tx).await?;
        let entry = AuditEntry::chain(draft.clone(), seq, &hash);
        tx.write(insert_audit_query(&entry)).await?;
        Ok(entry)
    }
}

/// A filter that names an actor or a target matches either of two columns (id or name). Each
/// column has its own `(column, seq)` index, so the matching sequence numbers are gathered as
/// a union of one index walk per column rather than one scan that tests both: an `OR` across
/// two columns makes the database read and sort every matching row before it can page.
fn either_columns(filter: &AuditFilter) -> Option<(&'static str, &'static str)> {
    if filter.actor.is_some() {
        Some(("actor_id", "actor_username"))
    } else if filter.target.is_some() {
        Some(("target_id", "target_name"))
    } else {
        None
    }
}

/// Appends the `WHERE` clause of `filter` to `q`. `branch` names the single column the actor
/// (or, without an actor, the target) is matched in; without it both columns are tried.
fn push_filter(q: &mut Query, filter: &AuditFilter, branch: Option<&str>) {
    q.push(" WHERE 1 = 1");
    if let Some(actor) = &filter.actor {
        let p = q.param(actor.as_str());
        match branch {
            Some(column) => q.push(&format!(" AND {column} = {p}")),
            None => q.push(&format!(" AND (actor_id = {p} OR actor_username = {p})")),
        };
    }
    if let Some(action) = &filter.action {
        if action.ends_with('.') {
            // A family: `room.` selects `room.` up to, not including, `room/` (the next
            // character after `.`), a range an index serves.
            let mut upper = action.clone();
            upper.pop();
            upper.push('/');
            let low = q.param(action.as_str());
            let high = q.param(upper);
            q.push(&format!(" AND action >= {low} AND action < {high}"));
        } else {
            q.push(" AND action = ").push_bind(action.as_str());
        }
    }
    if let Some(target) = &filter.target {
        let p = q.param(target.as_str());
        match branch {
            Some(column) if filter.actor.is_none() => {
                q.push(&format!(" AND {column} = {p}"));
            }
            _ => {
                q.push(&format!(" AND (target_id = {p} OR target_name = {p})"));
            }
        }
    }
    if let Some(since) = filter.since {
        q.push(" AND at >= ").push_bind(millis(since));
    }
    if let Some(until) = filter.until {
        q.push(" AND at < ").push_bind(millis(until));
    }
}

/// Appends `SELECT seq ...` of the entries matching `filter` through `column` alone, newest
/// first, at most `newest` of them when given.
fn push_branch(q: &mut Query, filter: &AuditFilter, column: &str, newest: Option<i64>) {
    q.push("SELECT seq FROM (SELECT seq FROM audit_log");
    push_filter(q, filter, Some(column));
    if let Some(newest) = newest {
        q.push(" ORDER BY seq DESC LIMIT ").push_bind(newest);
    }
    q.push(&format!(") AS by_{column}"));
}

/// Appends the sequence numbers of the entries matching `filter` as a union of one index walk
/// per column of `columns`, each stopping after `newest` entries when given.
fn push_matching_seqs(
    q: &mut Query,
    filter: &AuditFilter,
    columns: (&str, &str),
    newest: Option<i64>,
) {
    push_branch(q, filter, columns.0, newest);
    q.push(" UNION ");
    push_branch(q, filter, columns.1, newest);
}

#[async_trait]
impl<D: Database> AuditStore for SqlStore<D> {
    async fn append_audit(&self, draft: &AuditDraft) -> StoreResult<AuditEntry> {
        let mut tx = self.db.begin().await?;
        let entry = Self::append_in(&mut tx, draft).await?;
        tx.commit().await?;
        Ok(entry)
    }

    async fn list_audit(
        &self,
        filter: &AuditFilter,
        skip: u64,
        take: Option<u64>,
    ) -> StoreResult<(Vec<AuditEntry>, u64)> {
        let mut tx = self.db.snapshot().await?;
        let mut select = Query::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log"));
        let mut total = Query::new("SELECT COUNT(*) AS n FROM ");
        match either_columns(filter) {
            Some((first, second)) => {
                // A page needs at most `skip + take` entries from each column's walk.
                let newest = take.map(|take| limit(Some(take)).saturating_add(offset(skip)));
                select.push(" WHERE seq IN (");
                push_matching_seqs(&mut select, filter, (first, second), newest);
                select.push(")");
                total.push("(");
                push_matching_seqs(&mut total, filter, (first, second), None);
                total.push(") AS matching");
            }
            None => {
                push_filter(&mut select, filter, None);
                total.push("audit_log");
                push_filter(&mut total, filter, None);
            }
        }
        select
            .push(" ORDER BY seq DESC LIMIT ")
            .push_bind(limit(take));
        select.push(" OFFSET ").push_bind(offset(skip));
        let entries = tx
            .read(select)
            .await?
            .iter()
            .map(audit_entry_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let total = counted(&tx.read(total).await?)?;
        tx.commit().await?;
        Ok((entries, total))
    }

    async fn audit_entries_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let select = Query::new(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(seq_param(after_seq))
        .bind(i64::from(limit));
        self.db
            .read(select)
            .await?
            .iter()
            .map(audit_entry_from_row)
            .collect()
    }

    async fn prune_audit(&self, before: Timestamp, prune: &AuditDraft) -> StoreResult<u64> {
        let mut tx = self.db.begin().await?;
        let (head, _) = Self::audit_head(&mut tx).await?;
        // The last entry to remove: the newest older than `before`, never the head itself.
        let last = tx
            .read(
                Query::new(
                    "SELECT seq, hash FROM audit_log WHERE at < $1 AND seq < $2 \
                     ORDER BY seq DESC LIMIT 1",
                )
                .bind(millis(before))
                .bind(seq_param(head)),
            )
            .await?;
        let Some(last) = last.first() else {
            return Ok(0);
        };
        let anchor = PruneAnchor {
            through_seq: count(last.int("seq")?),
            last_hash: last.text("hash")?,
        };
        let removed = tx
            .write(
                Query::new("DELETE FROM audit_log WHERE seq <= $1")
                    .bind(seq_param(anchor.through_seq)),
            )
            .await?;
        let mut draft = prune.clone();
        draft.after = Some(canonical_json(&anchor.to_json()));
        Self::append_in(&mut tx, &draft).await?;
        tx.commit().await?;
        Ok(removed)
    }
}
