//! settings.public, GET/POST settings and settings/:_id, boot-time overrides and defaults.

use crate::common;

use common::{PASSWORD, TestServer};
use serde_json::{Value, json};

fn ids(body: &Value) -> Vec<String> {
    body["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .map(|s| s["_id"].as_str().expect("_id").to_owned())
        .collect()
}

fn value_of<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|s| s["_id"] == json!(id))
        .map(|s| &s["value"])
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn public_settings_need_no_login() {
    let server = TestServer::start().await;
    let reply = server.get("settings.public", &[("count", "0")], None).await;
    let body = reply.ok();
    let all = ids(body);
    assert!(all.contains(&"Site_Name".to_owned()));
    assert!(all.contains(&"Accounts_RegistrationForm".to_owned()));
    for private in [
        "API_Default_Count",
        "API_Enable_Rate_Limiter",
        "Accounts_RegistrationForm_SecretURL",
        "Accounts_BlockedUsernameList",
        "Accounts_TwoFactorAuthentication_RememberFor",
    ] {
        assert!(
            !all.contains(&private.to_owned()),
            "{private} is not public"
        );
    }
    assert_eq!(body["total"], json!(all.len()));
    assert_eq!(body["offset"], json!(0));
    assert_eq!(body["count"], json!(all.len()));
    for setting in body["settings"].as_array().expect("settings") {
        let keys: Vec<&String> = setting.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["_id", "value"], "{setting}");
    }
    assert_eq!(
        value_of(body, "Accounts_RegistrationForm"),
        &json!("Public")
    );
    server.stop().await;
}

#[tokio::test]
async fn public_settings_filter_and_paginate() {
    let server = TestServer::start().await;
    let reply = server
        .get(
            "settings.public",
            &[(
                "_id",
                "Site_Name,Accounts_RegistrationForm,API_Default_Count,No_Such_Setting",
            )],
            None,
        )
        .await;
    let body = reply.ok();
    let mut found = ids(body);
    found.sort();
    assert_eq!(found, ["Accounts_RegistrationForm", "Site_Name"]);
    assert_eq!(body["total"], json!(2));
    assert_eq!(body["count"], json!(2));

    let full = server.get("settings.public", &[("count", "0")], None).await;
    let total = full.ok()["total"].as_u64().expect("total");
    assert!(total > 5);
    let all_ids = ids(&full.body);

    let page = server
        .get("settings.public", &[("count", "2"), ("offset", "3")], None)
        .await;
    let body = page.ok();
    assert_eq!(body["count"], json!(2));
    assert_eq!(body["offset"], json!(3));
    assert_eq!(body["total"], json!(total));
    assert_eq!(ids(body), all_ids[3..5]);

    // Past the end: empty page, same total.
    let offset = (total + 10).to_string();
    let past = server
        .get("settings.public", &[("offset", offset.as_str())], None)
        .await;
    let body = past.ok();
    assert_eq!(body["settings"], json!([]));
    assert_eq!(body["count"], json!(0));
    assert_eq!(body["total"], json!(total));

    // Default page size is API_Default_Count (50), capped at API_Upper_Count_Limit (100).
    let default = server.get("settings.public", &[], None).await;
    let n = default.ok()["count"].as_u64().expect("count");
    assert_eq!(n, total.min(50));
    let capped = server
        .get("settings.public", &[("count", "1000")], None)
        .await;
    assert_eq!(
        capped.ok()["count"].as_u64().expect("count"),
        total.min(100)
    );

    let bad = server
        .get("settings.public", &[("count", "lots")], None)
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.body["success"], json!(false));
    server.stop().await;
}

