//! Teams end to end, replaying upstream's `teams.ts` checks: creation (main room with
//! `teamMain`, owner, members), the refusals (`team-name-already-exists`,
//! `error-team-creation`, `Team not found`, `team-does-not-exist`,
//! `last-owner-can-not-be-removed`, `invalid-params`), members and their roles, listing,
//! rooms joining and leaving a team with their system messages, auto-join rooms, deletion and
//! conversion back to a channel.

use crate::common;

use common::{Auth, TestServer, create_room};
use serde_json::{Value, json};

async fn create_team(server: &TestServer, auth: &Auth, body: Value) -> Value {
    server.post("teams.create", body, Some(auth)).await.ok()["team"].clone()
}

fn member_names(reply: &Value) -> Vec<String> {
    let mut names: Vec<String> = reply["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            m["user"]["username"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

async fn room_info(server: &TestServer, auth: &Auth, rid: &str) -> Value {
    server
        .get("rooms.info", &[("roomId", rid)], Some(auth))
        .await
        .ok()["room"]
        .clone()
}

/// The system message kinds (`t`) of a room's messages, read through `<family>.messages`.
async fn message_kinds_of(
    server: &TestServer,
    auth: &Auth,
    family: &str,
    rid: &str,
) -> Vec<String> {
    let reply = server
        .get(
            &format!("{family}.messages"),
            &[("roomId", rid)],
            Some(auth),
        )
        .await;
    reply.ok()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["t"].as_str().map(str::to_owned))
        .collect()
}

async fn message_kinds(server: &TestServer, auth: &Auth, rid: &str) -> Vec<String> {
    message_kinds_of(server, auth, "channels", rid).await
}

#[tokio::test]
async fn create_makes_a_main_room_with_owner_and_members() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let team = create_team(
        &server,
        &admin,
        json!({"name": "crew", "type": 0, "members": ["bea"]}),
    )
    .await;
    assert_eq!(team["name"], "crew");
    assert_eq!(team["type"], 0);
    assert!(team["createdBy"]["_id"].is_string());
    let room_id = team["roomId"].as_str().expect("roomId").to_owned();
    let room = room_info(&server, &admin, &room_id).await;
    assert_eq!(room["t"], "c");
    assert_eq!(room["teamMain"], true);
    assert_eq!(room["teamId"], team["_id"]);

    // The owner first, with the owner role; bea as a plain member.
    let members = server
        .get("teams.members", &[("teamName", "crew")], Some(&admin))
        .await;
    let body = members.ok();
    assert_eq!(body["total"], 2);
    assert_eq!(body["count"], 2);
    assert_eq!(body["offset"], 0);
    assert_eq!(member_names(body), ["admin", "bea"]);
    let owner = body["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user"]["username"] == "admin")
        .expect("owner");
    assert_eq!(owner["roles"], json!(["owner"]));
    for key in ["_id", "username", "name", "status"] {
        assert!(owner["user"].get(key).is_some(), "{key}");
    }
    assert!(owner["createdBy"]["username"].is_string());
    assert!(owner["createdAt"].is_string());

    // Filters.
    let filtered = server
        .get(
            "teams.members",
            &[("teamName", "crew"), ("username", "BE")],
            Some(&bea),
        )
        .await;
    assert_eq!(member_names(filtered.ok()), ["bea"]);

    // A private team with a defined owner.
    let cid = server.new_user("cid").await;
    let private = create_team(
        &server,
        &admin,
        json!({"name": "vault", "type": 1, "owner": cid.user_id}),
    )
    .await;
    let main = room_info(&server, &cid, private["roomId"].as_str().expect("rid")).await;
    assert_eq!(main["t"], "p");
    let members = server
        .get("teams.members", &[("teamName", "vault")], Some(&cid))
        .await;
    let body = members.ok();
    assert_eq!(member_names(body), ["cid"]);
    assert_eq!(body["members"][0]["roles"], json!(["owner"]));

    // Refusals.
    server
        .post(
            "teams.create",
            json!({"name": "crew", "type": 0}),
            Some(&admin),
        )
        .await
        .refused(400, "team-name-already-exists");
    server
        .post(
            "teams.create",
            json!({"name": "invalid*team*name", "type": 0}),
            Some(&admin),
        )
        .await
        .refused(400, "error-team-creation");
    server
        .get(
            "teams.info",
            &[("teamName", "invalid*team*name")],
            Some(&admin),
        )
        .await
        .refused(400, "Team not found");
    server
        .get(
            "teams.members",
            &[("teamName", "invalid*team*name")],
            Some(&admin),
        )
        .await
        .refused(400, "team-does-not-exist");
    server.stop().await;
}

#[tokio::test]
async fn info_list_and_list_all() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let outsider = server.new_user("out").await;
    let team = create_team(&server, &admin, json!({"name": "crew", "type": 0})).await;
    create_team(&server, &bea, json!({"name": "beas", "type": 1})).await;

    let info = server
        .get(
            "teams.info",
            &[("teamId", team["_id"].as_str().expect("id"))],
            Some(&outsider),
        )
        .await;
    assert_eq!(info.ok()["teamInfo"]["name"], "crew");
    // A private team is not for outsiders; view-all-teams lets the admin see it.
    server
        .get("teams.info", &[("teamName", "beas")], Some(&outsider))
        .await
        .refused(403, "unauthorized");
    server
        .get("teams.info", &[("teamName", "beas")], Some(&admin))
        .await
        .ok();

    // teams.list: only the caller's teams, with counts.
    let listed = server.get("teams.list", &[], Some(&bea)).await;
    let body = listed.ok();
    assert_eq!(body["total"], 1);
    assert_eq!(body["teams"][0]["name"], "beas");
    // The main room is not one of the team's rooms (upstream's `countByTeamId`).
    assert_eq!(body["teams"][0]["rooms"], 0);
    assert_eq!(body["teams"][0]["numberOfUsers"], 1);
    assert!(body["teams"][0]["_updatedAt"].is_string());

    let all = server.get("teams.listAll", &[], Some(&admin)).await;
    assert_eq!(all.ok()["total"], 2);
    server.get("teams.listAll", &[], Some(&bea)).await.refused(
        403,
        "User does not have the permissions required for this action [error-unauthorized]",
    );
    server.stop().await;
}

