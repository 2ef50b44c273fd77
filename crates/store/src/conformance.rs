//! The conformance suite every backend passes: call each function with a fresh, migrated store.
//!
//! Backends run it from their tests (`comet-store` with the `conformance` feature); the same
//! assertions hold for SQLite and PostgreSQL.

#![allow(
    clippy::unwrap_used,
    reason = "a test suite: a failed expectation should abort with the value"
)]

use crate::{Conflict, Store, StoreError, UserFilter};
use comet_core::page::{Direction, Page, UserSortKey};
use comet_core::role::{Permission, Role};
use comet_core::setting::{Setting, SettingType};
use comet_core::user::{Email, LoginToken, Presence, TokenKind, User, UserType};
use comet_core::{Timestamp, now};
use serde_json::json;

fn user(id: &str, username: &str, email: &str, at: Timestamp) -> User {
    User {
        id: id.into(),
        username: username.into(),
        name: format!("Name {username}"),
        email: Some(Email {
            address: email.into(),
            verified: false,
        }),
        user_type: UserType::User,
        active: true,
        roles: vec!["user".into()],
        status: Presence::Offline,
        status_default: Presence::Online,
        status_connection: Presence::Offline,
        status_text: String::new(),
        utc_offset: 0.0,
        password_bcrypt: Some("$2b$04$hash".into()),
        require_password_change: false,
        language: None,
        nickname: Some("nick".into()),
        bio: None,
        preferences: json!({"sidebarViewMode": "condensed"}),
        custom_fields: Some(json!({"team": "blue"})),
        created_at: at,
        updated_at: at,
        last_login: None,
    }
}

fn login_token(user_id: &str, hashed: &str, at: Timestamp) -> LoginToken {
    LoginToken {
        user_id: user_id.into(),
        hashed_token: hashed.into(),
        created_at: at,
        kind: TokenKind::Login,
        two_factor_until: None,
        two_factor_client: None,
    }
}

fn pat(user_id: &str, hashed: &str, name: &str, at: Timestamp) -> LoginToken {
    LoginToken {
        kind: TokenKind::PersonalAccess {
            name: name.into(),
            last_token_part: "abcdef".into(),
            bypass_two_factor: true,
        },
        ..login_token(user_id, hashed, at)
    }
}

