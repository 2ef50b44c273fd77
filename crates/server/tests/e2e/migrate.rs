//! `comet migrate-db`: a server's SQLite database moved by the real binary to PostgreSQL (when
//! `COMET_TEST_POSTGRES_URL` names a server) and to another SQLite file, after which a server
//! on the copy accepts the same passwords and tokens and answers every read as before.

use crate::common;

use comet_store_postgres::testing::{SERVER_URL_VAR, TestDatabase};
use common::{ADMIN_PASS, ADMIN_USERNAME, Auth, PASSWORD, TestServer, id_of, say};
use serde_json::{Value, json};
use std::process::Output;

/// Runs the real `comet migrate-db` binary.
async fn migrate_db(from: &str, to: &str) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_comet"));
    command
        .args([
            "migrate-db",
            "--from",
            from,
            "--to",
            to,
            "--batch-size",
            "7",
        ])
        .env("COMET_LOG", "warn");
    tokio::task::spawn_blocking(move || command.output().expect("run comet migrate-db"))
        .await
        .expect("migrate-db thread")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A new, empty PostgreSQL database when a server is configured for tests.
async fn postgres_target() -> Option<TestDatabase> {
    match std::env::var(SERVER_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(TestDatabase::create(&url).await),
        _ => {
            eprintln!("note: migration to PostgreSQL skipped: {SERVER_URL_VAR} is not set");
            None
        }
    }
}

fn sqlite_url(dir: &tempfile::TempDir, file: &str) -> String {
    format!("sqlite://{}", dir.path().join(file).display())
}

/// A server on a SQLite file of our own (whatever backend the other tests use), so that the
/// file outlives it.
async fn server_on(database_url: &str) -> TestServer {
    let url = database_url.to_owned();
    TestServer::start_with(move |config| config.database_url = Some(url)).await
}

async fn post_ok(server: &TestServer, path: &str, body: Value, auth: &Auth) -> Value {
    server.post(path, body, Some(auth)).await.ok().clone()
}

/// One GET: who asks, the route, the query.
type Read<'a> = (&'a Auth, &'static str, Vec<(&'static str, &'a str)>);

/// What the server answers to a set of reads that cover accounts, rooms, subscriptions and
/// their counters, history, threads, reactions, pins, stars, deletions, search and settings.
async fn snapshot(server: &TestServer, people: &People, rooms: &Rooms) -> Vec<(String, Value)> {
    let since = "1970-01-01T00:00:00.000Z";
    let reads: Vec<Read<'_>> = vec![
        (
            &people.alice,
            "channels.history",
            vec![("roomId", &rooms.channel), ("count", "100")],
        ),
        (
            &people.alice,
            "channels.history",
            vec![("roomId", &rooms.channel), ("showThreadMessages", "false")],
        ),
        (
            &people.alice,
            "groups.history",
            vec![("roomId", &rooms.group)],
        ),
        (&people.bob, "im.history", vec![("roomId", &rooms.direct)]),
        (
            &people.alice,
            "chat.getThreadMessages",
            vec![("tmid", &rooms.thread)],
        ),
        (
            &people.alice,
            "chat.getMessage",
            vec![("msgId", &rooms.thread)],
        ),
        (
            &people.alice,
            "chat.getDeletedMessages",
            vec![("roomId", &rooms.channel), ("since", since)],
        ),
        (
            &people.alice,
            "chat.search",
            vec![("roomId", &rooms.channel), ("searchText", "wörld")],
        ),
        (
            &people.alice,
            "chat.search",
            vec![("roomId", &rooms.channel), ("searchText", "implantacao")],
        ),
        (
            &people.alice,
            "chat.search",
            vec![("roomId", &rooms.channel), ("searchText", "مرحبا")],
        ),
        (
            &people.alice,
            "chat.search",
            vec![("roomId", &rooms.channel), ("searchText", "gone")],
        ),
        (
            &people.bob,
            "subscriptions.getOne",
            vec![("roomId", &rooms.channel)],
        ),
        (
            &people.carol,
            "subscriptions.getOne",
            vec![("roomId", &rooms.channel)],
        ),
        (
            &people.bob,
            "subscriptions.getOne",
            vec![("roomId", &rooms.direct)],
        ),
        (&people.bob, "subscriptions.get", vec![]),
        (
            &people.carol,
            "subscriptions.get",
            vec![("updatedSince", since)],
        ),
        (
            &people.bob,
            "channels.counters",
            vec![("roomId", &rooms.channel)],
        ),
        (
            &people.alice,
            "channels.info",
            vec![("roomId", &rooms.channel)],
        ),
        (&people.alice, "groups.info", vec![("roomId", &rooms.group)]),
        (
            &people.alice,
            "channels.members",
            vec![("roomId", &rooms.channel)],
        ),
        (&people.alice, "rooms.get", vec![]),
        (&people.carol, "rooms.get", vec![("updatedSince", since)]),
        (&people.admin, "users.info", vec![("username", "bob")]),
        (&people.admin, "users.list", vec![]),
        (&people.alice, "users.getPersonalAccessTokens", vec![]),
        (&people.admin, "settings/Site_Name", vec![]),
        (&people.admin, "permissions.listAll", vec![]),
        (&people.admin, "roles.list", vec![]),
    ];
    let mut answers = Vec::with_capacity(reads.len());
    for (auth, path, query) in reads {
        let reply = server.get(path, &query, Some(auth)).await;
        let mut answer = reply.ok().clone();
        if path == "rooms.get" {
            // The rooms come in no particular order (upstream's is Mongo's natural order).
            if let Some(rooms) = answer["update"].as_array_mut() {
                rooms.sort_by_key(|room| room["_id"].as_str().unwrap_or_default().to_owned());
            }
        }
        answers.push((format!("{path} {query:?}"), answer));
    }
    answers
}

