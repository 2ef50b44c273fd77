//! The markup tree (`md`) every written message carries, as upstream's message parser builds it:
//! in REST and DDP message documents, recomputed on edits, from the censored text when the
//! bad-words filter is on, absent from system messages, shaped by the parser settings, and
//! left out entirely under `DISABLE_MESSAGE_PARSER`.

use crate::common;

use common::ddp::Ddp;
use common::{Auth, TestServer, id_of, say};
use serde_json::{Value, json};

fn plain(text: &str) -> Value {
    json!({"type": "PLAIN_TEXT", "value": text})
}

async fn set(server: &TestServer, admin: &Auth, id: &str, value: Value) {
    server
        .post(
            &format!("settings/{id}"),
            json!({"value": value}),
            Some(admin),
        )
        .await
        .ok();
}

async fn stored(server: &TestServer, auth: &Auth, id: &str) -> Value {
    server
        .get("chat.getMessage", &[("msgId", id)], Some(auth))
        .await
        .ok()["message"]
        .clone()
}

/// A server whose link previews stay off, so that no test reaches out to the sites it names.
async fn start() -> TestServer {
    TestServer::start_with(|c| {
        c.setting_overrides
            .push(("API_Embed".to_owned(), "false".to_owned()));
    })
    .await
}

#[tokio::test]
async fn messages_carry_their_markup_tree_over_rest_and_ddp() {
    let server = start().await;
    let ana = server.new_user("ana").await;
    server.new_user("bea").await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("ana").await;
    ddp.sub("stream-room-messages", "GENERAL").await;

    let text = "**bold** hi @bea, see https://rocket.chat";
    let expected = json!([{"type": "PARAGRAPH", "value": [
        {"type": "BOLD", "value": [plain("bold")]},
        plain(" hi "),
        {"type": "MENTION_USER", "value": plain("bea")},
        plain(", see "),
        {"type": "LINK", "value": {
            "src": plain("https://rocket.chat"),
            "label": [plain("https://rocket.chat")],
        }},
    ]}]);
    let posted = say(&server, &ana, "GENERAL", text).await;
    assert_eq!(posted["md"], expected, "{posted}");
    let id = id_of(&posted);
    assert_eq!(stored(&server, &ana, &id).await["md"], expected);
    let frame = ddp
        .until(|m| m["msg"] == "changed" && m["fields"]["args"][0]["_id"] == json!(id))
        .await;
    assert_eq!(frame["fields"]["args"][0]["md"], expected);

    // The DDP method answers with the tree too, and history lists carry it.
    let sent = ddp
        .call(
            "sendMessage",
            json!([{"_id": "markupOverDdp0001", "rid": "GENERAL", "msg": "# Title\n> quoted _x_"}]),
        )
        .await;
    let tree = json!([
        {"type": "HEADING", "level": 1, "value": [plain("Title")]},
        {"type": "LINE_BREAK"},
        {"type": "QUOTE", "value": [{"type": "PARAGRAPH", "value": [
            plain("quoted "),
            {"type": "ITALIC", "value": [plain("x")]},
        ]}]},
    ]);
    assert_eq!(sent["result"]["md"], tree, "{sent}");
    let history = server
        .get(
            "channels.history",
            &[("roomId", "GENERAL"), ("count", "5")],
            Some(&ana),
        )
        .await;
    let listed = history.ok()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["_id"] == json!("markupOverDdp0001"))
        .cloned()
        .expect("the DDP message in history");
    assert_eq!(listed["md"], tree);

    // A big emoji message, and code, as their own blocks.
    let emoji = say(&server, &ana, "GENERAL", ":tada: 👍").await;
    assert_eq!(
        emoji["md"],
        json!([{"type": "BIG_EMOJI", "value": [
            {"type": "EMOJI", "value": plain("tada"), "shortCode": "tada"},
            {"type": "EMOJI", "unicode": "👍"},
        ]}])
    );
    let code = say(&server, &ana, "GENERAL", "```rust\nlet x = 1;\n```").await;
    assert_eq!(
        code["md"],
        json!([{"type": "CODE", "language": "rust", "value": [
            {"type": "CODE_LINE", "value": plain("let x = 1;")},
        ]}])
    );
    server.stop().await;
}

