//! Video conferences end to end, replaying upstream's `tests/end-to-end/api/videoConference`
//! and `apps/videoConference` with the built-in Jitsi provider: `video-conference.start`,
//! `.join`, `.cancel`, `.info`, `.list`, `.capabilities`, `.providers`, the status
//! transitions (started, calling, declined when cancelled or unanswered), the `videoconf`
//! message, the room's `<rid>/videoconf` event, ringing over `<uid>/video-conference` (server
//! events and the `stream-notify-user` writes upstream's `validateAction` allows), rate limits,
//! Jitsi links signed with HS256 tokens and upstream's refusals.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::ddp::Ddp;
use common::{Auth, TestServer, create_room};
use serde_json::{Value, json};
use std::time::Duration;

async fn enable_jitsi(server: &TestServer, admin: &Auth) {
    server
        .set_setting(admin, "Jitsi_Enabled", json!(true))
        .await;
    server
        .set_setting(admin, "Jitsi_Domain", json!("meet.example.org"))
        .await;
    server
        .set_setting(admin, "Jitsi_URL_Room_Prefix", json!("Pre"))
        .await;
    server
        .set_setting(admin, "Jitsi_URL_Room_Suffix", json!("Suf"))
        .await;
}

pub(crate) async fn info(server: &TestServer, auth: &Auth, call_id: &str) -> Value {
    server
        .get("video-conference.info", &[("callId", call_id)], Some(auth))
        .await
        .ok()
        .clone()
}

async fn start(server: &TestServer, auth: &Auth, body: Value) -> Value {
    server
        .post("video-conference.start", body, Some(auth))
        .await
        .ok()["data"]
        .clone()
}

fn id_of(data: &Value) -> String {
    data["callId"].as_str().expect("callId").to_owned()
}

async fn dm(server: &TestServer, auth: &Auth, username: &str) -> String {
    server
        .post("im.create", json!({"username": username}), Some(auth))
        .await
        .ok()["room"]["_id"]
        .as_str()
        .expect("rid")
        .to_owned()
}

async fn message(server: &TestServer, auth: &Auth, id: &str) -> Value {
    server
        .get("chat.getMessage", &[("msgId", id)], Some(auth))
        .await
        .ok()["message"]
        .clone()
}

/// The `changed` frame of `event_name` on `stream`.
fn changed_on(stream: &'static str, event_name: String) -> impl Fn(&Value) -> bool {
    move |m: &Value| {
        m["msg"] == "changed"
            && m["collection"] == stream
            && m["fields"]["eventName"] == json!(event_name)
    }
}

/// A call event (`{action, params}`) for `uid`.
fn call_event(uid: &str, action: &'static str) -> impl Fn(&Value) -> bool {
    let name = format!("{uid}/video-conference");
    move |m: &Value| {
        m["msg"] == "changed"
            && m["collection"] == "stream-notify-user"
            && m["fields"]["eventName"] == json!(name)
            && m["fields"]["args"][0]["action"] == action
    }
}

/// Whether a frame matching `want` arrives within a short while (for what must not arrive).
async fn arrives(ddp: &mut Ddp, want: impl Fn(&Value) -> bool) -> bool {
    tokio::time::timeout(Duration::from_millis(800), ddp.until(want))
        .await
        .is_ok()
}

async fn listener(server: &TestServer, username: &str, subs: &[(&str, String)]) -> Ddp {
    let mut ddp = Ddp::connect(server).await;
    ddp.login(username).await;
    for (stream, event) in subs {
        let ready = ddp.sub(stream, event).await;
        assert_eq!(ready["msg"], "ready", "{stream} {event}: {ready}");
    }
    ddp
}