struct People {
    admin: Auth,
    alice: Auth,
    bob: Auth,
    carol: Auth,
}

struct Rooms {
    channel: String,
    group: String,
    direct: String,
    /// The thread's first message (reacted to, pinned and starred too).
    thread: String,
}

/// Fills a server through the REST API with a bit of everything.
async fn fill(server: &TestServer) -> (People, Rooms, String) {
    let people = People {
        admin: server.login(ADMIN_USERNAME, ADMIN_PASS).await,
        alice: server.new_user("alice").await,
        bob: server.new_user("bob").await,
        carol: server.new_user("carol").await,
    };
    let (alice, bob, carol) = (&people.alice, &people.bob, &people.carol);
    let channel = id_of(
        &post_ok(
            server,
            "channels.create",
            json!({"name": "moving-day", "members": ["bob", "carol"]}),
            alice,
        )
        .await["channel"],
    );
    let group = id_of(
        &post_ok(
            server,
            "groups.create",
            json!({"name": "back-office", "members": ["bob"]}),
            alice,
        )
        .await["group"],
    );
    let direct =
        post_ok(server, "im.create", json!({"username": "bob"}), alice).await["room"]["rid"]
            .as_str()
            .expect("rid")
            .to_owned();

    let thread = id_of(&say(server, alice, &channel, "Hello wörld — implantação, @bob").await);
    say(
        server,
        carol,
        &channel,
        "@all مرحبا بالعالم, standup at ten",
    )
    .await;
    say(server, bob, &channel, "你好世界 🚀").await;
    post_ok(
        server,
        "chat.postMessage",
        json!({"roomId": channel, "text": "a reply in the thread", "tmid": thread}),
        carol,
    )
    .await;
    post_ok(
        server,
        "chat.sendMessage",
        json!({"message": {"rid": channel, "msg": "a reply also shown in the room", "tmid": thread, "tshow": true}}),
        bob,
    )
    .await;
    for (auth, emoji) in [(bob, ":+1:"), (carol, ":tada:"), (carol, ":+1:")] {
        post_ok(
            server,
            "chat.react",
            json!({"messageId": thread, "emoji": emoji}),
            auth,
        )
        .await;
    }
    post_ok(
        server,
        "chat.pinMessage",
        json!({"messageId": thread}),
        alice,
    )
    .await;
    post_ok(
        server,
        "chat.starMessage",
        json!({"messageId": thread}),
        bob,
    )
    .await;
    let doomed = id_of(&say(server, alice, &channel, "gone soon").await);
    post_ok(
        server,
        "chat.delete",
        json!({"roomId": channel, "msgId": doomed}),
        alice,
    )
    .await;
    say(server, alice, &group, "back office only").await;
    say(server, alice, &direct, "just between us").await;
    post_ok(
        server,
        "settings/Site_Name",
        json!({"value": "Migrated Chat ✨"}),
        &people.admin,
    )
    .await;
    let pat = post_ok(
        server,
        "users.generatePersonalAccessToken",
        json!({"tokenName": "ci"}),
        alice,
    )
    .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    (
        people,
        Rooms {
            channel,
            group,
            direct,
            thread,
        },
        pat,
    )
}