#[tokio::test]
async fn members_join_update_leave_and_the_last_owner_stays() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let cid = server.new_user("cid").await;
    let team = create_team(&server, &admin, json!({"name": "crew", "type": 0})).await;
    let main = team["roomId"].as_str().expect("rid").to_owned();

    // Adding members puts them in the main room with added-user-to-team.
    server
        .post(
            "teams.addMembers",
            json!({"teamName": "crew", "members": [
                {"userId": bea.user_id, "roles": ["member"]},
                {"userId": cid.user_id, "roles": ["member"]},
            ]}),
            Some(&admin),
        )
        .await
        .ok();
    let members = server
        .get("teams.members", &[("teamName", "crew")], Some(&bea))
        .await;
    let body = members.ok();
    assert_eq!(body["total"], 3);
    let bea_member = body["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user"]["username"] == "bea")
        .expect("bea");
    assert_eq!(bea_member["roles"], json!(["member"]));
    assert!(
        message_kinds(&server, &admin, &main)
            .await
            .contains(&"added-user-to-team".to_owned())
    );

    // Someone without edit-team-member may not add or update.
    server
        .post(
            "teams.addMembers",
            json!({"teamName": "crew", "members": [{"userId": admin.user_id}]}),
            Some(&bea),
        )
        .await
        .refused(403, "unauthorized");

    // The last owner cannot be removed, nor leave.
    server
        .post(
            "teams.removeMember",
            json!({"teamName": "crew", "userId": admin.user_id}),
            Some(&admin),
        )
        .await
        .refused(400, "last-owner-can-not-be-removed");
    server
        .post("teams.leave", json!({"teamName": "crew"}), Some(&admin))
        .await
        .refused(400, "last-owner-can-not-be-removed");
    let empty = server
        .post(
            "teams.removeMember",
            json!({"teamName": "crew", "userId": admin.user_id, "rooms": []}),
            Some(&admin),
        )
        .await;
    assert_eq!(empty.status, 400);
    assert_eq!(empty.body["errorType"], "invalid-params");
    let empty = server
        .post(
            "teams.leave",
            json!({"teamName": "crew", "rooms": []}),
            Some(&admin),
        )
        .await;
    assert_eq!(empty.body["errorType"], "invalid-params");

    // bea becomes an owner; then the admin may leave, with ult.
    server
        .post(
            "teams.updateMember",
            json!({"teamName": "crew", "member": {"userId": bea.user_id, "roles": ["member", "owner"]}}),
            Some(&admin),
        )
        .await
        .ok();
    let subscription = common::subscription(&server, &bea, &main).await;
    assert_eq!(subscription["roles"], json!(["member", "owner"]));
    server
        .post("teams.leave", json!({"teamName": "crew"}), Some(&admin))
        .await
        .ok();
    assert!(
        message_kinds(&server, &bea, &main)
            .await
            .contains(&"ult".to_owned())
    );

    // bea (now an owner of the main room) removes cid.
    server
        .post(
            "teams.removeMember",
            json!({"teamName": "crew", "userId": cid.user_id}),
            Some(&bea),
        )
        .await
        .ok();
    let members = server
        .get("teams.members", &[("teamName", "crew")], Some(&bea))
        .await;
    assert_eq!(member_names(members.ok()), ["bea"]);
    assert!(
        message_kinds(&server, &bea, &main)
            .await
            .contains(&"removed-user-from-team".to_owned())
    );
    // Someone outside a team sees no members.
    let outside = server
        .get("teams.members", &[("teamName", "crew")], Some(&cid))
        .await;
    assert_eq!(outside.ok()["total"], 0);

    // Joining the main room joins the team (ujt).
    server
        .post("channels.join", json!({"roomId": main}), Some(&cid))
        .await
        .ok();
    let members = server
        .get("teams.members", &[("teamName", "crew")], Some(&bea))
        .await;
    assert_eq!(member_names(members.ok()), ["bea", "cid"]);
    assert!(
        message_kinds(&server, &bea, &main)
            .await
            .contains(&"ujt".to_owned())
    );
    server.stop().await;
}

