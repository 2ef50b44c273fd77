//! Custom user statuses end to end: `custom-user-status.list`/`create`/`update`/`delete` with
//! upstream's answers and refusals, `updateCustomUserStatus`/`deleteCustomUserStatus` on
//! `stream-notify-logged`, and the DDP methods.

use crate::common;

use common::TestServer;
use common::ddp::Ddp;
use serde_json::json;

#[tokio::test]
async fn statuses_are_managed_as_upstream() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let user = server.new_user("statususer").await;

    let created = server
        .post(
            "custom-user-status.create",
            json!({"name": "In a meeting", "statusType": "busy"}),
            Some(&admin),
        )
        .await;
    let status = created.ok()["customUserStatus"].clone();
    assert_eq!(
        (status["name"].clone(), status["statusType"].clone()),
        (json!("In a meeting"), json!("busy"))
    );
    let id = status["_id"].as_str().expect("id").to_owned();
    server
        .post(
            "custom-user-status.create",
            json!({"name": "Lunch"}),
            Some(&admin),
        )
        .await
        .ok();

    let reply = server
        .post(
            "custom-user-status.create",
            json!({"name": "Lunch"}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (reply.status, &reply.body["errorType"]),
        (400, &json!("Custom_User_Status_Error_Name_Already_In_Use"))
    );
    let reply = server
        .post(
            "custom-user-status.create",
            json!({"name": "x", "statusType": "sleeping"}),
            Some(&admin),
        )
        .await;
    reply.refused(
        400,
        "sleeping is not a valid status type [error-input-is-not-a-valid-field]",
    );
    let reply = server
        .post(
            "custom-user-status.create",
            json!({"name": "<b>"}),
            Some(&admin),
        )
        .await;
    reply.refused(
        400,
        "<b> is not a valid name [error-input-is-not-a-valid-field]",
    );
    let reply = server
        .post(
            "custom-user-status.create",
            json!({"name": "mine"}),
            Some(&user),
        )
        .await;
    assert_eq!(
        (reply.status, &reply.body["errorType"]),
        (400, &json!("not_authorized"))
    );
    let reply = server
        .post("custom-user-status.create", json!({}), Some(&admin))
        .await;
    reply.refused(400, "Match error: Missing key 'name'");

    // Listing: pages, by id, by name (any case, any part).
    let all = server
        .get(
            "custom-user-status.list",
            &[("count", "5"), ("offset", "0")],
            Some(&user),
        )
        .await;
    assert_eq!(
        (all.ok()["total"].clone(), all.body["count"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(all.body["statuses"][0]["name"], json!("In a meeting"));
    let one = server
        .get("custom-user-status.list", &[("_id", &id)], Some(&user))
        .await;
    assert_eq!(
        (one.ok()["total"].clone(), one.body["offset"].clone()),
        (json!(1), json!(0))
    );
    let named = server
        .get("custom-user-status.list", &[("name", "LUN")], Some(&user))
        .await;
    assert_eq!(named.ok()["statuses"][0]["name"], json!("Lunch"));
    let none = server
        .get(
            "custom-user-status.list",
            &[("name", "testxxx")],
            Some(&user),
        )
        .await;
    assert_eq!(
        (none.ok()["total"].clone(), none.body["count"].clone()),
        (json!(0), json!(0))
    );
    let extra = server
        .get("custom-user-status.list", &[("color", "red")], Some(&user))
        .await;
    assert_eq!(
        (extra.status, &extra.body["errorType"]),
        (400, &json!("invalid-params"))
    );

    // Update and delete, with events on stream-notify-logged.
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("statususer").await;
    ddp.sub("stream-notify-logged", "updateCustomUserStatus")
        .await;
    ddp.sub("stream-notify-logged", "deleteCustomUserStatus")
        .await;
    let reply = server
        .post(
            "custom-user-status.update",
            json!({"_id": "nope", "name": "x"}),
            Some(&admin),
        )
        .await;
    reply.refused(400, "No custom user status found with the id of \"nope\".");
    let reply = server
        .post(
            "custom-user-status.update",
            json!({"_id": id, "name": "Lunch"}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        reply.body["errorType"],
        json!("Custom_User_Status_Error_Name_Already_In_Use")
    );
    let updated = server
        .post(
            "custom-user-status.update",
            json!({"_id": id, "name": "Focus"}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        updated.ok()["customUserStatus"]["statusType"],
        json!("busy"),
        "type kept"
    );
    let changed = ddp
        .until(|m| m["msg"] == "changed" && m["fields"]["eventName"] == "updateCustomUserStatus")
        .await;
    assert_eq!(
        changed["fields"]["args"][0]["userStatusData"]["name"],
        json!("Focus"),
        "{changed}"
    );

    let listed = ddp.call("listCustomUserStatus", json!([])).await;
    assert_eq!(
        listed["result"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    let refused = ddp
        .call("insertOrUpdateUserStatus", json!([{"name": "Nope"}]))
        .await;
    assert_eq!(refused["error"]["error"], json!("not_authorized"));

    server
        .post("custom-user-status.delete", json!({}), Some(&admin))
        .await
        .refused(400, "The \"customUserStatusId\" params is required!");
    let reply = server
        .post(
            "custom-user-status.delete",
            json!({"customUserStatusId": "nope"}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        reply.body["errorType"],
        json!("Custom_User_Status_Error_Invalid_User_Status")
    );
    let reply = server
        .post(
            "custom-user-status.delete",
            json!({"customUserStatusId": id}),
            Some(&user),
        )
        .await;
    assert_eq!(reply.body["errorType"], json!("not_authorized"));
    server
        .post(
            "custom-user-status.delete",
            json!({"customUserStatusId": id}),
            Some(&admin),
        )
        .await
        .ok();
    let deleted = ddp
        .until(|m| m["msg"] == "changed" && m["fields"]["eventName"] == "deleteCustomUserStatus")
        .await;
    assert_eq!(
        deleted["fields"]["args"][0]["userStatusData"]["_id"],
        json!(id)
    );
    let left = server
        .get("custom-user-status.list", &[], Some(&user))
        .await;
    assert_eq!(left.ok()["total"], json!(1));
    server.stop().await;
}