#[tokio::test]
async fn providers_and_capabilities_follow_the_settings() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    // Comet's own provider is on out of the box (see calls.rs); without it and Jitsi there
    // is none.
    server
        .set_setting(&admin, "Comet_Calls_Enabled", json!(false))
        .await;
    let ann = server.new_user("vc-ann").await;
    let rid = create_room(&server, &ann, "channels", "vc-none", &[]).await;
    // [With No App]: nothing to call with.
    server
        .get("video-conference.capabilities", &[], Some(&ann))
        .await
        .refused(400, "no-videoconf-provider-app");
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
    assert_eq!(
        capabilities.ok()["capabilities"],
        json!({"mic": true, "cam": true, "title": true})
    );

    // A default provider that does not exist: none is active.
    server
        .set_setting(&admin, "VideoConf_Default_Provider", json!("invalid"))
        .await;
    server
        .get("video-conference.capabilities", &[], Some(&ann))
        .await
        .refused(400, "no-active-video-conf-provider");
    server
        .post("video-conference.start", json!({"roomId": rid}), Some(&ann))
        .await
        .refused(400, "no-active-video-conf-provider");
    // Jitsi without a domain lacks its configuration.
    server
        .set_setting(&admin, "VideoConf_Default_Provider", json!("jitsi"))
        .await;
    server.set_setting(&admin, "Jitsi_Domain", json!("")).await;
    server
        .get("video-conference.capabilities", &[], Some(&ann))
        .await
        .refused(400, "video-conf-provider-not-configured");
    server
        .post("video-conference.start", json!({"roomId": rid}), Some(&ann))
        .await
        .refused(400, "video-conf-provider-not-configured");
    server
        .set_setting(&admin, "Jitsi_Domain", json!("meet.example.org"))
        .await;

    // Calls in channels can be turned off (Comet refuses on the server too).
    server
        .set_setting(&admin, "VideoConf_Enable_Channels", json!(false))
        .await;
    server
        .post("video-conference.start", json!({"roomId": rid}), Some(&ann))
        .await
        .refused(400, "error-videoconf-disabled");
    server.stop().await;
}

