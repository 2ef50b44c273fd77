//! Comet's own call provider (`comet`) end to end: provider selection, joining (presence, the
//! mesh limit of six), `video-conference.iceServers` with coturn REST-API credentials,
//! `video-conference.leave` and the call ending on the last leave, and WebRTC signalling over
//! `stream-notify-user` `<uid>/webrtc`, relayed only between people present in the call.

use crate::common;

use crate::video_conference::info;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::ddp::Ddp;
use common::{Auth, TestServer, create_room};
use serde_json::{Value, json};

async fn start(server: &TestServer, auth: &Auth, rid: &str) -> String {
    let started = server
        .post("video-conference.start", json!({"roomId": rid}), Some(auth))
        .await;
    assert_eq!(started.ok()["data"]["providerName"], json!("comet"));
    started.ok()["data"]["callId"]
        .as_str()
        .expect("callId")
        .to_owned()
}

async fn join(server: &TestServer, auth: &Auth, call_id: &str) -> Value {
    server
        .post(
            "video-conference.join",
            json!({"callId": call_id, "state": {"mic": true, "cam": true}}),
            Some(auth),
        )
        .await
        .ok()
        .clone()
}

async fn leave(server: &TestServer, auth: &Auth, call_id: &str) {
    server
        .post(
            "video-conference.leave",
            json!({"callId": call_id}),
            Some(auth),
        )
        .await
        .ok();
}

async fn public_setting(server: &TestServer, id: &str) -> Option<Value> {
    let reply = server.get("settings.public", &[("_id", id)], None).await;
    reply.ok()["settings"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["_id"] == json!(id)))
        .map(|s| s["value"].clone())
}

#[tokio::test]
async fn comet_is_the_provider_unless_jitsi_is_enabled_or_chosen() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let ann = server.new_user("cc-ann").await;

    let providers = server
        .get("video-conference.providers", &[], Some(&ann))
        .await;
    assert_eq!(
        providers.ok()["data"],
        json!([{"key": "comet", "label": "Comet"}])
    );
    let capabilities = server
        .get("video-conference.capabilities", &[], Some(&ann))
        .await;
    assert_eq!(capabilities.ok()["providerName"], json!("comet"));
    assert_eq!(
        capabilities.ok()["capabilities"],
        json!({"mic": true, "cam": true, "title": true})
    );
    assert_eq!(
        public_setting(&server, "Comet_Calls_Enabled").await,
        Some(json!(true))
    );

    // Jitsi, once enabled, wins while nothing is chosen; choosing `comet` brings Comet back.
    server
        .set_setting(&admin, "Jitsi_Enabled", json!(true))
        .await;
    let providers = server
        .get("video-conference.providers", &[], Some(&ann))
        .await;
    assert_eq!(
        providers.ok()["data"],
        json!([{"key": "jitsi", "label": "Jitsi"}, {"key": "comet", "label": "Comet"}])
    );
    let capabilities = server
        .get("video-conference.capabilities", &[], Some(&ann))
        .await;
    assert_eq!(capabilities.ok()["providerName"], json!("jitsi"));
    server
        .set_setting(&admin, "VideoConf_Default_Provider", json!("comet"))
        .await;
    let capabilities = server
        .get("video-conference.capabilities", &[], Some(&ann))
        .await;
    assert_eq!(capabilities.ok()["providerName"], json!("comet"));
    let rid = create_room(&server, &ann, "channels", "cc-choice", &[]).await;
    let call_id = start(&server, &ann, &rid).await;
    let joined = join(&server, &ann, &call_id).await;
    assert_eq!(joined["providerName"], json!("comet"));

    // Comet's provider chosen but turned off: no provider.
    server
        .set_setting(&admin, "Comet_Calls_Enabled", json!(false))
        .await;
    server
        .get("video-conference.capabilities", &[], Some(&ann))
        .await
        .refused(400, "no-active-video-conf-provider");
    let providers = server
        .get("video-conference.providers", &[], Some(&ann))
        .await;
    assert_eq!(
        providers.ok()["data"],
        json!([{"key": "jitsi", "label": "Jitsi"}])
    );
    server.stop().await;
}

