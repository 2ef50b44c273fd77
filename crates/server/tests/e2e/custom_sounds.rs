//! Custom sounds end to end: DDP `insertOrUpdateSound`, `uploadCustomSound`,
//! `deleteCustomSound` and `listCustomSounds` with upstream's refusals, REST
//! `custom-sounds.list`/`getOne`, the `/custom-sounds/` file route, and
//! `updateCustomSound`/`deleteCustomSound` on `stream-notify-all`.

use crate::common;

use common::TestServer;
use common::ddp::Ddp;
use serde_json::{Value, json};

/// A few bytes that start as an MP3 does (an ID3 tag), as a binary string.
fn mp3_binary_string() -> String {
    let bytes: Vec<u8> = b"ID3\x03\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00".to_vec();
    bytes.into_iter().map(char::from).collect()
}

#[tokio::test]
async fn sounds_are_managed_and_served_as_upstream() {
    let server = TestServer::start().await;
    let user = server.new_user("sounduser").await;
    let mut admin_ddp = Ddp::connect(&server).await;
    admin_ddp.login_with("admin", common::ADMIN_PASS).await;
    let mut listener = Ddp::connect(&server).await;
    listener.sub("stream-notify-all", "updateCustomSound").await;
    listener.sub("stream-notify-all", "deleteCustomSound").await;

    let created = admin_ddp
        .call(
            "insertOrUpdateSound",
            json!([{"name": "ding", "extension": "mp3", "newFile": true}]),
        )
        .await;
    let id = created["result"].as_str().expect("an id").to_owned();
    let again = admin_ddp
        .call(
            "insertOrUpdateSound",
            json!([{"name": "ding", "extension": "mp3"}]),
        )
        .await;
    assert_eq!(
        again["error"]["error"],
        json!("Custom_Sound_Error_Name_Already_In_Use"),
        "{again}"
    );
    let bad = admin_ddp
        .call(
            "insertOrUpdateSound",
            json!([{"name": "a b", "extension": "mp3"}]),
        )
        .await;
    assert_eq!(bad["error"]["reason"], json!("a b is not a valid name"));
    let empty = admin_ddp
        .call(
            "insertOrUpdateSound",
            json!([{"name": ":", "extension": "mp3"}]),
        )
        .await;
    assert_eq!(
        empty["error"]["error"],
        json!("error-the-field-is-required")
    );

    let wav = admin_ddp
        .call(
            "uploadCustomSound",
            json!(["RIFF\u{0}\u{0}\u{0}\u{0}WAVE", "audio/wav", {"_id": id, "extension": "mp3"}]),
        )
        .await;
    assert_eq!(wav["error"]["error"], json!("invalid-file-type"), "{wav}");
    let uploaded = admin_ddp
        .call("uploadCustomSound", json!([mp3_binary_string(), "audio/mpeg", {"_id": id, "name": "ding", "extension": "mp3"}]))
        .await;
    assert!(uploaded.get("error").is_none(), "{uploaded}");
    let changed = listener
        .until(|m| m["msg"] == "changed" && m["fields"]["eventName"] == "updateCustomSound")
        .await;
    assert_eq!(changed["collection"], json!("stream-notify-all"));
    assert_eq!(
        changed["fields"]["args"][0]["soundData"]["_id"],
        json!(id),
        "{changed}"
    );

    let mut user_ddp = Ddp::connect(&server).await;
    user_ddp.login("sounduser").await;
    let refused = user_ddp
        .call(
            "insertOrUpdateSound",
            json!([{"name": "mine", "extension": "mp3"}]),
        )
        .await;
    assert_eq!(refused["error"]["error"], json!("not_authorized"));
    let listed = user_ddp.call("listCustomSounds", json!([])).await;
    assert_eq!(listed["result"][0]["name"], json!("ding"), "{listed}");

    let list = server
        .get("custom-sounds.list", &[("name", "DIN")], Some(&user))
        .await;
    let list = list.ok();
    assert_eq!(
        (list["total"].clone(), list["count"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(list["sounds"][0]["extension"], json!("mp3"));
    let one = server
        .get("custom-sounds.getOne", &[("_id", &id)], Some(&user))
        .await;
    assert_eq!(one.ok()["name"], json!("ding"));
    let missing = server
        .get("custom-sounds.getOne", &[("_id", "nope")], Some(&user))
        .await;
    missing.refused(404, "Custom Sound not found.");

    let url = |path: &str| format!("{}{path}", server.base);
    let file = server
        .http
        .get(url(&format!("/custom-sounds/{id}.mp3")))
        .send()
        .await
        .expect("file");
    assert_eq!(file.status().as_u16(), 200);
    assert_eq!(file.headers()["content-type"], "audio/mpeg");
    assert_eq!(file.headers()["content-disposition"], "inline");
    let body: Vec<u8> = file.bytes().await.expect("bytes").to_vec();
    assert!(body.starts_with(b"ID3"));
    let other = server
        .http
        .get(url(&format!("/custom-sounds/{id}.ogg")))
        .send()
        .await
        .expect("other");
    assert_eq!(other.status().as_u16(), 404);
    let root = server
        .http
        .get(url("/custom-sounds/"))
        .send()
        .await
        .expect("root");
    assert_eq!(root.status().as_u16(), 403);

    // Renaming tells clients; deleting removes the file.
    let renamed = admin_ddp
        .call(
            "insertOrUpdateSound",
            json!([{"_id": id, "name": "dong", "extension": "mp3", "previousName": "ding"}]),
        )
        .await;
    assert_eq!(renamed["result"], json!(id));
    let changed = listener
        .until(|m| m["msg"] == "changed" && m["fields"]["eventName"] == "updateCustomSound")
        .await;
    assert_eq!(
        changed["fields"]["args"][0]["soundData"]["name"],
        json!("dong")
    );
    let nope = admin_ddp.call("deleteCustomSound", json!(["nope"])).await;
    assert_eq!(
        nope["error"]["error"],
        json!("Custom_Sound_Error_Invalid_Sound")
    );
    let deleted = admin_ddp.call("deleteCustomSound", json!([id])).await;
    assert_eq!(deleted["result"], json!(true), "{deleted}");
    let gone = listener
        .until(|m| m["msg"] == "changed" && m["fields"]["eventName"] == "deleteCustomSound")
        .await;
    assert_eq!(gone["fields"]["args"][0]["soundData"]["_id"], json!(id));
    let file = server
        .http
        .get(url(&format!("/custom-sounds/{id}.mp3")))
        .send()
        .await
        .expect("file");
    assert_eq!(file.status().as_u16(), 404);
    let left: Value = server
        .get("custom-sounds.list", &[], Some(&user))
        .await
        .ok()
        .clone();
    assert_eq!(left["total"], json!(0));
    server.stop().await;
}