#[tokio::test]
async fn requests_are_validated_as_upstreams_schemas() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    enable_jitsi(&server, &admin).await;
    let ann = server.new_user("vc-val").await;
    let rid = create_room(&server, &ann, "channels", "vc-val-room", &[]).await;
    let missing = server
        .post("video-conference.start", json!({}), Some(&ann))
        .await;
    missing.refused(400, "must have required property 'roomId' [invalid-params]");
    assert_eq!(missing.body["errorType"], json!("invalid-params"));
    server
        .post(
            "video-conference.start",
            json!({"roomId": rid, "other": 1}),
            Some(&ann),
        )
        .await
        .refused(400, "must NOT have additional properties [invalid-params]");
    server
        .post(
            "video-conference.start",
            json!({"roomId": rid, "allowRinging": "loud"}),
            Some(&ann),
        )
        .await
        .refused(400, "must be boolean [invalid-params]");
    server
        .post(
            "video-conference.join",
            json!({"callId": "x", "state": {"mic": true, "speaker": true}}),
            Some(&ann),
        )
        .await
        .refused(400, "must NOT have additional properties [invalid-params]");
    server
        .post("video-conference.cancel", json!({}), Some(&ann))
        .await
        .refused(400, "must have required property 'callId' [invalid-params]");
    server
        .get("video-conference.info", &[], Some(&ann))
        .await
        .refused(400, "must have required property 'callId' [invalid-params]");
    server
        .get("video-conference.list", &[], Some(&ann))
        .await
        .refused(400, "must have required property 'roomId' [invalid-params]");
    // A room that does not exist, and a call that does not.
    server
        .post(
            "video-conference.start",
            json!({"roomId": "no-such-room"}),
            Some(&ann),
        )
        .await
        .refused(400, "invalid-params");
    for (path, body) in [
        ("video-conference.join", json!({"callId": "no-such-call"})),
        ("video-conference.cancel", json!({"callId": "no-such-call"})),
    ] {
        server
            .post(path, body, Some(&ann))
            .await
            .refused(400, "invalid-params");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_room_call_starts_posts_its_message_and_lists_its_members() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    enable_jitsi(&server, &admin).await;
    let ann = server.new_user("vc-host").await;
    let ben = server.new_user("vc-guest").await;
    let eve = server.new_user("vc-outsider").await;
    let rid = create_room(&server, &ann, "groups", "vc-team", &["vc-guest"]).await;

    let data = start(&server, &ann, json!({"roomId": rid})).await;
    assert_eq!(data["type"], json!("videoconference"));
    assert_eq!(data["rid"], json!(rid));
    assert_eq!(data["providerName"], json!("jitsi"));
    assert!(data.get("calleeId").is_none(), "{data}");
    let call_id = id_of(&data);

    // Upstream's info: started at once, titled after the room, nobody joined yet.
    let call = info(&server, &ben, &call_id).await;
    assert_eq!(call["_id"], json!(call_id));
    assert_eq!(call["providerName"], json!("jitsi"));
    assert!(call.get("providerData").is_none(), "{call}");
    assert_eq!(call["type"], json!("videoconference"));
    assert_eq!(call["rid"], json!(rid));
    assert_eq!(call["users"], json!([]));
    assert_eq!(call["status"], json!(1));
    assert_eq!(call["title"], json!("vc-team"));
    assert_eq!(call["ringing"], json!(false));
    assert_eq!(call["anonymousUsers"], json!(0));
    assert_eq!(
        call["url"],
        json!(format!("https://meet.example.org/Pre{call_id}Suf"))
    );
    assert_eq!(call["createdBy"]["_id"], json!(ann.user_id));
    assert_eq!(call["createdBy"]["username"], json!("vc-host"));
    assert!(call["createdAt"].is_string() && call["_updatedAt"].is_string());
    assert!(call.get("discussionRid").is_none() && call.get("endedAt").is_none());
    assert_eq!(
        call["capabilities"],
        json!({"mic": true, "cam": true, "title": true})
    );
    let started = call["messages"]["started"]
        .as_str()
        .expect("messages.started")
        .to_owned();

    // The call's message: upstream's `videoconf` with the `video_conf` block, by the caller.
    let posted = message(&server, &ben, &started).await;
    assert_eq!(posted["t"], json!("videoconf"));
    assert_eq!(posted["msg"], json!(""));
    assert_eq!(posted["groupable"], json!(false));
    assert_eq!(posted["u"]["_id"], json!(ann.user_id));
    assert_eq!(
        posted["blocks"],
        json!([{"type": "video_conf", "blockId": call_id, "callId": call_id, "appId": "videoconf-core"}])
    );

    // With a title.
    let titled = start(&server, &ann, json!({"roomId": rid, "title": "Stand-up"})).await;
    assert_eq!(
        info(&server, &ann, &id_of(&titled)).await["title"],
        json!("Stand-up")
    );

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

    // Joining: the link with the member's choices, and the member among the users.
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
    assert_eq!(users[0]["_id"], json!(ben.user_id));
    assert_eq!(users[0]["username"], json!("vc-guest"));
    assert!(users[0]["ts"].is_string(), "{call}");
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

    // The list: newest first, `count` the page's size, with the total.
    let list = server
        .get("video-conference.list", &[("roomId", &rid)], Some(&ann))
        .await;
    assert_eq!(list.ok()["total"], json!(2));
    assert_eq!(list.ok()["count"], json!(2));
    assert_eq!(list.ok()["offset"], json!(0));
    assert_eq!(list.ok()["data"][0]["_id"], json!(id_of(&titled)));
    assert_eq!(list.ok()["data"][1]["_id"], json!(call_id));
    let page = server
        .get(
            "video-conference.list",
            &[("roomId", &rid), ("count", "1"), ("offset", "1")],
            Some(&ann),
        )
        .await;
    assert_eq!(page.ok()["count"], json!(1));
    assert_eq!(page.ok()["offset"], json!(1));
    assert_eq!(page.ok()["data"][0]["_id"], json!(call_id));

    // Only ringing direct calls can be cancelled.
    server
        .post(
            "video-conference.cancel",
            json!({"callId": call_id}),
            Some(&ann),
        )
        .await
        .refused(400, "invalid-call");
    server.stop().await;
}

