//! Video conferences end to end with the built-in Jitsi provider: `video-conference.start`,
//! `.join`, `.cancel`, `.info`, `.list`, `.capabilities`, `.providers`, the status
//! transitions (calling, started, ended, declined), Jitsi links signed with HS256 tokens and
//! upstream's refusals.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Auth, TestServer, create_room};
use serde_json::{Value, json};

async fn set_setting(server: &TestServer, admin: &Auth, id: &str, value: Value) {
    server
        .post(
            &format!("settings/{id}"),
            json!({"value": value}),
            Some(admin),
        )
        .await
        .ok();
}

async fn enable_jitsi(server: &TestServer, admin: &Auth) {
    set_setting(server, admin, "Jitsi_Enabled", json!(true)).await;
    set_setting(server, admin, "Jitsi_Domain", json!("meet.example.org")).await;
    set_setting(server, admin, "Jitsi_URL_Room_Prefix", json!("Pre")).await;
    set_setting(server, admin, "Jitsi_URL_Room_Suffix", json!("Suf")).await;
}

async fn info(server: &TestServer, auth: &Auth, call_id: &str) -> Value {
    server
        .get("video-conference.info", &[("callId", call_id)], Some(auth))
        .await
        .ok()
        .clone()
}

#[tokio::test]
async fn without_a_provider_calls_cannot_start() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    // Comet's own provider is on out of the box (see calls.rs); without it and Jitsi there
    // is none.
    set_setting(&server, &admin, "Comet_Calls_Enabled", json!(false)).await;
    let ann = server.new_user("vc-ann").await;
    let rid = create_room(&server, &ann, "channels", "vc-none", &[]).await;
    server
        .get("video-conference.capabilities", &[], Some(&ann))
        .await
        .refused(400, "no-active-video-conf-provider");
    let providers = server
        .get("video-conference.providers", &[], Some(&ann))
        .await;
    assert_eq!(providers.ok()["data"], json!([]));
    server
        .post("video-conference.start", json!({"roomId": rid}), Some(&ann))
        .await
        .refused(400, "no-videoconf-provider-app");
    server
        .get("video-conference.providers", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");

    enable_jitsi(&server, &admin).await;
    let providers = server
        .get("video-conference.providers", &[], Some(&ann))
        .await;
    assert_eq!(
        providers.ok()["data"],
        json!([{"key": "jitsi", "label": "Jitsi"}])
    );
    let capabilities = server
        .get("video-conference.capabilities", &[], Some(&ann))
        .await;
    assert_eq!(capabilities.ok()["providerName"], json!("jitsi"));
    assert_eq!(capabilities.ok()["capabilities"]["mic"], json!(true));
    assert_eq!(capabilities.ok()["capabilities"]["cam"], json!(true));
    assert_eq!(capabilities.ok()["capabilities"]["title"], json!(true));
    // Calls in channels can be turned off.
    set_setting(&server, &admin, "VideoConf_Enable_Channels", json!(false)).await;
    server
        .post("video-conference.start", json!({"roomId": rid}), Some(&ann))
        .await
        .refused(400, "error-videoconf-disabled");
    server.stop().await;
}