/// Users: round trip, case-insensitive uniqueness, update, listing, deletion.
pub async fn users(store: &dyn Store) {
    let t0 = now();
    let alice = user("u1", "Alice", "Alice@Example.com", t0);
    store.insert_user(&alice).await.unwrap();
    assert_eq!(store.user_by_id("u1").await.unwrap(), Some(alice.clone()));
    assert_eq!(
        store.user_by_username("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.user_by_email("alice@example.COM").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_id("nope").await.unwrap(), None);

    let same_name = user("u2", "ALICE", "other@example.com", t0);
    assert!(matches!(
        store.insert_user(&same_name).await,
        Err(StoreError::Conflict(Conflict::Username))
    ));
    let same_email = user("u2", "bob", "alice@EXAMPLE.com", t0);
    assert!(matches!(
        store.insert_user(&same_email).await,
        Err(StoreError::Conflict(Conflict::Email))
    ));

    let mut bob = user(
        "u2",
        "bob",
        "bob@example.com",
        t0 + chrono::Duration::seconds(1),
    );
    bob.roles = vec!["user".into(), "admin".into()];
    store.insert_user(&bob).await.unwrap();
    let mut carol = user(
        "u3",
        "carol",
        "carol@example.com",
        t0 + chrono::Duration::seconds(2),
    );
    carol.email = None;
    carol.active = false;
    store.insert_user(&carol).await.unwrap();
    assert_eq!(store.count_users().await.unwrap(), 3);
    assert_eq!(
        store.count_active_users_with_role("admin").await.unwrap(),
        1
    );

    bob.name = "Robert".into();
    bob.roles = vec!["admin".into()];
    bob.last_login = Some(t0);
    assert!(store.update_user(&bob).await.unwrap());
    assert_eq!(store.user_by_id("u2").await.unwrap(), Some(bob.clone()));
    let mut clash = bob.clone();
    clash.username = "alice".into();
    assert!(matches!(
        store.update_user(&clash).await,
        Err(StoreError::Conflict(Conflict::Username))
    ));
    assert!(
        !store
            .update_user(&user("zz", "zz", "zz@example.com", t0))
            .await
            .unwrap()
    );

    let page = Page {
        offset: 0,
        count: Some(2),
        sort: vec![(UserSortKey::Username, Direction::Descending)],
    };
    let (listed, total) = store
        .list_users(&UserFilter::default(), &page)
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        listed
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["carol", "bob"]
    );
    let next = Page { offset: 2, ..page };
    let (rest, _) = store
        .list_users(&UserFilter::default(), &next)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    let admins = UserFilter {
        role: Some("admin".into()),
        ..UserFilter::default()
    };
    let (found, n) = store.list_users(&admins, &Page::all()).await.unwrap();
    assert_eq!((n, found[0].id.as_str()), (1, "u2"));
    let inactive = UserFilter {
        active: Some(false),
        ..UserFilter::default()
    };
    assert_eq!(
        store.list_users(&inactive, &Page::all()).await.unwrap().1,
        1
    );
    let search = UserFilter {
        search: Some("ROB".into()),
        ..UserFilter::default()
    };
    assert_eq!(store.list_users(&search, &Page::all()).await.unwrap().1, 1);
    let literal = UserFilter {
        search: Some("%".into()),
        ..UserFilter::default()
    };
    assert_eq!(store.list_users(&literal, &Page::all()).await.unwrap().1, 0);

    assert!(store.delete_user("u3").await.unwrap());
    assert!(!store.delete_user("u3").await.unwrap());
    assert_eq!(store.count_users().await.unwrap(), 2);
}

/// Tokens: lookup, PAT names, replacement, pruning, expiry, cascade on user deletion.
pub async fn tokens(store: &dyn Store) {
    let t0 = now();
    store
        .insert_user(&user("t1", "tina", "tina@example.com", t0))
        .await
        .unwrap();
    for i in 0..5 {
        store
            .insert_token(&login_token(
                "t1",
                &format!("h{i}"),
                t0 + chrono::Duration::seconds(i),
            ))
            .await
            .unwrap();
    }
    let (found_user, found) = store.user_by_token("h3").await.unwrap().unwrap();
    assert_eq!(
        (found_user.id.as_str(), found.kind.clone()),
        ("t1", TokenKind::Login)
    );
    assert!(store.user_by_token("missing").await.unwrap().is_none());

    store
        .insert_token(&pat("t1", "p1", "ci", t0))
        .await
        .unwrap();
    assert!(matches!(
        store.insert_token(&pat("t1", "p2", "ci", t0)).await,
        Err(StoreError::Conflict(Conflict::TokenName))
    ));
    assert!(
        store
            .replace_personal_access_token(&pat("t1", "p3", "ci", t0))
            .await
            .unwrap()
    );
    assert!(store.user_by_token("p1").await.unwrap().is_none());
    assert!(store.user_by_token("p3").await.unwrap().is_some());
    assert!(
        !store
            .replace_personal_access_token(&pat("t1", "p4", "other", t0))
            .await
            .unwrap()
    );
    assert_eq!(store.personal_access_tokens("t1").await.unwrap().len(), 1);

    let until = t0 + chrono::Duration::minutes(30);
    assert!(
        store
            .remember_two_factor("h1", until, "client")
            .await
            .unwrap()
    );
    let (_, remembered) = store.user_by_token("h1").await.unwrap().unwrap();
    assert_eq!(remembered.two_factor_until, Some(until));
    assert_eq!(remembered.two_factor_client.as_deref(), Some("client"));

    assert_eq!(store.prune_login_tokens("t1", 3).await.unwrap(), 2);
    assert!(store.user_by_token("h0").await.unwrap().is_none());
    assert!(store.user_by_token("h4").await.unwrap().is_some());
    assert_eq!(
        store.delete_login_tokens("t1", Some("h4")).await.unwrap(),
        2
    );
    assert!(store.user_by_token("h4").await.unwrap().is_some());
    assert!(
        store.user_by_token("p3").await.unwrap().is_some(),
        "PATs survive"
    );
    assert_eq!(
        store
            .delete_login_tokens_before(t0 + chrono::Duration::seconds(100))
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .delete_personal_access_token("t1", "ci")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_personal_access_token("t1", "ci")
            .await
            .unwrap()
    );

    store
        .insert_token(&login_token("t1", "h9", t0))
        .await
        .unwrap();
    assert!(store.delete_user("t1").await.unwrap());
    assert!(
        store.user_by_token("h9").await.unwrap().is_none(),
        "tokens go with the user"
    );
}

/// Settings, permissions, roles and failed logins.
pub async fn settings_roles_permissions(store: &dyn Store) {
    let t0 = now();
    let setting = Setting {
        id: "Site_Name".into(),
        value: json!("Comet"),
        package_value: json!("Comet"),
        setting_type: SettingType::String,
        public: true,
        group: "General".into(),
        section: None,
        choices: vec![],
        updated_at: t0,
    };
    assert!(store.insert_setting_if_absent(&setting).await.unwrap());
    assert!(!store.insert_setting_if_absent(&setting).await.unwrap());
    assert!(
        store
            .set_setting_value("Site_Name", &json!("Acme"), t0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_setting_value("Nope", &json!(1), t0)
            .await
            .unwrap()
    );
    let stored = store.settings().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].value, json!("Acme"));
    assert_eq!(stored[0].package_value, json!("Comet"));

    let permission = Permission {
        id: "create-c".into(),
        roles: vec!["admin".into(), "user".into()],
        updated_at: t0,
    };
    assert!(
        store
            .insert_permission_if_absent(&permission)
            .await
            .unwrap()
    );
    assert!(
        !store
            .insert_permission_if_absent(&permission)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_permission_roles("create-c", &["admin".into()], t0)
            .await
            .unwrap()
    );
    assert_eq!(
        store.permissions().await.unwrap()[0].roles,
        vec!["admin".to_owned()]
    );

    let role = Role {
        id: "admin".into(),
        name: "admin".into(),
        scope: "Users".into(),
        description: "Admin".into(),
        protected: true,
        mandatory_2fa: false,
        updated_at: t0,
    };
    assert!(store.insert_role_if_absent(&role).await.unwrap());
    assert!(!store.insert_role_if_absent(&role).await.unwrap());
    let duplicate_name = Role {
        id: "other".into(),
        ..role.clone()
    };
    assert!(matches!(
        store.insert_role(&duplicate_name).await,
        Err(StoreError::Conflict(Conflict::RoleName))
    ));
    assert_eq!(store.roles().await.unwrap(), vec![role]);

    for i in 0..3 {
        store
            .record_failed_login("user:x", t0 - chrono::Duration::minutes(i * 10))
            .await
            .unwrap();
    }
    let since = t0 - chrono::Duration::minutes(15);
    assert_eq!(store.count_failed_logins("user:x", since).await.unwrap(), 2);
    store.clear_failed_logins("user:x").await.unwrap();
    assert_eq!(store.count_failed_logins("user:x", since).await.unwrap(), 0);
}