#[tokio::test]
async fn starting_a_call_needs_call_management_and_a_room_the_caller_may_post_in() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    enable_jitsi(&server, &admin).await;
    let ann = server.new_user("vc-perm").await;
    let ben = server.new_user("vc-perm-b").await;
    let rid = create_room(&server, &ann, "channels", "vc-perm-room", &["vc-perm-b"]).await;
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "call-management", "roles": ["admin", "owner", "moderator"]}]}),
            Some(&admin),
        )
        .await
        .ok();
    // The room's owner holds it there; a plain member does not.
    start(&server, &ann, json!({"roomId": rid})).await;
    server
        .post("video-conference.start", json!({"roomId": rid}), Some(&ben))
        .await
        .refused(403, "unauthorized");
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "call-management", "roles": ["admin", "owner", "moderator", "user"]}]}),
            Some(&admin),
        )
        .await
        .ok();
    // A read-only room: upstream's canSendMessage refusal.
    server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "readOnly": true}),
            Some(&ann),
        )
        .await
        .ok();
    server
        .post("video-conference.start", json!({"roomId": rid}), Some(&ben))
        .await
        .refused(400, "You can't send messages because the room is readonly.");
    server.stop().await;
}

#[tokio::test]
async fn a_direct_call_rings_is_answered_and_told_to_both_sides() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    enable_jitsi(&server, &admin).await;
    let ann = server.new_user("vc-dm-a").await;
    let ben = server.new_user("vc-dm-b").await;
    let eve = server.new_user("vc-dm-eve").await;
    let rid = dm(&server, &ann, "vc-dm-b").await;

    // Without ringing a DM call is a conference like any other.
    let plain = start(&server, &ann, json!({"roomId": rid})).await;
    assert_eq!(plain["type"], json!("videoconference"));
    assert_eq!(
        info(&server, &ben, &id_of(&plain)).await["status"],
        json!(1)
    );

    let mut bens = listener(
        &server,
        "vc-dm-b",
        &[
            (
                "stream-notify-user",
                format!("{}/video-conference", ben.user_id),
            ),
            ("stream-notify-room", format!("{rid}/videoconf")),
            ("stream-room-messages", rid.clone()),
        ],
    )
    .await;
    let mut anns = listener(
        &server,
        "vc-dm-a",
        &[(
            "stream-notify-user",
            format!("{}/video-conference", ann.user_id),
        )],
    )
    .await;

    let data = start(&server, &ann, json!({"roomId": rid, "allowRinging": true})).await;
    assert_eq!(data["type"], json!("direct"));
    assert_eq!(data["calleeId"], json!(ben.user_id));
    assert!(data.get("rid").is_none(), "{data}");
    let call_id = id_of(&data);
    let call = info(&server, &ben, &call_id).await;
    assert_eq!(call["status"], json!(0));
    assert_eq!(call["ringing"], json!(true));
    assert!(call.get("title").is_none() && call.get("anonymousUsers").is_none());
    // Upstream posts the call's message in the DM at once.
    let started = call["messages"]["started"]
        .as_str()
        .expect("started")
        .to_owned();
    let posted = bens
        .until(changed_on("stream-room-messages", rid.clone()))
        .await;
    assert_eq!(posted["fields"]["args"][0]["_id"], json!(started));
    assert_eq!(posted["fields"]["args"][0]["t"], json!("videoconf"));

    // The caller rings the callee through the stream; the server checks the call.
    let params = json!({"uid": ann.user_id, "rid": rid, "callId": call_id});
    let mut anns_calls = Ddp::connect(&server).await;
    anns_calls.login("vc-dm-a").await;
    let wrote = anns_calls
        .call(
            "stream-notify-user",
            json!([format!("{}/video-conference", ben.user_id), {"action": "call", "params": params}]),
        )
        .await;
    assert!(wrote.get("error").is_none(), "{wrote}");
    let ring = bens.until(call_event(&ben.user_id, "call")).await;
    assert_eq!(
        ring["fields"]["args"],
        json!([{"action": "call", "params": params}])
    );
    // The callee accepts; the caller hears it.
    let mut bens_calls = Ddp::connect(&server).await;
    bens_calls.login("vc-dm-b").await;
    let accepted = json!({"uid": ben.user_id, "rid": rid, "callId": call_id});
    let wrote = bens_calls
        .call(
            "stream-notify-user",
            json!([format!("{}/video-conference", ann.user_id), {"action": "accepted", "params": accepted}]),
        )
        .await;
    assert!(wrote.get("error").is_none(), "{wrote}");
    anns.until(call_event(&ann.user_id, "accepted")).await;

    // Refused writes deliver nothing: an outsider, an unknown call, a write to someone
    // outside the room, an unknown stream event.
    let mut eves = Ddp::connect(&server).await;
    eves.login("vc-dm-eve").await;
    let refused = eves
        .call(
            "stream-notify-user",
            json!([format!("{}/video-conference", ben.user_id), {"action": "call", "params": {"uid": eve.user_id, "rid": rid, "callId": call_id}}]),
        )
        .await;
    assert_eq!(
        refused["error"]["error"],
        json!("error-not-allowed"),
        "{refused}"
    );
    let refused = anns_calls
        .call(
            "stream-notify-user",
            json!([format!("{}/video-conference", ben.user_id), {"action": "call", "params": {"uid": ann.user_id, "rid": rid, "callId": "no-such-call"}}]),
        )
        .await;
    assert_eq!(
        refused["error"]["error"],
        json!("error-not-allowed"),
        "{refused}"
    );
    let refused = anns_calls
        .call(
            "stream-notify-user",
            json!([format!("{}/video-conference", eve.user_id), {"action": "call", "params": params}]),
        )
        .await;
    assert_eq!(
        refused["error"]["error"],
        json!("error-not-allowed"),
        "{refused}"
    );
    let refused = anns_calls
        .call(
            "stream-notify-user",
            json!([format!("{}/something-else", ben.user_id), {"action": "call", "params": params}]),
        )
        .await;
    assert_eq!(
        refused["error"]["error"],
        json!("error-not-allowed"),
        "{refused}"
    );
    assert!(!arrives(&mut bens, call_event(&ben.user_id, "call")).await);

    // Both join: the caller hears each join, the callee its own; the call is started and
    // stops ringing once the callee is in; the room hears of every change.
    server
        .post(
            "video-conference.join",
            json!({"callId": call_id}),
            Some(&ann),
        )
        .await
        .ok();
    let joined = anns.until(call_event(&ann.user_id, "join")).await;
    assert_eq!(
        joined["fields"]["args"][0]["params"]["uid"],
        json!(ann.user_id)
    );
    let changed = bens
        .until(changed_on("stream-notify-room", format!("{rid}/videoconf")))
        .await;
    assert_eq!(changed["fields"]["args"], json!([call_id]));
    let call = info(&server, &ben, &call_id).await;
    assert_eq!(call["status"], json!(1));
    assert_eq!(call["ringing"], json!(true));
    // The call's message is announced again as the call changes.
    let again = bens
        .until(changed_on("stream-room-messages", rid.clone()))
        .await;
    assert_eq!(again["fields"]["args"][0]["_id"], json!(started));

    server
        .post(
            "video-conference.join",
            json!({"callId": call_id}),
            Some(&ben),
        )
        .await
        .ok();
    let joined = bens.until(call_event(&ben.user_id, "join")).await;
    assert_eq!(
        joined["fields"]["args"][0]["params"]["uid"],
        json!(ben.user_id)
    );
    let joined = anns.until(call_event(&ann.user_id, "join")).await;
    assert_eq!(
        joined["fields"]["args"][0]["params"]["uid"],
        json!(ben.user_id)
    );
    let call = info(&server, &ann, &call_id).await;
    assert_eq!(call["ringing"], json!(false));
    assert_eq!(call["users"].as_array().map(Vec::len), Some(2));

    // An answered call can no longer be cancelled.
    server
        .post(
            "video-conference.cancel",
            json!({"callId": call_id}),
            Some(&ann),
        )
        .await
        .refused(400, "invalid-call-status");
    server.stop().await;
}