#[tokio::test]
async fn a_room_call_is_started_joined_listed_and_ended() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    enable_jitsi(&server, &admin).await;
    let ann = server.new_user("vc-host").await;
    let ben = server.new_user("vc-guest").await;
    let eve = server.new_user("vc-outsider").await;
    let rid = create_room(&server, &ann, "groups", "vc-team", &["vc-guest"]).await;

    let started = server
        .post(
            "video-conference.start",
            json!({"roomId": rid, "title": "Stand-up"}),
            Some(&ann),
        )
        .await;
    let data = started.ok()["data"].clone();
    assert_eq!(data["type"], json!("videoconference"));
    assert_eq!(data["rid"], json!(rid));
    assert_eq!(data["providerName"], json!("jitsi"));
    let call_id = data["callId"].as_str().expect("callId").to_owned();

    let call = info(&server, &ben, &call_id).await;
    assert_eq!(call["_id"], json!(call_id));
    assert_eq!(call["status"], json!(0));
    assert_eq!(call["type"], json!("videoconference"));
    assert_eq!(call["title"], json!("Stand-up"));
    assert_eq!(call["createdBy"]["username"], json!("vc-host"));
    assert_eq!(call["users"], json!([]));

    // Someone outside the private room learns nothing of the call.
    server
        .get("video-conference.info", &[("callId", &call_id)], Some(&eve))
        .await
        .refused(400, "invalid-params");
    server
        .post(
            "video-conference.join",
            json!({"callId": call_id, "state": {"mic": true, "cam": true}}),
            Some(&eve),
        )
        .await
        .refused(400, "invalid-params");
    server
        .post("video-conference.start", json!({"roomId": rid}), Some(&eve))
        .await
        .refused(400, "invalid-params");
    server
        .get("video-conference.list", &[("roomId", &rid)], Some(&eve))
        .await
        .refused(400, "invalid-params");
    server
        .post(
            "video-conference.cancel",
            json!({"callId": call_id}),
            Some(&eve),
        )
        .await
        .refused(400, "invalid-params");
    server
        .get(
            "video-conference.info",
            &[("callId", "missing")],
            Some(&ann),
        )
        .await
        .refused(400, "invalid-params");

    let joined = server
        .post(
            "video-conference.join",
            json!({"callId": call_id, "state": {"mic": true, "cam": false}}),
            Some(&ben),
        )
        .await;
    assert_eq!(joined.ok()["providerName"], json!("jitsi"));
    assert_eq!(
        joined.ok()["url"],
        json!(format!(
            "https://meet.example.org/Pre{call_id}Suf\
             #config.startWithAudioMuted=false&config.startWithVideoMuted=true"
        ))
    );
    let call = info(&server, &ann, &call_id).await;
    assert_eq!(call["status"], json!(1));
    let users = call["users"].as_array().expect("users");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["username"], json!("vc-guest"));
    // Joining again records nobody twice.
    server
        .post(
            "video-conference.join",
            json!({"callId": call_id}),
            Some(&ben),
        )
        .await
        .ok();
    assert_eq!(
        info(&server, &ann, &call_id).await["users"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // A second call, then the list: newest first, with the total.
    let second = server
        .post("video-conference.start", json!({"roomId": rid}), Some(&ben))
        .await;
    let second_id = second.ok()["data"]["callId"]
        .as_str()
        .expect("callId")
        .to_owned();
    let list = server
        .get(
            "video-conference.list",
            &[("roomId", &rid), ("count", "1")],
            Some(&ann),
        )
        .await;
    assert_eq!(list.ok()["total"], json!(2));
    assert_eq!(list.ok()["count"], json!(1));
    assert_eq!(list.ok()["data"][0]["_id"], json!(second_id));

    server
        .post(
            "video-conference.cancel",
            json!({"callId": call_id}),
            Some(&ann),
        )
        .await
        .ok();
    let call = info(&server, &ann, &call_id).await;
    assert_eq!(call["status"], json!(3));
    assert_eq!(call["endedBy"]["username"], json!("vc-host"));
    assert!(call["endedAt"].is_string(), "{call}");
    // An ended call cannot be joined.
    server
        .post(
            "video-conference.join",
            json!({"callId": call_id}),
            Some(&ben),
        )
        .await
        .refused(400, "call-ended");
    server.stop().await;
}

#[tokio::test]
async fn a_direct_call_rings_the_other_member_and_is_declined_when_cancelled_unanswered() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    enable_jitsi(&server, &admin).await;
    let ann = server.new_user("vc-dm-a").await;
    let ben = server.new_user("vc-dm-b").await;
    let dm = server
        .post("im.create", json!({"username": "vc-dm-b"}), Some(&ann))
        .await;
    let rid = dm.ok()["room"]["_id"].as_str().expect("rid").to_owned();
    let started = server
        .post("video-conference.start", json!({"roomId": rid}), Some(&ann))
        .await;
    let data = started.ok()["data"].clone();
    assert_eq!(data["type"], json!("direct"));
    assert_eq!(data["calleeId"], json!(ben.user_id));
    let call_id = data["callId"].as_str().expect("callId").to_owned();
    let call = info(&server, &ben, &call_id).await;
    assert_eq!(call["ringing"], json!(true));
    assert_eq!(call["status"], json!(0));
    server
        .post(
            "video-conference.cancel",
            json!({"callId": call_id}),
            Some(&ann),
        )
        .await
        .ok();
    let call = info(&server, &ben, &call_id).await;
    assert_eq!(call["status"], json!(4));
    assert_eq!(call["ringing"], json!(false));
    server.stop().await;
}

#[tokio::test]
async fn a_jitsi_link_carries_a_signed_room_scoped_token() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    enable_jitsi(&server, &admin).await;
    set_setting(&server, &admin, "Jitsi_Enabled_TokenAuth", json!(true)).await;
    set_setting(&server, &admin, "Jitsi_Application_ID", json!("comet-app")).await;
    set_setting(
        &server,
        &admin,
        "Jitsi_Application_Secret",
        json!("jitsi-secret"),
    )
    .await;
    let ann = server.new_user("vc-jwt").await;
    let rid = create_room(&server, &ann, "channels", "vc-jwt-room", &[]).await;
    let started = server
        .post("video-conference.start", json!({"roomId": rid}), Some(&ann))
        .await;
    let call_id = started.ok()["data"]["callId"]
        .as_str()
        .expect("callId")
        .to_owned();
    let joined = server
        .post(
            "video-conference.join",
            json!({"callId": call_id, "state": {"mic": false, "cam": true}}),
            Some(&ann),
        )
        .await;
    let url = joined.ok()["url"].as_str().expect("url").to_owned();
    let prefix = format!("https://meet.example.org/Pre{call_id}Suf?jwt=");
    assert!(url.starts_with(&prefix), "{url}");
    let (token, fragment) = url[prefix.len()..].split_once('#').expect("fragment");
    assert_eq!(
        fragment,
        "config.startWithAudioMuted=true&config.startWithVideoMuted=false"
    );
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
    };
    assert_eq!(decode(parts[0]), json!({"alg": "HS256", "typ": "JWT"}));
    let claims = decode(parts[1]);
    assert_eq!(claims["aud"], json!("comet-app"));
    assert_eq!(claims["iss"], json!("comet-app"));
    assert_eq!(claims["sub"], json!("meet.example.org"));
    assert_eq!(claims["room"], json!(format!("Pre{call_id}Suf")));
    assert_eq!(claims["context"]["user"]["id"], json!(ann.user_id));
    assert_eq!(claims["context"]["user"]["name"], json!("User vc-jwt"));
    let now = chrono::Utc::now().timestamp();
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(exp > now && exp <= now + 3600 + 5, "exp {exp}, now {now}");
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("signature");
    assert_eq!(signature.len(), 32);
    server.stop().await;
}
