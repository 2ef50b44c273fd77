//! Teams and their members (see `comet_store::TeamStore`).

use crate::chat::{MemberConditions, push_member_conditions};
use crate::rows::{user_columns, user_from_row};
use crate::{Database, Query, SqlRow, SqlStore, Transaction, counted, limit, offset};
use async_trait::async_trait;
use comet_core::team::{Creator, Team, TeamMember, TeamType};
use comet_core::user::User;
use comet_store::encoding::millis;
use comet_store::{StoreError, StoreResult, TeamMemberFilter, TeamStore};

pub(crate) const TEAM_COLUMNS: &str = "id, name, team_type, room_id, created_by_id, \
    created_by_username, created_at, updated_at";

pub(crate) const TEAM_MEMBER_COLUMNS: &str =
    "id, team_id, user_id, roles, created_by_id, created_by_username, created_at";

pub(crate) fn team_from_row(row: &impl SqlRow) -> StoreResult<Team> {
    let number = row.int("team_type")?;
    let team_type = TeamType::from_number(number)
        .ok_or_else(|| StoreError::Backend(format!("invalid team_type {number}")))?;
    Ok(Team {
        id: row.text("id")?,
        name: row.text("name")?,
        team_type,
        room_id: row.text("room_id")?,
        created_by: Creator {
            id: row.text("created_by_id")?,
            username: row.text("created_by_username")?,
        },
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn team_member_from_row(row: &impl SqlRow) -> StoreResult<TeamMember> {
    Ok(TeamMember {
        id: row.text("id")?,
        team_id: row.text("team_id")?,
        user_id: row.text("user_id")?,
        roles: row.text_list("roles")?,
        created_by: Creator {
            id: row.text("created_by_id")?,
            username: row.text("created_by_username")?,
        },
        created_at: row.time("created_at")?,
    })
}

/// Records a team as given (also used by the import).
pub(crate) fn insert_team_query(team: &Team) -> Query {
    Query::new(format!(
        "INSERT INTO teams ({TEAM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&team.id)
    .bind(&team.name)
    .bind(team.team_type.as_number())
    .bind(&team.room_id)
    .bind(&team.created_by.id)
    .bind(&team.created_by.username)
    .bind(millis(team.created_at))
    .bind(millis(team.updated_at))
}

/// Records a membership as given (also used by the import).
pub(crate) fn insert_team_member_query(member: &TeamMember) -> Query {
    Query::new(format!(
        "INSERT INTO team_members ({TEAM_MEMBER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&member.id)
    .bind(&member.team_id)
    .bind(&member.user_id)
    .bind(&member.roles)
    .bind(&member.created_by.id)
    .bind(&member.created_by.username)
    .bind(millis(member.created_at))
}

impl<D: Database> SqlStore<D> {
    async fn one_team(&self, query: Query) -> StoreResult<Option<Team>> {
        let rows = self.db.read(query).await?;
        rows.first().map(team_from_row).transpose()
    }

    async fn count(&self, query: Query) -> StoreResult<u64> {
        counted(&self.db.read(query).await?)
    }
}

#[async_trait]
impl<D: Database> TeamStore for SqlStore<D> {
    async fn insert_team(&self, team: &Team, members: &[TeamMember]) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        tx.write(insert_team_query(team)).await?;
        for member in members {
            tx.write(insert_team_member_query(member)).await?;
        }
        let main = Query::new(format!(
            "UPDATE rooms SET team_id = $1, team_main = {}, updated_at = $2 WHERE id = $3",
            D::TRUE
        ))
        .bind(&team.id)
        .bind(millis(team.updated_at))
        .bind(&team.room_id);
        tx.write(main).await?;
        tx.commit().await
    }

    async fn team_by_id(&self, id: &str) -> StoreResult<Option<Team>> {
        let select = Query::new(format!("SELECT {TEAM_COLUMNS} FROM teams WHERE id = $1"));
        self.one_team(select.bind(id)).await
    }

    async fn team_by_name(&self, name: &str) -> StoreResult<Option<Team>> {
        let select = Query::new(format!(
            "SELECT {TEAM_COLUMNS} FROM teams WHERE name = $1 ORDER BY created_at, id LIMIT 1"
        ));
        self.one_team(select.bind(name)).await
    }

    async fn update_team(&self, team: &Team) -> StoreResult<bool> {
        let update =
            Query::new("UPDATE teams SET name = $1, team_type = $2, updated_at = $3 WHERE id = $4")
                .bind(&team.name)
                .bind(team.team_type.as_number())
                .bind(millis(team.updated_at))
                .bind(&team.id);
        Ok(self.db.write(update).await? > 0)
    }

    async fn delete_team(&self, id: &str) -> StoreResult<Vec<String>> {
        let mut tx = self.db.begin().await?;
        let rooms = tx
            .read(Query::new("SELECT id FROM rooms WHERE team_id = $1 ORDER BY id").bind(id))
            .await?
            .iter()
            .map(|row| row.text("id"))
            .collect::<StoreResult<Vec<String>>>()?;
        let release = Query::new(format!(
            "UPDATE rooms SET team_id = NULL, team_main = {false_}, team_default = {false_} \
             WHERE team_id = $1",
            false_ = D::FALSE
        ));
        tx.write(release.bind(id)).await?;
        tx.write(Query::new("DELETE FROM team_members WHERE team_id = $1").bind(id))
            .await?;
        tx.write(Query::new("DELETE FROM teams WHERE id = $1").bind(id))
            .await?;
        tx.commit().await?;
        Ok(rooms)
    }

    async fn list_teams(
        &self,
        member: Option<&str>,
        page_offset: u64,
        page_count: Option<u64>,
    ) -> StoreResult<(Vec<Team>, u64)> {
        let matching = |q: &mut Query| {
            q.push(" FROM teams");
            if let Some(user_id) = member {
                q.push(" WHERE id IN (SELECT team_id FROM team_members WHERE user_id = ")
                    .push_bind(user_id)
                    .push(")");
            }
        };
        let mut tx = self.db.snapshot().await?;
        let mut count_query = Query::new("SELECT COUNT(*) AS n");
        matching(&mut count_query);
        let total = counted(&tx.read(count_query).await?)?;
        let mut q = Query::new(format!("SELECT {TEAM_COLUMNS}"));
        matching(&mut q);
        q.push(" ORDER BY created_at, id LIMIT ")
            .push_bind(limit(page_count))
            .push(" OFFSET ")
            .push_bind(offset(page_offset));
        let rows = tx.read(q).await?;
        tx.commit().await?;
        let teams = rows.iter().map(team_from_row).collect::<StoreResult<_>>()?;
        Ok((teams, total))
    }

    async fn count_team_rooms(&self, team_id: &str) -> StoreResult<u64> {
        self.count(
            Query::new(format!(
                "SELECT COUNT(*) AS n FROM rooms WHERE team_id = $1 AND team_main = {}",
                D::FALSE
            ))
            .bind(team_id),
        )
        .await
    }

    async fn count_team_members(&self, team_id: &str) -> StoreResult<u64> {
        self.count(
            Query::new("SELECT COUNT(*) AS n FROM team_members WHERE team_id = $1").bind(team_id),
        )
        .await
    }

    async fn count_team_members_with_role(&self, team_id: &str, role: &str) -> StoreResult<u64> {
        let query = Query::new(format!(
            "SELECT COUNT(*) AS n FROM team_members WHERE team_id = $1 AND {}",
            D::list_contains("roles", "$2")
        ))
        .bind(team_id)
        .bind(role);
        self.count(query).await
    }

    async fn team_member(&self, team_id: &str, user_id: &str) -> StoreResult<Option<TeamMember>> {
        let select = Query::new(format!(
            "SELECT {TEAM_MEMBER_COLUMNS} FROM team_members WHERE team_id = $1 AND user_id = $2"
        ))
        .bind(team_id)
        .bind(user_id);
        let rows = self.db.read(select).await?;
        rows.first().map(team_member_from_row).transpose()
    }

    async fn add_team_member(&self, member: &TeamMember) -> StoreResult<bool> {
        let insert = Query::new(format!(
            "INSERT INTO team_members ({TEAM_MEMBER_COLUMNS}) \
             SELECT $1, id, $3, $4, $5, $6, $7 FROM teams WHERE id = $2 \
             ON CONFLICT (team_id, user_id) DO NOTHING"
        ))
        .bind(&member.id)
        .bind(&member.team_id)
        .bind(&member.user_id)
        .bind(&member.roles)
        .bind(&member.created_by.id)
        .bind(&member.created_by.username)
        .bind(millis(member.created_at));
        Ok(self.db.write(insert).await? > 0)
    }

    async fn set_team_member_roles(
        &self,
        team_id: &str,
        user_id: &str,
        roles: &[String],
    ) -> StoreResult<bool> {
        let update =
            Query::new("UPDATE team_members SET roles = $1 WHERE team_id = $2 AND user_id = $3")
                .bind(roles)
                .bind(team_id)
                .bind(user_id);
        Ok(self.db.write(update).await? > 0)
    }

    async fn remove_team_member(&self, team_id: &str, user_id: &str) -> StoreResult<bool> {
        let delete = Query::new("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(user_id);
        Ok(self.db.write(delete).await? > 0)
    }

    async fn team_members(
        &self,
        team_id: &str,
        filter: &TeamMemberFilter,
        page_offset: u64,
        page_count: Option<u64>,
    ) -> StoreResult<(Vec<(TeamMember, User)>, u64)> {
        let matching = |q: &mut Query| {
            q.push(" FROM team_members tm JOIN users u ON u.id = tm.user_id WHERE tm.team_id = ")
                .push_bind(team_id);
            push_member_conditions::<D>(
                q,
                &MemberConditions {
                    statuses: &filter.statuses,
                    username: filter.username.as_deref(),
                    name: filter.name.as_deref(),
                    except_user: filter.except_user.as_deref(),
                    ..MemberConditions::default()
                },
            );
        };
        let mut tx = self.db.snapshot().await?;
        let mut count_query = Query::new("SELECT COUNT(*) AS n");
        matching(&mut count_query);
        let total = counted(&tx.read(count_query).await?)?;
        let mut q = Query::new(
            "SELECT tm.id AS id, tm.team_id AS team_id, tm.user_id AS user_id, \
             tm.roles AS roles, tm.created_by_id AS created_by_id, \
             tm.created_by_username AS created_by_username, tm.created_at AS created_at",
        );
        matching(&mut q);
        q.push(" ORDER BY tm.created_at, tm.id LIMIT ")
            .push_bind(limit(page_count))
            .push(" OFFSET ")
            .push_bind(offset(page_offset));
        let members = tx
            .read(q)
            .await?
            .iter()
            .map(team_member_from_row)
            .collect::<StoreResult<Vec<TeamMember>>>()?;
        if members.is_empty() {
            tx.commit().await?;
            return Ok((Vec::new(), total));
        }
        let ids: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
        let mut users_query = Query::new(format!(
            "SELECT {} FROM users u WHERE ",
            user_columns::<D>()
        ));
        let id_list = users_query.param(&ids);
        users_query.push(&D::in_list("u.id", &id_list));
        let users = tx
            .read(users_query)
            .await?
            .iter()
            .map(user_from_row)
            .collect::<StoreResult<Vec<User>>>()?;
        tx.commit().await?;
        let page = members
            .into_iter()
            .filter_map(|member| {
                let user = users.iter().find(|u| u.id == member.user_id)?.clone();
                Some((member, user))
            })
            .collect();
        Ok((page, total))
    }

    async fn teams_of_user(&self, user_id: &str) -> StoreResult<Vec<TeamMember>> {
        let select = Query::new(format!(
            "SELECT {TEAM_MEMBER_COLUMNS} FROM team_members WHERE user_id = $1 \
             ORDER BY created_at, id"
        ))
        .bind(user_id);
        let rows = self.db.read(select).await?;
        rows.iter().map(team_member_from_row).collect()
    }
}