#[tokio::test]
async fn a_cancelled_direct_call_is_declined_and_no_longer_rings() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    enable_jitsi(&server, &admin).await;
    let ann = server.new_user("vc-cx-a").await;
    let ben = server.new_user("vc-cx-b").await;
    let rid = dm(&server, &ann, "vc-cx-b").await;
    let mut bens = listener(
        &server,
        "vc-cx-b",
        &[("stream-notify-room", format!("{rid}/videoconf"))],
    )
    .await;
    let data = start(&server, &ann, json!({"roomId": rid, "allowRinging": true})).await;
    let call_id = id_of(&data);
    server
        .post(
            "video-conference.cancel",
            json!({"callId": call_id}),
            Some(&ann),
        )
        .await
        .ok();
    let changed = bens
        .until(changed_on("stream-notify-room", format!("{rid}/videoconf")))
        .await;
    assert_eq!(changed["fields"]["args"], json!([call_id]));
    let call = info(&server, &ben, &call_id).await;
    assert_eq!(call["status"], json!(4));
    assert_eq!(call["ringing"], json!(false));
    assert_eq!(call["endedBy"]["_id"], json!(ann.user_id));
    assert!(call["endedBy"].get("ts").is_none(), "{call}");
    assert!(call["endedAt"].is_string(), "{call}");
    server
        .post(
            "video-conference.cancel",
            json!({"callId": call_id}),
            Some(&ann),
        )
        .await
        .refused(400, "invalid-call-status");
    // Joining a call that is over: upstream's bare failure.
    let late = server
        .post(
            "video-conference.join",
            json!({"callId": call_id}),
            Some(&ben),
        )
        .await;
    assert_eq!(late.status, 400, "{}", late.body);
    assert_eq!(late.body, json!({"success": false}));

    // Calling about a call that is over is refused, and the caller is told it ended;
    // `end` is always allowed.
    let mut anns = listener(
        &server,
        "vc-cx-a",
        &[(
            "stream-notify-user",
            format!("{}/video-conference", ann.user_id),
        )],
    )
    .await;
    let params = json!({"uid": ann.user_id, "rid": rid, "callId": call_id});
    let refused = anns
        .call(
            "stream-notify-user",
            json!([format!("{}/video-conference", ben.user_id), {"action": "call", "params": params}]),
        )
        .await;
    assert_eq!(
        refused["error"]["error"],
        json!("error-not-allowed"),
        "{refused}"
    );
    anns.until(call_event(&ann.user_id, "end")).await;
    let wrote = anns
        .call(
            "stream-notify-user",
            json!([format!("{}/video-conference", ben.user_id), {"action": "end", "params": params}]),
        )
        .await;
    assert!(wrote.get("error").is_none(), "{wrote}");
    server.stop().await;
}

