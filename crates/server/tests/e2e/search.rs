//! `chat.search`: full text in any script, newest first, with upstream's operators.

use crate::common;

use common::{Auth, TestServer};
use serde_json::{Value, json};

async fn post(server: &TestServer, auth: &Auth, room: &str, text: &str) -> String {
    let reply = server
        .post(
            "chat.postMessage",
            json!({"roomId": room, "text": text}),
            Some(auth),
        )
        .await;
    reply.ok()["message"]["_id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn search(server: &TestServer, auth: &Auth, room: &str, text: &str) -> Vec<String> {
    let reply = server
        .get(
            "chat.search",
            &[("roomId", room), ("searchText", text)],
            Some(auth),
        )
        .await;
    reply.ok()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["msg"].as_str().expect("msg").to_owned())
        .collect()
}

#[tokio::test]
async fn words_prefixes_scripts_and_operators() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let room = "GENERAL";
    post(&server, &alice, room, "the deployment finished").await;
    let starred = post(&server, &bob, room, "deploy again tomorrow").await;
    post(&server, &bob, room, "مرحبا بالعالم").await;
    post(&server, &alice, room, "Olá, a implantação terminou").await;

    // Prefix of the last word, whole words otherwise; system messages never match.
    let mut found = search(&server, &alice, room, "deploy").await;
    found.sort();
    assert_eq!(found, ["deploy again tomorrow", "the deployment finished"]);
    assert_eq!(
        search(&server, &alice, room, "مرحبا").await,
        ["مرحبا بالعالم"]
    );
    // Diacritics fold for Latin scripts.
    assert_eq!(
        search(&server, &alice, room, "implantacao").await,
        ["Olá, a implantação terminou"]
    );
    assert!(
        search(&server, &alice, room, "alice").await.is_empty(),
        "join messages are not searched"
    );

    assert_eq!(
        search(&server, &alice, room, "deploy from:alice").await,
        ["the deployment finished"]
    );
    assert_eq!(
        search(&server, &bob, room, "from:me deploy").await,
        ["deploy again tomorrow"]
    );
    assert!(
        search(&server, &alice, room, "deploy from:nobody")
            .await
            .is_empty()
    );

    server
        .post(
            "chat.starMessage",
            json!({"messageId": starred}),
            Some(&alice),
        )
        .await
        .ok();
    assert_eq!(
        search(&server, &alice, room, "has:star").await,
        ["deploy again tomorrow"]
    );
    assert!(
        search(&server, &bob, room, "has:star").await.is_empty(),
        "stars are per user"
    );

    let today = chrono::Utc::now().date_naive();
    let tomorrow = (today + chrono::Duration::days(1))
        .format("%d-%m-%Y")
        .to_string();
    let yesterday = (today - chrono::Duration::days(1))
        .format("%d-%m-%Y")
        .to_string();
    assert_eq!(
        search(&server, &alice, room, &format!("deploy before:{tomorrow}"))
            .await
            .len(),
        2
    );
    assert!(
        search(&server, &alice, room, &format!("deploy before:{yesterday}"))
            .await
            .is_empty()
    );
    assert_eq!(
        search(&server, &alice, room, &format!("deploy after:{yesterday}"))
            .await
            .len(),
        2
    );

    // Punctuation and FTS syntax in user input are plain text, never an error.
    let reply = server
        .get(
            "chat.search",
            &[("roomId", room), ("searchText", "\"unbalanced OR (")],
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["messages"], Value::Array(vec![]));
    server.stop().await;
}

#[tokio::test]
async fn search_needs_access_and_parameters() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let group = server
        .post("groups.create", json!({"name": "secret"}), Some(&alice))
        .await;
    let group_id = group.ok()["group"]["_id"].as_str().expect("id").to_owned();
    post(&server, &alice, &group_id, "hidden words").await;
    let refused = server
        .get(
            "chat.search",
            &[("roomId", &group_id), ("searchText", "hidden")],
            Some(&bob),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body, json!({"success": false}));
    server
        .get("chat.search", &[("searchText", "x")], Some(&alice))
        .await
        .refused(
            400,
            "The required \"roomId\" query param is missing. [error-roomId-param-not-provided]",
        );
    server
        .get("chat.search", &[("roomId", "GENERAL")], Some(&alice))
        .await
        .refused(400, "The required \"searchText\" query param is missing. [error-searchText-param-not-provided]");
    server.stop().await;
}

#[tokio::test]
async fn newest_first_paged_by_offset_and_count() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let room = "GENERAL";
    // The fifth says the word most often: order is by time, not by how well a message matches.
    for text in [
        "alpha one",
        "alpha two",
        "alpha three",
        "alpha four",
        "alpha alpha alpha",
    ] {
        post(&server, &alice, room, text).await;
    }
    assert_eq!(
        search(&server, &alice, room, "alpha").await,
        [
            "alpha alpha alpha",
            "alpha four",
            "alpha three",
            "alpha two",
            "alpha one"
        ]
    );
    let page = |offset: &'static str, count: &'static str, text: &'static str| {
        let (server, alice) = (&server, &alice);
        async move {
            let reply = server
                .get(
                    "chat.search",
                    &[
                        ("roomId", room),
                        ("searchText", text),
                        ("offset", offset),
                        ("count", count),
                    ],
                    Some(alice),
                )
                .await;
            reply.ok()["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .map(|m| m["msg"].as_str().expect("msg").to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page("1", "2", "alpha").await, ["alpha four", "alpha three"]);
    assert_eq!(page("4", "2", "alpha").await, ["alpha one"]);
    assert_eq!(
        page("0", "2", "alpha order:asc").await,
        ["alpha one", "alpha two"]
    );
    server.stop().await;
}