fn room(id: &str, name: &str, creator: &User, at: Timestamp) -> comet_core::room::Room {
    comet_core::room::Room {
        id: id.into(),
        room_type: comet_core::room::RoomType::Channel,
        name: Some(name.into()),
        fname: Some(name.into()),
        creator: Some(comet_core::room::UserStub::from(creator)),
        topic: None,
        description: None,
        announcement: None,
        read_only: false,
        react_when_read_only: false,
        archived: false,
        default: false,
        featured: false,
        encrypted: false,
        broadcast: false,
        join_code: None,
        muted: vec![],
        user_ids: vec![],
        usernames: vec![],
        message_count: 0,
        users_count: 0,
        last_message_at: None,
        last_message_id: None,
        hidden_system_messages: vec![],
        parent_id: None,
        custom_fields: json!({}),
        created_at: at,
        updated_at: at,
    }
}

fn subscription(
    id: &str,
    room: &comet_core::room::Room,
    user: &User,
    at: Timestamp,
) -> comet_core::room::Subscription {
    comet_core::room::Subscription {
        id: id.into(),
        room_id: room.id.clone(),
        room_type: room.room_type,
        user: comet_core::room::UserStub::from(user),
        name: room.name.clone().unwrap_or_default(),
        fname: room.fname.clone(),
        roles: vec![],
        open: true,
        alert: false,
        unread: 0,
        user_mentions: 0,
        group_mentions: 0,
        favorite: false,
        archived: false,
        joined_at: at,
        last_seen: at,
        last_reply: None,
        thread_unread: vec![],
        ignored: vec![],
        updated_at: at,
    }
}