/// Moves a server from SQLite to `target` and checks the copy.
async fn moves_a_server(target: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = sqlite_url(&dir, "source.db");
    let server = server_on(&source).await;
    let (people, rooms, pat) = fill(&server).await;
    let before = snapshot(&server, &people, &rooms).await;
    let unread = |answers: &[(String, Value)]| {
        answers
            .iter()
            .find(|(read, _)| {
                read.starts_with("subscriptions.getOne") && read.contains(&rooms.channel)
            })
            .map(|(_, answer)| answer["subscription"]["unread"].clone())
    };
    assert_eq!(
        unread(&before),
        Some(json!(2)),
        "bob has a mention and @all unread"
    );
    server.stop().await;

    let output = migrate_db(&source, target).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for table in [
        "users",
        "login_tokens",
        "settings",
        "rooms",
        "subscriptions",
        "messages",
    ] {
        assert!(
            stdout.contains(&format!("  {table}: ")),
            "{table} reported:\n{stdout}"
        );
    }
    assert!(stdout.contains("records copied and verified"), "{stdout}");
    assert!(!stdout.contains("MISMATCH"), "{stdout}");

    let server = server_on(target).await;
    // The old session tokens and the personal access token work: nobody logs in again.
    let after = snapshot(&server, &people, &rooms).await;
    assert_eq!(after.len(), before.len());
    for ((read, was), (_, is)) in before.iter().zip(&after) {
        assert_eq!(is, was, "{read}");
    }
    let with_pat = Auth {
        user_id: people.alice.user_id.clone(),
        token: pat,
    };
    let me = server.get("me", &[], Some(&with_pat)).await;
    assert_eq!(me.ok()["username"], json!("alice"));
    // The same passwords log in.
    server.login("alice", PASSWORD).await;
    server.login(ADMIN_USERNAME, ADMIN_PASS).await;
    // The copy goes on from where the original stopped.
    say(
        &server,
        &people.bob,
        &rooms.channel,
        "first words after the move",
    )
    .await;
    let info = server
        .get(
            "channels.info",
            &[("roomId", &rooms.channel)],
            Some(&people.alice),
        )
        .await;
    let was = before
        .iter()
        .find(|(read, _)| read.starts_with("channels.info"))
        .map(|(_, answer)| answer["channel"]["msgs"].as_i64().expect("msgs"));
    assert_eq!(
        info.ok()["channel"]["msgs"].as_i64(),
        was.map(|n| n + 1),
        "the message counter continues"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_sqlite_server_moves_to_postgres() {
    let Some(database) = postgres_target().await else {
        return;
    };
    moves_a_server(database.url()).await;
    database.drop_database().await;
}

#[tokio::test]
async fn a_sqlite_server_moves_to_another_sqlite_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    moves_a_server(&sqlite_url(&dir, "target.db")).await;
}

/// Copying into a database that holds anything is refused, and so are a missing source, a
/// source that is the target, and an unknown scheme; a password never shows in the output.
#[tokio::test]
async fn only_an_empty_target_is_accepted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = sqlite_url(&dir, "source.db");
    let server = server_on(&source).await;
    server.new_user("alice").await;
    server.stop().await;

    let mut targets = vec![sqlite_url(&dir, "target.db")];
    let database = postgres_target().await;
    if let Some(database) = &database {
        targets.push(database.url().to_owned());
    }
    for target in &targets {
        let first = migrate_db(&source, target).await;
        assert!(first.status.success(), "{}", text(&first.stderr));
        let again = migrate_db(&source, target).await;
        let stderr = text(&again.stderr);
        assert!(
            !again.status.success(),
            "a second copy into {target} was accepted"
        );
        assert!(stderr.contains("is not empty"), "{stderr}");
        assert!(stderr.contains("users: "), "says what it found: {stderr}");
        assert!(text(&again.stdout).is_empty(), "nothing was copied");
    }

    let missing = sqlite_url(&dir, "missing.db");
    let fresh = sqlite_url(&dir, "fresh.db");
    let refused = migrate_db(&missing, &fresh).await;
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("cannot open the source"));
    assert!(
        !dir.path().join("missing.db").exists() && !dir.path().join("fresh.db").exists(),
        "neither a missing source nor the target is created"
    );

    let foreign = dir.path().join("foreign.db");
    std::fs::write(&foreign, b"").expect("an empty file");
    let refused = migrate_db(&format!("sqlite://{}", foreign.display()), &fresh).await;
    assert!(text(&refused.stderr).contains("not a Comet database"));
    assert_eq!(
        std::fs::metadata(&foreign).expect("still there").len(),
        0,
        "a file Comet never opened is left alone"
    );

    let same = migrate_db(&source, &source).await;
    assert!(!same.status.success());
    assert!(text(&same.stderr).contains("both name"));

    let secret = migrate_db(
        &source,
        "postgres://comet:hunter2@127.0.0.1:1/comet?acquire_timeout=2",
    )
    .await;
    let stderr = text(&secret.stderr);
    assert!(!secret.status.success());
    assert!(stderr.contains("comet:***@127.0.0.1:1"), "{stderr}");
    assert!(
        !stderr.contains("hunter2") && !text(&secret.stdout).contains("hunter2"),
        "{stderr}"
    );

    let secret = migrate_db(
        &source,
        "postgres://comet@127.0.0.1:1/comet?password=hunter3&acquire_timeout=2",
    )
    .await;
    assert!(!secret.status.success());
    assert!(
        !text(&secret.stderr).contains("hunter3"),
        "{}",
        text(&secret.stderr)
    );

    let unknown = migrate_db(&source, "mysql://db/comet").await;
    assert!(text(&unknown.stderr).contains("unsupported scheme"));
    if let Some(database) = database {
        database.drop_database().await;
    }
}