#[tokio::test]
async fn an_unanswered_direct_call_is_cancelled_when_it_has_rung_long_enough() {
    let server = TestServer::start_with(|config| config.call_ring_seconds = 1).await;
    let admin = server.admin().await;
    enable_jitsi(&server, &admin).await;
    let ann = server.new_user("vc-ring-a").await;
    let ben = server.new_user("vc-ring-b").await;
    let rid = dm(&server, &ann, "vc-ring-b").await;
    let mut anns = listener(
        &server,
        "vc-ring-a",
        &[(
            "stream-notify-user",
            format!("{}/video-conference", ann.user_id),
        )],
    )
    .await;
    let mut bens = listener(
        &server,
        "vc-ring-b",
        &[
            (
                "stream-notify-user",
                format!("{}/video-conference", ben.user_id),
            ),
            ("stream-notify-room", format!("{rid}/videoconf")),
        ],
    )
    .await;
    let data = start(&server, &ann, json!({"roomId": rid, "allowRinging": true})).await;
    let call_id = id_of(&data);
    // Both sides are told it ended, then the room that it changed.
    let end = anns.until(call_event(&ann.user_id, "end")).await;
    assert_eq!(
        end["fields"]["args"][0]["params"],
        json!({"uid": ann.user_id, "rid": rid, "callId": call_id})
    );
    bens.until(call_event(&ben.user_id, "end")).await;
    bens.until(changed_on("stream-notify-room", format!("{rid}/videoconf")))
        .await;
    let call = info(&server, &ben, &call_id).await;
    assert_eq!(call["status"], json!(4), "{call}");
    assert_eq!(call["ringing"], json!(false));
    assert_eq!(call["endedBy"]["_id"], json!(ann.user_id));
    server.stop().await;
}