#[tokio::test]
async fn edits_recompute_the_tree_and_system_messages_have_none() {
    let server = start().await;
    let admin = server.admin().await;
    let ana = server.new_user("ana").await;
    let posted = say(&server, &ana, "GENERAL", "plain words").await;
    let id = id_of(&posted);
    let edited = server
        .post(
            "chat.update",
            json!({"roomId": "GENERAL", "msgId": id, "text": "now ~~struck~~"}),
            Some(&ana),
        )
        .await;
    let tree = json!([{"type": "PARAGRAPH", "value": [
        plain("now "),
        {"type": "STRIKE", "value": [plain("struck")]},
    ]}]);
    assert_eq!(edited.ok()["message"]["md"], tree);
    assert_eq!(stored(&server, &ana, &id).await["md"], tree);

    // A topic change is announced by a system message, which upstream saves without a tree.
    let created = server
        .post(
            "channels.create",
            json!({"name": "markup-topic"}),
            Some(&admin),
        )
        .await;
    let rid = created.ok()["channel"]["_id"]
        .as_str()
        .expect("room id")
        .to_owned();
    server
        .post(
            "channels.setTopic",
            json!({"roomId": rid, "topic": "**not parsed**"}),
            Some(&admin),
        )
        .await
        .ok();
    let history = server
        .get("channels.history", &[("roomId", &rid)], Some(&admin))
        .await;
    let messages = history.ok()["messages"]
        .as_array()
        .expect("messages")
        .clone();
    let notice = messages
        .iter()
        .find(|m| m["t"] == json!("room_changed_topic"))
        .expect("the topic notice");
    assert!(notice.get("md").is_none(), "{notice}");

    // A deleted message's placeholder loses its tree with its text.
    set(&server, &admin, "Message_ShowDeletedStatus", json!(true)).await;
    server
        .post(
            "chat.delete",
            json!({"roomId": "GENERAL", "msgId": id}),
            Some(&ana),
        )
        .await
        .ok();
    let placeholder = stored(&server, &ana, &id).await;
    assert_eq!(placeholder["t"], json!("rm"), "{placeholder}");
    assert!(placeholder.get("md").is_none(), "{placeholder}");
    server.stop().await;
}

#[tokio::test]
async fn the_tree_is_built_from_the_censored_text() {
    let server = start().await;
    let admin = server.admin().await;
    let ana = server.new_user("ana").await;
    set(
        &server,
        &admin,
        "Message_BadWordsFilterList",
        json!("badword"),
    )
    .await;
    set(&server, &admin, "Message_AllowBadWordsFilter", json!(true)).await;
    let posted = say(&server, &ana, "GENERAL", "a badword here").await;
    assert_eq!(posted["msg"], json!("a ******* here"));
    assert_eq!(
        posted["md"][0]["value"][0]["value"],
        json!("a ******* here")
    );
    let id = id_of(&posted);
    assert_eq!(
        stored(&server, &ana, &id).await["md"][0]["value"][0]["value"],
        json!("a ******* here")
    );
    let edited = server
        .post(
            "chat.update",
            json!({"roomId": "GENERAL", "msgId": id, "text": "still badword"}),
            Some(&ana),
        )
        .await;
    assert_eq!(
        edited.ok()["message"]["md"],
        json!([{"type": "PARAGRAPH", "value": [plain("still *******")]}])
    );
    server.stop().await;
}

#[tokio::test]
async fn parser_settings_shape_the_tree() {
    let server = start().await;
    let admin = server.admin().await;
    let ana = server.new_user("ana").await;
    // Upstream's defaults: colors and `\[...\]` KaTeX on, `$$...$$` off, emoticons always.
    let katex = say(&server, &ana, "GENERAL", "\\[x^2\\]").await;
    assert_eq!(katex["md"], json!([{"type": "KATEX", "value": "x^2"}]));
    let color = say(&server, &ana, "GENERAL", "color:#ff0000").await;
    assert_eq!(
        color["md"][0]["value"][0],
        json!({"type": "COLOR", "value": {"r": 255, "g": 0, "b": 0, "a": 255}})
    );
    let smile = say(&server, &ana, "GENERAL", "ok :)").await;
    assert_eq!(
        smile["md"][0]["value"][1],
        json!({"type": "EMOJI", "value": plain(":)"), "shortCode": "slight_smile"})
    );
    let intranet = say(&server, &ana, "GENERAL", "wiki.corp").await;
    assert_eq!(intranet["md"][0]["value"][0], plain("wiki.corp"));

    set(&server, &admin, "Katex_Enabled", json!(false)).await;
    set(&server, &admin, "HexColorPreview_Enabled", json!(false)).await;
    set(
        &server,
        &admin,
        "Message_CustomDomain_AutoLink",
        json!("corp, lan"),
    )
    .await;
    let katex = say(&server, &ana, "GENERAL", "\\[x^2\\]").await;
    assert_eq!(katex["md"][0]["type"], json!("PARAGRAPH"), "{katex}");
    let color = say(&server, &ana, "GENERAL", "color:#ff0000").await;
    assert_eq!(color["md"][0]["value"][0], plain("color:#ff0000"));
    let intranet = say(&server, &ana, "GENERAL", "wiki.corp").await;
    assert_eq!(
        intranet["md"][0]["value"][0],
        json!({"type": "LINK", "value": {"src": plain("//wiki.corp"), "label": [plain("wiki.corp")]}})
    );
    server.stop().await;
}

#[tokio::test]
async fn disable_message_parser_leaves_messages_without_a_tree() {
    let server = TestServer::start_with(|c| {
        c.disable_message_parser = true;
        c.setting_overrides
            .push(("API_Embed".to_owned(), "false".to_owned()));
    })
    .await;
    let ana = server.new_user("ana").await;
    let posted = say(&server, &ana, "GENERAL", "**bold**").await;
    assert!(posted.get("md").is_none(), "{posted}");
    assert!(
        stored(&server, &ana, &id_of(&posted))
            .await
            .get("md")
            .is_none()
    );
    server.stop().await;
}