#[tokio::test]
async fn rooms_join_a_team_auto_join_and_leave_it() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let team = create_team(&server, &admin, json!({"name": "crew", "type": 1})).await;
    let team_id = team["_id"].as_str().expect("id").to_owned();
    let main = team["roomId"].as_str().expect("rid").to_owned();
    let side = create_room(&server, &admin, "channels", "crew-side", &[]).await;
    let beas_room = create_room(&server, &bea, "channels", "beas-room", &[]).await;

    // Only an owner of the room may bring it in.
    server
        .post(
            "teams.addRooms",
            json!({"teamId": team_id, "rooms": [beas_room]}),
            Some(&admin),
        )
        .await
        .refused(400, "error-no-owner-channel");
    server
        .post(
            "teams.addRooms",
            json!({"teamId": team_id, "rooms": ["no-such-room"]}),
            Some(&admin),
        )
        .await
        .refused(400, "invalid-room");
    server
        .post(
            "teams.addRooms",
            json!({"teamId": team_id, "rooms": [side]}),
            Some(&bea),
        )
        .await
        .refused(403, "error-no-permission-team-channel");
    let added = server
        .post(
            "teams.addRooms",
            json!({"teamId": team_id, "rooms": [side]}),
            Some(&admin),
        )
        .await;
    let body = added.ok();
    assert_eq!(body["rooms"][0]["teamId"], team_id.as_str());
    assert!(body["rooms"][0].get("teamDefault").is_none());
    assert!(
        message_kinds_group(&server, &admin, &main)
            .await
            .contains(&"user-added-room-to-team".to_owned())
    );
    server
        .post(
            "teams.addRooms",
            json!({"teamId": team_id, "rooms": [side]}),
            Some(&admin),
        )
        .await
        .refused(400, "room-already-on-team");

    // listRooms: a private team is closed to outsiders.
    server
        .get("teams.listRooms", &[("teamId", &team_id)], Some(&bea))
        .await
        .refused(400, "user-not-on-private-team");
    let rooms = server
        .get("teams.listRooms", &[("teamId", &team_id)], Some(&admin))
        .await;
    // Its rooms, without the main room.
    assert_eq!(rooms.ok()["total"], 1);
    assert_eq!(rooms.ok()["rooms"][0]["_id"], side.as_str());

    // An auto-join room: existing and new members join it.
    server
        .post(
            "teams.updateRoom",
            json!({"roomId": side, "isDefault": true}),
            Some(&admin),
        )
        .await
        .ok();
    let auto = server
        .get(
            "teams.listRooms",
            &[("teamId", &team_id), ("type", "autoJoin")],
            Some(&admin),
        )
        .await;
    assert_eq!(auto.ok()["total"], 1);
    server
        .post(
            "teams.addMembers",
            json!({"teamId": team_id, "members": [{"userId": bea.user_id}]}),
            Some(&admin),
        )
        .await
        .ok();
    let joined = common::subscription(&server, &bea, &side).await;
    assert_eq!(joined["rid"], side.as_str());
    server
        .post(
            "teams.updateRoom",
            json!({"roomId": beas_room, "isDefault": true}),
            Some(&admin),
        )
        .await
        .refused(400, "room-not-on-team");

    // Removing the room.
    let removed = server
        .post(
            "teams.removeRoom",
            json!({"teamId": team_id, "roomId": side}),
            Some(&admin),
        )
        .await;
    assert!(removed.ok()["room"].get("teamId").is_none());
    server
        .post(
            "teams.removeRoom",
            json!({"teamId": team_id, "roomId": side}),
            Some(&admin),
        )
        .await
        .refused(400, "room-not-on-that-team");

    // Autocomplete finds the team by its main room for a member.
    let found = server
        .get("teams.autocomplete", &[("name", "CR")], Some(&bea))
        .await;
    assert_eq!(found.ok()["teams"][0]["teamId"], team_id.as_str());
    server.stop().await;
}

async fn message_kinds_group(server: &TestServer, auth: &Auth, rid: &str) -> Vec<String> {
    message_kinds_of(server, auth, "groups", rid).await
}