#[tokio::test]
async fn settings_list_depends_on_the_caller() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let filter = [("_id", "Site_Name,API_Default_Count")];

    let as_admin = server.get("settings", &filter, Some(&admin)).await;
    let body = as_admin.ok();
    let mut found = ids(body);
    found.sort();
    assert_eq!(found, ["API_Default_Count", "Site_Name"]);
    assert_eq!(value_of(body, "API_Default_Count"), &json!(50));

    let as_user = server.get("settings", &filter, Some(&alice)).await;
    assert_eq!(ids(as_user.ok()), ["Site_Name"]);

    let admin_all = server
        .get("settings", &[("count", "0")], Some(&admin))
        .await;
    let user_all = server
        .get("settings", &[("count", "0")], Some(&alice))
        .await;
    let public_all = server.get("settings.public", &[("count", "0")], None).await;
    let admin_total = admin_all.ok()["total"].as_u64().expect("total");
    let user_total = user_all.ok()["total"].as_u64().expect("total");
    assert!(admin_total > user_total);
    assert_eq!(user_all.body["total"], public_all.ok()["total"]);

    let with_defaults = server
        .get(
            "settings",
            &[("_id", "API_Default_Count"), ("includeDefaults", "true")],
            Some(&admin),
        )
        .await;
    assert_eq!(
        with_defaults.ok()["settings"],
        json!([{"_id": "API_Default_Count", "value": 50, "packageValue": 50}])
    );

    server
        .get("settings", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

#[tokio::test]
async fn get_one_setting() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let reply = server
        .get("settings/API_Default_Count", &[], Some(&admin))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"_id": "API_Default_Count", "value": 50, "success": true})
    );

    for id in ["API_Default_Count", "Site_Name"] {
        let reply = server
            .get(&format!("settings/{id}"), &[], Some(&alice))
            .await;
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.body,
            json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
        );
    }

    let unknown = server
        .get("settings/No_Such_Setting", &[], Some(&admin))
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body, json!({"success": false}));

    server
        .get("settings/Site_Name", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

#[tokio::test]
async fn a_changed_default_preference_shows_in_me_under_the_users_own() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let view_mode =
        |me: &serde_json::Value| me["settings"]["preferences"]["sidebarViewMode"].clone();
    let me = server.get("me", &[], Some(&alice)).await;
    assert_eq!(view_mode(me.ok()), json!("medium"));
    let changed = server
        .post(
            "settings/Accounts_Default_User_Preferences_sidebarViewMode",
            json!({"value": "extended"}),
            Some(&admin),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let me = server.get("me", &[], Some(&alice)).await;
    assert_eq!(view_mode(me.ok()), json!("extended"), "the new default");
    let saved = server
        .post(
            "users.setPreferences",
            json!({"data": {"sidebarViewMode": "condensed"}}),
            Some(&alice),
        )
        .await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    let me = server.get("me", &[], Some(&alice)).await;
    assert_eq!(
        view_mode(me.ok()),
        json!("condensed"),
        "her own over the default"
    );
    let me = server.get("me", &[], Some(&admin)).await;
    assert_eq!(
        view_mode(me.ok()),
        json!("extended"),
        "others keep the default"
    );
}

#[tokio::test]
async fn changing_a_setting_takes_effect() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let reply = server
        .post(
            "settings/Accounts_RegistrationForm",
            json!({"value": "Disabled"}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({"success": true}));

    let got = server
        .get("settings/Accounts_RegistrationForm", &[], Some(&admin))
        .await;
    assert_eq!(got.ok()["value"], json!("Disabled"));
    let public = server
        .get(
            "settings.public",
            &[("_id", "Accounts_RegistrationForm")],
            None,
        )
        .await;
    assert_eq!(
        value_of(public.ok(), "Accounts_RegistrationForm"),
        &json!("Disabled")
    );
    server
        .post(
            "users.register",
            json!({"username": "alice", "email": "alice@example.com", "pass": PASSWORD, "name": "Alice"}),
            None,
        )
        .await
        .refused(
            400,
            "User registration is disabled [error-user-registration-disabled]",
        );

    // An integer setting: the default page size of listings.
    server
        .post(
            "settings/API_Default_Count",
            json!({"value": 1}),
            Some(&admin),
        )
        .await
        .ok();
    let page = server.get("users.list", &[], Some(&admin)).await;
    assert_eq!(page.ok()["count"], json!(1));
    assert_eq!(page.body["total"], json!(2));
    server.stop().await;
}

#[tokio::test]
async fn setting_values_are_validated() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    for (id, value) in [
        ("API_Default_Count", json!("abc")),
        ("Accounts_ManuallyApproveNewUsers", json!("yes")),
        ("Site_Name", json!(42)),
        ("Accounts_RegistrationForm", json!("Sometimes")),
        ("Accounts_RegistrationForm", json!(true)),
    ] {
        let reply = server
            .post(
                &format!("settings/{id}"),
                json!({"value": value}),
                Some(&admin),
            )
            .await;
        assert_eq!(reply.status, 400, "{id}={value}: {}", reply.body);
        assert_eq!(reply.body["success"], json!(false));
        assert_eq!(
            reply.body["errorType"],
            json!("error-setting-validation-failed"),
            "{id}={value}"
        );
    }
    let got = server
        .get("settings/Accounts_RegistrationForm", &[], Some(&admin))
        .await;
    assert_eq!(got.ok()["value"], json!("Public"), "unchanged");

    let unknown = server
        .post(
            "settings/No_Such_Setting",
            json!({"value": 1}),
            Some(&admin),
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body, json!({"success": false}));

    server
        .post("settings/Site_Name", json!({}), Some(&admin))
        .await
        .refused(400, "must have required property 'value' [invalid-params]");
    server.stop().await;
}

