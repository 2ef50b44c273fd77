//! `statistics` and `statistics.list`: snapshots of the workspace's counts (upstream's
//! `rocketchat_statistics`), named as upstream's `IStats` for what Comet has.
//!
//! A snapshot is made on request: `refresh=true` always makes one, otherwise the newest is
//! answered while it is younger than [`SNAPSHOT_MAX_AGE_MINUTES`]. Counting reads no message
//! rows (see `comet_store::StatisticsStore`), so a refresh stays cheap on a large database.

use crate::{Session, Workspace, store_error};
use comet_core::iso;
use comet_core::{Error, Result, id, now};
use comet_store::StatisticsSnapshot;
use serde_json::{Map, Value, json};

/// The Rocket.Chat release whose REST and realtime behaviour Comet follows.
pub const COMPATIBLE_VERSION: &str = "8.4.0";

/// How old the newest snapshot may be and still answer a request that does not ask to refresh.
pub const SNAPSHOT_MAX_AGE_MINUTES: i64 = 60;

/// What upstream throws as a plain `Error('error-not-allowed')`: `{error: 'error-not-allowed'}`.
fn not_allowed() -> Error {
    Error::failure("error-not-allowed")
}

impl Workspace<'_> {
    fn may_view_statistics(&self, session: &Session) -> Result<()> {
        if self.ctx.has_permission(&session.user, "view-statistics") {
            Ok(())
        } else {
            Err(not_allowed())
        }
    }

    /// `statistics`: the newest snapshot, or a new one when `refresh` or when none is recent.
    pub async fn statistics(&self, session: &Session, refresh: bool) -> Result<Value> {
        self.may_view_statistics(session)?;
        if !refresh {
            let latest = self
                .ctx
                .store
                .latest_statistics()
                .await
                .map_err(store_error)?;
            if let Some(latest) = latest
                && now().signed_duration_since(latest.created_at)
                    < chrono::Duration::minutes(SNAPSHOT_MAX_AGE_MINUTES)
            {
                return Ok(latest.document);
            }
        }
        self.save_statistics().await
    }

    /// `statistics.list`: stored snapshots newest first, each cut to `fields` when given
    /// (`{name: 1}` keeps, `{name: 0}` drops).
    pub async fn list_statistics(
        &self,
        session: &Session,
        offset: u64,
        count: Option<u64>,
        fields: Option<&Map<String, Value>>,
    ) -> Result<(Vec<Value>, u64)> {
        self.may_view_statistics(session)?;
        let (snapshots, total) = self
            .ctx
            .store
            .list_statistics(offset, count)
            .await
            .map_err(store_error)?;
        let documents = snapshots
            .into_iter()
            .map(|s| project(s.document, fields))
            .collect();
        Ok((documents, total))
    }

    /// Counts the workspace now and stores the snapshot.
    async fn save_statistics(&self) -> Result<Value> {
        let store = &self.ctx.store;
        let counts = store.workspace_counts().await.map_err(store_error)?;
        let installed_at = store
            .user_by_username("rocket.cat")
            .await
            .map_err(store_error)?
            .map(|u| iso(u.created_at));
        let created_at = now();
        let snapshot_id = id::new_id();
        let offline = counts
            .total_users
            .saturating_sub(counts.online_users + counts.away_users + counts.busy_users);
        let total_rooms = counts.total_channels + counts.total_private_groups + counts.total_direct;
        let total_messages = counts.total_channel_messages
            + counts.total_private_group_messages
            + counts.total_direct_messages;
        let document = json!({
            "_id": snapshot_id,
            "installedAt": installed_at,
            "version": COMPATIBLE_VERSION,
            "totalUsers": counts.total_users,
            "activeUsers": counts.active_users,
            "nonActiveUsers": counts.non_active_users,
            "onlineUsers": counts.online_users,
            "awayUsers": counts.away_users,
            "busyUsers": counts.busy_users,
            "totalConnectedUsers": counts.online_users + counts.away_users,
            "offlineUsers": offline,
            "totalRooms": total_rooms,
            "totalChannels": counts.total_channels,
            "totalPrivateGroups": counts.total_private_groups,
            "totalDirect": counts.total_direct,
            "totalDiscussions": counts.total_discussions,
            "totalThreads": counts.total_threads,
            "totalChannelMessages": counts.total_channel_messages,
            "totalPrivateGroupMessages": counts.total_private_group_messages,
            "totalDirectMessages": counts.total_direct_messages,
            "totalMessages": total_messages,
            "uploadsTotal": counts.uploads_total,
            "uploadsTotalSize": counts.uploads_total_size,
            "os": os_info(),
            "process": {
                "pid": std::process::id(),
                "uptime": self.ctx.started.elapsed().as_secs_f64(),
                // Upstream reports Node's version here; Comet names its own build.
                "nodeVersion": format!("comet {}", env!("CARGO_PKG_VERSION")),
            },
            "deploy": {"method": "binary", "platform": std::env::consts::OS},
            "database": {
                "type": self.ctx.config.database_kind,
                "size": counts.database_size,
            },
            "createdAt": iso(created_at),
        });
        store
            .insert_statistics(&StatisticsSnapshot {
                id: snapshot_id,
                created_at,
                document: document.clone(),
            })
            .await
            .map_err(store_error)?;
        Ok(document)
    }
}

