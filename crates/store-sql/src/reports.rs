//! Moderation reports (see `comet_store::ReportStore`).
//!
//! A grouped listing is one statement: a window over the open reports in the filter numbers
//! each group's reports newest first and counts them, and the page keeps each group's first
//! row. The rooms of the page's groups come from a second statement bounded by the page.

use crate::driver::{SqlRow, corrupt};
use crate::{Database, Query, SqlStore, Transaction, counted, direction, limit, offset};
use async_trait::async_trait;
use comet_core::page::{Direction, Page};
use comet_core::room::RoomType;
use comet_store::encoding::{like_pattern, millis};
use comet_store::{
    AuthorReports, ModerationInfo, ModerationReport, ReportFilter, ReportGroupSortKey, ReportRoom,
    ReportStore, ReportSubject, ReportTarget, StoreError, StoreResult, UserReports,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// The columns a report is read from.
const REPORT_COLUMNS: [&str; 17] = [
    "id",
    "ts",
    "description",
    "reported_by",
    "message_id",
    "message",
    "room_id",
    "room_name",
    "room_fname",
    "room_type",
    "room_federated",
    "reported_user",
    "hidden",
    "hidden_at",
    "moderated_by",
    "moderation_reason",
    "moderation_action",
];

fn report_columns(alias: &str) -> String {
    REPORT_COLUMNS
        .iter()
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns an export of reports selects (aliased `x`).
pub(crate) fn export_report_columns() -> String {
    report_columns("x")
}

fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<Value> {
    serde_json::to_value(value).map_err(|e| StoreError::Backend(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(column: &str, value: Value) -> StoreResult<T> {
    serde_json::from_value(value).map_err(|e| corrupt(column, &e.to_string()))
}

/// Inserts a report as given (also used by the import).
pub(crate) fn insert_report_query(r: &ModerationReport) -> StoreResult<Query> {
    let mut q = Query::new(
        "INSERT INTO moderation_reports (id, ts, description, reported_by, message_id, \
         message_author_id, message_author_username, message_author_name, message_text, \
         message, room_id, room_name, room_fname, room_type, room_federated, reported_user_id, \
         reported_user_username, reported_user_name, reported_user, hidden, hidden_at, \
         moderated_by, moderation_reason, moderation_action) VALUES ($1, $2, $3, $4, $5, $6, \
         $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
    )
    .bind(&r.id)
    .bind(millis(r.ts))
    .bind(&r.description)
    .bind(to_json(&r.reported_by)?);
    match &r.subject {
        ReportSubject::Message { message, room } => {
            q = q
                .bind(&message.id)
                .bind(&message.author.id)
                .bind(&message.author.username)
                .bind(&message.author.name)
                .bind(&message.text)
                .bind(to_json(message.as_ref())?)
                .bind(&room.id)
                .bind(&room.name)
                .bind(&room.fname)
                .bind(room.room_type.as_str())
                .bind(room.federated)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(crate::Param::Json(None));
        }
        ReportSubject::User(user) => {
            q = q
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(crate::Param::Json(None))
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(false)
                .bind(&user.id)
                .bind(&user.username)
                .bind(&user.name)
                .bind(to_json(user)?);
        }
    }
    let info = r.moderation.as_ref();
    Ok(q.bind(info.is_some())
        .bind(info.map(|i| millis(i.hidden_at)))
        .bind(info.map(|i| i.moderated_by.clone()))
        .bind(info.map(|i| i.reason.clone()))
        .bind(info.map(|i| i.action.clone())))
}

fn room_from_row(row: &impl SqlRow) -> StoreResult<ReportRoom> {
    let room_type = row.text("room_type")?;
    Ok(ReportRoom {
        id: row.text("room_id")?,
        name: row.opt_text("room_name")?,
        fname: row.opt_text("room_fname")?,
        room_type: RoomType::parse(&room_type).ok_or_else(|| corrupt("room_type", &room_type))?,
        federated: row.bool("room_federated")?,
    })
}

pub(crate) fn report_from_row(row: &impl SqlRow) -> StoreResult<ModerationReport> {
    let subject = match row.opt_json("message")? {
        Some(message) => ReportSubject::Message {
            message: Box::new(from_json("message", message)?),
            room: room_from_row(row)?,
        },
        None => {
            let user = row.json("reported_user")?;
            ReportSubject::User(from_json("reported_user", user)?)
        }
    };
    let moderation = if row.bool("hidden")? {
        Some(ModerationInfo {
            hidden_at: row.time("hidden_at")?,
            moderated_by: row.opt_text("moderated_by")?.unwrap_or_default(),
            reason: row.opt_text("moderation_reason")?.unwrap_or_default(),
            action: row.opt_text("moderation_action")?.unwrap_or_default(),
        })
    } else {
        None
    };
    Ok(ModerationReport {
        id: row.text("id")?,
        description: row.text("description")?,
        reported_by: from_json("reported_by", row.json("reported_by")?)?,
        ts: row.time("ts")?,
        subject,
        moderation,
    })
}

/// Which kind of report a grouped listing covers.
#[derive(Clone, Copy)]
enum Grouping {
    /// Message reports, by the message's author.
    ByAuthor,
    /// User reports, by the reported user.
    ByUser,
}

impl Grouping {
    fn key(self) -> &'static str {
        match self {
            Grouping::ByAuthor => "message_author_id",
            Grouping::ByUser => "reported_user_id",
        }
    }

    fn sort_column(self, key: ReportGroupSortKey) -> &'static str {
        match (self, key) {
            (_, ReportGroupSortKey::Latest) => "f.ts",
            (_, ReportGroupSortKey::Count) => "f.n",
            (Grouping::ByAuthor, ReportGroupSortKey::Username) => "f.message_author_username",
            (Grouping::ByAuthor, ReportGroupSortKey::Name) => "f.message_author_name",
            (Grouping::ByUser, ReportGroupSortKey::Username) => "f.reported_user_username",
            (Grouping::ByUser, ReportGroupSortKey::Name) => "f.reported_user_name",
        }
    }

    /// The searched columns: upstream matches message reports on the message text, the
    /// description and the author, user reports on the reported user.
    fn searched(self) -> &'static [&'static str] {
        match self {
            Grouping::ByAuthor => &[
                "r.message_text",
                "r.description",
                "r.message_author_username",
                "r.message_author_name",
            ],
            Grouping::ByUser => &["r.reported_user_username", "r.reported_user_name"],
        }
    }
}

fn push_search(q: &mut Query, columns: &[&str], search: Option<&str>) {
    let Some(search) = search.filter(|s| !s.is_empty()) else {
        return;
    };
    let pattern = q.param(like_pattern(search));
    let matches: Vec<String> = columns
        .iter()
        .map(|c| format!("lower({c}) LIKE {pattern} ESCAPE '\\'"))
        .collect();
    q.push(&format!(" AND ({})", matches.join(" OR ")));
}

/// The open reports of a grouping's kind in `filter`, as `r`.
fn push_open_in_filter<D: Database>(q: &mut Query, grouping: Grouping, filter: &ReportFilter) {
    q.push(&format!(
        " FROM moderation_reports r WHERE r.hidden = {} AND r.{} IS NOT NULL AND r.ts > ",
        D::FALSE,
        grouping.key()
    ))
    .push_bind(millis(filter.oldest))
    .push(" AND r.ts < ")
    .push_bind(millis(filter.latest));
    push_search(q, grouping.searched(), filter.search.as_deref());
}

impl<D: Database> SqlStore<D> {
    /// A page of groups (each group's newest report, its count, and for authors whether the
    /// account is gone) and the number of groups.
    async fn report_groups(
        &self,
        grouping: Grouping,
        filter: &ReportFilter,
        page: &Page<ReportGroupSortKey>,
    ) -> StoreResult<(Vec<(ModerationReport, u64, bool, String)>, u64)> {
        let key = grouping.key();
        let mut tx = self.db.snapshot().await?;
        let mut total = Query::new(format!("SELECT COUNT(DISTINCT r.{key}) AS n"));
        push_open_in_filter::<D>(&mut total, grouping, filter);
        let total = counted(&tx.read(total).await?)?;
        let mut q = Query::new(format!(
            "WITH f AS (SELECT r.*, ROW_NUMBER() OVER (PARTITION BY r.{key} ORDER BY r.ts DESC, \
             r.id DESC) AS rn, COUNT(*) OVER (PARTITION BY r.{key}) AS n"
        ));
        push_open_in_filter::<D>(&mut q, grouping, filter);
        q.push(&format!(
            ") SELECT {}, f.n, f.{key} AS group_key, (u.id IS NULL) AS account_gone FROM f \
             LEFT JOIN users u ON u.id = f.{key} WHERE f.rn = 1 ORDER BY ",
            report_columns("f")
        ));
        let sort = if page.sort.is_empty() {
            vec![(ReportGroupSortKey::Latest, Direction::Descending)]
        } else {
            page.sort.clone()
        };
        for (key, order) in sort {
            q.push(grouping.sort_column(key))
                .push(direction(order))
                .push(", ");
        }
        q.push(&format!("f.{key} ASC LIMIT "))
            .push_bind(limit(page.count))
            .push(" OFFSET ")
            .push_bind(offset(page.offset));
        let rows = tx.read(q).await?;
        tx.commit().await?;
        let groups = rows
            .iter()
            .map(|row| {
                Ok((
                    report_from_row(row)?,
                    crate::count(row.int("n")?),
                    row.bool("account_gone")?,
                    row.text("group_key")?,
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((groups, total))
    }
}

fn target_column(target: &ReportTarget) -> (&'static str, &str) {
    match target {
        ReportTarget::Message(id) => ("message_id", id),
        ReportTarget::MessagesBy(id) => ("message_author_id", id),
        ReportTarget::User(id) => ("reported_user_id", id),
    }
}

#[async_trait]
impl<D: Database> ReportStore for SqlStore<D> {
    async fn insert_report(&self, report: &ModerationReport) -> StoreResult<()> {
        self.db.write(insert_report_query(report)?).await.map(drop)
    }

    async fn report_by_id(&self, id: &str) -> StoreResult<Option<ModerationReport>> {
        let select = Query::new(format!(
            "SELECT {} FROM moderation_reports r WHERE r.id = $1",
            report_columns("r")
        ));
        let rows = self.db.read(select.bind(id)).await?;
        rows.first().map(report_from_row).transpose()
    }

    async fn message_reports_by_author(
        &self,
        filter: &ReportFilter,
        page: &Page<ReportGroupSortKey>,
    ) -> StoreResult<(Vec<AuthorReports>, u64)> {
        let (groups, total) = self.report_groups(Grouping::ByAuthor, filter, page).await?;
        if groups.is_empty() {
            return Ok((Vec::new(), total));
        }
        let authors: Vec<String> = groups.iter().map(|g| g.3.clone()).collect();
        let mut rooms = Query::new(
            "SELECT DISTINCT r.message_author_id, r.room_id, r.room_name, r.room_fname, \
             r.room_type, r.room_federated",
        );
        push_open_in_filter::<D>(&mut rooms, Grouping::ByAuthor, filter);
        let list = rooms.param(authors);
        rooms.push(&format!(
            " AND {} ORDER BY r.message_author_id, r.room_id",
            D::in_list("r.message_author_id", &list)
        ));
        let mut rooms_of: BTreeMap<String, Vec<ReportRoom>> = BTreeMap::new();
        for row in self.db.read(rooms).await? {
            rooms_of
                .entry(row.text("message_author_id")?)
                .or_default()
                .push(room_from_row(&row)?);
        }
        let reports = groups
            .into_iter()
            .map(|(latest, count, author_deleted, author)| AuthorReports {
                latest,
                count,
                rooms: rooms_of.remove(&author).unwrap_or_default(),
                author_deleted,
            })
            .collect();
        Ok((reports, total))
    }

    async fn user_reports_by_user(
        &self,
        filter: &ReportFilter,
        page: &Page<ReportGroupSortKey>,
    ) -> StoreResult<(Vec<UserReports>, u64)> {
        let (groups, total) = self.report_groups(Grouping::ByUser, filter, page).await?;
        let reports = groups
            .into_iter()
            .map(|(latest, count, _, _)| UserReports { latest, count })
            .collect();
        Ok((reports, total))
    }

    async fn open_reports(
        &self,
        target: &ReportTarget,
        search: Option<&str>,
        newest_first: bool,
        offset_by: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<ModerationReport>, u64)> {
        let (column, id) = target_column(target);
        let searched: &[&str] = match target {
            ReportTarget::Message(_) => Grouping::ByAuthor.searched(),
            ReportTarget::MessagesBy(_) => &["r.message_text"],
            ReportTarget::User(_) => Grouping::ByUser.searched(),
        };
        let filtered = |select: String| {
            let mut q = Query::new(format!(
                "SELECT {select} FROM moderation_reports r WHERE r.hidden = {} AND r.{column} = ",
                D::FALSE
            ));
            q.push_bind(id);
            push_search(&mut q, searched, search);
            q
        };
        let mut tx = self.db.snapshot().await?;
        let total = counted(&tx.read(filtered("COUNT(*) AS n".to_owned())).await?)?;
        let mut q = filtered(report_columns("r"));
        let order = if newest_first { "DESC" } else { "ASC" };
        q.push(&format!(" ORDER BY r.ts {order}, r.id {order} LIMIT "))
            .push_bind(limit(count))
            .push(" OFFSET ")
            .push_bind(offset(offset_by));
        let rows = tx.read(q).await?;
        tx.commit().await?;
        let reports = rows
            .iter()
            .map(report_from_row)
            .collect::<StoreResult<_>>()?;
        Ok((reports, total))
    }

    async fn hide_reports(&self, target: &ReportTarget, info: &ModerationInfo) -> StoreResult<u64> {
        let (column, id) = target_column(target);
        let update = Query::new(format!(
            "UPDATE moderation_reports SET hidden = {}, hidden_at = $2, moderated_by = $3, \
             moderation_reason = $4, moderation_action = $5 WHERE hidden = {} AND {column} = $1",
            D::TRUE,
            D::FALSE
        ))
        .bind(id)
        .bind(millis(info.hidden_at))
        .bind(&info.moderated_by)
        .bind(&info.reason)
        .bind(&info.action);
        self.db.write(update).await
    }
}