/// Rooms, subscriptions and messages: creation, membership, posting effects, history
/// filters, reactions, deletion, search.
pub async fn rooms_and_messages(store: &dyn Store) {
    use crate::{MessageFilter, MessageSortKey, PostEffects, RoomFilter, RoomSortKey};
    use comet_core::room::{Mention, Message, UserStub};
    let t0 = now();
    let ann = user("a1", "ann", "ann@example.com", t0);
    let ben = user("b1", "ben", "ben@example.com", t0);
    let cat = user("c1", "cat", "cat@example.com", t0);
    for u in [&ann, &ben, &cat] {
        store.insert_user(u).await.unwrap();
    }
    let dev = room("r1", "Dev", &ann, t0);
    let mut owner_sub = subscription("s1", &dev, &ann, t0);
    owner_sub.roles = vec!["owner".into()];
    let ben_sub = subscription("s2", &dev, &ben, t0);
    store
        .create_room(&dev, &[owner_sub.clone(), ben_sub], None)
        .await
        .unwrap();
    assert_eq!(store.room_by_name("dev").await.unwrap().unwrap().id, "r1");
    assert!(matches!(
        store
            .create_room(&room("r2", "DEV", &ann, t0), &[], None)
            .await,
        Err(StoreError::Conflict(Conflict::RoomName))
    ));
    assert_eq!(
        store.room_by_id("r1").await.unwrap().unwrap().users_count,
        2
    );
    assert_eq!(
        store.subscription("r1", "a1").await.unwrap(),
        Some(owner_sub)
    );

    // Membership with a system message: counted in msgs, never the last message.
    let mut join = Message::new("m0".into(), "r1", UserStub::from(&cat), "cat", t0);
    join.kind = Some("uj".into());
    assert!(
        store
            .add_member(&subscription("s3", &dev, &cat, t0), Some(&join))
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_member(&subscription("s4", &dev, &cat, t0), None)
            .await
            .unwrap()
    );
    let r = store.room_by_id("r1").await.unwrap().unwrap();
    assert_eq!(
        (r.users_count, r.message_count, r.last_message_id),
        (3, 1, None)
    );

    // A mention of ben: ben's unread and mentions rise, cat only gets the alert.
    let t1 = t0 + chrono::Duration::seconds(1);
    let mut hello = Message::new(
        "m1".into(),
        "r1",
        UserStub::from(&ann),
        "hello @ben deploy",
        t1,
    );
    hello.mentions = vec![Mention {
        id: "b1".into(),
        username: "ben".into(),
        name: None,
    }];
    let effects = PostEffects {
        counts_in_room: true,
        becomes_last_message: true,
        mentioned_user_ids: vec!["b1".into()],
        alert_others: true,
        ..PostEffects::default()
    };
    store.post_message(&hello, &effects).await.unwrap();
    let ben_now = store.subscription("r1", "b1").await.unwrap().unwrap();
    let cat_now = store.subscription("r1", "c1").await.unwrap().unwrap();
    let ann_now = store.subscription("r1", "a1").await.unwrap().unwrap();
    let mut several = store
        .subscriptions_of_users_in_room("r1", &["c1".into(), "b1".into(), "nobody".into()])
        .await
        .unwrap();
    several.sort_by(|x, y| x.user.id.cmp(&y.user.id));
    assert_eq!(several, vec![ben_now.clone(), cat_now.clone()]);
    assert!(
        store
            .subscriptions_of_users_in_room("r1", &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        (ben_now.unread, ben_now.user_mentions, ben_now.alert),
        (1, 1, true)
    );
    assert_eq!(
        (cat_now.unread, cat_now.user_mentions, cat_now.alert),
        (0, 0, true)
    );
    assert_eq!(
        (ann_now.unread, ann_now.alert),
        (0, false),
        "the author's counters stay"
    );
    let r = store.room_by_id("r1").await.unwrap().unwrap();
    assert_eq!(
        (r.message_count, r.last_message_id.as_deref()),
        (2, Some("m1"))
    );

    // A group mention, and a thread reply hidden from the room.
    let t2 = t0 + chrono::Duration::seconds(2);
    let all = Message::new("m2".into(), "r1", UserStub::from(&ben), "@all lunch", t2);
    store
        .post_message(
            &all,
            &PostEffects {
                counts_in_room: true,
                becomes_last_message: true,
                group_mention: true,
                alert_others: true,
                ..PostEffects::default()
            },
        )
        .await
        .unwrap();
    let cat_now = store.subscription("r1", "c1").await.unwrap().unwrap();
    assert_eq!((cat_now.unread, cat_now.group_mentions), (1, 1));
    let t3 = t0 + chrono::Duration::seconds(3);
    let mut reply = Message::new("m3".into(), "r1", UserStub::from(&cat), "on it", t3);
    reply.thread_id = Some("m1".into());
    store
        .post_message(
            &reply,
            &PostEffects {
                counts_in_room: true,
                ..PostEffects::default()
            },
        )
        .await
        .unwrap();
    let parent = store.message_by_id("m1").await.unwrap().unwrap();
    assert_eq!(
        (parent.thread_count, parent.thread_participants.clone()),
        (1, vec!["c1".to_owned()])
    );
    assert_eq!(parent.thread_last_at, Some(t3));

    // History filters.
    let newest_first = Page {
        offset: 0,
        count: Some(10),
        sort: vec![(MessageSortKey::CreatedAt, Direction::Descending)],
    };
    let ids = |ms: Vec<Message>| ms.into_iter().map(|m| m.id).collect::<Vec<_>>();
    let room_view = MessageFilter {
        hide_thread_replies: true,
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &room_view, &newest_first)
            .await
            .unwrap()),
        ["m2", "m1", "m0"]
    );
    assert_eq!(
        store
            .count_room_messages("r1", &MessageFilter::default())
            .await
            .unwrap(),
        4
    );
    let before_t2 = MessageFilter {
        latest: Some(t2),
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &before_t2, &newest_first)
            .await
            .unwrap()),
        ["m1", "m0"]
    );
    let inclusive = MessageFilter {
        latest: Some(t2),
        oldest: Some(t1),
        inclusive: true,
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &inclusive, &newest_first)
            .await
            .unwrap()),
        ["m2", "m1"]
    );
    let thread = MessageFilter {
        thread_id: Some("m1".into()),
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &thread, &newest_first)
            .await
            .unwrap()),
        ["m3"]
    );
    let mentioning = MessageFilter {
        mentioning: Some("b1".into()),
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &mentioning, &newest_first)
            .await
            .unwrap()),
        ["m1"]
    );
    let by_cat = MessageFilter {
        author_id: Some("c1".into()),
        hide_system: true,
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &by_cat, &newest_first)
            .await
            .unwrap()),
        ["m3"]
    );

    // Stars, pins and reactions.
    let mut starred = store.message_by_id("m2").await.unwrap().unwrap();
    starred.starred_by = vec!["a1".into()];
    starred.pinned = true;
    assert!(store.update_message(&starred).await.unwrap());
    let by_ann = MessageFilter {
        starred_by: Some("a1".into()),
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &by_ann, &newest_first)
            .await
            .unwrap()),
        ["m2"]
    );
    let pinned = MessageFilter {
        pinned_only: true,
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &pinned, &newest_first)
            .await
            .unwrap()),
        ["m2"]
    );
    let reacted = store
        .set_reaction("m1", ":+1:", "ben", true, t3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reacted.reactions[":+1:"], vec!["ben".to_owned()]);
    store
        .set_reaction("m1", ":+1:", "cat", true, t3)
        .await
        .unwrap();
    let unreacted = store
        .set_reaction("m1", ":+1:", "ben", false, t3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unreacted.reactions[":+1:"], vec!["cat".to_owned()]);
    assert!(
        store
            .set_reaction("nope", ":x:", "ben", true, t3)
            .await
            .unwrap()
            .is_none()
    );

    // Search, then deletion keeps a tombstone and moves the last message back.
    let found = store
        .search_messages("r1", "depl", &MessageFilter::default(), false, 0, None)
        .await
        .unwrap();
    assert_eq!(ids(found), ["m1"]);
    let t4 = t0 + chrono::Duration::seconds(4);
    assert!(store.delete_message("m2", t4).await.unwrap());
    assert!(!store.delete_message("m2", t4).await.unwrap());
    assert_eq!(
        store.deleted_messages("r1", t3).await.unwrap(),
        vec![("m2".to_owned(), t4)]
    );
    let r = store.room_by_id("r1").await.unwrap().unwrap();
    assert_eq!(r.last_message_id.as_deref(), Some("m1"));
    assert!(
        store
            .search_messages("r1", "lunch", &MessageFilter::default(), false, 0, None)
            .await
            .unwrap()
            .is_empty()
    );
    let cleaned = store
        .delete_messages(
            "r1",
            &MessageFilter {
                hide_system: true,
                ..MessageFilter::default()
            },
            false,
            &["c1".into()],
            None,
            t4,
        )
        .await
        .unwrap();
    assert_eq!(cleaned, 1);

    // Listing, leaving, and deleting the room with everything in it.
    let (listed, total) = store
        .list_rooms(
            &RoomFilter {
                member: Some("c1".into()),
                ..RoomFilter::default()
            },
            &Page {
                offset: 0,
                count: None,
                sort: vec![(RoomSortKey::Name, Direction::Ascending)],
            },
        )
        .await
        .unwrap();
    assert_eq!((total, listed[0].id.as_str()), (1, "r1"));
    assert!(store.remove_member("r1", "c1", None).await.unwrap());
    assert!(!store.remove_member("r1", "c1", None).await.unwrap());
    assert_eq!(
        store.room_by_id("r1").await.unwrap().unwrap().users_count,
        2
    );
    assert_eq!(
        store.subscriptions_of_user("b1", None).await.unwrap().len(),
        1
    );
    assert!(store.delete_room("r1").await.unwrap());
    assert!(store.message_by_id("m1").await.unwrap().is_none());
    assert!(store.subscription("r1", "b1").await.unwrap().is_none());
}

