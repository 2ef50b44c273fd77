//! Automatic translation (upstream's `tests/end-to-end/api/autotranslate.ts`):
//! `autotranslate.getSupportedLanguages`, `.saveSettings`, `.translateMessage` and their DDP
//! methods, every refusal in upstream's order, `AutoTranslate_AutoEnableOnJoinRoom`; and, with
//! the built-in engine's real English↔Portuguese models (`COMET_TRANSLATION_MODELS`, from
//! `scripts/translation-models.sh`), messages arriving translated over DDP.

use crate::common;

use common::ddp::Ddp;
use common::{Auth, TestServer, create_room, id_of, say, subscription};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

async fn permission(server: &TestServer, admin: &Auth, roles: &[&str]) {
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "auto-translate", "roles": roles}]}),
            Some(admin),
        )
        .await
        .ok();
}

async fn save(server: &TestServer, auth: &Auth, body: Value) -> common::Reply {
    server
        .post("autotranslate.saveSettings", body, Some(auth))
        .await
}

/// The real models, or `None` (the test skips, except under CI).
fn models_dir() -> Option<PathBuf> {
    match std::env::var("COMET_TRANSLATION_MODELS") {
        Ok(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "COMET_TRANSLATION_MODELS is not set: export COMET_TRANSLATION_MODELS=$(scripts/translation-models.sh)"
            );
            eprintln!("skipped: COMET_TRANSLATION_MODELS is not set");
            None
        }
    }
}

#[tokio::test]
async fn every_endpoint_refuses_while_disabled() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = create_room(&server, &admin, "channels", "at-disabled", &[]).await;
    server
        .get(
            "autotranslate.getSupportedLanguages",
            &[("targetLanguage", "en")],
            Some(&admin),
        )
        .await
        .refused(400, "AutoTranslate is disabled.");
    save(
        &server,
        &admin,
        json!({"roomId": rid, "field": "autoTranslate", "defaultLanguage": "en", "value": true}),
    )
    .await
    .refused(400, "AutoTranslate is disabled.");
    server
        .post(
            "autotranslate.translateMessage",
            json!({"messageId": "test", "targetLanguage": "en"}),
            Some(&admin),
        )
        .await
        .refused(400, "AutoTranslate is disabled.");
    // Unauthenticated callers are refused first.
    let anonymous = server
        .get("autotranslate.getSupportedLanguages", &[], None)
        .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);

    let mut ddp = Ddp::connect(&server).await;
    ddp.login_with("admin", common::ADMIN_PASS).await;
    let reply = ddp
        .call("autoTranslate.getSupportedLanguages", json!(["en"]))
        .await;
    assert_eq!(
        reply["error"]["error"],
        json!("error-autotranslate-disabled"),
        "{reply}"
    );
    server.stop().await;
}