#[tokio::test]
async fn only_privileged_users_change_settings() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let reply = server
        .post(
            "settings/Accounts_RegistrationForm",
            json!({"value": "Disabled"}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
    );
    server
        .post("settings/Site_Name", json!({"value": "x"}), None)
        .await
        .refused(401, "You must be logged in to do this.");
    let public = server
        .get(
            "settings.public",
            &[("_id", "Accounts_RegistrationForm")],
            None,
        )
        .await;
    assert_eq!(
        value_of(public.ok(), "Accounts_RegistrationForm"),
        &json!("Public")
    );
    server.stop().await;
}

#[tokio::test]
async fn overwrite_settings_apply_at_start() {
    let server = TestServer::start_with(|c| {
        c.setting_overrides
            .push(("Site_Name".into(), "Overridden Chat".into()));
        c.setting_overrides
            .push(("API_Default_Count".into(), "3".into()));
        c.setting_overrides
            .push(("Accounts_AllowDeleteOwnAccount".into(), "yes".into()));
        // Unknown ids are ignored.
        c.setting_overrides
            .push(("No_Such_Setting".into(), "x".into()));
    })
    .await;
    let public = server
        .get(
            "settings.public",
            &[("_id", "Site_Name,Accounts_AllowDeleteOwnAccount")],
            None,
        )
        .await;
    let body = public.ok();
    assert_eq!(value_of(body, "Site_Name"), &json!("Overridden Chat"));
    assert_eq!(
        value_of(body, "Accounts_AllowDeleteOwnAccount"),
        &json!(true)
    );
    let admin = server.admin().await;
    let count = server
        .get("settings/API_Default_Count", &[], Some(&admin))
        .await;
    assert_eq!(count.ok()["value"], json!(3), "typed from the string");
    let with_defaults = server
        .get(
            "settings",
            &[("_id", "API_Default_Count"), ("includeDefaults", "true")],
            Some(&admin),
        )
        .await;
    assert_eq!(
        with_defaults.ok()["settings"][0]["packageValue"],
        json!(50),
        "the package value is kept"
    );
    server.stop().await;
}