#[tokio::test]
async fn delete_and_convert_to_channel_release_rooms() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let team = create_team(&server, &admin, json!({"name": "crew", "type": 0})).await;
    let team_id = team["_id"].as_str().expect("id").to_owned();
    let main = team["roomId"].as_str().expect("rid").to_owned();
    let erase = create_room(&server, &admin, "channels", "crew-erase", &[]).await;
    let keep = create_room(&server, &admin, "channels", "crew-keep", &[]).await;
    server
        .post(
            "teams.addRooms",
            json!({"teamId": team_id, "rooms": [erase, keep]}),
            Some(&admin),
        )
        .await
        .ok();

    // Only delete-team (admin, or an owner of the main room) may.
    server
        .post(
            "teams.convertToChannel",
            json!({"teamId": team_id}),
            Some(&bea),
        )
        .await
        .refused(403, "unauthorized");
    server
        .post(
            "teams.convertToChannel",
            json!({"teamName": "crew", "roomsToRemove": [erase]}),
            Some(&admin),
        )
        .await
        .ok();
    let gone = server
        .get("channels.info", &[("roomId", &erase)], Some(&admin))
        .await;
    assert_eq!(gone.status, 400);
    let kept = server
        .get("channels.info", &[("roomId", &keep)], Some(&admin))
        .await;
    assert!(kept.ok()["channel"].get("teamId").is_none());
    let main_now = server
        .get("channels.info", &[("roomId", &main)], Some(&admin))
        .await;
    let channel = &main_now.ok()["channel"];
    assert!(channel.get("teamId").is_none());
    assert!(channel.get("teamMain").is_none());
    assert!(
        message_kinds(&server, &admin, &main)
            .await
            .contains(&"user-converted-to-channel".to_owned())
    );
    server
        .get("teams.info", &[("teamId", &team_id)], Some(&admin))
        .await
        .refused(400, "Team not found");

    // teams.delete erases the main room and roomsToRemove, and releases the rest.
    let second = create_team(&server, &admin, json!({"name": "crew2", "type": 0})).await;
    server
        .post(
            "teams.addRooms",
            json!({"teamName": "crew2", "rooms": [keep]}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post("teams.delete", json!({"teamName": "crew2"}), Some(&bea))
        .await
        .refused(403, "unauthorized");
    server
        .post("teams.delete", json!({"teamName": "crew2"}), Some(&admin))
        .await
        .ok();
    let main2 = second["roomId"].as_str().expect("rid");
    assert_eq!(
        server
            .get("channels.info", &[("roomId", main2)], Some(&admin))
            .await
            .status,
        400
    );
    let kept = server
        .get("channels.info", &[("roomId", &keep)], Some(&admin))
        .await;
    assert!(kept.ok()["channel"].get("teamId").is_none());
    server
        .post("teams.delete", json!({"teamName": "crew2"}), Some(&admin))
        .await
        .refused(400, "team-does-not-exist");
    server.stop().await;
}

#[tokio::test]
async fn channels_and_groups_convert_to_teams() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let cid = server.new_user("cid").await;
    let rid = create_room(&server, &bea, "channels", "plaza", &["cid"]).await;

    // Refusals, in upstream's order: the parameters, create-team, edit-room in the channel,
    // then the channel itself.
    server
        .post("channels.convertToTeam", json!({}), Some(&bea))
        .await
        .refused(
            400,
            "must have required property 'channelId' [invalid-params]",
        );
    server
        .post(
            "channels.convertToTeam",
            json!({"channelId": rid}),
            Some(&cid),
        )
        .await
        .refused(403, "unauthorized");
    server
        .post(
            "channels.convertToTeam",
            json!({"channelName": "nowhere"}),
            Some(&bea),
        )
        .await
        .refused(400, "The required \"roomId\" or \"roomName\" param provided does not match any channel [error-room-not-found]");

    // The owner converts it: the room is the team's main room, its members the team's.
    let reply = server
        .post(
            "channels.convertToTeam",
            json!({"channelId": rid}),
            Some(&bea),
        )
        .await;
    let team = reply.ok()["team"].clone();
    assert_eq!(team["name"], "plaza");
    assert_eq!(team["type"], 0);
    assert_eq!(team["roomId"], rid.as_str());
    let room = room_info(&server, &bea, &rid).await;
    assert_eq!(room["teamMain"], true);
    assert_eq!(room["teamId"], team["_id"]);
    assert!(
        message_kinds(&server, &bea, &rid)
            .await
            .contains(&"user-converted-to-team".to_owned())
    );
    let members = server
        .get("teams.members", &[("teamName", "plaza")], Some(&cid))
        .await;
    let body = members.ok();
    assert_eq!(member_names(body), ["bea", "cid"]);
    let owner = body["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user"]["username"] == "bea")
        .expect("owner");
    assert_eq!(owner["roles"], json!(["owner"]));
    // A second conversion meets the team's name.
    server
        .post(
            "channels.convertToTeam",
            json!({"channelId": rid}),
            Some(&bea),
        )
        .await
        .refused(400, "team-name-already-exists");

    // Groups: the caller must be in the group, then hold create-team and edit-room in it.
    let gid = create_room(&server, &bea, "groups", "den", &["cid"]).await;
    server
        .post("groups.convertToTeam", json!({}), Some(&bea))
        .await
        .refused(400, "must have required property 'roomId' [invalid-params]");
    server
        .post("groups.convertToTeam", json!({"roomId": gid}), Some(&admin))
        .await
        .refused(400, "The required \"roomId\" or \"roomName\" param provided does not match any group [error-room-not-found]");
    server
        .post("groups.convertToTeam", json!({"roomId": gid}), Some(&cid))
        .await
        .refused(401, "unauthorized");
    let reply = server
        .post(
            "groups.convertToTeam",
            json!({"roomName": "den"}),
            Some(&bea),
        )
        .await;
    let team = reply.ok()["team"].clone();
    assert_eq!(team["type"], 1);
    assert_eq!(room_info(&server, &cid, &gid).await["teamMain"], true);
    server.stop().await;
}

#[tokio::test]
async fn update_renames_and_retypes_the_team_and_its_main_room() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let team = create_team(
        &server,
        &admin,
        json!({"name": "alpha", "type": 0, "members": ["bea"]}),
    )
    .await;
    let team_id = team["_id"].as_str().expect("_id").to_owned();
    let room_id = team["roomId"].as_str().expect("roomId").to_owned();

    server
        .post(
            "teams.update",
            json!({"teamId": team_id, "data": {"name": "anyname"}}),
            Some(&bea),
        )
        .await
        .refused(403, "unauthorized");
    server
        .post("teams.update", json!({"teamId": team_id}), Some(&admin))
        .await
        .refused(400, "must have required property 'data' [invalid-params]");
    server
        .post(
            "teams.update",
            json!({"teamName": "nothing", "data": {"name": "x"}}),
            Some(&admin),
        )
        .await
        .refused(400, "team-does-not-exist");

    server
        .post(
            "teams.update",
            json!({"teamId": team_id, "data": {"name": "beta"}}),
            Some(&admin),
        )
        .await
        .ok();
    let info = server
        .get("teams.info", &[("teamId", &team_id)], Some(&admin))
        .await;
    assert_eq!(info.ok()["teamInfo"]["name"], "beta");
    assert_eq!(room_info(&server, &admin, &room_id).await["name"], "beta");

    server
        .post(
            "teams.update",
            json!({"teamId": team_id, "data": {"type": 1}}),
            Some(&admin),
        )
        .await
        .ok();
    let info = server
        .get("teams.info", &[("teamId", &team_id)], Some(&admin))
        .await;
    assert_eq!(info.ok()["teamInfo"]["type"], 1);
    assert_eq!(room_info(&server, &admin, &room_id).await["t"], "p");

    // Renaming the main room renames the team.
    server
        .post(
            "groups.rename",
            json!({"roomId": room_id, "name": "gamma"}),
            Some(&admin),
        )
        .await
        .ok();
    let info = server
        .get("teams.info", &[("teamId", &team_id)], Some(&admin))
        .await;
    assert_eq!(info.ok()["teamInfo"]["name"], "gamma");
    server.stop().await;
}