#[tokio::test]
async fn joining_marks_people_present_and_a_seventh_is_refused() {
    let server = TestServer::start().await;
    let names = [
        "cc-p1", "cc-p2", "cc-p3", "cc-p4", "cc-p5", "cc-p6", "cc-p7",
    ];
    let mut people = Vec::new();
    for name in names {
        people.push(server.new_user(name).await);
    }
    let rid = create_room(&server, &people[0], "groups", "cc-mesh", &names[1..]).await;
    let call_id = start(&server, &people[0], &rid).await;
    let call = info(&server, &people[0], &call_id).await;
    assert_eq!(call["providerName"], json!("comet"));
    // A room call is `started` at once (upstream); nobody is in it yet.
    assert_eq!(call["status"], json!(1));
    assert_eq!(call["present"], json!([]));

    let site = public_setting(&server, "Site_Url")
        .await
        .and_then(|v| v.as_str().map(str::to_owned))
        .expect("Site_Url");
    let joined = join(&server, &people[0], &call_id).await;
    assert_eq!(
        joined["url"],
        json!(format!("{}/call/{call_id}", site.trim_end_matches('/')))
    );
    assert_eq!(joined["providerName"], json!("comet"));
    let call = info(&server, &people[1], &call_id).await;
    assert_eq!(call["status"], json!(1));
    assert_eq!(call["present"], json!([people[0].user_id]));
    assert_eq!(call["users"][0]["username"], json!("cc-p1"));
    // Joining again (a second tab) changes nothing.
    join(&server, &people[0], &call_id).await;
    assert_eq!(
        info(&server, &people[0], &call_id).await["present"],
        json!([people[0].user_id])
    );

    for person in &people[1..6] {
        join(&server, person, &call_id).await;
    }
    let present: Vec<Value> = people[..6].iter().map(|p| json!(p.user_id)).collect();
    assert_eq!(
        info(&server, &people[0], &call_id).await["present"],
        json!(present)
    );
    server
        .post(
            "video-conference.join",
            json!({"callId": call_id}),
            Some(&people[6]),
        )
        .await
        .refused(400, "error-call-full");
    assert_eq!(
        info(&server, &people[0], &call_id).await["present"],
        json!(present)
    );
    // Once someone leaves, there is room again.
    leave(&server, &people[2], &call_id).await;
    join(&server, &people[6], &call_id).await;
    let call = info(&server, &people[0], &call_id).await;
    assert_eq!(call["present"].as_array().map(Vec::len), Some(6));
    assert_eq!(call["present"][5], json!(people[6].user_id));
    server.stop().await;
}

fn verify_turn_credential(secret: &str, username: &str, credential: &str) -> bool {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    let Ok(tag) = STANDARD.decode(credential) else {
        return false;
    };
    ring::hmac::verify(&key, username.as_bytes(), &tag).is_ok()
}