#[tokio::test]
async fn supported_languages_need_the_permission() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server
        .set_setting(&admin, "AutoTranslate_Enabled", json!(true))
        .await;
    permission(&server, &admin, &[]).await;
    let refused = server
        .get(
            "autotranslate.getSupportedLanguages",
            &[("targetLanguage", "en")],
            Some(&admin),
        )
        .await;
    refused.refused(
        400,
        "Auto-Translate is not allowed [error-action-not-allowed]",
    );
    assert_eq!(refused.body["errorType"], json!("error-action-not-allowed"));

    permission(&server, &admin, &["admin"]).await;
    let listed = server
        .get(
            "autotranslate.getSupportedLanguages",
            &[("targetLanguage", "en")],
            Some(&admin),
        )
        .await;
    // Without models the built-in engine knows no language: an empty list, as upstream's
    // answer when its provider cannot be asked.
    assert_eq!(listed.ok()["languages"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn save_settings_checks_in_upstreams_order() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let channel = create_room(&server, &admin, "channels", "at-save", &[]).await;
    let group = create_room(&server, &admin, "groups", "at-e2e", &[]).await;
    server
        .post(
            "groups.setEncrypted",
            json!({"roomId": group, "encrypted": true}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .set_setting(&admin, "AutoTranslate_Enabled", json!(true))
        .await;

    permission(&server, &admin, &[]).await;
    let refused = save(
        &server,
        &admin,
        json!({"roomId": channel, "defaultLanguage": "en", "field": "autoTranslateLanguage", "value": "en"}),
    )
    .await;
    refused.refused(
        400,
        "Auto-Translate is not allowed [error-action-not-allowed]",
    );
    assert_eq!(refused.body["errorType"], json!("error-action-not-allowed"));
    permission(&server, &admin, &["admin"]).await;

    for body in [
        json!({}),
        json!({"roomId": channel}),
        json!({"roomId": channel, "field": "autoTranslate"}),
        json!({"roomId": channel, "field": "invalid", "value": 12}),
    ] {
        let reply = save(&server, &admin, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.body["errorType"], json!("invalid-params"), "{body}");
    }
    save(
        &server,
        &admin,
        json!({"roomId": channel, "field": "autoTranslate", "value": "test"}),
    )
    .await
    .refused(400, "The bodyParam \"autoTranslate\" must be a boolean.");
    save(
        &server,
        &admin,
        json!({"roomId": channel, "field": "autoTranslateLanguage", "value": 12}),
    )
    .await
    .refused(
        400,
        "The bodyParam \"autoTranslateLanguage\" must be a string.",
    );
    let invalid = save(
        &server,
        &admin,
        json!({"roomId": "invalid", "field": "autoTranslateLanguage", "value": "en"}),
    )
    .await;
    invalid.refused(400, "Invalid subscription [error-invalid-subscription]");
    assert_eq!(
        invalid.body["errorType"],
        json!("error-invalid-subscription")
    );
    let e2e = save(
        &server,
        &admin,
        json!({"roomId": group, "field": "autoTranslate", "defaultLanguage": "en", "value": true}),
    )
    .await;
    assert_eq!(e2e.status, 400, "{}", e2e.body);
    assert_eq!(e2e.body["errorType"], json!("error-e2e-enabled"));

    // A fresh subscription has neither field; the language alone sets only the language.
    let fresh = subscription(&server, &admin, &channel).await;
    assert!(fresh.get("autoTranslate").is_none(), "{fresh}");
    assert!(fresh.get("autoTranslateLanguage").is_none(), "{fresh}");
    save(
        &server,
        &admin,
        json!({"roomId": channel, "field": "autoTranslateLanguage", "value": "pt"}),
    )
    .await
    .ok();
    let sub = subscription(&server, &admin, &channel).await;
    assert_eq!(sub["autoTranslateLanguage"], json!("pt"));
    assert!(sub.get("autoTranslate").is_none(), "{sub}");
    // Turning it on keeps the chosen language over `defaultLanguage`; off keeps it too.
    save(
        &server,
        &admin,
        json!({"roomId": channel, "field": "autoTranslate", "value": true, "defaultLanguage": "en"}),
    )
    .await
    .ok();
    let sub = subscription(&server, &admin, &channel).await;
    assert_eq!(
        (&sub["autoTranslate"], &sub["autoTranslateLanguage"]),
        (&json!(true), &json!("pt"))
    );
    save(
        &server,
        &admin,
        json!({"roomId": channel, "field": "autoTranslate", "value": "false"}),
    )
    .await
    .ok();
    let sub = subscription(&server, &admin, &channel).await;
    assert_eq!(
        (&sub["autoTranslate"], &sub["autoTranslateLanguage"]),
        (&json!(false), &json!("pt"))
    );

    // The method takes upstream's positional parameters and answers true.
    let mut ddp = Ddp::connect(&server).await;
    ddp.login_with("admin", common::ADMIN_PASS).await;
    let reply = ddp
        .call(
            "autoTranslate.saveSettings",
            json!([channel, "autoTranslate", "1", {"defaultLanguage": "en"}]),
        )
        .await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    assert_eq!(
        subscription(&server, &admin, &channel).await["autoTranslate"],
        json!(true)
    );
    let reply = ddp
        .call("autoTranslate.saveSettings", json!([channel, "bogus", "1"]))
        .await;
    assert_eq!(
        reply["error"]["error"],
        json!("error-invalid-settings"),
        "{reply}"
    );
    server.stop().await;
}

#[tokio::test]
async fn translate_message_refuses_as_upstream() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let ann = server.new_user("ann").await;
    let ben = server.new_user("ben").await;
    let channel = create_room(&server, &admin, "channels", "at-message", &[]).await;
    let sent = say(&server, &admin, &channel, "Isso é um teste").await;
    let private = create_room(&server, &ann, "groups", "at-access", &[]).await;
    let secret = say(&server, &ann, &private, "Isso é um teste").await;
    server
        .set_setting(&admin, "AutoTranslate_Enabled", json!(true))
        .await;

    let missing = server
        .post("autotranslate.translateMessage", json!({}), Some(&admin))
        .await;
    assert_eq!(missing.status, 400, "{}", missing.body);
    assert_eq!(missing.body["success"], json!(false));
    server
        .post(
            "autotranslate.translateMessage",
            json!({"messageId": "invalid"}),
            Some(&admin),
        )
        .await
        .refused(400, "Message not found.");
    // No target and nobody in the room translating: the message as it is.
    let answered = server
        .post(
            "autotranslate.translateMessage",
            json!({"messageId": id_of(&sent)}),
            Some(&admin),
        )
        .await;
    assert_eq!(answered.ok()["message"]["_id"], sent["_id"]);
    assert_eq!(answered.body["message"]["msg"], json!("Isso é um teste"));
    let forbidden = server
        .post(
            "autotranslate.translateMessage",
            json!({"messageId": id_of(&secret)}),
            Some(&ben),
        )
        .await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    assert_eq!(forbidden.body["success"], json!(false));
    // With no models the engine cannot translate: upstream's failure, never the sender's
    // message changed.
    server
        .post(
            "autotranslate.translateMessage",
            json!({"messageId": id_of(&sent), "targetLanguage": "en"}),
            Some(&admin),
        )
        .await
        .refused(400, "Failed to translate message.");

    let mut ddp = Ddp::connect(&server).await;
    ddp.login("ben").await;
    let reply = ddp
        .call(
            "autoTranslate.translateMessage",
            json!([{"_id": {"$gt": ""}}, "en"]),
        )
        .await;
    assert!(reply.get("error").is_some(), "{reply}");
    let reply = ddp
        .call(
            "autoTranslate.translateMessage",
            json!([{"_id": id_of(&secret)}, "en"]),
        )
        .await;
    assert_eq!(
        reply["error"]["error"],
        json!("error-not-allowed"),
        "{reply}"
    );
    // Upstream's web client asks for the providers' names at start.
    let providers = ddp
        .call("autoTranslate.getProviderUiMetadata", json!([]))
        .await;
    assert_eq!(
        providers["result"]["deepl-translate"],
        json!({"name": "deepl-translate", "displayName": "DeepL"}),
        "{providers}"
    );
    assert_eq!(
        providers["result"]["comet-builtin"]["name"],
        json!("comet-builtin")
    );
    let mut anonymous = Ddp::connect(&server).await;
    let refused = anonymous
        .call("autoTranslate.getProviderUiMetadata", json!([]))
        .await;
    assert_eq!(
        refused["error"]["error"],
        json!("error-action-not-allowed"),
        "{refused}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_failing_provider_leaves_the_message_as_sent() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let channel = create_room(&server, &admin, "channels", "at-failing", &[]).await;
    let sent = say(&server, &admin, &channel, "Good morning").await;
    server
        .set_setting(&admin, "AutoTranslate_Enabled", json!(true))
        .await;
    server
        .set_setting(
            &admin,
            "AutoTranslate_ServiceProvider",
            json!("libre-translate"),
        )
        .await;
    // Nothing listens on the discard port: the provider cannot be reached.
    server
        .set_setting(
            &admin,
            "AutoTranslate_LibreTranslateAPIURL",
            json!("http://127.0.0.1:9"),
        )
        .await;
    server
        .post(
            "autotranslate.translateMessage",
            json!({"messageId": id_of(&sent), "targetLanguage": "pt"}),
            Some(&admin),
        )
        .await
        .refused(400, "Failed to translate message.");
    let stored = server
        .get("chat.getMessage", &[("msgId", &id_of(&sent))], Some(&admin))
        .await;
    let stored = &stored.ok()["message"];
    assert_eq!(stored["msg"], json!("Good morning"));
    assert!(stored.get("translations").is_none(), "{stored}");
    // Languages cannot be asked for either: upstream's empty list.
    let languages = server
        .get("autotranslate.getSupportedLanguages", &[], Some(&admin))
        .await;
    assert_eq!(languages.ok()["languages"], json!([]));
    // Admins see the failure (Comet's autotranslate.status); the sender is never told, and
    // others may not look.
    let status = server.get("autotranslate.status", &[], Some(&admin)).await;
    let status = status.ok();
    assert_eq!(status["enabled"], json!(true));
    assert_eq!(status["provider"], json!("libre-translate"));
    assert!(status["failures"].as_u64().unwrap_or(0) >= 1, "{status}");
    assert_eq!(status["lastFailure"]["provider"], json!("libre-translate"));
    let error = status["lastFailure"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("translation provider failed"), "{status}");
    assert!(status["lastFailure"]["at"].is_string(), "{status}");
    let bea = server.new_user("bea").await;
    server
        .get("autotranslate.status", &[], Some(&bea))
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );
    server.stop().await;
}

#[tokio::test]
async fn members_whose_language_differs_join_translating() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let ann = server.new_user("ann").await;
    let ben = server.new_user("ben").await;
    for (id, value) in [
        ("AutoTranslate_Enabled", json!(true)),
        ("AutoTranslate_AutoEnableOnJoinRoom", json!(true)),
        ("Language", json!("pt-BR")),
    ] {
        server.set_setting(&admin, id, value).await;
    }
    let set_language = |auth: Auth, language: &'static str| {
        let server = &server;
        async move {
            server
                .post(
                    "users.setPreferences",
                    json!({"data": {"language": language}}),
                    Some(&auth),
                )
                .await
                .ok();
        }
    };
    let channel = create_room(&server, &ann, "channels", "at-join", &[]).await;
    set_language(ben.clone(), "en").await;

    // Ann has no language of her own: nothing changes.
    let sub = subscription(&server, &ann, &channel).await;
    assert!(sub.get("autoTranslate").is_none(), "{sub}");
    assert!(sub.get("autoTranslateLanguage").is_none(), "{sub}");

    server
        .post("channels.join", json!({"roomId": channel}), Some(&ben))
        .await
        .ok();
    let sub = subscription(&server, &ben, &channel).await;
    assert_eq!(sub["autoTranslate"], json!(true));
    assert_eq!(sub["autoTranslateLanguage"], json!("en"));

    // Added by someone else, or as a member at creation.
    let invited = create_room(&server, &ann, "channels", "at-invite", &[]).await;
    server
        .post(
            "channels.invite",
            json!({"roomId": invited, "userId": ben.user_id}),
            Some(&ann),
        )
        .await
        .ok();
    assert_eq!(
        subscription(&server, &ben, &invited).await["autoTranslateLanguage"],
        json!("en")
    );
    let created = create_room(&server, &ann, "channels", "at-members", &["ben"]).await;
    assert_eq!(
        subscription(&server, &ben, &created).await["autoTranslate"],
        json!(true)
    );
    // The workspace's own language is no reason to translate.
    set_language(ann.clone(), "pt-BR").await;
    let own = create_room(&server, &ann, "channels", "at-own", &[]).await;
    assert!(
        subscription(&server, &ann, &own)
            .await
            .get("autoTranslate")
            .is_none()
    );
    server.stop().await;
}

