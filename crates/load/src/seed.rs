//! The data set, written straight into the database of a stopped server through the store's
//! bulk import (the path `comet migrate-db` uses: many rows per transaction, ids and counters
//! as given, the search index filled), not through millions of API calls.
//!
//! Everything is derived from the sizes alone, so that a later run finds the users (`load<i>`,
//! password [`comet_bench::process::PASSWORD`]) without reading anything back.

use chrono::Duration as Span;
use comet_core::Timestamp;
use comet_core::room::{Message, Room, RoomType, Subscription, UserStub};
use comet_core::user::{Email, Presence, User, UserType};
use comet_store::{Record, TransferStore};
use comet_store_sqlite::{SqliteDatabase, SqliteStore, Synchronous};
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::time::Instant;

/// The sizes of the data set.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct SeedSize {
    /// Users in the data set (`load0` … `load<N-1>`).
    #[arg(long, default_value_t = 10_000)]
    pub seed_users: usize,
    /// Public channels.
    #[arg(long, default_value_t = 2_000)]
    pub seed_rooms: usize,
    /// Messages, spread over the channels and the last 30 days.
    #[arg(long, default_value_t = 5_000_000)]
    pub seed_messages: u64,
    /// Channels each user is a member of.
    #[arg(long, default_value_t = 10)]
    pub rooms_per_user: usize,
}

/// Records per import transaction.
const BATCH: usize = 5_000;

pub const WORDS: &[&str] = &[
    "deploy", "server", "release", "review", "lunch", "meeting", "incident", "database", "latency",
    "coffee", "ticket", "merge", "branch", "rollback", "monitor", "alert", "customer", "design",
    "queue", "backup", "cluster", "token", "olá", "obrigado", "café", "naïve", "weekend", "budget",
];

pub fn username(index: usize) -> String {
    format!("load{index}")
}

fn user_id(index: usize) -> String {
    format!("loaduser{index:09}")
}

fn room_id(index: usize) -> String {
    format!("loadroom{index:09}")
}

fn message_id(index: u64) -> String {
    format!("loadmsg{index:010}")
}

fn stub(index: usize) -> UserStub {
    UserStub {
        id: user_id(index),
        username: username(index),
        name: Some(format!("Load User {index}")),
    }
}

/// The channels of user `user`: `rooms_per_user` of them, evenly spread, so that every
/// channel has about `users × rooms_per_user / rooms` members.
pub fn rooms_of(user: usize, size: &SeedSize) -> Vec<usize> {
    let rooms = size.seed_rooms.max(1);
    let per_user = size.rooms_per_user.clamp(1, rooms);
    let stride = rooms / per_user;
    (0..per_user).map(|k| (user + k * stride) % rooms).collect()
}