#[tokio::test]
async fn a_ringing_room_call_rings_the_other_members() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    enable_jitsi(&server, &admin).await;
    let ann = server.new_user("vc-grp-a").await;
    let ben = server.new_user("vc-grp-b").await;
    server.new_user("vc-grp-c").await;
    let rid = create_room(&server, &ann, "groups", "vc-grp", &["vc-grp-b", "vc-grp-c"]).await;
    let mut bens = listener(
        &server,
        "vc-grp-b",
        &[(
            "stream-notify-user",
            format!("{}/video-conference", ben.user_id),
        )],
    )
    .await;
    let mut anns = listener(
        &server,
        "vc-grp-a",
        &[(
            "stream-notify-user",
            format!("{}/video-conference", ann.user_id),
        )],
    )
    .await;
    let data = start(&server, &ann, json!({"roomId": rid, "allowRinging": true})).await;
    assert_eq!(data["type"], json!("videoconference"));
    let call_id = id_of(&data);
    let ring = bens.until(call_event(&ben.user_id, "ring")).await;
    assert_eq!(
        ring["fields"]["args"][0]["params"],
        json!({"uid": ann.user_id, "rid": rid, "callId": call_id})
    );
    assert_eq!(info(&server, &ann, &call_id).await["ringing"], json!(true));
    // The caller is not rung.
    assert!(!arrives(&mut anns, call_event(&ann.user_id, "ring")).await);

    // Without `videoconf-ring-users` nobody is rung.
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "videoconf-ring-users", "roles": ["admin"]}]}),
            Some(&admin),
        )
        .await
        .ok();
    let data = start(&server, &ann, json!({"roomId": rid, "allowRinging": true})).await;
    assert_eq!(
        info(&server, &ann, &id_of(&data)).await["ringing"],
        json!(false)
    );
    assert!(!arrives(&mut bens, call_event(&ben.user_id, "ring")).await);
    server.stop().await;
}

#[tokio::test]
async fn the_endpoints_have_upstreams_rate_limits() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    enable_jitsi(&server, &admin).await;
    let ann = server.new_user("vc-rate").await;
    server
        .set_setting(&admin, "API_Enable_Rate_Limiter", json!(true))
        .await;
    // providers: 3 a second.
    for _ in 0..3 {
        let reply = server
            .get("video-conference.providers", &[], Some(&ann))
            .await;
        reply.ok();
        assert_eq!(
            reply.headers["x-ratelimit-limit"].to_str().expect("header"),
            "3"
        );
    }
    let limited = server
        .get("video-conference.providers", &[], Some(&ann))
        .await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.body["success"], json!(false));
    // info: 15 every 3 seconds.
    let info = server
        .get("video-conference.info", &[("callId", "x")], Some(&ann))
        .await;
    assert_eq!(
        info.headers["x-ratelimit-limit"].to_str().expect("header"),
        "15"
    );
    // start: 3 a minute.
    let rid = create_room(&server, &ann, "channels", "vc-rate-room", &[]).await;
    for _ in 0..3 {
        start(&server, &ann, json!({"roomId": rid})).await;
    }
    let limited = server
        .post("video-conference.start", json!({"roomId": rid}), Some(&ann))
        .await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    server.stop().await;
}

#[tokio::test]
async fn a_jitsi_link_carries_a_signed_room_scoped_token() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    enable_jitsi(&server, &admin).await;
    server
        .set_setting(&admin, "Jitsi_Enabled_TokenAuth", json!(true))
        .await;
    server
        .set_setting(&admin, "Jitsi_Application_ID", json!("comet-app"))
        .await;
    server
        .set_setting(&admin, "Jitsi_Application_Secret", json!("jitsi-secret"))
        .await;
    let ann = server.new_user("vc-jwt").await;
    let rid = create_room(&server, &ann, "channels", "vc-jwt-room", &[]).await;
    let call_id = id_of(&start(&server, &ann, json!({"roomId": rid})).await);
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
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"jitsi-secret");
    ring::hmac::verify(
        &key,
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &signature,
    )
    .expect("signed with the application secret");
    server.stop().await;
}