#[tokio::test]
async fn subscriptions_follow_a_changed_language_unless_opted_out() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let ann = server.new_user("ann").await;
    for (id, value) in [
        ("AutoTranslate_Enabled", json!(true)),
        ("AutoTranslate_AutoEnableOnJoinRoom", json!(true)),
        ("Language", json!("pt-BR")),
    ] {
        server.set_setting(&admin, id, value).await;
    }
    permission(&server, &admin, &["admin", "user"]).await;
    let language = |language: &'static str| {
        let (server, ann) = (&server, &ann);
        async move {
            server
                .post(
                    "users.setPreferences",
                    json!({"data": {"language": language}}),
                    Some(ann),
                )
                .await
                .ok();
        }
    };
    let kept = create_room(&server, &ann, "channels", "at-follow", &[]).await;
    let opted_out = create_room(&server, &ann, "channels", "at-opted-out", &[]).await;
    assert!(
        subscription(&server, &ann, &kept)
            .await
            .get("autoTranslate")
            .is_none()
    );

    language("en").await;
    let sub = subscription(&server, &ann, &kept).await;
    assert_eq!(
        (&sub["autoTranslate"], &sub["autoTranslateLanguage"]),
        (&json!(true), &json!("en"))
    );
    save(
        &server,
        &ann,
        json!({"roomId": opted_out, "field": "autoTranslate", "value": false, "defaultLanguage": "en"}),
    )
    .await
    .ok();
    language("es").await;
    assert_eq!(
        subscription(&server, &ann, &kept).await["autoTranslateLanguage"],
        json!("es")
    );
    assert_eq!(
        subscription(&server, &ann, &opted_out).await["autoTranslate"],
        json!(false)
    );
    // Back to the workspace's language (or `default`): translation stops.
    language("pt-BR").await;
    let sub = subscription(&server, &ann, &kept).await;
    assert!(sub.get("autoTranslate").is_none(), "{sub}");
    assert!(sub.get("autoTranslateLanguage").is_none(), "{sub}");
    language("en").await;
    language("default").await;
    assert!(
        subscription(&server, &ann, &kept)
            .await
            .get("autoTranslate")
            .is_none()
    );
    assert_eq!(
        subscription(&server, &ann, &opted_out).await["autoTranslate"],
        json!(false)
    );
    server.stop().await;
}