#[tokio::test]
async fn list_rooms_of_user_shows_the_team_rooms_they_are_in() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let cid = server.new_user("cid").await;
    let team = create_team(
        &server,
        &admin,
        json!({"name": "ops", "type": 0, "members": ["bea", "cid"]}),
    )
    .await;
    let team_id = team["_id"].as_str().expect("_id").to_owned();
    let shared = create_room(&server, &admin, "channels", "ops-shared", &["bea"]).await;
    let quiet = create_room(&server, &admin, "groups", "ops-quiet", &[]).await;
    server
        .post(
            "teams.addRooms",
            json!({"teamId": team_id, "rooms": [shared, quiet]}),
            Some(&admin),
        )
        .await
        .ok();

    let reply = server
        .get(
            "teams.listRoomsOfUser",
            &[("teamId", &team_id), ("userId", &bea.user_id)],
            Some(&bea),
        )
        .await;
    let body = reply.ok();
    let mut ids: Vec<&str> = body["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .filter_map(|r| r["_id"].as_str())
        .collect();
    ids.sort_unstable();
    // The main room is not listed (upstream's `findByTeamId`).
    assert_eq!(ids, vec![shared.as_str()]);
    assert_eq!(body["total"], 1);
    assert_eq!(body["offset"], 0);
    assert!(
        body["rooms"]
            .as_array()
            .expect("rooms")
            .iter()
            .all(|r| r["isLastOwner"] == false)
    );

    // The admin's rooms, as the admin: every room of the team, each one they alone own.
    let reply = server
        .get(
            "teams.listRoomsOfUser",
            &[("teamName", "ops"), ("userId", &admin.user_id)],
            Some(&admin),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["total"], 2);
    assert!(
        body["rooms"]
            .as_array()
            .expect("rooms")
            .iter()
            .all(|r| r["isLastOwner"] == true)
    );
    // Only those bea may delete: none.
    let reply = server
        .get(
            "teams.listRoomsOfUser",
            &[
                ("teamId", &team_id),
                ("userId", &bea.user_id),
                ("canUserDelete", "true"),
            ],
            Some(&bea),
        )
        .await;
    assert_eq!(reply.ok()["total"], 0);

    // Another user's rooms need view-all-team-channels.
    server
        .get(
            "teams.listRoomsOfUser",
            &[("teamId", &team_id), ("userId", &bea.user_id)],
            Some(&cid),
        )
        .await
        .refused(403, "unauthorized");
    server
        .get("teams.listRoomsOfUser", &[("teamId", &team_id)], Some(&cid))
        .await
        .refused(400, "Match error: Missing key 'userId' [invalid-params]");
    server.stop().await;
}

#[tokio::test]
async fn the_directory_lists_teams_the_caller_may_see() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let open = create_team(&server, &admin, json!({"name": "open-team", "type": 0})).await;
    create_team(&server, &admin, json!({"name": "closed-team", "type": 1})).await;
    let extra = create_room(&server, &admin, "channels", "open-extra", &[]).await;
    server
        .post(
            "teams.addRooms",
            json!({"teamId": open["_id"], "rooms": [extra]}),
            Some(&admin),
        )
        .await
        .ok();
    create_room(&server, &admin, "channels", "not-a-team", &[]).await;

    let reply = server
        .get(
            "directory",
            &[("type", "teams"), ("text", "team")],
            Some(&bea),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["total"], 1);
    assert_eq!(body["result"][0]["name"], "open-team");
    assert_eq!(body["result"][0]["teamMain"], true);
    // One room besides the main room (upstream's `countByTeamId`).
    assert_eq!(body["result"][0]["roomsCount"], 1);

    let reply = server
        .get("directory", &[("type", "teams")], Some(&admin))
        .await;
    let names: Vec<&str> = reply.ok()["result"]
        .as_array()
        .expect("result")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["closed-team", "open-team"]);
    server.stop().await;
}

/// `rooms.info` names a team room's team, and for a room other than the main one its parent
/// (the main room), as upstream's `Team.getRoomInfo`; a room outside teams has neither.
#[tokio::test]
async fn rooms_info_shows_the_team_and_the_main_room_as_parent() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let team = create_team(&server, &admin, json!({"name": "deck", "type": 0})).await;
    let team_id = team["_id"].as_str().expect("id").to_owned();
    let main = team["roomId"].as_str().expect("rid").to_owned();
    let side = create_room(&server, &admin, "channels", "deck-side", &[]).await;
    let lone = create_room(&server, &admin, "channels", "lone", &[]).await;
    server
        .post(
            "teams.addRooms",
            json!({"teamId": team_id, "rooms": [side]}),
            Some(&admin),
        )
        .await
        .ok();

    let expected_team = json!({"_id": team_id, "name": "deck", "roomId": main, "type": 0});
    let main_info = server
        .get("rooms.info", &[("roomId", &main)], Some(&admin))
        .await;
    let body = main_info.ok();
    assert_eq!(body["team"], expected_team);
    assert!(body.get("parent").is_none(), "{body}");

    let side_info = server
        .get("rooms.info", &[("roomId", &side)], Some(&admin))
        .await;
    let body = side_info.ok();
    assert_eq!(body["team"], expected_team);
    assert_eq!(body["parent"]["_id"], json!(main));
    assert_eq!(body["parent"]["name"], json!("deck"));
    assert_eq!(body["parent"]["t"], json!("c"));

    let lone_info = server
        .get("rooms.info", &[("roomId", &lone)], Some(&admin))
        .await;
    let body = lone_info.ok();
    assert!(
        body.get("team").is_none() && body.get("parent").is_none(),
        "{body}"
    );
}