#[tokio::test]
async fn first_start_defaults_seed_settings() {
    let server = TestServer::start_with(|c| {
        c.setting_defaults
            .push(("Site_Name".into(), "Seeded Chat".into()));
        c.setting_defaults
            .push(("API_Upper_Count_Limit".into(), "7".into()));
        // Of the wrong type: ignored, the package value stays.
        c.setting_defaults
            .push(("API_Default_Count".into(), "lots".into()));
    })
    .await;
    let admin = server.admin().await;
    let reply = server
        .get(
            "settings",
            &[
                ("_id", "Site_Name,API_Upper_Count_Limit,API_Default_Count"),
                ("includeDefaults", "true"),
            ],
            Some(&admin),
        )
        .await;
    let body = reply.ok();
    assert_eq!(value_of(body, "Site_Name"), &json!("Seeded Chat"));
    assert_eq!(value_of(body, "API_Upper_Count_Limit"), &json!(7));
    assert_eq!(value_of(body, "API_Default_Count"), &json!(50));
    let site_name = body["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|s| s["_id"] == json!("Site_Name"))
        .expect("Site_Name");
    assert!(site_name["packageValue"].is_string());
    assert_ne!(site_name["packageValue"], json!("Seeded Chat"));

    // The seeded cap applies.
    let page = server
        .get("settings.public", &[("count", "100")], None)
        .await;
    assert_eq!(page.ok()["count"], json!(7));

    // A default is not forced: it can be changed afterwards.
    server
        .post(
            "settings/Site_Name",
            json!({"value": "Renamed"}),
            Some(&admin),
        )
        .await
        .ok();
    let got = server.get("settings/Site_Name", &[], Some(&admin)).await;
    assert_eq!(got.ok()["value"], json!("Renamed"));
    server.stop().await;
}

/// Admin tools and scripts set upstream's settings by id, whether or not the feature behind
/// them is built: each must exist with upstream's type.
#[tokio::test]
async fn upstream_settings_exist_and_take_their_types() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    for (id, value) in [
        ("Message_AllowBadWordsFilter", json!(true)),
        ("Message_BadWordsFilterList", json!("heck")),
        ("API_EmbedIgnoredHosts", json!("localhost, 10.0.0.0/8")),
        ("API_EmbedSafePorts", json!("80, 443, 8443")),
        ("Message_CustomFields_Enabled", json!(true)),
        ("Message_CustomFields", json!("{\"properties\": {}}")),
        ("Accounts_OAuth_Google", json!(false)),
        ("Log_Level", json!("1")),
        ("Log_Trace_Methods", json!(true)),
        ("UI_Allow_room_names_with_special_chars", json!(true)),
        ("VoIP_Enabled", json!(false)),
        ("Message_KeepHistory", json!(true)),
        ("SMTP_Protocol", json!("smtps")),
        ("SMTP_Host", json!("127.0.0.1")),
        ("SMTP_Port", json!("2525")),
        ("SMTP_IgnoreTLS", json!(false)),
        ("SMTP_Username", json!("mailer")),
        ("SMTP_Password", json!("secret")),
        ("From_Email", json!("chat@example.com")),
        ("LDAP_Enable", json!(false)),
    ] {
        server
            .post(
                &format!("settings/{id}"),
                json!({"value": value}),
                Some(&admin),
            )
            .await
            .ok();
        let stored = server
            .get(&format!("settings/{id}"), &[], Some(&admin))
            .await;
        assert_eq!(stored.ok()["value"], value, "{id}");
    }
    // A select refuses what upstream does not offer; a boolean refuses a string.
    server
        .post("settings/Log_Level", json!({"value": "9"}), Some(&admin))
        .await
        .refused(
            400,
            "Invalid value for setting Log_Level: must be one of 0, 1, 2",
        );
    let wrong = server
        .post(
            "settings/LDAP_Enable",
            json!({"value": "yes"}),
            Some(&admin),
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
}

/// Upstream's number settings take any number: half a minute of login blocking is half a
/// minute, not zero.
#[tokio::test]
async fn number_settings_accept_fractions() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server.new_user("alice").await;
    for (id, value) in [
        (
            "Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User",
            json!(2),
        ),
        (
            "Block_Multiple_Failed_Logins_Time_To_Unblock_By_User_In_Minutes",
            json!(0.5),
        ),
    ] {
        server
            .post(
                &format!("settings/{id}"),
                json!({"value": value}),
                Some(&admin),
            )
            .await
            .ok();
    }
    // Any number, as upstream's `validateSetting` checks `typeof value === 'number'`.
    server
        .post(
            "settings/API_Default_Count",
            json!({"value": 1.5}),
            Some(&admin),
        )
        .await
        .ok();
    let stored = server
        .get(
            "settings/Block_Multiple_Failed_Logins_Time_To_Unblock_By_User_In_Minutes",
            &[],
            Some(&admin),
        )
        .await;
    assert_eq!(stored.ok()["value"], json!(0.5));
    for _ in 0..2 {
        let failed = server
            .post(
                "login",
                json!({"user": "alice", "password": "wrong-password"}),
                None,
            )
            .await;
        assert_eq!(failed.status, 401, "{}", failed.body);
    }
    // Blocked now, for half a minute: the right password is refused too.
    let blocked = server
        .post(
            "login",
            json!({"user": "alice", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(blocked.status, 401, "{}", blocked.body);
    server.stop().await;
}

/// The sound volumes run from 0 to 100 (upstream's `range` settings): a value outside is
/// refused with upstream's text, checked on the value as a number before its type, as
/// upstream's settings tests expect.
#[tokio::test]
async fn volume_settings_keep_within_their_bounds() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let id = "Accounts_Default_User_Preferences_masterVolume";
    for (value, text) in [
        (json!("-1"), "greater than or equal to 0"),
        (json!("101"), "less than or equal to 100"),
        (json!(-5), "greater than or equal to 0"),
        (json!(250), "less than or equal to 100"),
    ] {
        server
            .post(
                &format!("settings/{id}"),
                json!({"value": value}),
                Some(&admin),
            )
            .await
            .refused(
                400,
                &format!("Value for setting {id} must be {text} [error-invalid-setting-value]"),
            );
    }
    server
        .post(
            &format!("settings/{id}"),
            json!({"value": 40}),
            Some(&admin),
        )
        .await
        .ok();
    let stored = server
        .get(&format!("settings/{id}"), &[], Some(&admin))
        .await;
    assert_eq!(stored.ok()["value"], json!(40));
    server.stop().await;
}

#[tokio::test]
async fn login_service_lists_are_empty_and_public() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    for auth in [None, Some(&admin)] {
        let configurations = server.get("service.configurations", &[], auth).await;
        assert_eq!(configurations.ok()["configurations"], json!([]));
        let oauth = server.get("settings.oauth", &[], auth).await;
        assert_eq!(oauth.ok()["services"], json!([]));
    }
    server.stop().await;
}

#[tokio::test]
async fn a_new_workspace_asks_for_its_setup_wizard_until_an_administrator_completes_it() {
    let server = TestServer::start().await;
    let wizard = |body: &Value| value_of(body, "Show_Setup_Wizard").clone();
    let public = server
        .get("settings.public", &[("_id", "Show_Setup_Wizard")], None)
        .await;
    assert_eq!(wizard(public.ok()), json!("pending"));

    let admin = server.admin().await;
    server
        .post(
            "settings/Show_Setup_Wizard",
            json!({"value": "completed"}),
            Some(&admin),
        )
        .await
        .ok();
    let public = server
        .get("settings.public", &[("_id", "Show_Setup_Wizard")], None)
        .await;
    assert_eq!(wizard(public.ok()), json!("completed"));
    server.stop().await;
}
