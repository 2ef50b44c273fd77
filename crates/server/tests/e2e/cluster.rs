//! Two real `comet` processes sharing one database and a real NATS server: users on different
//! instances chat live, and killing one instance loses nothing acknowledged.
//!
//! The database is PostgreSQL with `COMET_TEST_BACKEND=postgres` (as `scripts/test` runs it),
//! else one SQLite file both processes open. `NATS_SERVER_BIN` names the NATS server (set by
//! `scripts/test`); without it the test is skipped outside CI.

use crate::common;

use common::ddp::{Ddp, WAIT};
use common::process::{Comet, CometSetup, Nats};
use common::{ADMIN_PASS, PASSWORD};
use futures_util::StreamExt;
use serde_json::{Value, json};

struct Rest {
    http: reqwest::Client,
}

impl Rest {
    async fn call(
        &self,
        base: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        auth: Option<&(String, String)>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{base}/api/v1/{path}"));
        if let Some((id, token)) = auth {
            request = request
                .header("X-User-Id", id)
                .header("X-Auth-Token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .expect("answer in time")
            .expect("response");
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn post(&self, base: &str, path: &str, body: Value, auth: &(String, String)) -> Value {
        let (status, body) = self
            .call(base, reqwest::Method::POST, path, Some(body), Some(auth))
            .await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn login(&self, base: &str, user: &str, password: &str) -> (String, String) {
        let (status, body) = self
            .call(
                base,
                reqwest::Method::POST,
                "login",
                Some(json!({"user": user, "password": password})),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        (
            body["data"]["userId"].as_str().expect("id").to_owned(),
            body["data"]["authToken"]
                .as_str()
                .expect("token")
                .to_owned(),
        )
    }
}

fn is_event(frame: &Value, collection: &str, event: &str) -> bool {
    frame["collection"] == collection && frame["fields"]["eventName"] == event
}

#[tokio::test]
async fn two_instances_serve_one_chat_and_survive_losing_one() {
    let Some(nats) = Nats::start() else {
        return;
    };
    let sqlite_dir = tempfile::tempdir().expect("dir");
    let postgres = common::postgres_database().await;
    let database_url = match &postgres {
        Some(database) => database.url().to_owned(),
        None => format!("sqlite://{}", sqlite_dir.path().join("shared.db").display()),
    };
    // Both share the database and the bus. An instance that stops answering counts as gone
    // after 3 s (the shortest allowed), so the test need not wait long for the survivor to
    // notice the killed one.
    let instance = |dir: &tempfile::TempDir| CometSetup {
        nats_url: Some(nats.url.clone()),
        env: vec![("COMET_INSTANCE_TIMEOUT".into(), "3".into())],
        ..CometSetup::new(dir.path().to_path_buf(), Some(database_url.clone()))
    };
    let (data_a, data_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut a = Comet::start(&instance(&data_a)).await;
    let b = Comet::start(&instance(&data_b)).await;
    let rest = Rest {
        http: {
            comet_service::blobs::install_crypto_provider();
            reqwest::Client::new()
        },
    };

    let admin = rest.login(&a.base, "admin", ADMIN_PASS).await;
    for name in ["alice", "bob"] {
        rest.post(
            &a.base,
            "users.create",
            json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD, "name": name, "joinDefaultChannels": true}),
            &admin,
        )
        .await;
    }
    let alice_rest = rest.login(&a.base, "alice", PASSWORD).await;
    let bob_rest = rest.login(&b.base, "bob", PASSWORD).await;

    // Bob on B listens to everything; Alice is on A.
    let mut bob = Ddp::connect_to(&b.base).await;
    bob.login("bob").await;
    let bob_id = bob_rest.0.clone();
    for (stream, event) in [
        ("stream-room-messages", "GENERAL".to_owned()),
        ("stream-notify-room", "GENERAL/user-activity".to_owned()),
        ("stream-notify-room", "GENERAL/deleteMessage".to_owned()),
        (
            "stream-notify-user",
            format!("{bob_id}/subscriptions-changed"),
        ),
        ("stream-notify-user", format!("{bob_id}/rooms-changed")),
        ("stream-notify-logged", "user-status".to_owned()),
        ("stream-notify-all", "public-settings-changed".to_owned()),
    ] {
        assert_eq!(
            bob.sub(stream, &event).await["msg"],
            "ready",
            "{stream} {event}"
        );
    }

    // Presence crosses instances.
    let mut alice = Ddp::connect_to(&a.base).await;
    alice.login("alice").await;
    let alice_id = alice_rest.0.clone();
    let online = bob
        .until(|m| {
            m["collection"] == "stream-notify-logged" && m["fields"]["args"][0][0] == alice_id
        })
        .await;
    assert_eq!(
        online["fields"]["args"][0][2], 1,
        "alice online, seen from B"
    );
    assert_eq!(
        alice.sub("stream-room-messages", "GENERAL").await["msg"],
        "ready"
    );

    // A message sent on A arrives on B, with Bob's sidebar.
    let sent = alice
        .call(
            "sendMessage",
            json!([{"rid": "GENERAL", "msg": "hello from A"}]),
        )
        .await;
    let message_id = sent["result"]["_id"].as_str().expect("id").to_owned();
    let arrived = bob
        .until(|m| m["collection"] == "stream-room-messages")
        .await;
    assert_eq!(arrived["fields"]["args"][0]["msg"], "hello from A");
    // Both sidebar streams update, in whichever order they are sent.
    let (mut subscription, mut room) = (None, None);
    while subscription.is_none() || room.is_none() {
        let frame = bob.until(|m| m["collection"] == "stream-notify-user").await;
        let event = frame["fields"]["eventName"].as_str().unwrap_or_default();
        if event == format!("{bob_id}/subscriptions-changed") {
            subscription = Some(frame);
        } else if event == format!("{bob_id}/rooms-changed") {
            room = Some(frame);
        }
    }
    let subscription = subscription.unwrap_or_default();
    assert_eq!(subscription["fields"]["args"][1]["rid"], "GENERAL");
    assert!(
        subscription["fields"]["args"][1]["unread"]
            .as_i64()
            .unwrap_or(0)
            >= 1
    );
    assert_eq!(
        room.unwrap_or_default()["fields"]["args"][1]["_id"],
        "GENERAL"
    );

    // Typing on A is seen on B.
    alice
        .call(
            "stream-notify-room",
            json!(["GENERAL/user-activity", "alice", ["user-typing"], {}]),
        )
        .await;
    let typing = bob
        .until(|m| is_event(m, "stream-notify-room", "GENERAL/user-activity"))
        .await;
    assert_eq!(
        typing["fields"]["args"],
        json!(["alice", ["user-typing"], {}])
    );

    // A reaction made on B reaches Alice on A; an edit on A reaches Bob on B.
    rest.post(
        &b.base,
        "chat.react",
        json!({"messageId": message_id, "emoji": ":tada:"}),
        &bob_rest,
    )
    .await;
    let reacted = alice
        .until(|m| {
            m["collection"] == "stream-room-messages"
                && !m["fields"]["args"][0]["reactions"].is_null()
        })
        .await;
    assert_eq!(
        reacted["fields"]["args"][0]["reactions"][":tada:"]["usernames"],
        json!(["bob"])
    );
    alice
        .call(
            "updateMessage",
            json!([{"_id": message_id, "rid": "GENERAL", "msg": "hello from A, edited"}]),
        )
        .await;
    let edited = bob
        .until(|m| {
            m["collection"] == "stream-room-messages"
                && m["fields"]["args"][0]["msg"] == "hello from A, edited"
        })
        .await;
    assert!(edited["fields"]["args"][0]["editedAt"].is_object());

    // A deletion on A is seen on B.
    let doomed = rest
        .post(
            &a.base,
            "chat.postMessage",
            json!({"roomId": "GENERAL", "text": "short-lived"}),
            &alice_rest,
        )
        .await["message"]["_id"]
        .as_str()
        .expect("id")
        .to_owned();
    rest.post(
        &a.base,
        "chat.delete",
        json!({"roomId": "GENERAL", "msgId": doomed}),
        &alice_rest,
    )
    .await;
    let deleted = bob
        .until(|m| is_event(m, "stream-notify-room", "GENERAL/deleteMessage"))
        .await;
    assert_eq!(deleted["fields"]["args"][0]["_id"], json!(doomed));

    // A setting changed on A is announced on B, and B enforces it at once.
    rest.post(
        &a.base,
        "settings/Message_MaxAllowedSize",
        json!({"value": 40}),
        &admin,
    )
    .await;
    let announced = bob
        .until(|m| {
            is_event(m, "stream-notify-all", "public-settings-changed")
                && m["fields"]["args"][1]["_id"] == "Message_MaxAllowedSize"
        })
        .await;
    assert_eq!(announced["fields"]["args"][1]["value"], 40);
    let (status, refused) = rest
        .call(
            &b.base,
            reqwest::Method::POST,
            "chat.postMessage",
            Some(json!({"roomId": "GENERAL", "text": "x".repeat(41)})),
            Some(&bob_rest),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    rest.post(
        &a.base,
        "settings/Message_MaxAllowedSize",
        json!({"value": 5000}),
        &admin,
    )
    .await;

    // A role taken away on A applies at once to Bob's open connection on B: as an admin he
    // deletes Alice's message; once no longer one, he cannot.
    let alice_says = |text: &'static str| {
        let rest = &rest;
        let base = a.base.clone();
        let auth = alice_rest.clone();
        async move {
            rest.post(
                &base,
                "chat.postMessage",
                json!({"roomId": "GENERAL", "text": text}),
                &auth,
            )
            .await["message"]["_id"]
                .clone()
        }
    };
    let role = json!({"roleName": "admin", "username": "bob"});
    let first = alice_says("delete me, admin").await;
    rest.post(&a.base, "roles.addUserToRole", role.clone(), &admin)
        .await;
    let removed = bob.call("deleteMessage", json!([{"_id": first}])).await;
    assert!(removed.get("error").is_none(), "{removed}");
    rest.post(&a.base, "roles.removeUserFromRole", role, &admin)
        .await;
    let second = alice_says("you cannot delete me").await;
    let refused = bob.call("deleteMessage", json!([{"_id": second}])).await;
    assert_eq!(
        refused["error"]["error"], "error-action-not-allowed",
        "{refused}"
    );

    // Kill A in the middle of a stream of posts: everything acknowledged survives.
    let mut acknowledged = Vec::new();
    for i in 0..10 {
        let body = rest
            .post(
                &a.base,
                "chat.postMessage",
                json!({"roomId": "GENERAL", "text": format!("burst {i}")}),
                &alice_rest,
            )
            .await;
        acknowledged.push(body["message"]["_id"].as_str().expect("id").to_owned());
    }
    a.kill();
    // Alice's socket to A is gone.
    let dropped = tokio::time::timeout(WAIT, async {
        loop {
            match alice.socket.next().await {
                None | Some(Err(_)) => break,
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => break,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(dropped.is_ok(), "alice's connection outlived instance A");

    // She reconnects to B with her token and carries on.
    let mut alice = Ddp::connect_to(&b.base).await;
    let resumed = alice.call("login", json!([{"resume": alice_rest.1}])).await;
    assert_eq!(resumed["result"]["id"], json!(alice_id), "{resumed}");
    let (status, history) = rest
        .call(
            &b.base,
            reqwest::Method::GET,
            "channels.history?roomId=GENERAL&count=100",
            None,
            Some(&alice_rest),
        )
        .await;
    assert_eq!(status, 200, "{history}");
    let present: Vec<&str> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["_id"].as_str())
        .collect();
    for id in &acknowledged {
        assert!(present.contains(&id.as_str()), "acknowledged {id} lost");
    }
    let after = rest
        .post(
            &b.base,
            "chat.postMessage",
            json!({"roomId": "GENERAL", "text": "still here"}),
            &alice_rest,
        )
        .await;
    assert_eq!(after["message"]["msg"], "still here");
    bob.until(|m| {
        m["collection"] == "stream-room-messages" && m["fields"]["args"][0]["msg"] == "still here"
    })
    .await;

    // When she leaves B too, A's dead connection expires and she goes offline everywhere.
    drop(alice);
    let offline = bob
        .until(|m| {
            m["collection"] == "stream-notify-logged"
                && m["fields"]["args"][0][0] == alice_id
                && m["fields"]["args"][0][2] == 0
        })
        .await;
    assert_eq!(offline["fields"]["args"][0][1], "alice");
    drop(b);
    if let Some(database) = postgres {
        database.drop_database().await;
    }
}

/// Asks `path` on `base` until it answers `status`, for at most 5 s: far less than the session
/// cache's 30 s time to live, so only the event from the other instance can end it in time.
async fn until_status(rest: &Rest, base: &str, path: &str, auth: &(String, String), status: u16) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (got, body) = rest
            .call(base, reqwest::Method::GET, path, None, Some(auth))
            .await;
        if got == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} on the other instance still answers {got}: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_session_revoked_on_one_instance_ends_on_the_other() {
    let Some(nats) = Nats::start() else {
        return;
    };
    let sqlite_dir = tempfile::tempdir().expect("dir");
    let postgres = common::postgres_database().await;
    let database_url = match &postgres {
        Some(database) => database.url().to_owned(),
        None => format!("sqlite://{}", sqlite_dir.path().join("shared.db").display()),
    };
    let instance = |dir: &tempfile::TempDir| CometSetup {
        nats_url: Some(nats.url.clone()),
        ..CometSetup::new(dir.path().to_path_buf(), Some(database_url.clone()))
    };
    let (data_a, data_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = Comet::start(&instance(&data_a)).await;
    let b = Comet::start(&instance(&data_b)).await;
    let rest = Rest {
        http: {
            comet_service::blobs::install_crypto_provider();
            reqwest::Client::new()
        },
    };
    let admin = rest.login(&a.base, "admin", ADMIN_PASS).await;
    rest.post(
        &a.base,
        "users.create",
        json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD, "name": "alice"}),
        &admin,
    )
    .await;
    let in_use_on_b = |auth: (String, String)| {
        let (rest, base) = (&rest, b.base.clone());
        async move {
            for _ in 0..2 {
                let (status, body) = rest
                    .call(&base, reqwest::Method::GET, "me", None, Some(&auth))
                    .await;
                assert_eq!(status, 200, "{body}");
            }
        }
    };

    // Logout on A.
    let first = rest.login(&a.base, "alice", PASSWORD).await;
    in_use_on_b(first.clone()).await;
    rest.post(&a.base, "logout", json!({}), &first).await;
    until_status(&rest, &b.base, "me", &first, 401).await;

    // A role taken away on A.
    let second = rest.login(&a.base, "alice", PASSWORD).await;
    let role = json!({"roleName": "admin", "username": "alice"});
    rest.post(&a.base, "roles.addUserToRole", role.clone(), &admin)
        .await;
    until_status(&rest, &b.base, "statistics", &second, 200).await;
    until_status(&rest, &b.base, "statistics", &second, 200).await;
    rest.post(&a.base, "roles.removeUserFromRole", role, &admin)
        .await;
    until_status(&rest, &b.base, "statistics", &second, 400).await;

    // Deactivation on A.
    in_use_on_b(second.clone()).await;
    rest.post(
        &a.base,
        "users.setActiveStatus",
        json!({"userId": second.0, "activeStatus": false}),
        &admin,
    )
    .await;
    until_status(&rest, &b.base, "me", &second, 401).await;

    drop(a);
    drop(b);
    if let Some(database) = postgres {
        database.drop_database().await;
    }
}