/// Spotlight finds a team by its main room, marked `teamMain` as upstream's spotlight rooms are;
/// a private team only for its members.
#[tokio::test]
async fn spotlight_finds_teams_by_their_main_rooms() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let open = create_team(&server, &admin, json!({"name": "harbour", "type": 0})).await;
    create_team(
        &server,
        &admin,
        json!({"name": "harbour-private", "type": 1}),
    )
    .await;

    let found = server
        .get("spotlight", &[("query", "#harbour")], Some(&bea))
        .await;
    let body = found.ok();
    let rooms = body["rooms"].as_array().expect("rooms");
    assert_eq!(rooms.len(), 1, "{body}");
    assert_eq!(rooms[0]["_id"], open["roomId"]);
    assert_eq!(rooms[0]["teamMain"], json!(true));
    assert_eq!(rooms[0]["teamId"], open["_id"]);

    let found = server
        .get("spotlight", &[("query", "#harbour")], Some(&admin))
        .await;
    let body = found.ok();
    assert_eq!(body["rooms"].as_array().expect("rooms").len(), 2, "{body}");
}

/// Upstream's status for each refusal: `permissionsRequired` (403 `error-unauthorized`) for
/// `teams.create` and `teams.listAll`, `API.v1.forbidden` (403) for a team permission the
/// caller lacks, and an empty `teamName` answered as an unknown team.
#[tokio::test]
async fn refusals_answer_with_upstreams_statuses() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let team = create_team(&server, &admin, json!({"name": "crew", "type": 0})).await;
    let team_id = team["_id"].as_str().expect("id").to_owned();
    let side = create_room(&server, &admin, "channels", "side", &[]).await;
    server
        .post(
            "teams.addRooms",
            json!({"teamId": team_id, "rooms": [side]}),
            Some(&admin),
        )
        .await
        .ok();

    // An empty name names no team.
    server
        .get("teams.info", &[("teamName", "")], Some(&admin))
        .await
        .refused(400, "Team not found");
    server
        .get("teams.members", &[("teamName", "")], Some(&admin))
        .await
        .refused(400, "team-does-not-exist");

    // Without create-team (taken from the user role).
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "create-team", "roles": ["admin"]}]}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "teams.create",
            json!({"name": "beas", "type": 0}),
            Some(&bea),
        )
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );

    // Team permissions bea lacks: 403 "unauthorized".
    server
        .post(
            "teams.updateRoom",
            json!({"roomId": side, "isDefault": true}),
            Some(&bea),
        )
        .await
        .refused(403, "unauthorized");
    server
        .post(
            "teams.removeRoom",
            json!({"teamId": team_id, "roomId": side}),
            Some(&bea),
        )
        .await
        .refused(403, "unauthorized");
    server
        .post(
            "teams.updateMember",
            json!({"teamId": team_id, "member": {"userId": bea.user_id, "roles": ["owner"]}}),
            Some(&bea),
        )
        .await
        .refused(403, "unauthorized");
    server
        .post(
            "teams.removeMember",
            json!({"teamId": team_id, "userId": admin.user_id}),
            Some(&bea),
        )
        .await
        .refused(403, "unauthorized");
    server.stop().await;
}

/// `teams.create`'s `sidepanel`: stored on the main room and shown by `channels.info`;
/// anything but one or both of `channels` and `discussions` is `error-invalid-sidepanel`.
#[tokio::test]
async fn create_keeps_the_side_panel_on_the_main_room() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let team = create_team(
        &server,
        &admin,
        json!({"name": "paneled", "type": 0, "sidepanel": {"items": ["channels"]}}),
    )
    .await;
    let rid = team["roomId"].as_str().expect("rid");
    let info = server
        .get("channels.info", &[("roomId", rid)], Some(&admin))
        .await;
    assert_eq!(
        info.ok()["channel"]["sidepanel"],
        json!({"items": ["channels"]})
    );
    let plain = create_team(&server, &admin, json!({"name": "plain", "type": 0})).await;
    let info = server
        .get(
            "channels.info",
            &[("roomId", plain["roomId"].as_str().expect("rid"))],
            Some(&admin),
        )
        .await;
    assert!(info.ok()["channel"].get("sidepanel").is_none());

    for items in [
        json!(["channels", "discussion", "other"]),
        json!(["other"]),
        json!(["channels", "channels"]),
        json!([]),
    ] {
        server
            .post(
                "teams.create",
                json!({"name": "bad-panel", "type": 0, "sidepanel": {"items": items}}),
                Some(&admin),
            )
            .await
            .refused(400, "error-invalid-sidepanel");
    }
    server
        .get("teams.info", &[("teamName", "bad-panel")], Some(&admin))
        .await
        .refused(400, "Team not found");

    // teams.update's schema has no sidepanel.
    server
        .post(
            "teams.update",
            json!({"teamId": team["_id"], "data": {"sidepanel": {"items": ["channels"]}}}),
            Some(&admin),
        )
        .await
        .refused(400, "must NOT have additional properties [invalid-params]");

    // saveRoomSettings changes it on a main room, for edit-team there.
    server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "sidepanel": {"items": ["discussions", "channels"]}}),
            Some(&admin),
        )
        .await
        .ok();
    let info = server
        .get("channels.info", &[("roomId", rid)], Some(&admin))
        .await;
    assert_eq!(
        info.ok()["channel"]["sidepanel"],
        json!({"items": ["discussions", "channels"]})
    );
    let bea = server.new_user("bea").await;
    server
        .post("channels.join", json!({"roomId": rid}), Some(&bea))
        .await
        .ok();
    let refused = server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "sidepanel": {"items": ["channels"]}}),
            Some(&bea),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "sidepanel": {"items": ["other"]}}),
            Some(&admin),
        )
        .await
        .refused(400, "[error-invalid-sidepanel]");
    server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "sidepanel": null}),
            Some(&admin),
        )
        .await
        .ok();
    let info = server
        .get("channels.info", &[("roomId", rid)], Some(&admin))
        .await;
    assert!(info.ok()["channel"].get("sidepanel").is_none());
    server.stop().await;
}