/// Starts a server with the real models, translation on, and `ben` translating `room` into
/// Portuguese; answers the server, ann (the author), ben, and the room.
async fn translating_room(models: PathBuf) -> (TestServer, Auth, Auth, Auth, String) {
    let server = TestServer::start_with(|config| {
        config.translation_models = Some(models);
    })
    .await;
    let admin = server.admin().await;
    server
        .set_setting(&admin, "AutoTranslate_Enabled", json!(true))
        .await;
    // Members choose for themselves (upstream's default keeps this to admins).
    permission(&server, &admin, &["admin", "user"]).await;
    let ann = server.new_user("ann").await;
    let ben = server.new_user("ben").await;
    let room = create_room(&server, &ann, "channels", "at-live", &["ben"]).await;
    save(
        &server,
        &ben,
        json!({"roomId": room, "field": "autoTranslate", "value": true, "defaultLanguage": "pt"}),
    )
    .await
    .ok();
    (server, admin, ann, ben, room)
}

#[tokio::test]
async fn a_member_who_chose_portuguese_receives_the_translation_over_ddp() {
    let Some(models) = models_dir() else { return };
    let (server, _admin, ann, _ben, room) = translating_room(models).await;
    let languages = server
        .get(
            "autotranslate.getSupportedLanguages",
            &[("targetLanguage", "pt")],
            Some(&ann),
        )
        .await;
    let languages = languages.ok()["languages"].clone();
    assert!(
        languages
            .as_array()
            .is_some_and(|l| l.contains(&json!({"language": "pt", "name": "Português"}))),
        "{languages}"
    );

    let mut ddp = Ddp::connect(&server).await;
    ddp.login("ben").await;
    assert_eq!(
        ddp.sub("stream-room-messages", &room).await["msg"],
        json!("ready")
    );
    let text = "Good morning @ben, the weather is very nice today :smile: see `cargo test` at https://example.com/docs";
    let sent = server
        .post(
            "chat.postMessage",
            json!({"roomId": room, "text": text}),
            Some(&ann),
        )
        .await;
    // The post is answered with the original: translation comes later.
    let sent = sent.ok()["message"].clone();
    assert!(sent.get("translations").is_none(), "{sent}");
    let id = id_of(&sent);
    let original = ddp
        .until(|m| {
            m["collection"] == "stream-room-messages" && m["fields"]["args"][0]["_id"] == json!(id)
        })
        .await;
    assert_eq!(original["fields"]["args"][0]["msg"], json!(text));
    let update = ddp
        .until(|m| {
            m["collection"] == "stream-room-messages"
                && m["fields"]["args"][0]["_id"] == json!(id)
                && m["fields"]["args"][0]["translations"]["pt"].is_string()
        })
        .await;
    let live = &update["fields"]["args"][0];
    assert_eq!(live["translationProvider"], json!("comet-builtin"));
    assert_eq!(live["msg"], json!(text), "the original stays");
    let portuguese = live["translations"]["pt"].as_str().unwrap_or_default();
    let lowered = portuguese.to_lowercase();
    assert!(
        lowered.contains("bom dia") || lowered.contains("tempo"),
        "not Portuguese: {portuguese}"
    );
    for kept in [
        "@ben",
        ":smile:",
        "`cargo test`",
        "https://example.com/docs",
    ] {
        assert!(portuguese.contains(kept), "{kept} lost in {portuguese}");
    }
    assert!(!portuguese.contains("weather"), "{portuguese}");

    // An edit drops the old translation and brings a new one.
    let edited = server
        .post(
            "chat.update",
            json!({"roomId": room, "msgId": id, "text": "Thank you very much"}),
            Some(&ann),
        )
        .await;
    assert!(
        edited.ok()["message"].get("translations").is_none(),
        "{}",
        edited.body
    );
    let update = ddp
        .until(|m| {
            m["collection"] == "stream-room-messages"
                && m["fields"]["args"][0]["_id"] == json!(id)
                && m["fields"]["args"][0]["msg"] == json!("Thank you very much")
                && m["fields"]["args"][0]["translations"]["pt"].is_string()
        })
        .await;
    let again = update["fields"]["args"][0]["translations"]["pt"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(again.contains("obrigad"), "{again}");
    server.stop().await;
}

#[tokio::test]
async fn attachment_descriptions_are_translated_too() {
    let Some(models) = models_dir() else { return };
    let (server, _admin, ann, _ben, room) = translating_room(models).await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("ben").await;
    assert_eq!(
        ddp.sub("stream-room-messages", &room).await["msg"],
        json!("ready")
    );
    let sent = server
        .post(
            "chat.postMessage",
            json!({
                "roomId": room,
                "text": "Thank you very much",
                "attachments": [{"title": "house.png", "description": "The house is very big"}],
            }),
            Some(&ann),
        )
        .await;
    let id = id_of(&sent.ok()["message"]);
    let update = ddp
        .until(|m| {
            m["collection"] == "stream-room-messages"
                && m["fields"]["args"][0]["_id"] == json!(id)
                && m["fields"]["args"][0]["attachments"][0]["translations"]["pt"].is_string()
        })
        .await;
    let attachment = &update["fields"]["args"][0]["attachments"][0];
    assert_eq!(attachment["description"], json!("The house is very big"));
    let portuguese = attachment["translations"]["pt"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(portuguese.contains("casa"), "{portuguese}");
    assert!(
        update["fields"]["args"][0]["translations"]["pt"]
            .as_str()
            .is_some_and(|t| t.to_lowercase().contains("obrigad")),
        "{update}"
    );
    server.stop().await;
}

#[tokio::test]
async fn translate_message_translates_on_demand() {
    let Some(models) = models_dir() else { return };
    let (server, admin, ann, _ben, room) = translating_room(models).await;
    let sent = say(&server, &ann, &room, "Bom dia, como você está?").await;
    let reply = server
        .post(
            "autotranslate.translateMessage",
            json!({"messageId": id_of(&sent), "targetLanguage": "en"}),
            Some(&admin),
        )
        .await;
    let message = &reply.ok()["message"];
    let english = message["translations"]["en"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(english.contains("good morning"), "{message}");
    assert_eq!(message["msg"], json!("Bom dia, como você está?"));
    // Stored: the history shows it too.
    let stored = server
        .get("chat.getMessage", &[("msgId", &id_of(&sent))], Some(&ann))
        .await;
    assert_eq!(
        stored.ok()["message"]["translations"]["en"],
        message["translations"]["en"]
    );
    // The built-in engine is open now: admins see its pairs and what it has loaded.
    let admin = server.admin().await;
    let status = server.get("autotranslate.status", &[], Some(&admin)).await;
    let engine = &status.ok()["engine"];
    let installed = engine["installedPairs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(installed.contains(&json!("pt-en")), "{engine}");
    assert!(
        engine["loadedPairs"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{engine}"
    );
    assert!(engine["cacheMisses"].as_u64().unwrap_or(0) >= 1, "{engine}");
    server.stop().await;
}

/// A stand-in for a LibreTranslate server, replaying its documented wire format
/// (`GET /languages`, `POST /translate` with `q` as a list answering `translatedText` as a
/// list): the first `failures` translation requests answer 503, later ones translate by
/// prefixing `[pt] `. Counts the translation requests.
async fn flaky_libretranslate(failures: usize) -> (String, Arc<AtomicUsize>) {
    let (_, open) = tokio::sync::watch::channel(true);
    libretranslate_standin(failures, open).await
}

/// The LibreTranslate stand-in of [`flaky_libretranslate`], answering translation requests
/// only once `open` holds true (until then they wait, as a stalled provider does).
async fn libretranslate_standin(
    failures: usize,
    open: tokio::sync::watch::Receiver<bool>,
) -> (String, Arc<AtomicUsize>) {
    use axum::Json;
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    let app = axum::Router::new()
        .route(
            "/languages",
            get(|| async {
                Json(json!([
                    {"code": "en", "name": "English", "targets": ["pt"]},
                    {"code": "pt", "name": "Portuguese", "targets": ["en"]},
                ]))
            }),
        )
        .route(
            "/translate",
            post(move |Json(body): Json<Value>| {
                let seen = seen.clone();
                let mut open = open.clone();
                async move {
                    let _ = open.wait_for(|open| *open).await;
                    if seen.fetch_add(1, Ordering::SeqCst) < failures {
                        return (
                            StatusCode::SERVICE_UNAVAILABLE,
                            Json(json!({"error": "busy"})),
                        );
                    }
                    let texts: Vec<Value> = body["q"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|q| json!(format!("[pt] {}", q.as_str().unwrap_or_default())))
                        .collect();
                    (StatusCode::OK, Json(json!({"translatedText": texts})))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://127.0.0.1:{port}"), requests)
}

/// A server translating through the LibreTranslate at `url`, and a channel `name` where bea
/// reads in Portuguese.
async fn libretranslate_room(url: &str, name: &str) -> (TestServer, Auth, Auth, String) {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    permission(&server, &admin, &["admin", "user"]).await;
    server
        .set_setting(&admin, "AutoTranslate_Enabled", json!(true))
        .await;
    server
        .set_setting(
            &admin,
            "AutoTranslate_ServiceProvider",
            json!("libre-translate"),
        )
        .await;
    server
        .set_setting(&admin, "AutoTranslate_LibreTranslateAPIURL", json!(url))
        .await;
    let channel = create_room(&server, &admin, "channels", name, &["bea"]).await;
    for (field, value) in [
        ("autoTranslateLanguage", json!("pt")),
        ("autoTranslate", json!(true)),
    ] {
        save(
            &server,
            &bea,
            json!({"roomId": channel, "field": field, "value": value}),
        )
        .await
        .ok();
    }
    (server, admin, bea, channel)
}

/// A provider that fails for a while: the original is delivered at once and stays; the job
/// is retried after a backoff and the translation arrives; admins see the failure.
#[tokio::test]
async fn a_provider_that_recovers_translates_on_a_retry() {
    let (url, requests) = flaky_libretranslate(1).await;
    let (server, admin, bea, channel) = libretranslate_room(&url, "at-retry").await;
    let sent = say(&server, &admin, &channel, "Good morning").await;
    let id = id_of(&sent);
    assert_eq!(sent["msg"], json!("Good morning"));

    // The first attempt fails; the retry (after two seconds) translates.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let translated = loop {
        let reply = server
            .get("chat.getMessage", &[("msgId", &id)], Some(&bea))
            .await;
        let message = reply.ok()["message"].clone();
        if message["translations"]["pt"].is_string() {
            break message;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no translation after the retry: {message}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(translated["translations"]["pt"], json!("[pt] Good morning"));
    assert_eq!(translated["translationProvider"], json!("libre-translate"));
    assert_eq!(translated["msg"], json!("Good morning"));
    assert!(requests.load(Ordering::SeqCst) >= 2);
    let status = server.get("autotranslate.status", &[], Some(&admin)).await;
    let status = status.ok();
    assert!(status["failures"].as_u64().unwrap_or(0) >= 1, "{status}");
    assert!(status["translated"].as_u64().unwrap_or(0) >= 1, "{status}");
    server.stop().await;
}

/// A provider that stalls while messages keep coming: the bounded queue fills, every message
/// is still posted and kept as sent, the ones beyond the queue go untranslated and are counted
/// as dropped; once the provider answers again, the queued ones are translated.
#[tokio::test]
async fn a_full_translation_queue_drops_translations_never_messages() {
    let (release, open) = tokio::sync::watch::channel(false);
    let (url, _requests) = libretranslate_standin(0, open).await;
    let (server, admin, bea, channel) = libretranslate_room(&url, "at-full").await;

    // More messages than the queue (256) and the jobs in hand can hold.
    const POSTED: usize = 320;
    let mut ids = Vec::with_capacity(POSTED);
    for n in 0..POSTED {
        let text = format!("message {n}");
        let sent = say(&server, &admin, &channel, &text).await;
        assert_eq!(sent["msg"], json!(text));
        ids.push(id_of(&sent));
    }
    let status = server.get("autotranslate.status", &[], Some(&admin)).await;
    let status = status.ok().clone();
    let dropped = status["dropped"].as_u64().unwrap_or(0);
    assert!(dropped >= 50, "the full queue dropped too little: {status}");
    assert_eq!(status["translated"], json!(0), "{status}");

    // Every message is there as sent (history comes in pages of at most 100).
    let mut kept: Vec<String> = Vec::new();
    for offset in (0..POSTED + 100).step_by(100) {
        let offset = offset.to_string();
        let page = server
            .get(
                "channels.history",
                &[
                    ("roomId", channel.as_str()),
                    ("count", "100"),
                    ("offset", offset.as_str()),
                ],
                Some(&bea),
            )
            .await;
        kept.extend(
            page.ok()["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .filter_map(|m| m["_id"].as_str().map(str::to_owned)),
        );
    }
    for id in &ids {
        assert!(kept.contains(id), "message {id} is missing");
    }

    // The provider answers again: what was queued gets translated, what was dropped stays as
    // sent (the last message arrived while the queue was full).
    release.send(true).expect("release the provider");
    let expected = POSTED as u64 - dropped;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = server.get("autotranslate.status", &[], Some(&admin)).await;
        let status = status.ok().clone();
        if status["translated"].as_u64().unwrap_or(0) >= expected {
            assert_eq!(status["dropped"].as_u64(), Some(dropped), "{status}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queued messages were not all translated: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let message = |id: String| {
        let server = &server;
        let bea = &bea;
        async move {
            server
                .get("chat.getMessage", &[("msgId", id.as_str())], Some(bea))
                .await
                .ok()["message"]
                .clone()
        }
    };
    let first = message(ids[0].clone()).await;
    assert_eq!(
        first["translations"]["pt"],
        json!("[pt] message 0"),
        "{first}"
    );
    let last = message(ids[POSTED - 1].clone()).await;
    assert!(last.get("translations").is_none(), "{last}");
    assert_eq!(last["msg"], json!(format!("message {}", POSTED - 1)));
    server.stop().await;
}