/// A document cut to `fields` as a MongoDB projection of top-level names does.
fn project(document: Value, fields: Option<&Map<String, Value>>) -> Value {
    let (Some(fields), Value::Object(mut map)) = (fields, document.clone()) else {
        return document;
    };
    if fields.is_empty() {
        return Value::Object(map);
    }
    let included = |v: &Value| v.as_i64().map_or(v.as_bool().unwrap_or(true), |n| n != 0);
    let inclusive = fields.iter().any(|(name, v)| name != "_id" && included(v));
    if inclusive {
        let keep_id = fields.get("_id").is_none_or(included);
        map.retain(|name, _| fields.get(name).is_some_and(included) || (name == "_id" && keep_id));
    } else {
        map.retain(|name, _| fields.get(name).is_none_or(included));
    }
    Value::Object(map)
}

/// The host as upstream's `os` block describes it, read from `/proc` where there is one.
fn os_info() -> Value {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let uptime = read("/proc/uptime")
        .split_whitespace()
        .next()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0);
    let loadavg: Vec<f64> = read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .filter_map(|s| s.parse().ok())
        .collect();
    let meminfo = read("/proc/meminfo");
    let kib = |key: &str| -> u64 {
        meminfo
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
            * 1024
    };
    let cpuinfo = read("/proc/cpuinfo");
    let mut cpus: Vec<Value> = cpuinfo
        .lines()
        .filter_map(|line| line.strip_prefix("model name"))
        .map(|rest| json!({"model": rest.trim_start_matches([' ', '\t', ':']).trim()}))
        .collect();
    if cpus.is_empty() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        cpus = vec![json!({"model": ""}); n];
    }
    let kernel = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        "windows" => "Windows_NT",
        other => other,
    };
    json!({
        "type": kernel,
        "platform": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "release": read("/proc/sys/kernel/osrelease").trim(),
        "uptime": uptime,
        "loadavg": loadavg,
        "totalmem": kib("MemTotal:"),
        "freemem": kib("MemAvailable:"),
        "cpus": cpus,
    })
}

#[cfg(test)]
mod tests {
    use super::project;
    use serde_json::json;

    #[test]
    fn projection_keeps_or_drops_top_level_names() {
        let doc = json!({"_id": "a", "totalUsers": 3, "os": {}});
        let keep = json!({"totalUsers": 1});
        assert_eq!(
            project(doc.clone(), keep.as_object()),
            json!({"_id": "a", "totalUsers": 3})
        );
        let drop = json!({"os": 0});
        assert_eq!(
            project(doc.clone(), drop.as_object()),
            json!({"_id": "a", "totalUsers": 3})
        );
        assert_eq!(project(doc.clone(), None), doc);
    }
}