/// Read receipts: messages stay unread until every member's last-seen time has passed them.
pub async fn read_receipts(store: &dyn Store) {
    use crate::PostEffects;
    use comet_core::room::{Message, UserStub};
    let t0 = now();
    let ann = user("a1", "ann", "ann@example.com", t0);
    let ben = user("b1", "ben", "ben@example.com", t0);
    for u in [&ann, &ben] {
        store.insert_user(u).await.unwrap();
    }
    let ops = room("r1", "Ops", &ann, t0);
    assert_eq!(store.earliest_last_seen("r1").await.unwrap(), None);
    let ann_sub = subscription("s1", &ops, &ann, t0);
    let mut ben_sub = subscription("s2", &ops, &ben, t0);
    store
        .create_room(&ops, &[ann_sub, ben_sub.clone()], None)
        .await
        .unwrap();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    for (id, second) in [("m1", 1), ("m2", 2), ("m3", 3)] {
        let mut m = Message::new(id.into(), "r1", UserStub::from(&ann), id, at(second));
        m.unread = true;
        store
            .post_message(&m, &PostEffects::default())
            .await
            .unwrap();
    }
    assert!(store.message_by_id("m1").await.unwrap().unwrap().unread);
    assert_eq!(store.earliest_last_seen("r1").await.unwrap(), Some(t0));
    assert_eq!(store.mark_messages_read("r1", t0).await.unwrap(), 0);

    ben_sub.last_seen = at(2);
    store.update_subscription(&ben_sub).await.unwrap();
    let mut ann_now = store.subscription("r1", "a1").await.unwrap().unwrap();
    ann_now.last_seen = at(10);
    store.update_subscription(&ann_now).await.unwrap();
    assert_eq!(store.earliest_last_seen("r1").await.unwrap(), Some(at(2)));
    assert_eq!(store.mark_messages_read("r1", at(2)).await.unwrap(), 2);
    assert_eq!(store.mark_messages_read("r1", at(2)).await.unwrap(), 0);
    let unread: Vec<bool> = store
        .messages_by_ids(&["m1".into(), "m2".into(), "m3".into()])
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.unread)
        .collect();
    assert_eq!(unread.iter().filter(|u| **u).count(), 1);
    assert!(store.message_by_id("m3").await.unwrap().unwrap().unread);
    assert_eq!(store.mark_messages_read("other", at(99)).await.unwrap(), 0);
}