#[tokio::test]
async fn ice_servers_give_present_people_coturn_credentials() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let ann = server.new_user("cc-ice-ann").await;
    let ben = server.new_user("cc-ice-ben").await;
    let eve = server.new_user("cc-ice-eve").await;
    let rid = create_room(&server, &ann, "groups", "cc-ice", &["cc-ice-ben"]).await;
    server.set_setting(&admin,
        "Comet_Calls_ICE_Servers",
        json!(
            "stun:stun.example.org:3478, turn:turn.example.org:3478?transport=udp\nturns:turn.example.org:5349"
        ),
    )
    .await;
    server
        .set_setting(&admin, "Comet_Calls_TURN_Secret", json!("north-wind"))
        .await;
    server
        .set_setting(&admin, "Comet_Calls_TURN_Credential_TTL", json!(600))
        .await;
    // Neither the secret nor the servers are public settings.
    assert_eq!(
        public_setting(&server, "Comet_Calls_TURN_Secret").await,
        None
    );
    assert_eq!(
        public_setting(&server, "Comet_Calls_ICE_Servers").await,
        None
    );

    let call_id = start(&server, &ann, &rid).await;
    // Before joining, nobody gets credentials.
    server
        .get(
            "video-conference.iceServers",
            &[("callId", &call_id)],
            Some(&ann),
        )
        .await
        .refused(403, "error-not-allowed");
    join(&server, &ann, &call_id).await;
    let before = chrono::Utc::now().timestamp();
    let reply = server
        .get(
            "video-conference.iceServers",
            &[("callId", &call_id)],
            Some(&ann),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["ttl"], json!(600));
    let servers = body["iceServers"].as_array().expect("iceServers");
    assert_eq!(servers.len(), 2, "{body}");
    assert_eq!(servers[0], json!({"urls": ["stun:stun.example.org:3478"]}));
    assert_eq!(
        servers[1]["urls"],
        json!([
            "turn:turn.example.org:3478?transport=udp",
            "turns:turn.example.org:5349"
        ])
    );
    let username = servers[1]["username"].as_str().expect("username");
    let credential = servers[1]["credential"].as_str().expect("credential");
    let (expiry, user_id) = username.split_once(':').expect("<expiry>:<userId>");
    assert_eq!(user_id, ann.user_id);
    let expiry: i64 = expiry.parse().expect("a Unix time");
    let after = chrono::Utc::now().timestamp();
    assert!(
        (before + 600..=after + 600).contains(&expiry),
        "{expiry} not now + 600"
    );
    assert!(verify_turn_credential("north-wind", username, credential));
    assert!(!verify_turn_credential("other", username, credential));
    assert!(!body.to_string().contains("north-wind"));

    // A member who has not joined, and someone outside the room, get nothing.
    server
        .get(
            "video-conference.iceServers",
            &[("callId", &call_id)],
            Some(&ben),
        )
        .await
        .refused(403, "error-not-allowed");
    server
        .get(
            "video-conference.iceServers",
            &[("callId", &call_id)],
            Some(&eve),
        )
        .await
        .refused(400, "invalid-params");
    server
        .get(
            "video-conference.iceServers",
            &[("callId", "no-such-call")],
            Some(&ann),
        )
        .await
        .refused(400, "invalid-params");

    // Without a secret TURN would refuse every allocation: only STUN is handed out.
    server
        .set_setting(&admin, "Comet_Calls_TURN_Secret", json!(""))
        .await;
    let reply = server
        .get(
            "video-conference.iceServers",
            &[("callId", &call_id)],
            Some(&ann),
        )
        .await;
    assert_eq!(
        reply.ok()["iceServers"],
        json!([{"urls": ["stun:stun.example.org:3478"]}])
    );

    // Once the call has ended, no more credentials.
    leave(&server, &ann, &call_id).await;
    server
        .get(
            "video-conference.iceServers",
            &[("callId", &call_id)],
            Some(&ann),
        )
        .await
        .refused(403, "error-not-allowed");
    server.stop().await;
}

