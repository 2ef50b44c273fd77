//! Operations that declare a requirement enforce it themselves, whatever the transport: a
//! caller that lacks it is refused before anything is read or written.

mod harness;

use comet_core::ErrorKind;
use comet_core::room::RoomType;
use comet_service::rooms::RoomListQuery;
use comet_service::{Rooms, Session};
use harness::TestService;

fn listing(types: Vec<RoomType>, joined_only: bool) -> RoomListQuery {
    RoomListQuery {
        types,
        joined_only,
        name: None,
        id: None,
        offset: 0,
        count: None,
        sort: Vec::new(),
    }
}

async fn names(t: &TestService, session: &Session, query: RoomListQuery) -> Vec<String> {
    let (rooms, _) = t
        .service
        .rooms()
        .list_rooms(session, query)
        .await
        .expect("listed");
    let mut names: Vec<String> = rooms.into_iter().filter_map(|v| v.room.name).collect();
    names.sort();
    names
}

#[tokio::test]
async fn listing_every_private_group_needs_room_administration() {
    let t = TestService::start().await;
    let admin = t.admin().await;
    let ann = t.member("ann").await;
    let refused = t
        .service
        .rooms()
        .list_rooms(&ann, listing(vec![RoomType::Private], false))
        .await
        .expect_err("a member may not list every group");
    assert_eq!(refused.kind, ErrorKind::Forbidden);
    assert!(t.service.meets(&admin.user, Rooms::ADMINISTER_ROOMS));
    t.service
        .rooms()
        .list_rooms(&admin, listing(vec![RoomType::Private], false))
        .await
        .expect("an admin may");
    // Their own groups stay listable.
    t.service
        .rooms()
        .list_rooms(&ann, listing(vec![RoomType::Private], true))
        .await
        .expect("own groups");
}

#[tokio::test]
async fn without_view_c_room_the_channel_list_holds_only_joined_channels() {
    let t = TestService::start().await;
    let admin = t.admin().await;
    let ann = t.member("ann").await;
    t.channel(&admin, "joined-one", &["ann"]).await;
    t.channel(&admin, "not-joined", &[]).await;
    let everyone = names(&t, &ann, listing(vec![RoomType::Channel], false)).await;
    assert!(everyone.contains(&"not-joined".to_owned()), "{everyone:?}");

    t.service
        .permissions()
        .update_permissions(
            &admin,
            &[
                ("view-c-room".into(), vec!["admin".into()]),
                ("view-joined-room".into(), vec!["user".into()]),
            ],
        )
        .await
        .expect("permission changed");
    let ann = t.login("ann").await;
    let own = names(&t, &ann, listing(vec![RoomType::Channel], false)).await;
    assert!(own.contains(&"joined-one".to_owned()), "{own:?}");
    assert!(!own.contains(&"not-joined".to_owned()), "{own:?}");

    t.service
        .permissions()
        .update_permissions(&admin, &[("view-joined-room".into(), vec!["admin".into()])])
        .await
        .expect("permission changed");
    let ann = t.login("ann").await;
    let refused = t
        .service
        .rooms()
        .list_rooms(&ann, listing(vec![RoomType::Channel], false))
        .await
        .expect_err("neither permission");
    assert_eq!(refused.kind, ErrorKind::Forbidden);
}