pub fn sentence(rng: &mut impl Rng, words: usize) -> String {
    (0..words)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn user(index: usize, password_bcrypt: &str, at: Timestamp) -> User {
    User {
        id: user_id(index),
        username: username(index),
        name: format!("Load User {index}"),
        email: Some(Email {
            address: format!("load{index}@example.com"),
            verified: true,
        }),
        user_type: UserType::User,
        active: true,
        roles: vec!["user".to_owned()],
        status: Presence::Offline,
        status_default: Presence::Online,
        status_connection: Presence::Offline,
        status_text: String::new(),
        utc_offset: 0.0,
        password_bcrypt: Some(password_bcrypt.to_owned()),
        require_password_change: false,
        language: None,
        nickname: None,
        bio: None,
        preferences: serde_json::json!({}),
        custom_fields: None,
        created_at: at,
        updated_at: at,
        last_login: None,
        approved: true,
    }
}

fn room(
    index: usize,
    members: usize,
    messages: i64,
    last: Option<(u64, Timestamp)>,
    at: Timestamp,
) -> Room {
    let name = format!("load-room-{index}");
    Room {
        id: room_id(index),
        room_type: RoomType::Channel,
        name: Some(name.clone()),
        fname: Some(name),
        creator: Some(stub(0)),
        topic: None,
        description: None,
        announcement: None,
        read_only: false,
        react_when_read_only: false,
        archived: false,
        default: false,
        featured: false,
        encrypted: false,
        broadcast: false,
        join_code: None,
        muted: Vec::new(),
        unmuted: Vec::new(),
        favorite: false,
        user_ids: Vec::new(),
        usernames: Vec::new(),
        message_count: messages,
        users_count: i64::try_from(members).unwrap_or(i64::MAX),
        last_message_at: last.map(|(_, at)| at),
        last_message_id: last.map(|(n, _)| message_id(n)),
        hidden_system_messages: Vec::new(),
        parent_id: None,
        custom_fields: serde_json::json!({}),
        team_id: None,
        team_main: false,
        team_default: false,
        sidepanel: Vec::new(),
        created_at: at,
        updated_at: at,
    }
}

fn subscription(serial: usize, room: usize, user: usize, at: Timestamp) -> Subscription {
    let name = format!("load-room-{room}");
    Subscription {
        id: format!("loadsub{serial:010}"),
        room_id: room_id(room),
        room_type: RoomType::Channel,
        user: stub(user),
        name: name.clone(),
        fname: Some(name),
        roles: Vec::new(),
        open: true,
        alert: false,
        unread: 0,
        user_mentions: 0,
        group_mentions: 0,
        favorite: false,
        archived: false,
        joined_at: at,
        last_seen: at,
        last_reply: None,
        thread_unread: Vec::new(),
        thread_unread_user: Vec::new(),
        thread_unread_group: Vec::new(),
        ignored: Vec::new(),
        notifications: serde_json::Map::new(),
        auto_translate: None,
        auto_translate_language: None,
        updated_at: at,
    }
}

async fn import(store: &SqliteStore, batch: &mut Vec<Record>) -> Result<(), String> {
    if batch.is_empty() {
        return Ok(());
    }
    store
        .import(batch)
        .await
        .map_err(|e| format!("import: {e}"))?;
    batch.clear();
    Ok(())
}

/// Writes the data set into the SQLite database of `data_dir` (the server stopped).
pub async fn seed(data_dir: &Path, size: &SeedSize, bcrypt_cost: u32) -> Result<(), String> {
    let started = Instant::now();
    let url = format!("sqlite://{}", data_dir.join("comet.db").display());
    let store = SqliteDatabase::open_url_with(&url, Synchronous::Normal)
        .await
        .map(SqliteStore::new)
        .map_err(|e| format!("open {url}: {e}"))?;
    let digest = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(
            comet_bench::process::PASSWORD.as_bytes(),
        ))
    };
    // One hash for every account: each verification still costs a login its bcrypt.
    let hash = bcrypt::hash(digest, bcrypt_cost).map_err(|e| e.to_string())?;
    let now = comet_core::now();
    let created = now - Span::days(31);
    let rooms = size.seed_rooms.max(1);

    let mut members: Vec<Vec<usize>> = vec![Vec::new(); rooms];
    for u in 0..size.seed_users {
        for r in rooms_of(u, size) {
            members[r].push(u);
        }
    }

    let mut batch = Vec::with_capacity(BATCH);
    for u in 0..size.seed_users {
        batch.push(Record::User(user(u, &hash, created)));
        if batch.len() >= BATCH {
            import(&store, &mut batch).await?;
        }
    }
    import(&store, &mut batch).await?;

    // Message n goes to room n % rooms at base + n × step.
    let base = now - Span::days(30);
    let step_ms = (30 * 24 * 3600 * 1000) / i64::try_from(size.seed_messages.max(1)).unwrap_or(1);
    let at_of =
        |n: u64| base + Span::milliseconds(step_ms.saturating_mul(i64::try_from(n).unwrap_or(0)));
    let rooms_u64 = rooms as u64;
    for (r, room_members) in members.iter().enumerate() {
        let r64 = r as u64;
        let (count, last) = if r64 < size.seed_messages {
            let last = r64 + rooms_u64 * ((size.seed_messages - 1 - r64) / rooms_u64);
            (
                (size.seed_messages - 1 - r64) / rooms_u64 + 1,
                Some((last, at_of(last))),
            )
        } else {
            (0, None)
        };
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        batch.push(Record::Room(room(
            r,
            room_members.len(),
            count,
            last,
            created,
        )));
    }
    import(&store, &mut batch).await?;

    let mut serial = 0;
    for (r, room_members) in members.iter().enumerate() {
        for &u in room_members {
            batch.push(Record::Subscription(subscription(serial, r, u, now)));
            serial += 1;
            if batch.len() >= BATCH {
                import(&store, &mut batch).await?;
            }
        }
    }
    import(&store, &mut batch).await?;
    println!(
        "seeded {} users, {} channels, {} memberships in {:.1} s",
        size.seed_users,
        rooms,
        serial,
        started.elapsed().as_secs_f64()
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let messages_started = Instant::now();
    for n in 0..size.seed_messages {
        let r = usize::try_from(n % rooms_u64).unwrap_or(0);
        let room_members = &members[r];
        let author = if room_members.is_empty() {
            0
        } else {
            room_members[rng.random_range(0..room_members.len())]
        };
        let words = rng.random_range(3..16);
        let text = sentence(&mut rng, words);
        batch.push(Record::Message(Message::new(
            message_id(n),
            &room_id(r),
            stub(author),
            &text,
            at_of(n),
        )));
        if batch.len() >= BATCH {
            import(&store, &mut batch).await?;
        }
        if (n + 1) % 500_000 == 0 {
            println!(
                "  {} messages, {:.0} messages/s",
                n + 1,
                (n + 1) as f64 / messages_started.elapsed().as_secs_f64()
            );
        }
    }
    import(&store, &mut batch).await?;
    store.close().await;
    println!(
        "seeded {} messages in {:.1} s (whole seed {:.1} s)",
        size.seed_messages,
        messages_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