#[tokio::test]
async fn the_last_one_leaving_ends_the_call() {
    let server = TestServer::start().await;
    let ann = server.new_user("cc-end-ann").await;
    let ben = server.new_user("cc-end-ben").await;
    let eve = server.new_user("cc-end-eve").await;
    let rid = create_room(&server, &ann, "groups", "cc-end", &["cc-end-ben"]).await;
    let call_id = start(&server, &ann, &rid).await;

    // Leaving a call one is not in changes nothing (nobody has joined: it goes on).
    leave(&server, &ben, &call_id).await;
    assert_eq!(info(&server, &ann, &call_id).await["status"], json!(1));
    server
        .post(
            "video-conference.leave",
            json!({"callId": call_id}),
            Some(&eve),
        )
        .await
        .refused(400, "invalid-params");
    let missing = server
        .post("video-conference.leave", json!({}), Some(&ann))
        .await;
    assert_eq!(missing.status, 400, "{}", missing.body);

    join(&server, &ann, &call_id).await;
    join(&server, &ben, &call_id).await;
    // The room hears of every leave (`<rid>/videoconf` with the call's id).
    let mut room_ws = Ddp::connect(&server).await;
    room_ws.login("cc-end-ben").await;
    let event = format!("{rid}/videoconf");
    let ready = room_ws.sub("stream-notify-room", &event).await;
    assert_eq!(ready["msg"], json!("ready"), "{ready}");
    let is_videoconf = |m: &Value| {
        m["msg"] == "changed"
            && m["collection"] == "stream-notify-room"
            && m["fields"]["eventName"] == json!(event)
    };
    leave(&server, &ben, &call_id).await;
    let told = room_ws.until(is_videoconf).await;
    assert_eq!(told["fields"]["args"], json!([call_id]));
    let call = info(&server, &ann, &call_id).await;
    assert_eq!(call["status"], json!(1));
    assert_eq!(call["present"], json!([ann.user_id]));
    assert!(call.get("endedAt").is_none());
    // Leaving twice is harmless.
    leave(&server, &ben, &call_id).await;
    assert_eq!(info(&server, &ann, &call_id).await["status"], json!(1));

    leave(&server, &ann, &call_id).await;
    let told = room_ws.until(is_videoconf).await;
    assert_eq!(told["fields"]["args"], json!([call_id]));
    let call = info(&server, &ben, &call_id).await;
    assert_eq!(call["status"], json!(3));
    assert_eq!(call["present"], json!([]));
    assert!(call["endedAt"].is_string(), "{call}");
    assert_eq!(call["endedBy"]["_id"], json!(ann.user_id));
    assert_eq!(call["endedBy"]["username"], json!("cc-end-ann"));
    // Joining an ended call answers upstream's bare failure.
    let late = server
        .post(
            "video-conference.join",
            json!({"callId": call_id}),
            Some(&ben),
        )
        .await;
    assert_eq!(late.status, 400, "{}", late.body);
    assert_eq!(late.body["success"], json!(false));
    assert_eq!(info(&server, &ann, &call_id).await["present"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn leave_is_only_for_comet_calls() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server
        .set_setting(&admin, "Jitsi_Enabled", json!(true))
        .await;
    let ann = server.new_user("cc-jitsi-ann").await;
    let rid = create_room(&server, &ann, "channels", "cc-jitsi", &[]).await;
    let started = server
        .post("video-conference.start", json!({"roomId": rid}), Some(&ann))
        .await;
    let call_id = started.ok()["data"]["callId"]
        .as_str()
        .expect("callId")
        .to_owned();
    server
        .post(
            "video-conference.leave",
            json!({"callId": call_id}),
            Some(&ann),
        )
        .await
        .refused(400, "invalid-params");
    let call = info(&server, &ann, &call_id).await;
    assert!(call.get("present").is_none(), "{call}");
    server.stop().await;
}

async fn logged_in(server: &TestServer, username: &str, user_id: &str) -> Ddp {
    let mut ddp = Ddp::connect(server).await;
    ddp.login(username).await;
    let ready = ddp
        .sub("stream-notify-user", &format!("{user_id}/webrtc"))
        .await;
    assert_eq!(ready["msg"], json!("ready"), "{ready}");
    ddp
}

async fn signal(ddp: &mut Ddp, target: &str, message: Value) -> Value {
    ddp.call(
        "stream-notify-user",
        json!([format!("{target}/webrtc"), message]),
    )
    .await
}

fn refused(reply: &Value) {
    assert_eq!(
        reply["error"]["error"],
        json!("error-not-allowed"),
        "{reply}"
    );
    assert!(reply.get("result").is_none(), "{reply}");
}

/// The next `<uid>/webrtc` message the session receives.
async fn next_signal(ddp: &mut Ddp, user_id: &str) -> Value {
    let name = format!("{user_id}/webrtc");
    let frame = ddp
        .until(|m| {
            m["msg"] == "changed"
                && m["collection"] == "stream-notify-user"
                && m["fields"]["eventName"] == json!(name)
        })
        .await;
    frame["fields"]["args"][0].clone()
}

#[tokio::test]
async fn signalling_is_relayed_only_between_people_in_the_call() {
    let server = TestServer::start().await;
    let ann = server.new_user("cc-sig-ann").await;
    let ben = server.new_user("cc-sig-ben").await;
    let cat = server.new_user("cc-sig-cat").await;
    let eve = server.new_user("cc-sig-eve").await;
    let rid = create_room(
        &server,
        &ann,
        "groups",
        "cc-sig",
        &["cc-sig-ben", "cc-sig-cat"],
    )
    .await;
    let call_id = start(&server, &ann, &rid).await;
    join(&server, &ann, &call_id).await;
    join(&server, &ben, &call_id).await;

    let mut ann_ws = logged_in(&server, "cc-sig-ann", &ann.user_id).await;
    let mut ben_ws = logged_in(&server, "cc-sig-ben", &ben.user_id).await;
    let mut cat_ws = logged_in(&server, "cc-sig-cat", &cat.user_id).await;
    let mut eve_ws = Ddp::connect(&server).await;
    eve_ws.login("cc-sig-eve").await;
    // Nobody listens to someone else's signalling.
    let nosub = eve_ws
        .sub("stream-notify-user", &format!("{}/webrtc", ben.user_id))
        .await;
    assert_eq!(nosub["msg"], json!("nosub"), "{nosub}");

    let offer = |sdp: &str| json!({"callId": call_id, "type": "offer", "sdp": sdp});
    // Refused, and nothing delivered: an outsider; a member not in the call; a target not in
    // the call; a forged sender; an unknown type; oneself; an oversized payload; an unknown
    // call.
    refused(&signal(&mut eve_ws, &ben.user_id, offer("from-eve")).await);
    refused(&signal(&mut cat_ws, &ben.user_id, offer("from-cat")).await);
    refused(&signal(&mut ann_ws, &cat.user_id, offer("to-cat")).await);
    refused(
        &signal(
            &mut ann_ws,
            &ben.user_id,
            json!({"callId": call_id, "type": "offer", "sdp": "forged", "from": eve.user_id}),
        )
        .await,
    );
    refused(
        &signal(
            &mut ann_ws,
            &ben.user_id,
            json!({"callId": call_id, "type": "hangup"}),
        )
        .await,
    );
    refused(&signal(&mut ann_ws, &ann.user_id, offer("to-self")).await);
    let oversized = "a".repeat(64 * 1024 + 1);
    refused(&signal(&mut ann_ws, &ben.user_id, offer(&oversized)).await);
    refused(
        &signal(
            &mut ann_ws,
            &ben.user_id,
            json!({"callId": "no-such-call", "type": "offer", "sdp": "x"}),
        )
        .await,
    );
    refused(
        &ann_ws
            .call(
                "stream-notify-user",
                json!([format!("{}/notification", ben.user_id), {}]),
            )
            .await,
    );

    // Between the two people in the call: delivered, with the sender set by the server. The
    // first message each receives is the allowed one, so none of the refused ones arrived.
    let reply = signal(&mut ann_ws, &ben.user_id, offer("v=0 offer")).await;
    assert!(reply.get("error").is_none(), "{reply}");
    let got = next_signal(&mut ben_ws, &ben.user_id).await;
    assert_eq!(
        got,
        json!({"callId": call_id, "from": ann.user_id, "type": "offer", "sdp": "v=0 offer"})
    );
    let candidate = json!({"candidate": "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0});
    let reply = signal(
        &mut ben_ws,
        &ann.user_id,
        json!({"callId": call_id, "type": "candidate", "candidate": candidate, "from": ben.user_id, "extra": "dropped"}),
    )
    .await;
    assert!(reply.get("error").is_none(), "{reply}");
    let got = next_signal(&mut ann_ws, &ann.user_id).await;
    assert_eq!(
        got,
        json!({"callId": call_id, "from": ben.user_id, "type": "candidate", "candidate": candidate})
    );

    // Cat joins: now cat may be reached, and the first thing cat receives is this offer.
    join(&server, &cat, &call_id).await;
    let reply = signal(&mut ann_ws, &cat.user_id, offer("to-cat-now")).await;
    assert!(reply.get("error").is_none(), "{reply}");
    let got = next_signal(&mut cat_ws, &cat.user_id).await;
    assert_eq!(got["sdp"], json!("to-cat-now"));
    assert_eq!(got["from"], json!(ann.user_id));

    // Once ben has left, nobody may signal ben and ben may signal nobody.
    leave(&server, &ben, &call_id).await;
    refused(&signal(&mut ann_ws, &ben.user_id, offer("after-leave")).await);
    refused(
        &signal(
            &mut ben_ws,
            &ann.user_id,
            json!({"callId": call_id, "type": "bye"}),
        )
        .await,
    );
    let reply = signal(
        &mut cat_ws,
        &ann.user_id,
        json!({"callId": call_id, "type": "bye"}),
    )
    .await;
    assert!(reply.get("error").is_none(), "{reply}");
    let got = next_signal(&mut ann_ws, &ann.user_id).await;
    assert_eq!(
        got,
        json!({"callId": call_id, "from": cat.user_id, "type": "bye"})
    );
    server.stop().await;
}

/// Whether `program` runs here (coturn's tools are only on machines that installed it).
fn available(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// One TURN allocation (and a little relayed traffic) with `turnutils_uclient`, bounded by
/// `timeout`: whether coturn accepted the credentials.
async fn turn_allocates(port: &str, username: &str, credential: &str) -> bool {
    let args: Vec<String> = [
        "20",
        "turnutils_uclient",
        "-y",
        "-n",
        "1",
        "-m",
        "1",
        "-l",
        "100",
        "-u",
        username,
        "-w",
        credential,
        "-p",
        port,
        "127.0.0.1",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("turnutils_uclient runs")
            .success()
    })
    .await
    .expect("the client's task")
}

#[tokio::test]
async fn a_real_coturn_accepts_the_credentials_comet_hands_out() {
    if !available("turnserver") || !available("turnutils_uclient") {
        // CI installs coturn (scripts/test runs scripts/coturn.sh): there this must not skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "coturn is not installed: run scripts/test, or scripts/coturn.sh"
        );
        eprintln!("skipped: coturn is not installed (scripts/coturn.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/coturn-start.sh");
    let started = std::process::Command::new("timeout")
        .args(["60", "bash", script, "loopback-secret"])
        .arg(dir.path())
        .output()
        .expect("coturn-start.sh runs");
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let port = String::from_utf8_lossy(&started.stdout).trim().to_owned();
    let pid = std::fs::read_to_string(dir.path().join("turnserver.pid"))
        .expect("pid file")
        .trim()
        .to_owned();

    let server = TestServer::start().await;
    let admin = server.admin().await;
    let ann = server.new_user("cc-turn-ann").await;
    let rid = create_room(&server, &ann, "channels", "cc-turn", &[]).await;
    server
        .set_setting(
            &admin,
            "Comet_Calls_ICE_Servers",
            json!(format!("turn:127.0.0.1:{port}?transport=udp")),
        )
        .await;
    server
        .set_setting(&admin, "Comet_Calls_TURN_Secret", json!("loopback-secret"))
        .await;
    let call_id = start(&server, &ann, &rid).await;
    join(&server, &ann, &call_id).await;
    let reply = server
        .get(
            "video-conference.iceServers",
            &[("callId", &call_id)],
            Some(&ann),
        )
        .await;
    let turn = reply.ok()["iceServers"][0].clone();
    let username = turn["username"].as_str().expect("username").to_owned();
    let credential = turn["credential"].as_str().expect("credential").to_owned();

    let accepted = turn_allocates(&port, &username, &credential).await;
    // A credential for another user, or one past its expiry, is refused by coturn itself.
    let (_, other_user) = username.split_once(':').expect("<expiry>:<userId>");
    let forged = turn_allocates(&port, &format!("9999999999:{other_user}x"), &credential).await;
    let expired_name = format!("{}:{}", chrono::Utc::now().timestamp() - 10, ann.user_id);
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        b"loopback-secret",
    );
    let expired_credential =
        STANDARD.encode(ring::hmac::sign(&key, expired_name.as_bytes()).as_ref());
    let expired = turn_allocates(&port, &expired_name, &expired_credential).await;
    let _ = std::process::Command::new("kill").arg(&pid).status();
    assert!(accepted, "coturn refused Comet's credentials");
    assert!(
        !forged,
        "coturn accepted a username the secret did not sign"
    );
    assert!(!expired, "coturn accepted an expired username");
    server.stop().await;
}

/// `video-conference.info` until `done` holds of the call (polling; the sweeper runs every
/// couple of seconds), at most 20 s.
async fn info_until(
    server: &TestServer,
    auth: &Auth,
    call_id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let call = info(server, auth, call_id).await;
        if done(&call) {
            return call;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the call did not change in time: {call}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn people_whose_connection_ends_are_taken_out_of_the_call() {
    let server = TestServer::start().await;
    let ann = server.new_user("cc-gone-ann").await;
    let ben = server.new_user("cc-gone-ben").await;
    let cat = server.new_user("cc-gone-cat").await;
    let rid = create_room(
        &server,
        &ann,
        "channels",
        "cc-gone",
        &["cc-gone-ben", "cc-gone-cat"],
    )
    .await;
    let call_id = start(&server, &ann, &rid).await;
    let ann_ws = logged_in(&server, "cc-gone-ann", &ann.user_id).await;
    let ben_ws = logged_in(&server, "cc-gone-ben", &ben.user_id).await;
    join(&server, &ann, &call_id).await;
    join(&server, &ben, &call_id).await;
    // Cat joins over REST only, never connected: nothing ends for her, she stays.
    join(&server, &cat, &call_id).await;

    // Ann's browser goes away without saying `leave`.
    let mut socket = ann_ws.socket;
    socket.close(None).await.expect("close the WebSocket");
    drop(socket);
    let call = info_until(&server, &ben, &call_id, |call| {
        call["present"]
            .as_array()
            .is_some_and(|p| !p.contains(&json!(ann.user_id)))
    })
    .await;
    assert_eq!(call["present"], json!([ben.user_id, cat.user_id]));
    assert_eq!(call["status"], json!(1));
    // Her place is free again: she joins from a new connection and is back.
    let ann_again = logged_in(&server, "cc-gone-ann", &ann.user_id).await;
    join(&server, &ann, &call_id).await;
    let call = info(&server, &ben, &call_id).await;
    assert_eq!(
        call["present"],
        json!([ben.user_id, cat.user_id, ann.user_id])
    );

    // Everyone who was connected goes; Cat leaves last, and the call ends.
    for ddp in [ann_again, ben_ws] {
        let mut socket = ddp.socket;
        socket.close(None).await.expect("close the WebSocket");
    }
    info_until(&server, &cat, &call_id, |call| {
        call["present"] == json!([cat.user_id])
    })
    .await;
    leave(&server, &cat, &call_id).await;
    let call = info(&server, &cat, &call_id).await;
    assert_eq!(call["status"], json!(3));
    server.stop().await;
}