fn ids_of(reply: &Value) -> Vec<String> {
    reply["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|room| room["_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `teams.listChildren` (upstream's `[teams.listChildren]` tests): the team's rooms, its main
/// room among them, and the discussions of its main room, each private one only for those in
/// it; by team id, name or main room; filtered by name and kind; paginated; members only.
#[tokio::test]
async fn list_children_shows_a_members_rooms_and_main_room_discussions() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let team = create_team(
        &server,
        &admin,
        json!({"name": "kids", "type": 0, "members": ["bea"]}),
    )
    .await;
    let team_id = team["_id"].as_str().expect("id").to_owned();
    let main = team["roomId"].as_str().expect("rid").to_owned();
    server
        .post(
            "teams.updateMember",
            json!({"teamName": "kids", "member": {"userId": bea.user_id, "roles": ["member", "owner"]}}),
            Some(&admin),
        )
        .await
        .ok();
    let private_room = create_room(&server, &admin, "groups", "test-p-one", &[]).await;
    let beas_private = create_room(&server, &bea, "groups", "test-p2-two", &[]).await;
    let public_room = create_room(&server, &admin, "channels", "test-c-one", &[]).await;
    let public_room2 = create_room(&server, &admin, "channels", "test-c2-two", &[]).await;
    server
        .post(
            "teams.addRooms",
            json!({"teamId": team_id, "rooms": [private_room, public_room, public_room2]}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "teams.addRooms",
            json!({"teamId": team_id, "rooms": [beas_private]}),
            Some(&bea),
        )
        .await
        .ok();
    let mut discussions = Vec::new();
    for parent in [&private_room, &public_room, &main] {
        let reply = server
            .post(
                "rooms.createDiscussion",
                json!({"prid": parent, "t_name": format!("talk-{}", discussions.len())}),
                Some(&admin),
            )
            .await;
        discussions.push(
            reply.ok()["discussion"]["_id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let main_discussion = discussions[2].clone();

    // Refusals: no team named, two named, unknown or empty names, a kind not known.
    server
        .get("teams.listChildren", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");
    assert_eq!(
        server
            .get("teams.listChildren", &[], Some(&admin))
            .await
            .status,
        400
    );
    assert_eq!(
        server
            .get(
                "teams.listChildren",
                &[("teamId", &team_id), ("teamName", "kids")],
                Some(&admin),
            )
            .await
            .status,
        400
    );
    for (key, value) in [
        ("teamId", "invalid"),
        ("teamId", ""),
        ("teamName", ""),
        ("teamName", "invalid"),
        ("roomId", ""),
        ("roomId", public_room.as_str()),
    ] {
        server
            .get("teams.listChildren", &[(key, value)], Some(&admin))
            .await
            .refused(404, "Resource not found");
    }
    assert_eq!(
        server
            .get(
                "teams.listChildren",
                &[("teamId", &team_id), ("type", "other")],
                Some(&admin),
            )
            .await
            .status,
        400
    );

    // The admin: everything but bea's group and the other rooms' discussions.
    let reply = server
        .get("teams.listChildren", &[("teamId", &team_id)], Some(&admin))
        .await;
    let body = reply.ok();
    assert_eq!(body["total"], 5, "{body}");
    let mut ids = ids_of(body);
    ids.sort();
    let mut want = vec![
        main.clone(),
        public_room.clone(),
        public_room2.clone(),
        private_room.clone(),
        main_discussion.clone(),
    ];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(body["offset"], 0);

    // Bea, by the team's name and by its main room: her group instead of the admin's.
    for (key, value) in [("teamName", "kids"), ("roomId", main.as_str())] {
        let reply = server
            .get("teams.listChildren", &[(key, value)], Some(&bea))
            .await;
        let ids = ids_of(reply.ok());
        assert_eq!(ids.len(), 5);
        assert!(ids.contains(&beas_private));
        assert!(!ids.contains(&private_room));
        assert!(ids.contains(&main_discussion));
    }

    // By name, by page, by kind.
    let reply = server
        .get(
            "teams.listChildren",
            &[("teamId", &team_id), ("filter", "test-p")],
            Some(&admin),
        )
        .await;
    assert_eq!(ids_of(reply.ok()), vec![private_room.clone()]);
    let reply = server
        .get(
            "teams.listChildren",
            &[("teamId", &team_id), ("offset", "1"), ("count", "2")],
            Some(&admin),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["total"], 5);
    assert_eq!(body["count"], 2);
    assert_eq!(body["offset"], 1);
    assert_eq!(ids_of(body).len(), 2);
    let reply = server
        .get(
            "teams.listChildren",
            &[("teamId", &team_id), ("type", "channels")],
            Some(&admin),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["total"], 4);
    assert!(
        body["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|room| room.get("prid").is_none())
    );
    let reply = server
        .get(
            "teams.listChildren",
            &[("teamId", &team_id), ("type", "discussions")],
            Some(&admin),
        )
        .await;
    assert_eq!(ids_of(reply.ok()), vec![main_discussion.clone()]);

    // The older name answers the same.
    let reply = server
        .get(
            "teams.listRoomsAndDiscussions",
            &[("teamId", &team_id)],
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["total"], 5);

    // A private team: its main room for its member; a non-member is refused.
    let private_team = create_team(&server, &bea, json!({"name": "beasp", "type": 1})).await;
    let private_id = private_team["_id"].as_str().expect("id");
    let reply = server
        .get("teams.listChildren", &[("teamId", private_id)], Some(&bea))
        .await;
    assert_eq!(reply.ok()["total"], 1);
    server
        .get(
            "teams.listChildren",
            &[("teamId", private_id)],
            Some(&admin),
        )
        .await
        .refused(400, "error-invalid-team-not-a-member");
    server.stop().await;
}

/// A room joining or leaving a team reaches its members' `rooms-changed` stream, as upstream's
/// `notifyOnRoomChangedById`, carrying `teamId` and, for a main room, `teamMain`.
#[tokio::test]
async fn members_hear_rooms_join_and_leave_a_team() {
    use common::ddp::Ddp;

    let server = TestServer::start().await;
    let admin = server.admin().await;
    server.new_user("bea").await;
    let side = create_room(&server, &admin, "channels", "side", &["bea"]).await;
    let hall = create_room(&server, &admin, "channels", "hall", &["bea"]).await;
    let team = create_team(&server, &admin, json!({"name": "crew", "type": 0})).await;
    let team_id = team["_id"].as_str().expect("id").to_owned();

    let mut bea = Ddp::connect(&server).await;
    let uid = bea.login("bea").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let event = format!("{uid}/rooms-changed");
    assert_eq!(
        bea.sub("stream-notify-user", &event).await["msg"],
        json!("ready")
    );
    let changed_room = |rid: &str| {
        let event = event.clone();
        let rid = rid.to_owned();
        move |m: &Value| {
            m["fields"]["eventName"] == json!(event) && m["fields"]["args"][1]["_id"] == json!(rid)
        }
    };

    server
        .post(
            "teams.addRooms",
            json!({"teamId": team_id, "rooms": [side]}),
            Some(&admin),
        )
        .await
        .ok();
    let joined = bea.until(changed_room(&side)).await;
    assert_eq!(joined["fields"]["args"][0], json!("updated"));
    assert_eq!(joined["fields"]["args"][1]["teamId"], json!(team_id));

    server
        .post(
            "teams.removeRoom",
            json!({"teamId": team_id, "roomId": side}),
            Some(&admin),
        )
        .await
        .ok();
    let left = bea.until(changed_room(&side)).await;
    assert!(left["fields"]["args"][1].get("teamId").is_none(), "{left}");

    server
        .post(
            "channels.convertToTeam",
            json!({"channelId": hall}),
            Some(&admin),
        )
        .await
        .ok();
    let converted = bea
        .until(move |m| changed_room(&hall)(m) && m["fields"]["args"][1]["teamMain"] == json!(true))
        .await;
    let hall_team = converted["fields"]["args"][1]["teamId"]
        .as_str()
        .expect("teamId")
        .to_owned();
    let hall_id = converted["fields"]["args"][1]["_id"]
        .as_str()
        .expect("rid")
        .to_owned();

    server
        .post(
            "teams.convertToChannel",
            json!({"teamId": hall_team}),
            Some(&admin),
        )
        .await
        .ok();
    let released = bea
        .until(move |m| {
            m["fields"]["args"][1]["_id"] == json!(hall_id)
                && m["fields"]["args"][1].get("teamMain").is_none()
        })
        .await;
    assert!(released["fields"]["args"][1].get("teamId").is_none());
    server.stop().await;
}

/// `channels.create`/`groups.create` with `extraData.teamId` create the room inside the team:
/// the team's room permissions decide (`create-team-channel`, `create-team-group` in the main
/// room), a new channel is announced in the main room, an unknown team is refused after the
/// parameters; `teams` adds the members of the named teams.
#[tokio::test]
async fn rooms_are_created_inside_a_team() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bea = server.new_user("bea").await;
    let team = create_team(
        &server,
        &admin,
        json!({"name": "crew", "type": 0, "members": ["bea"]}),
    )
    .await;
    let team_id = team["_id"].as_str().expect("id").to_owned();
    let main_id = team["roomId"].as_str().expect("roomId").to_owned();

    let reply = server
        .post(
            "channels.create",
            json!({"name": "crew-news", "extraData": {"teamId": team_id}}),
            Some(&admin),
        )
        .await;
    let channel = reply.ok()["channel"].clone();
    assert_eq!(channel["teamId"], team_id.as_str());
    assert!(
        message_kinds(&server, &admin, &main_id)
            .await
            .contains(&"user-added-room-to-team".to_owned())
    );
    let listed = server
        .get("teams.listRooms", &[("teamId", &team_id)], Some(&admin))
        .await;
    let names: Vec<&str> = listed.ok()["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["crew-news"]);

    let reply = server
        .post(
            "groups.create",
            json!({"name": "crew-secret", "extraData": {"teamId": team_id}}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["group"]["teamId"], team_id.as_str());

    // A plain team member holds neither team permission (owner and moderator roles do), even
    // though the user role may create channels outside the team.
    server
        .post(
            "channels.create",
            json!({"name": "bea-room", "extraData": {"teamId": team_id}}),
            Some(&bea),
        )
        .await
        .refused(403, "unauthorized");
    // The permission is checked before the parameters.
    server
        .post(
            "channels.create",
            json!({"extraData": {"teamId": team_id}}),
            Some(&bea),
        )
        .await
        .refused(403, "unauthorized");
    server
        .post(
            "channels.create",
            json!({"extraData": {"teamId": "nope"}}),
            Some(&bea),
        )
        .await
        .refused(400, "Param \"name\" is required");
    server
        .post(
            "channels.create",
            json!({"name": "lost", "extraData": {"teamId": "nope"}}),
            Some(&bea),
        )
        .await
        .refused(
            400,
            "The \"teamId\" param provided does not match any team [error-team-not-found]",
        );

    // `teams` brings in the members of a team the caller belongs to.
    let reply = server
        .post(
            "groups.create",
            json!({"name": "with-crew", "teams": ["crew"]}),
            Some(&admin),
        )
        .await;
    let rid = reply.ok()["group"]["_id"].as_str().expect("id").to_owned();
    let members = server
        .get("groups.members", &[("roomId", &rid)], Some(&admin))
        .await;
    let mut usernames: Vec<&str> = members.ok()["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["username"].as_str())
        .collect();
    usernames.sort_unstable();
    assert_eq!(usernames, ["admin", "bea"]);
}
