//! The conformance suite every backend passes: call each function with a fresh, migrated store.
//!
//! Backends run it from their tests (`comet-store` with the `conformance` feature); the same
//! assertions hold for SQLite and PostgreSQL.

#![allow(
    clippy::unwrap_used,
    reason = "a test suite: a failed expectation should abort with the value"
)]

use crate::{AuditFilter, Conflict, MessageChange, Store, StoreError, UserFilter};
use comet_core::audit::{AuditDraft, ChainVerdict, ChainVerifier};
use comet_core::page::{Direction, Page, UserSortKey};
use comet_core::role::{Permission, Role};
use comet_core::setting::{Setting, SettingType};
use comet_core::user::{Email, LoginToken, Presence, TokenKind, User, UserType};
use comet_core::{Timestamp, now};
use serde_json::json;

mod transfer;
pub use transfer::transfer;

/// Adds (`on`) or removes one user's reaction; the message as it then is.
async fn react(
    store: &dyn Store,
    message_id: &str,
    emoji: &str,
    username: &str,
    on: bool,
    at: Timestamp,
) -> Option<comet_core::room::Message> {
    let (emoji, username) = (emoji.to_owned(), username.to_owned());
    let change = if on {
        MessageChange::React { emoji, username }
    } else {
        MessageChange::Unreact { emoji, username }
    };
    store
        .change_message(message_id, &change, at)
        .await
        .unwrap()
        .map(|changed| changed.message)
}

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
        approved: false,
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
    assert_eq!(store.count_users_not_offline().await.unwrap(), 0);
    assert_eq!(
        store.count_active_users_with_role("admin").await.unwrap(),
        1
    );
    assert_eq!(store.count_users_with_role("admin").await.unwrap(), 1);
    assert_eq!(store.count_users_with_role("nobody").await.unwrap(), 0);

    bob.name = "Robert".into();
    bob.roles = vec!["admin".into()];
    bob.last_login = Some(t0);
    bob.approved = true;
    bob.status = Presence::Busy;
    assert!(store.update_user(&bob).await.unwrap());
    assert_eq!(store.count_users_not_offline().await.unwrap(), 1);
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
    // An address matches a search only where addresses may be searched.
    let by_address = |names_only| UserFilter {
        search: Some("BOB@EXAMPLE".into()),
        search_names_only: names_only,
        ..UserFilter::default()
    };
    assert_eq!(
        store
            .list_users(&by_address(false), &Page::all())
            .await
            .unwrap()
            .1,
        1
    );
    assert_eq!(
        store
            .list_users(&by_address(true), &Page::all())
            .await
            .unwrap()
            .1,
        0
    );
    let any_role = UserFilter {
        any_role: vec!["admin".into(), "nobody".into()],
        ..UserFilter::default()
    };
    let (found, n) = store.list_users(&any_role, &Page::all()).await.unwrap();
    assert_eq!((n, found[0].id.as_str()), (1, "u2"));
    let ids = |filter: UserFilter| async move {
        let sorted = Page {
            offset: 0,
            count: None,
            sort: vec![(UserSortKey::Username, Direction::Ascending)],
        };
        let (users, _) = store.list_users(&filter, &sorted).await.unwrap();
        users.into_iter().map(|u| u.id).collect::<Vec<_>>()
    };
    let logged_in = |yes| UserFilter {
        has_logged_in: Some(yes),
        ..UserFilter::default()
    };
    assert_eq!(ids(logged_in(true)).await, ["u2"]);
    assert_eq!(ids(logged_in(false)).await, ["u1", "u3"]);
    let of_type = |t: &str| UserFilter {
        user_type: Some(t.into()),
        active: Some(true),
        ..UserFilter::default()
    };
    assert_eq!(ids(of_type("user")).await, ["u1", "u2"]);
    assert!(ids(of_type("bot")).await.is_empty());
    let not_offline = UserFilter {
        not_offline: true,
        ..UserFilter::default()
    };
    assert_eq!(ids(not_offline).await, ["u2"]);
    let among = UserFilter {
        ids: Some(vec!["u1".into(), "u3".into(), "zz".into()]),
        ..UserFilter::default()
    };
    assert_eq!(ids(among).await, ["u1", "u3"]);
    let without = UserFilter {
        exclude_ids: vec!["u1".into()],
        exclude_usernames: vec!["CAROL".into()],
        ..UserFilter::default()
    };
    assert_eq!(ids(without).await, ["u2"]);
    let changed = UserFilter {
        updated_since: Some(t0 + chrono::Duration::seconds(1)),
        ..UserFilter::default()
    };
    assert_eq!(ids(changed).await, ["u2", "u3"]);

    // Idle users: bob last logged in at t0, alice never did (created at t0), carol is
    // already inactive.
    let later = t0 + chrono::Duration::seconds(10);
    let before_t0 = t0 - chrono::Duration::seconds(1);
    assert_eq!(
        store
            .deactivate_idle_users("admin", before_t0, later)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .deactivate_idle_users("admin", t0, later)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .deactivate_idle_users("admin", t0, later)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .deactivate_idle_users("user", later, later)
            .await
            .unwrap(),
        1,
        "alice, never logged in, counts from her creation; carol is inactive already"
    );
    let alice_now = store.user_by_id("u1").await.unwrap().unwrap();
    assert!(!alice_now.active);
    assert_eq!(
        alice_now.updated_at.timestamp_millis(),
        later.timestamp_millis()
    );

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
    let all = store.login_tokens("t1").await.unwrap();
    let hashes: Vec<&str> = all.iter().map(|t| t.hashed_token.as_str()).collect();
    assert_eq!(hashes, ["h0", "h1", "h2", "h3", "h4"], "oldest first");

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
    assert_eq!(store.roles().await.unwrap(), vec![role.clone()]);
    let custom = Role {
        id: "custom".into(),
        name: "custom".into(),
        protected: false,
        ..role.clone()
    };
    store.insert_role(&custom).await.unwrap();
    let renamed = Role {
        name: "renamed".into(),
        description: "changed".into(),
        mandatory_2fa: true,
        ..custom.clone()
    };
    assert!(store.update_role(&renamed).await.unwrap());
    assert!(matches!(
        store
            .update_role(&Role {
                name: "admin".into(),
                ..renamed.clone()
            })
            .await,
        Err(StoreError::Conflict(Conflict::RoleName))
    ));
    assert!(
        !store
            .update_role(&Role {
                id: "ghost".into(),
                name: "ghost".into(),
                ..renamed.clone()
            })
            .await
            .unwrap()
    );
    let mut roles = store.roles().await.unwrap();
    roles.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(roles, vec![role.clone(), renamed]);
    assert!(store.delete_role("custom").await.unwrap());
    assert!(!store.delete_role("custom").await.unwrap());
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
        unmuted: Vec::new(),
        favorite: false,
        parent_id: None,
        custom_fields: json!({}),
        team_id: None,
        team_main: false,
        team_default: false,
        sidepanel: Vec::new(),
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
        notifications: Default::default(),
        thread_unread_user: vec![],
        thread_unread_group: vec![],
        auto_translate: None,
        auto_translate_language: None,
        ignored: vec![],
        updated_at: at,
    }
}

/// `members_by_role`: active members only, by room role, presence, then username or name;
/// presence and search filters; paging with the total.
pub async fn members_by_role(store: &dyn Store) {
    use crate::MemberFilter;
    let t0 = now();
    let mut people = Vec::new();
    // (id, username, name, presence, active, room roles)
    for (id, username, name, status, active, roles) in [
        ("m1", "zed", "Alpha", Presence::Offline, true, vec!["owner"]),
        ("m2", "yan", "Bravo", Presence::Online, true, vec![]),
        (
            "m3",
            "xia",
            "Charlie",
            Presence::Away,
            true,
            vec!["moderator"],
        ),
        ("m4", "wes", "Delta", Presence::Busy, true, vec![]),
        ("m5", "vic", "Echo", Presence::Offline, true, vec![]),
        (
            "m6",
            "uma",
            "Foxtrot",
            Presence::Online,
            false,
            vec!["owner"],
        ),
        (
            "m7",
            "tom",
            "Golf",
            Presence::Online,
            true,
            vec!["leader", "moderator"],
        ),
    ] {
        let mut u = user(id, username, &format!("{username}@example.com"), t0);
        u.name = name.into();
        u.status = status;
        u.active = active;
        store.insert_user(&u).await.unwrap();
        people.push((u, roles));
    }
    let outsider = user("m8", "sam", "sam@example.com", t0);
    store.insert_user(&outsider).await.unwrap();
    let lobby = room("r-lobby", "lobby", &people[0].0, t0);
    let subscriptions: Vec<_> = people
        .iter()
        .enumerate()
        .map(|(i, (u, roles))| {
            let mut sub = subscription(&format!("ms{i}"), &lobby, u, t0);
            sub.roles = roles.iter().map(|r| (*r).to_owned()).collect();
            sub
        })
        .collect();
    store
        .create_room(&lobby, &subscriptions, None)
        .await
        .unwrap();

    let names = |members: &[(comet_core::room::Subscription, User)]| {
        members
            .iter()
            .map(|(s, u)| {
                assert_eq!(s.user.id, u.id);
                assert_eq!(s.room_id, "r-lobby");
                u.username.clone()
            })
            .collect::<Vec<_>>()
    };
    let (all, total) = store
        .members_by_role("r-lobby", &MemberFilter::default(), 0, None)
        .await
        .unwrap();
    // uma is deactivated, sam no member; yan and wes by presence, then vic offline.
    assert_eq!(names(&all), ["zed", "tom", "xia", "yan", "wes", "vic"]);
    assert_eq!(total, 6);
    assert_eq!(all[0].0.roles, ["owner"]);

    let (page, total) = store
        .members_by_role("r-lobby", &MemberFilter::default(), 2, Some(2))
        .await
        .unwrap();
    assert_eq!(
        (names(&page), total),
        (vec!["xia".to_owned(), "yan".to_owned()], 6)
    );

    let reversed = MemberFilter {
        role_order: Direction::Descending,
        ..MemberFilter::default()
    };
    let (list, _) = store
        .members_by_role("r-lobby", &reversed, 0, None)
        .await
        .unwrap();
    assert_eq!(names(&list), ["yan", "wes", "vic", "xia", "tom", "zed"]);

    let online = MemberFilter {
        statuses: vec!["online".into(), "busy".into()],
        ..MemberFilter::default()
    };
    let (list, total) = store
        .members_by_role("r-lobby", &online, 0, None)
        .await
        .unwrap();
    assert_eq!(
        (names(&list), total),
        (
            vec!["tom".to_owned(), "yan".to_owned(), "wes".to_owned()],
            3
        )
    );

    // By name: among the plain online members Bravo and Delta keep presence first.
    let by_name = MemberFilter {
        by_name: true,
        name_order: Direction::Descending,
        statuses: vec!["offline".into()],
        ..MemberFilter::default()
    };
    let (list, _) = store
        .members_by_role("r-lobby", &by_name, 0, None)
        .await
        .unwrap();
    assert_eq!(names(&list), ["zed", "vic"]);

    let search = MemberFilter {
        search: Some("ELT".into()),
        ..MemberFilter::default()
    };
    let (list, total) = store
        .members_by_role("r-lobby", &search, 0, None)
        .await
        .unwrap();
    assert_eq!((names(&list), total), (vec!["wes".to_owned()], 1));
    let literal = MemberFilter {
        search: Some("_".into()),
        ..MemberFilter::default()
    };
    assert_eq!(
        store
            .members_by_role("r-lobby", &literal, 0, None)
            .await
            .unwrap()
            .1,
        0
    );
    let (none, total) = store
        .members_by_role("nowhere", &MemberFilter::default(), 0, None)
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(total, 0);
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

    // Display names: found exactly, searched in any case and script along with the name.
    let mut greek = room("r9", "Ellinika-1", &ann, t0);
    greek.fname = Some("Ελληνικά-1".into());
    store.create_room(&greek, &[], None).await.unwrap();
    let by_display = store.rooms_by_display_name("Ελληνικά-1").await.unwrap();
    assert_eq!(by_display.len(), 1);
    assert_eq!(by_display[0].id, "r9");
    assert!(
        store
            .rooms_by_display_name("ελληνικά-1")
            .await
            .unwrap()
            .is_empty()
    );
    let search = |text: &str, prefix: bool| RoomFilter {
        name_or_fname: Some(text.into()),
        name_or_fname_prefix: prefix,
        ..RoomFilter::default()
    };
    let found = |rooms: Vec<comet_core::room::Room>| -> Vec<String> {
        rooms.into_iter().map(|r| r.id).collect()
    };
    for (text, prefix, expected) in [
        ("ΛΗΝΙΚ", false, vec!["r9"]),
        ("ληνικ", true, vec![]),
        ("ελλην", true, vec!["r9"]),
        ("ELLIN", true, vec!["r9"]),
        ("de", false, vec!["r1"]),
        ("%", false, vec![]),
    ] {
        let (rooms, total) = store
            .list_rooms(&search(text, prefix), &Page::all())
            .await
            .unwrap();
        assert_eq!(found(rooms), expected, "{text} prefix={prefix}");
        assert_eq!(total, expected.len() as u64, "{text}");
    }
    greek.fname = Some("Ρόδος".into());
    assert!(store.update_room(&greek).await.unwrap());
    let (rooms, _) = store
        .list_rooms(&search("ΡΌΔ", true), &Page::all())
        .await
        .unwrap();
    assert_eq!(found(rooms), vec!["r9"]);
    assert!(
        store
            .rooms_by_display_name("Ελληνικά-1")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.delete_room("r9").await.unwrap());

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
        mentioning: vec!["b1".into()],
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &mentioning, &newest_first)
            .await
            .unwrap()),
        ["m1"]
    );
    let mentioning_any = MessageFilter {
        mentioning: vec!["nobody".into(), "b1".into()],
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &mentioning_any, &newest_first)
            .await
            .unwrap()),
        ["m1"],
        "any of the listed users"
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
    let star = MessageChange::Star {
        user_id: "a1".into(),
    };
    let starred = store
        .change_message("m2", &star, t3)
        .await
        .unwrap()
        .unwrap();
    assert!(starred.changed);
    assert_eq!(starred.message.starred_by, ["a1"]);
    let again = store
        .change_message("m2", &star, t3)
        .await
        .unwrap()
        .unwrap();
    assert!(!again.changed, "starring twice changes nothing");
    let pin = MessageChange::Pin {
        by: UserStub::from(&ann),
    };
    assert!(
        store
            .change_message("m2", &pin, t3)
            .await
            .unwrap()
            .unwrap()
            .changed
    );
    let by_ann = MessageFilter {
        starred_by: vec!["a1".into()],
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &by_ann, &newest_first)
            .await
            .unwrap()),
        ["m2"]
    );
    let by_either = MessageFilter {
        starred_by: vec!["nobody".into(), "a1".into()],
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &by_either, &newest_first)
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
    let reacted = react(store, "m1", ":+1:", "ben", true, t3).await.unwrap();
    assert_eq!(reacted.reactions[":+1:"], vec!["ben".to_owned()]);
    react(store, "m1", ":+1:", "cat", true, t3).await;
    let unreacted = react(store, "m1", ":+1:", "ben", false, t3).await.unwrap();
    assert_eq!(unreacted.reactions[":+1:"], vec!["cat".to_owned()]);
    assert_eq!(
        store.message_by_id("m1").await.unwrap().unwrap().reactions,
        unreacted.reactions
    );
    assert!(react(store, "nope", ":x:", "ben", true, t3).await.is_none());

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

fn at_ms(t0: Timestamp, ms: i64) -> Timestamp {
    t0 + chrono::Duration::milliseconds(ms)
}

/// Lookups and listings the other parts leave out: several ids at once, Unicode case folding,
/// every sort key with absent values ordered first, presence reset, and token deletion.
pub async fn user_and_token_lookups(store: &dyn Store) {
    let t0 = now();
    let mut emile = user("e1", "Émile", "ÉMILE@example.com", t0);
    emile.status = Presence::Online;
    emile.status_connection = Presence::Online;
    emile.last_login = Some(at_ms(t0, 5));
    let mut bot = user("e2", "robot", "robot@example.com", at_ms(t0, 1));
    bot.user_type = UserType::Bot;
    bot.status = Presence::Online;
    bot.status_connection = Presence::Online;
    let mut quiet = user("e3", "quiet", "quiet@example.com", at_ms(t0, 2));
    quiet.email = None;
    for u in [&emile, &bot, &quiet] {
        store.insert_user(u).await.unwrap();
    }
    assert_eq!(
        store.user_by_username("émile").await.unwrap().unwrap().id,
        "e1",
        "usernames fold case beyond ASCII"
    );
    assert_eq!(
        store
            .user_by_email("émile@EXAMPLE.com")
            .await
            .unwrap()
            .unwrap()
            .id,
        "e1"
    );
    assert!(matches!(
        store
            .insert_user(&user("e4", "ÉMILE", "x@example.com", t0))
            .await,
        Err(StoreError::Conflict(Conflict::Username))
    ));

    let mut found = store
        .users_by_ids(&["e3".into(), "missing".into(), "e1".into()])
        .await
        .unwrap();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(found, vec![emile.clone(), quiet.clone()]);
    assert!(store.users_by_ids(&[]).await.unwrap().is_empty());

    let order = |key: UserSortKey, direction: Direction| Page {
        offset: 0,
        count: None,
        sort: vec![(key, direction)],
    };
    let ids = |users: Vec<User>| users.into_iter().map(|u| u.id).collect::<Vec<_>>();
    let all = UserFilter::default();
    for (key, direction, expected) in [
        (
            UserSortKey::LastLogin,
            Direction::Ascending,
            ["e2", "e3", "e1"],
        ),
        (
            UserSortKey::LastLogin,
            Direction::Descending,
            ["e1", "e2", "e3"],
        ),
        (UserSortKey::Email, Direction::Ascending, ["e3", "e2", "e1"]),
        (
            UserSortKey::Username,
            Direction::Ascending,
            ["e3", "e2", "e1"],
        ),
        (
            UserSortKey::CreatedAt,
            Direction::Descending,
            ["e3", "e2", "e1"],
        ),
        (UserSortKey::Type, Direction::Descending, ["e1", "e3", "e2"]),
        (UserSortKey::Name, Direction::Ascending, ["e3", "e2", "e1"]),
    ] {
        let (listed, _) = store
            .list_users(&all, &order(key, direction))
            .await
            .unwrap();
        assert_eq!(ids(listed), expected, "sorted by {key:?} {direction:?}");
    }

    store.reset_connection_presence().await.unwrap();
    let emile_now = store.user_by_id("e1").await.unwrap().unwrap();
    assert_eq!(
        (emile_now.status, emile_now.status_connection),
        (Presence::Offline, Presence::Offline)
    );
    let bot_now = store.user_by_id("e2").await.unwrap().unwrap();
    assert_eq!(
        (bot_now.status, bot_now.status_connection),
        (Presence::Online, Presence::Online),
        "bots keep their presence"
    );

    store
        .insert_token(&login_token("e1", "tok1", t0))
        .await
        .unwrap();
    assert!(
        !store.delete_token("e2", "tok1").await.unwrap(),
        "only the owner's token goes"
    );
    assert!(store.delete_token("e1", "tok1").await.unwrap());
    assert!(!store.delete_token("e1", "tok1").await.unwrap());
    assert!(store.user_by_token("tok1").await.unwrap().is_none());
    assert!(matches!(
        store.insert_token(&login_token("e1", "tok2", t0)).await,
        Ok(())
    ));
    assert!(matches!(
        store.insert_token(&login_token("e2", "tok2", t0)).await,
        Err(StoreError::Conflict(Conflict::Id))
    ));
}

fn direct_room(id: &str, a: &User, b: &User, at: Timestamp) -> comet_core::room::Room {
    comet_core::room::Room {
        room_type: comet_core::room::RoomType::Direct,
        name: None,
        fname: None,
        user_ids: vec![a.id.clone(), b.id.clone()],
        usernames: vec![a.username.clone(), b.username.clone()],
        ..room(id, "", a, at)
    }
}

/// Rooms and memberships beyond the basics: a first message, renames reaching subscriptions,
/// filters and sorts of the room listing, member pages, subscription updates, and the trash
/// that sync reads.
pub async fn rooms_and_subscriptions(store: &dyn Store) {
    use crate::{RoomFilter, RoomSortKey};
    use comet_core::room::{Message, RoomType, UserStub};
    let t0 = now();
    let ann = user("a1", "ann", "ann@example.com", t0);
    let ben = user("b1", "ben", "ben@example.com", t0);
    let cat = user("c1", "cat", "cat@example.com", t0);
    for u in [&ann, &ben, &cat] {
        store.insert_user(u).await.unwrap();
    }

    let mut general = room("g1", "general", &ann, t0);
    general.default = true;
    general.custom_fields = json!({"tier": "gold", "n": [1, 2.5]});
    let mut created = Message::new("gm0".into(), "g1", UserStub::from(&ann), "", t0);
    created.kind = Some("room_changed_privacy".into());
    store
        .create_room(
            &general,
            &[
                subscription("gs1", &general, &ann, t0),
                subscription("gs2", &general, &ben, t0),
            ],
            Some(&created),
        )
        .await
        .unwrap();
    let stored = store.room_by_id("g1").await.unwrap().unwrap();
    assert_eq!(
        (
            stored.message_count,
            stored.users_count,
            stored.last_message_id
        ),
        (1, 2, None),
        "a first message counts but is not the last message"
    );
    assert_eq!(stored.custom_fields, general.custom_fields);

    let mut private = room("p1", "Secret_Plans", &ben, at_ms(t0, 1));
    private.room_type = RoomType::Private;
    store
        .create_room(&private, &[subscription("ps1", &private, &ben, t0)], None)
        .await
        .unwrap();
    let mut discussion = room("d1", "general-talk", &ann, at_ms(t0, 2));
    discussion.parent_id = Some("g1".into());
    store.create_room(&discussion, &[], None).await.unwrap();
    let dm = direct_room("dm1", &ann, &cat, at_ms(t0, 3));
    store
        .create_room(
            &dm,
            &[
                subscription("ds1", &dm, &ann, t0),
                subscription("ds2", &dm, &cat, t0),
            ],
            None,
        )
        .await
        .unwrap();
    // Who shares a room with whom, any room or rooms of one type.
    let sharing = |user_id: &str, room_type: Option<RoomType>| {
        let filter = UserFilter {
            shares_room_with: Some((user_id.to_owned(), room_type)),
            ..UserFilter::default()
        };
        async move {
            let sorted = Page {
                offset: 0,
                count: None,
                sort: vec![(UserSortKey::Username, Direction::Ascending)],
            };
            let (users, _) = store.list_users(&filter, &sorted).await.unwrap();
            users.into_iter().map(|u| u.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(sharing("a1", None).await, ["b1", "c1"]);
    assert_eq!(sharing("a1", Some(RoomType::Direct)).await, ["c1"]);
    assert_eq!(sharing("b1", None).await, ["a1"]);
    assert!(sharing("c1", Some(RoomType::Channel)).await.is_empty());
    assert!(matches!(
        store
            .create_room(
                &room("g2", "x", &ann, t0),
                &[subscription("gs1", &general, &cat, t0)],
                None
            )
            .await,
        Err(StoreError::Conflict(Conflict::Id))
    ));
    assert!(
        store.room_by_id("g2").await.unwrap().is_none(),
        "a failed creation leaves nothing behind"
    );

    let mut by_ids = store
        .rooms_by_ids(&["dm1".into(), "nope".into(), "g1".into()])
        .await
        .unwrap();
    by_ids.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        by_ids.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["dm1", "g1"]
    );
    assert_eq!(store.room_by_id("dm1").await.unwrap().unwrap(), {
        let mut expected = dm.clone();
        expected.users_count = 2;
        expected
    });

    let list = |filter: RoomFilter, sort: Vec<(RoomSortKey, Direction)>| async move {
        let (rooms, total) = store
            .list_rooms(
                &filter,
                &Page {
                    offset: 0,
                    count: None,
                    sort,
                },
            )
            .await
            .unwrap();
        (rooms.into_iter().map(|r| r.id).collect::<Vec<_>>(), total)
    };
    let by_name = vec![(RoomSortKey::Name, Direction::Ascending)];
    assert_eq!(
        list(RoomFilter::default(), by_name.clone()).await,
        (vec!["dm1".into(), "p1".into(), "g1".into(), "d1".into()], 4),
        "no name sorts first; byte order puts capitals before lowercase"
    );
    assert_eq!(
        list(
            RoomFilter::default(),
            vec![(RoomSortKey::Name, Direction::Descending)]
        )
        .await
        .0,
        ["d1", "g1", "p1", "dm1"]
    );
    assert_eq!(
        list(
            RoomFilter {
                types: vec![RoomType::Channel, RoomType::Private],
                name: Some("GENERAL".into()),
                ..RoomFilter::default()
            },
            by_name.clone()
        )
        .await,
        (vec!["g1".into(), "d1".into()], 2)
    );
    assert_eq!(
        list(
            RoomFilter {
                name: Some("t_p".into()),
                ..RoomFilter::default()
            },
            by_name.clone()
        )
        .await
        .1,
        1,
        "`_` in a name filter is literal"
    );
    assert_eq!(
        list(
            RoomFilter {
                name: Some("%".into()),
                ..RoomFilter::default()
            },
            by_name.clone()
        )
        .await
        .1,
        0
    );
    assert_eq!(
        list(
            RoomFilter {
                default_only: true,
                ..RoomFilter::default()
            },
            by_name.clone()
        )
        .await
        .0,
        ["g1"]
    );
    assert_eq!(
        list(
            RoomFilter {
                parent_id: Some("g1".into()),
                ..RoomFilter::default()
            },
            by_name.clone()
        )
        .await
        .0,
        ["d1"]
    );
    assert_eq!(
        list(
            RoomFilter {
                member: Some("c1".into()),
                types: vec![RoomType::Direct],
                ..RoomFilter::default()
            },
            by_name.clone()
        )
        .await
        .0,
        ["dm1"]
    );
    assert_eq!(
        list(
            RoomFilter::default(),
            vec![
                (RoomSortKey::UsersCount, Direction::Descending),
                (RoomSortKey::CreatedAt, Direction::Descending)
            ]
        )
        .await
        .0,
        ["dm1", "g1", "p1", "d1"]
    );
    let (page, total) = store
        .list_rooms(
            &RoomFilter::default(),
            &Page {
                offset: 1,
                count: Some(2),
                sort: by_name.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            page.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            total
        ),
        (vec!["p1", "g1"], 4)
    );

    // A rename reaches the subscriptions; counters and the last message stay as stored.
    let mut renamed = store.room_by_id("g1").await.unwrap().unwrap();
    renamed.name = Some("lobby".into());
    renamed.fname = Some("Lobby".into());
    renamed.topic = Some("hello".into());
    renamed.archived = true;
    renamed.muted = vec!["ben".into()];
    renamed.message_count = 99;
    renamed.users_count = 99;
    renamed.updated_at = at_ms(t0, 10);
    assert!(store.update_room(&renamed).await.unwrap());
    let stored = store.room_by_id("g1").await.unwrap().unwrap();
    assert_eq!(
        (
            stored.name.as_deref(),
            stored.topic.as_deref(),
            stored.archived,
            stored.muted.clone(),
            stored.message_count,
            stored.users_count
        ),
        (
            Some("lobby"),
            Some("hello"),
            true,
            vec!["ben".to_owned()],
            1,
            2
        )
    );
    assert!(store.room_by_name("GENERAL").await.unwrap().is_none());
    assert_eq!(store.room_by_name("LOBBY").await.unwrap().unwrap().id, "g1");
    let ben_sub = store.subscription("g1", "b1").await.unwrap().unwrap();
    assert_eq!(
        (
            ben_sub.name.as_str(),
            ben_sub.fname.as_deref(),
            ben_sub.archived,
            ben_sub.updated_at
        ),
        ("lobby", Some("Lobby"), true, at_ms(t0, 10))
    );
    let mut clash = renamed.clone();
    clash.name = Some("SECRET_plans".into());
    assert!(matches!(
        store.update_room(&clash).await,
        Err(StoreError::Conflict(Conflict::RoomName))
    ));
    assert!(
        !store
            .update_room(&room("nope", "nope", &ann, t0))
            .await
            .unwrap()
    );

    // Member pages, ordered by username.
    assert!(
        store
            .add_member(&subscription("gs3", &renamed, &cat, at_ms(t0, 20)), None)
            .await
            .unwrap()
    );
    let (members, total) = store.subscriptions_of_room("g1", 1, Some(1)).await.unwrap();
    assert_eq!(
        (
            members
                .iter()
                .map(|s| s.user.username.as_str())
                .collect::<Vec<_>>(),
            total
        ),
        (vec!["ben"], 3)
    );
    let (members, _) = store.subscriptions_of_room("g1", 0, None).await.unwrap();
    assert_eq!(
        members
            .iter()
            .map(|s| s.user.username.as_str())
            .collect::<Vec<_>>(),
        ["ann", "ben", "cat"]
    );

    // The user-controlled fields of a subscription, and sync by change time.
    let mut cat_sub = store.subscription("g1", "c1").await.unwrap().unwrap();
    cat_sub.open = false;
    cat_sub.favorite = true;
    cat_sub.alert = true;
    cat_sub.unread = 7;
    cat_sub.user_mentions = 2;
    cat_sub.group_mentions = 1;
    cat_sub.roles = vec!["moderator".into(), "leader".into()];
    cat_sub.last_seen = at_ms(t0, 30);
    cat_sub.last_reply = Some(at_ms(t0, 31));
    cat_sub.thread_unread = vec!["m9".into(), "m8".into()];
    cat_sub.thread_unread_user = vec!["m9".into()];
    cat_sub.thread_unread_group = vec!["m8".into()];
    cat_sub.ignored = vec!["b1".into()];
    cat_sub.updated_at = at_ms(t0, 40);
    assert!(store.update_subscription(&cat_sub).await.unwrap());
    assert_eq!(
        store.subscription("g1", "c1").await.unwrap(),
        Some(cat_sub.clone())
    );
    let mut missing = cat_sub.clone();
    missing.id = "nope".into();
    assert!(!store.update_subscription(&missing).await.unwrap());
    let changed = store
        .subscriptions_of_user("c1", Some(at_ms(t0, 39)))
        .await
        .unwrap();
    assert_eq!(
        changed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["gs3"]
    );
    assert_eq!(
        store
            .subscriptions_of_user("c1", None)
            .await
            .unwrap()
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        ["ds2", "gs3"],
        "ordered by join time"
    );

    // Leaving, then deleting rooms: the trash tells sync what went.
    let before = at_ms(t0, -1000);
    let mut left = Message::new("gm1".into(), "g1", UserStub::from(&cat), "cat", t0);
    left.kind = Some("ul".into());
    assert!(store.remove_member("g1", "c1", Some(&left)).await.unwrap());
    let removed = store.removed_subscriptions("c1", before).await.unwrap();
    assert_eq!(
        removed
            .iter()
            .map(|r| (r.id.as_str(), r.room_id.as_str()))
            .collect::<Vec<_>>(),
        [("gs3", "g1")]
    );
    let r = store.room_by_id("g1").await.unwrap().unwrap();
    assert_eq!((r.users_count, r.message_count), (2, 2));
    assert!(store.removed_rooms(before).await.unwrap().is_empty());
    assert!(store.delete_room("dm1").await.unwrap());
    assert!(!store.delete_room("dm1").await.unwrap());
    let gone = store.removed_rooms(before).await.unwrap();
    assert_eq!(
        gone.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["dm1"]
    );
    assert!(
        store.removed_rooms(gone[0].1).await.unwrap().is_empty(),
        "only what was removed after the time"
    );
    let mut removed_for_cat: Vec<String> = store
        .removed_subscriptions("c1", before)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    removed_for_cat.sort();
    assert_eq!(removed_for_cat, ["ds2", "gs3"]);
    assert!(
        store
            .subscriptions_of_user("c1", None)
            .await
            .unwrap()
            .is_empty()
    );

    // Deleting a user takes its subscriptions along.
    assert!(store.delete_user("b1").await.unwrap());
    assert!(store.subscription("g1", "b1").await.unwrap().is_none());
}

/// History queries beyond the basics: several ids, every filter and sort key, ties, paging,
/// text edits, bulk deletion and thread bookkeeping on deletion.
pub async fn message_history(store: &dyn Store) {
    use crate::{MessageFilter, MessageSortKey, PostEffects};
    use comet_core::room::{Mention, Message, UserStub};
    let t0 = now();
    let ann = user("a1", "ann", "ann@example.com", t0);
    let ben = user("b1", "ben", "ben@example.com", t0);
    for u in [&ann, &ben] {
        store.insert_user(u).await.unwrap();
    }
    let dev = room("r1", "dev", &ann, t0);
    store
        .create_room(
            &dev,
            &[
                subscription("s1", &dev, &ann, t0),
                subscription("s2", &dev, &ben, t0),
            ],
            None,
        )
        .await
        .unwrap();
    let visible = PostEffects {
        counts_in_room: true,
        becomes_last_message: true,
        unread_for_all: true,
        alert_others: true,
        ..PostEffects::default()
    };
    let post = |id: &str, author: &User, text: &str, ms: i64| {
        Message::new(id.into(), "r1", UserStub::from(author), text, at_ms(t0, ms))
    };

    let mut root = post("h1", &ann, "100% Done_ish", 10);
    root.pinned = true;
    store.post_message(&root, &visible).await.unwrap();
    // Two messages in the same millisecond: the one stored later is the newer.
    store
        .post_message(&post("h2", &ben, "same time A", 20), &visible)
        .await
        .unwrap();
    store
        .post_message(&post("h3", &ben, "same time B", 20), &visible)
        .await
        .unwrap();
    let mut reply = post("h4", &ben, "a reply", 30);
    reply.thread_id = Some("h1".into());
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
    let mut shown = post("h5", &ann, "a reply shown in the room", 40);
    shown.thread_id = Some("h1".into());
    shown.thread_show = true;
    shown.mentions = vec![Mention {
        id: "b1".into(),
        username: "ben".into(),
        name: Some("Ben".into()),
    }];
    store
        .post_message(
            &shown,
            &PostEffects {
                mentioned_user_ids: vec!["b1".into()],
                ..visible.clone()
            },
        )
        .await
        .unwrap();
    let mut system = post("h6", &ann, "dev", 50);
    system.kind = Some("r".into());
    store
        .post_message(
            &system,
            &PostEffects {
                counts_in_room: true,
                ..PostEffects::default()
            },
        )
        .await
        .unwrap();
    let mut started = post("h7", &ben, "let us discuss", 60);
    started.discussion_id = Some("d1".into());
    started.files = Some(serde_json::json!([{"_id": "f1", "name": "plan.pdf"}]));
    store.post_message(&started, &visible).await.unwrap();

    let ben_sub = store.subscription("r1", "b1").await.unwrap().unwrap();
    assert_eq!(
        (ben_sub.unread, ben_sub.user_mentions),
        (2, 1),
        "ann's two visible messages; the mention counts once in unread"
    );
    let r = store.room_by_id("r1").await.unwrap().unwrap();
    assert_eq!(
        (
            r.message_count,
            r.last_message_id.as_deref(),
            r.last_message_at
        ),
        (7, Some("h7"), Some(at_ms(t0, 60)))
    );
    let root_now = store.message_by_id("h1").await.unwrap().unwrap();
    assert_eq!(
        (
            root_now.thread_count,
            root_now.thread_last_at,
            root_now.thread_participants.clone()
        ),
        (
            2,
            Some(at_ms(t0, 40)),
            vec!["b1".to_owned(), "a1".to_owned()]
        )
    );

    let mut by_ids = store
        .messages_by_ids(&["h5".into(), "zz".into(), "h2".into()])
        .await
        .unwrap();
    by_ids.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(by_ids.len(), 2);
    assert_eq!(by_ids[1], shown, "every field round trips");
    assert!(store.messages_by_ids(&[]).await.unwrap().is_empty());

    let ids = |ms: Vec<Message>| ms.into_iter().map(|m| m.id).collect::<Vec<_>>();
    let newest_first = Page {
        offset: 0,
        count: None,
        sort: vec![(MessageSortKey::CreatedAt, Direction::Descending)],
    };
    let history = |filter: MessageFilter| {
        let page = newest_first.clone();
        async move { ids(store.room_messages("r1", &filter, &page).await.unwrap()) }
    };
    assert_eq!(
        history(MessageFilter {
            hide_thread_replies: true,
            ..MessageFilter::default()
        })
        .await,
        ["h7", "h6", "h5", "h3", "h2", "h1"]
    );
    assert_eq!(
        ids(store
            .room_messages("r1", &MessageFilter::default(), &Page::all())
            .await
            .unwrap()),
        ["h7", "h6", "h5", "h4", "h3", "h2", "h1"],
        "newest first without a sort"
    );
    assert_eq!(
        ids(store
            .room_messages(
                "r1",
                &MessageFilter::default(),
                &Page {
                    offset: 2,
                    count: Some(3),
                    sort: vec![(MessageSortKey::CreatedAt, Direction::Ascending)],
                }
            )
            .await
            .unwrap()),
        ["h2", "h4", "h5"],
        "same-time messages tie-break newest stored first"
    );
    assert_eq!(
        history(MessageFilter {
            thread_roots: true,
            ..MessageFilter::default()
        })
        .await,
        ["h1"]
    );
    assert_eq!(
        history(MessageFilter {
            thread_participant: Some("a1".into()),
            ..MessageFilter::default()
        })
        .await,
        ["h1"]
    );
    assert_eq!(
        history(MessageFilter {
            discussions: true,
            ..MessageFilter::default()
        })
        .await,
        ["h7"]
    );
    assert_eq!(
        history(MessageFilter {
            pinned_only: true,
            ..MessageFilter::default()
        })
        .await,
        ["h1"]
    );
    assert_eq!(
        history(MessageFilter {
            with_files: true,
            ..MessageFilter::default()
        })
        .await,
        ["h7"]
    );
    assert_eq!(
        history(MessageFilter {
            text_contains: Some("SAME TIME".into()),
            ..MessageFilter::default()
        })
        .await,
        ["h3", "h2"]
    );
    assert_eq!(
        history(MessageFilter {
            text_contains: Some("0% d".into()),
            ..MessageFilter::default()
        })
        .await,
        ["h1"],
        "`%` is literal"
    );
    assert!(
        history(MessageFilter {
            text_contains: Some("t_m".into()),
            ..MessageFilter::default()
        })
        .await
        .is_empty(),
        "`_` is literal"
    );
    assert_eq!(
        history(MessageFilter {
            oldest: Some(at_ms(t0, 20)),
            latest: Some(at_ms(t0, 50)),
            hide_system: true,
            ..MessageFilter::default()
        })
        .await,
        ["h5", "h4"]
    );
    assert_eq!(
        store
            .count_room_messages(
                "r1",
                &MessageFilter {
                    author_id: Some("b1".into()),
                    ..MessageFilter::default()
                }
            )
            .await
            .unwrap(),
        4
    );

    // An edit changes the text, the search index and the update time.
    let mut edited = store.message_by_id("h2").await.unwrap().unwrap();
    edited.text = "rewritten entirely".into();
    edited.edited_at = Some(at_ms(t0, 70));
    edited.edited_by = Some(UserStub::from(&ben));
    edited.updated_at = at_ms(t0, 70);
    // The markup tree travels in the message's document, as given.
    let md = serde_json::json!([{"type": "PARAGRAPH", "value": [
        {"type": "PLAIN_TEXT", "value": "rewritten entirely"},
    ]}]);
    edited.md = Some(md.clone());
    let edit = MessageChange::Edit {
        text: "rewritten entirely".into(),
        mentions: edited.mentions.clone(),
        channels: edited.channels.clone(),
        urls: Vec::new(),
        md: Some(md),
        by: UserStub::from(&ben),
        attachments: None,
        custom_fields: None,
    };
    let written = store
        .change_message("h2", &edit, at_ms(t0, 70))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(written.message, edited);
    assert_eq!(store.message_by_id("h2").await.unwrap(), Some(edited));
    assert!(
        store
            .change_message("zz", &edit, at_ms(t0, 70))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        history(MessageFilter {
            updated_after: Some(at_ms(t0, 65)),
            ..MessageFilter::default()
        })
        .await,
        ["h2"]
    );
    assert!(
        !history(MessageFilter {
            updated_before: Some(at_ms(t0, 65)),
            ..MessageFilter::default()
        })
        .await
        .contains(&"h2".to_owned()),
        "an edit moves a message past an earlier bound"
    );
    let search = |text: &'static str| async move {
        ids(store
            .search_messages("r1", text, &MessageFilter::default(), false, 0, None)
            .await
            .unwrap())
    };
    assert_eq!(search("rewritten").await, ["h2"]);
    assert!(
        search("same time A").await.is_empty(),
        "the old text is gone"
    );
    let by_update = Page {
        offset: 0,
        count: Some(1),
        sort: vec![(MessageSortKey::UpdatedAt, Direction::Descending)],
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &MessageFilter::default(), &by_update)
            .await
            .unwrap()),
        ["h2"]
    );
    let by_thread_activity = Page {
        offset: 0,
        count: Some(2),
        sort: vec![(MessageSortKey::ThreadLastAt, Direction::Ascending)],
    };
    assert_eq!(
        ids(store
            .room_messages("r1", &MessageFilter::default(), &by_thread_activity)
            .await
            .unwrap())
        .len(),
        2
    );
    assert_eq!(
        ids(store
            .room_messages(
                "r1",
                &MessageFilter::default(),
                &Page {
                    offset: 0,
                    count: Some(1),
                    sort: vec![(MessageSortKey::ThreadLastAt, Direction::Descending)],
                }
            )
            .await
            .unwrap()),
        ["h1"],
        "messages without thread activity sort last when descending"
    );

    // Deleting a reply uncounts it on its thread.
    let deleted_at = at_ms(t0, 80);
    assert!(store.delete_message("h4", deleted_at).await.unwrap());
    let root_now = store.message_by_id("h1").await.unwrap().unwrap();
    assert_eq!(root_now.thread_count, 1);
    let tombstone = store.message_by_id("h4").await.unwrap().unwrap();
    assert_eq!(
        (tombstone.text.as_str(), tombstone.deleted_at),
        ("", Some(deleted_at))
    );

    // Bulk deletion: the newest matching first, up to the limit, pinned ones kept when asked;
    // the room is recounted and its last message is the newest visible non-system one.
    let removed = store
        .delete_messages(
            "r1",
            &MessageFilter::default(),
            true,
            &[],
            Some(3),
            at_ms(t0, 90),
        )
        .await
        .unwrap();
    assert_eq!(removed, 3);
    assert_eq!(history(MessageFilter::default()).await, ["h3", "h2", "h1"]);
    let r = store.room_by_id("r1").await.unwrap().unwrap();
    assert_eq!(
        (r.message_count, r.last_message_id.as_deref()),
        (3, Some("h3"))
    );
    let mut deleted = store.deleted_messages("r1", at_ms(t0, 85)).await.unwrap();
    deleted.sort();
    assert_eq!(
        deleted,
        vec![
            ("h5".to_owned(), at_ms(t0, 90)),
            ("h6".to_owned(), at_ms(t0, 90)),
            ("h7".to_owned(), at_ms(t0, 90)),
        ]
    );
    assert_eq!(store.deleted_messages("r1", t0).await.unwrap().len(), 4);
    // Cursor windows over deletions: h4 at 80, then h5..h7 together at 90.
    let window = |after, before, newest_first, limit| async move {
        store
            .deleted_messages_between("r1", after, before, newest_first, limit)
            .await
            .unwrap()
    };
    assert_eq!(
        window(Some(t0), None, false, Some(2)).await,
        vec![
            ("h4".to_owned(), at_ms(t0, 80)),
            ("h5".to_owned(), at_ms(t0, 90)),
        ]
    );
    assert_eq!(
        window(Some(at_ms(t0, 80)), None, false, None).await.len(),
        3
    );
    assert_eq!(
        window(None, Some(at_ms(t0, 90)), true, Some(5)).await,
        vec![("h4".to_owned(), at_ms(t0, 80))]
    );
    assert_eq!(
        window(None, None, true, Some(1)).await,
        vec![("h7".to_owned(), at_ms(t0, 90))]
    );
    assert!(
        window(Some(at_ms(t0, 90)), None, false, None)
            .await
            .is_empty()
    );
    assert_eq!(
        store
            .delete_messages(
                "r1",
                &MessageFilter::default(),
                false,
                &["a1".into()],
                None,
                at_ms(t0, 95),
            )
            .await
            .unwrap(),
        1,
        "only the given authors"
    );
    let r = store.room_by_id("r1").await.unwrap().unwrap();
    assert_eq!(
        (r.message_count, r.last_message_id.as_deref()),
        (2, Some("h3"))
    );

    // Erasing a deleted user: where their messages are, and re-attributing them.
    let author = store.message_by_id("h3").await.unwrap().unwrap().author.id;
    assert_eq!(store.rooms_with_messages_by(&author).await.unwrap(), ["r1"]);
    assert!(
        store
            .rooms_with_messages_by("nobody")
            .await
            .unwrap()
            .is_empty()
    );
    let cat = comet_core::room::UserStub {
        id: "rocket.cat".into(),
        username: "rocket.cat".into(),
        name: None,
    };
    let unlinked = store
        .unlink_messages(&author, &cat, "Removed User", at_ms(t0, 99))
        .await
        .unwrap();
    assert!(unlinked >= 1);
    let h3 = store.message_by_id("h3").await.unwrap().unwrap();
    assert_eq!(
        (
            h3.author,
            h3.alias.as_deref(),
            h3.updated_at,
            h3.text.as_str()
        ),
        (cat, Some("Removed User"), at_ms(t0, 99), "same time B")
    );
    assert!(
        store
            .rooms_with_messages_by(&author)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Full-text search as users see it: any script, Latin diacritics folded, case ignored, every
/// word required and the last one a prefix, punctuation never syntax, newest first, filters
/// and paging.
pub async fn message_search(store: &dyn Store) {
    use crate::{MessageFilter, PostEffects};
    use comet_core::room::{Message, UserStub};
    let t0 = now();
    let ann = user("a1", "ann", "ann@example.com", t0);
    let ben = user("b1", "ben", "ben@example.com", t0);
    for u in [&ann, &ben] {
        store.insert_user(u).await.unwrap();
    }
    let dev = room("r1", "dev", &ann, t0);
    let other = room("r2", "other", &ann, t0);
    // Its id differs from `r1`'s only in letter case, which a full-text index may fold.
    let twin = room("R1", "twin", &ann, t0);
    for r in [&dev, &other, &twin] {
        store.create_room(r, &[], None).await.unwrap();
    }
    let texts = [
        ("s1", &ann, "r1", "the deployment finished"),
        ("s2", &ben, "r1", "deploy again tomorrow"),
        ("s3", &ben, "r1", "مرحبا بالعالم"),
        ("s4", &ann, "r1", "Olá, a IMPLANTAÇÃO terminou"),
        (
            "s5",
            &ann,
            "r1",
            "see docs.example.com or mail ops@example.org",
        ),
        ("s6", &ben, "r1", "Привет, мир"),
        ("s7", &ann, "r1", "release v2 in 2024: well-known issues"),
        ("s8", &ben, "r1", "你好世界"),
        (
            "s9",
            &ann,
            "r1",
            "the release of the new version is planned for next week after the review",
        ),
        ("s10", &ben, "r1", "release release release"),
        ("s11", &ann, "r2", "deploy in the other room"),
        ("s13", &ann, "R1", "deploy in the twin room"),
    ];
    for (i, (id, author, room_id, text)) in texts.iter().enumerate() {
        let message = Message::new(
            (*id).into(),
            room_id,
            UserStub::from(*author),
            text,
            at_ms(t0, i64::try_from(i).unwrap() * 10),
        );
        store
            .post_message(
                &message,
                &PostEffects {
                    counts_in_room: true,
                    becomes_last_message: true,
                    ..PostEffects::default()
                },
            )
            .await
            .unwrap();
    }
    let mut system = Message::new("s12".into(), "r1", UserStub::from(&ann), "deploy", t0);
    system.kind = Some("uj".into());
    store
        .post_message(&system, &PostEffects::default())
        .await
        .unwrap();

    let users_view = MessageFilter {
        hide_system: true,
        ..MessageFilter::default()
    };
    let search = |text: &'static str| {
        let filter = users_view.clone();
        async move {
            let mut found: Vec<String> = store
                .search_messages("r1", text, &filter, false, 0, None)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.id)
                .collect();
            found.sort();
            found
        }
    };
    assert_eq!(
        search("deploy").await,
        ["s1", "s2"],
        "the last word is a prefix"
    );
    assert_eq!(search("DEPLOYMENT fin").await, ["s1"]);
    assert!(
        search("r1").await.is_empty(),
        "the room's id is not text of its messages"
    );
    assert!(
        search("deplo finished").await.is_empty(),
        "words before the last match whole"
    );
    assert!(
        search("deploy zebra").await.is_empty(),
        "every word is required"
    );
    assert_eq!(search("de").await, ["s1", "s2"], "two letters are a prefix");
    assert_eq!(
        search("DEP").await,
        ["s1", "s2"],
        "three letters are a prefix"
    );
    assert_eq!(
        search("a").await,
        ["s4"],
        "one letter matches the word alone, not every word it starts"
    );
    assert_eq!(search("مرحبا").await, ["s3"]);
    assert_eq!(search("مر").await, ["s3"]);
    assert_eq!(search("بالعا").await, ["s3"]);
    assert_eq!(search("implantacao").await, ["s4"], "diacritics fold");
    assert_eq!(search("implantação").await, ["s4"]);
    assert_eq!(search("ola terminou").await, ["s4"]);
    assert_eq!(search("привет").await, ["s6"], "case folds in every script");
    assert_eq!(search("МИР").await, ["s6"]);
    assert_eq!(search("你好").await, ["s8"]);
    assert_eq!(
        search("example").await,
        ["s5"],
        "host names split into words"
    );
    assert_eq!(search("ops").await, ["s5"]);
    assert_eq!(search("known").await, ["s7"]);
    assert_eq!(search("v2 2024").await, ["s7"]);
    assert!(search("\"unbalanced OR (").await.is_empty());
    assert!(search("deploy* -again NEAR(a b)").await.is_empty());
    assert_eq!(search("'deploy'").await, ["s1", "s2"]);
    assert!(search("alice").await.is_empty());

    // Newest first, as upstream sorts, whatever matches best (`s10` says "release" three
    // times); `oldest_first` the other way round; paged by offset and count.
    let release = |oldest_first: bool, offset: u64, count: Option<u64>| {
        let filter = users_view.clone();
        async move {
            store
                .search_messages("r1", "release", &filter, oldest_first, offset, count)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(release(false, 0, None).await, ["s10", "s9", "s7"]);
    assert_eq!(release(true, 0, None).await, ["s7", "s9", "s10"]);
    assert_eq!(release(false, 1, Some(1)).await, ["s9"]);
    assert_eq!(release(false, 2, Some(5)).await, ["s7"]);
    assert_eq!(release(true, 1, Some(2)).await, ["s9", "s10"]);
    assert!(release(false, 3, Some(2)).await.is_empty());

    // Words and a text filter together narrow each other.
    let narrowed = MessageFilter {
        text_contains: Some("finished".into()),
        ..users_view.clone()
    };
    let both: Vec<String> = store
        .search_messages("r1", "deploy", &narrowed, false, 0, None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(both, ["s1"]);

    // No words: everything the filter lets through, newest or oldest first, paged.
    let page = |oldest_first: bool, offset: u64, count: Option<u64>| {
        let filter = users_view.clone();
        async move {
            store
                .search_messages("r1", " ?! ", &filter, oldest_first, offset, count)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(false, 0, Some(2)).await, ["s10", "s9"]);
    assert_eq!(page(true, 1, Some(2)).await, ["s2", "s3"]);
    assert_eq!(page(false, 0, None).await.len(), 10);

    // Filters narrow a text search; deleted messages are never found.
    let by_ben = MessageFilter {
        author_id: Some("b1".into()),
        ..users_view.clone()
    };
    let found = store
        .search_messages("r1", "deploy", &by_ben, false, 0, None)
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["s2"]
    );
    let before = MessageFilter {
        latest: Some(at_ms(t0, 10)),
        ..users_view.clone()
    };
    let found = store
        .search_messages("r1", "deploy", &before, false, 0, None)
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["s1"]
    );
    let everything = store
        .search_messages("r1", "deploy", &MessageFilter::default(), false, 0, None)
        .await
        .unwrap();
    assert_eq!(
        everything.len(),
        3,
        "system messages match without hide_system"
    );
    assert!(store.delete_message("s2", at_ms(t0, 500)).await.unwrap());
    assert_eq!(search("deploy").await, ["s1"]);
    assert!(
        store
            .search_messages("missing", "deploy", &users_view, false, 0, None)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Posts, edits and deletions racing on one room (with SQLite they share batches, and a
/// message may be posted and changed in one): search finds each message by its last text
/// alone, and nothing deleted.
pub async fn search_follows_racing_writes(store: &dyn Store) {
    use crate::{MessageFilter, PostEffects};
    use comet_core::room::{Message, UserStub};
    const EACH: usize = 12;
    let t0 = now();
    let ann = user("a1", "ann", "ann@example.com", t0);
    store.insert_user(&ann).await.unwrap();
    store
        .create_room(&room("r1", "dev", &ann, t0), &[], None)
        .await
        .unwrap();
    let post = |id: String, text: String, at_offset: i64| {
        let author = UserStub::from(&ann);
        async move {
            let message = Message::new(id, "r1", author, &text, at_ms(t0, at_offset));
            store
                .post_message(&message, &PostEffects::default())
                .await
                .unwrap();
        }
    };
    let edit = |id: String, text: String, at_offset: i64| {
        let by = UserStub::from(&ann);
        async move {
            let change = MessageChange::Edit {
                text,
                mentions: Vec::new(),
                channels: Vec::new(),
                urls: Vec::new(),
                md: None,
                by,
                attachments: None,
                custom_fields: None,
            };
            store
                .change_message(&id, &change, at_ms(t0, at_offset))
                .await
                .unwrap()
                .unwrap();
        }
    };
    // Messages there before the race: some are edited, some deleted, some left alone.
    for i in 0..EACH {
        post(format!("old{i:02}"), format!("before{i:02} kept"), 0).await;
    }
    let editor = async {
        for i in (0..EACH).step_by(3) {
            edit(format!("old{i:02}"), format!("after{i:02} kept"), 1).await;
        }
    };
    let deleter = async {
        for i in (1..EACH).step_by(3) {
            assert!(
                store
                    .delete_message(&format!("old{i:02}"), at_ms(t0, 1))
                    .await
                    .unwrap()
            );
        }
    };
    // New messages changed at once by their own writer.
    let churner = |lane: usize| async move {
        for i in 0..EACH {
            let id = format!("new{lane}x{i:02}");
            post(id.clone(), format!("first{lane}x{i:02}"), 2).await;
            match i % 3 {
                0 => edit(id, format!("second{lane}x{i:02}"), 3).await,
                1 => {
                    assert!(store.delete_message(&id, at_ms(t0, 3)).await.unwrap());
                }
                _ => {}
            }
        }
    };
    tokio::join!(editor, deleter, churner(0), churner(1), churner(2));

    let found = |text: String| async move {
        store
            .search_messages("r1", &text, &MessageFilter::default(), false, 0, None)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect::<Vec<_>>()
    };
    for i in 0..EACH {
        let id = format!("old{i:02}");
        let (before, after) = (format!("before{i:02}"), format!("after{i:02}"));
        match i % 3 {
            0 => {
                assert!(found(before).await.is_empty(), "{id}: its old text is gone");
                assert_eq!(found(after).await, [id.as_str()], "{id}: found by its edit");
            }
            1 => assert!(found(before).await.is_empty(), "{id} was deleted"),
            _ => assert_eq!(found(before).await, [id.as_str()], "{id} was left alone"),
        }
    }
    for lane in 0..3 {
        for i in 0..EACH {
            let id = format!("new{lane}x{i:02}");
            let first = found(format!("first{lane}x{i:02}")).await;
            let second = found(format!("second{lane}x{i:02}")).await;
            match i % 3 {
                0 => {
                    assert!(first.is_empty(), "{id}: its first text is gone");
                    assert_eq!(second, [id.as_str()], "{id}: found by its edit");
                }
                1 => assert!(first.is_empty(), "{id} was deleted"),
                _ => assert_eq!(first, [id.as_str()], "{id}: found as posted"),
            }
        }
    }
    let kept = found("kept".to_owned()).await;
    assert_eq!(kept.len(), EACH - EACH / 3, "{kept:?}");
}

/// Two writers racing on one room (posts with mentions, thread replies, reactions to one
/// message, members joining and leaving): nothing is lost, counters add up, and the last
/// message is the newest whatever order the writes commit in.
pub async fn concurrent_writers(store: &dyn Store) {
    use crate::{MessageFilter, PostEffects};
    use comet_core::room::{Mention, Message, UserStub};
    const EACH: i64 = 30;
    let t0 = now();
    let ann = user("a1", "ann", "ann@example.com", t0);
    let ben = user("b1", "ben", "ben@example.com", t0);
    let cat = user("c1", "cat", "cat@example.com", t0);
    let dan = user("d1", "dan", "dan@example.com", t0);
    for u in [&ann, &ben, &cat, &dan] {
        store.insert_user(u).await.unwrap();
    }
    let busy = room("r1", "busy", &ann, t0);
    store
        .create_room(
            &busy,
            &[
                subscription("s1", &busy, &ann, t0),
                subscription("s2", &busy, &ben, t0),
                subscription("s3", &busy, &cat, t0),
            ],
            Some(&Message::new(
                "root".into(),
                "r1",
                UserStub::from(&ann),
                "thread root",
                t0,
            )),
        )
        .await
        .unwrap();

    // Ann's posts take even milliseconds and Ben's odd ones, so Ben's last is the newest.
    let writer = |author: &User, parity: i64| {
        let author = author.clone();
        async move {
            for i in 0..EACH {
                let at = at_ms(t0, 1 + 2 * i + parity);
                let mut message = Message::new(
                    format!("{}-{i}", author.username),
                    "r1",
                    UserStub::from(&author),
                    &format!("message {i} from {}", author.username),
                    at,
                );
                let mentions_cat = i % 2 == 0;
                if mentions_cat {
                    message.mentions = vec![Mention {
                        id: "c1".into(),
                        username: "cat".into(),
                        name: None,
                    }];
                }
                if i % 5 == 0 {
                    message.thread_id = Some("root".into());
                    message.thread_show = true;
                }
                let effects = PostEffects {
                    counts_in_room: true,
                    becomes_last_message: true,
                    unread_for_all: true,
                    mentioned_user_ids: if mentions_cat {
                        vec!["c1".into()]
                    } else {
                        Vec::new()
                    },
                    alert_others: true,
                    ..PostEffects::default()
                };
                store.post_message(&message, &effects).await.unwrap();
                react(
                    store,
                    "root",
                    &format!(":{}{i}:", author.username),
                    &author.username,
                    true,
                    at,
                )
                .await
                .unwrap();
            }
        }
    };
    let churn = async {
        for i in 0..EACH / 5 {
            let joined = subscription(&format!("dan-{i}"), &busy, &dan, t0);
            assert!(store.add_member(&joined, None).await.unwrap());
            assert!(store.remove_member("r1", "d1", None).await.unwrap());
        }
    };
    tokio::join!(writer(&ann, 0), writer(&ben, 1), churn);

    let replies_each = (0..EACH).filter(|i| i % 5 == 0).count() as i64;
    let mentions_each = (0..EACH).filter(|i| i % 2 == 0).count() as i64;
    let r = store.room_by_id("r1").await.unwrap().unwrap();
    let newest = at_ms(t0, 2 * EACH);
    assert_eq!(
        (
            r.message_count,
            r.users_count,
            r.last_message_id.clone(),
            r.last_message_at
        ),
        (
            1 + 2 * EACH,
            3,
            Some(format!("ben-{}", EACH - 1)),
            Some(newest)
        )
    );
    assert_eq!(
        store
            .count_room_messages("r1", &MessageFilter::default())
            .await
            .unwrap(),
        u64::try_from(1 + 2 * EACH).unwrap()
    );
    let sub = |user_id: &'static str| async move {
        store.subscription("r1", user_id).await.unwrap().unwrap()
    };
    let (ann_sub, ben_sub, cat_sub) = (sub("a1").await, sub("b1").await, sub("c1").await);
    assert_eq!((ann_sub.unread, ann_sub.user_mentions), (EACH, 0));
    assert_eq!((ben_sub.unread, ben_sub.user_mentions), (EACH, 0));
    assert_eq!(
        (cat_sub.unread, cat_sub.user_mentions, cat_sub.alert),
        (2 * EACH, 2 * mentions_each, true)
    );
    let root = store.message_by_id("root").await.unwrap().unwrap();
    assert_eq!(root.thread_count, 2 * replies_each);
    let mut participants = root.thread_participants.clone();
    participants.sort();
    assert_eq!(participants, ["a1", "b1"]);
    assert_eq!(
        root.reactions.len(),
        usize::try_from(2 * EACH).unwrap(),
        "no reaction lost"
    );
    assert!(store.subscription("r1", "d1").await.unwrap().is_none());
    assert_eq!(
        store.subscriptions_of_room("r1", 0, None).await.unwrap().1,
        3
    );
    assert_eq!(
        store
            .removed_subscriptions("d1", at_ms(t0, -1000))
            .await
            .unwrap()
            .len(),
        usize::try_from(EACH / 5).unwrap()
    );
}

/// Posts stamped before they queue for the room commit in any order: a reply stamped earlier
/// that commits after a later one leaves the thread's last reply time (`tlm`) at the later
/// reply, as a message stamped earlier leaves the room's last message (`lm`) alone.
pub async fn posts_committed_out_of_order(store: &dyn Store) {
    use crate::PostEffects;
    use comet_core::room::{Message, UserStub};
    let t0 = now();
    let ann = user("a1", "ann", "ann@example.com", t0);
    let ben = user("b1", "ben", "ben@example.com", t0);
    for u in [&ann, &ben] {
        store.insert_user(u).await.unwrap();
    }
    let talk = room("r1", "talk", &ann, t0);
    let root = Message::new("root".into(), "r1", UserStub::from(&ann), "thread root", t0);
    store
        .create_room(
            &talk,
            &[
                subscription("s1", &talk, &ann, t0),
                subscription("s2", &talk, &ben, t0),
            ],
            Some(&root),
        )
        .await
        .unwrap();
    let visible = PostEffects {
        counts_in_room: true,
        becomes_last_message: true,
        alert_others: true,
        ..PostEffects::default()
    };
    let hidden = PostEffects {
        counts_in_room: true,
        ..PostEffects::default()
    };
    // Committed in this order, stamped 20, 10, 30, 25 ms after the root.
    for (id, ms, in_room) in [
        ("later", 20, true),
        ("earlier", 10, true),
        ("last", 30, false),
        ("late", 25, false),
    ] {
        let mut reply = Message::new(id.into(), "r1", UserStub::from(&ben), id, at_ms(t0, ms));
        reply.thread_id = Some("root".into());
        reply.thread_show = in_room;
        let effects = if in_room { &visible } else { &hidden };
        store.post_message(&reply, effects).await.unwrap();
    }
    let root = store.message_by_id("root").await.unwrap().unwrap();
    assert_eq!(
        (root.thread_count, root.thread_last_at),
        (4, Some(at_ms(t0, 30))),
        "the newest reply's time, whatever the commit order"
    );
    let r = store.room_by_id("r1").await.unwrap().unwrap();
    assert_eq!(
        (
            r.message_count,
            r.last_message_id.as_deref(),
            r.last_message_at
        ),
        (5, Some("later"), Some(at_ms(t0, 20))),
        "the newest message shown in the room"
    );
}

/// Many writers changing one message at once: reactions and stars from several users, edits
/// by its author, pins and unpins, follows, and thread replies arriving. Every acknowledged
/// change is in the final message: none overwrites another.
pub async fn racing_message_changes(store: &dyn Store) {
    use crate::PostEffects;
    use comet_core::room::{Message, UserStub};
    const ROUNDS: usize = 12;
    let t0 = now();
    let members: Vec<User> = (0..6)
        .map(|i| {
            user(
                &format!("u{i}"),
                &format!("user{i}"),
                &format!("u{i}@example.com"),
                t0,
            )
        })
        .collect();
    for member in &members {
        store.insert_user(member).await.unwrap();
    }
    let author = &members[0];
    let hot = room("r1", "hot", author, t0);
    let subscriptions: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(i, member)| subscription(&format!("s{i}"), &hot, member, t0))
        .collect();
    let root = Message::new("root".into(), "r1", UserStub::from(author), "original", t0);
    store
        .create_room(&hot, &subscriptions, Some(&root))
        .await
        .unwrap();

    let reactor = |member: &User| {
        let username = member.username.clone();
        let user_id = member.id.clone();
        async move {
            for round in 0..ROUNDS {
                let at = at_ms(t0, 1 + i64::try_from(round).unwrap());
                react(store, "root", &format!(":r{round}:"), &username, true, at)
                    .await
                    .unwrap();
                if round == 0 {
                    let star = MessageChange::Star {
                        user_id: user_id.clone(),
                    };
                    store
                        .change_message("root", &star, at)
                        .await
                        .unwrap()
                        .unwrap();
                }
            }
        }
    };
    let editor = async {
        for round in 0..ROUNDS {
            let edit = MessageChange::Edit {
                text: format!("edit {round}"),
                mentions: Vec::new(),
                channels: Vec::new(),
                urls: Vec::new(),
                md: None,
                by: UserStub::from(author),
                attachments: None,
                custom_fields: None,
            };
            let at = at_ms(t0, 1 + i64::try_from(round).unwrap());
            store
                .change_message("root", &edit, at)
                .await
                .unwrap()
                .unwrap();
        }
    };
    let pinner = async {
        for round in 0..=ROUNDS {
            let change = if round % 2 == 0 {
                MessageChange::Pin {
                    by: UserStub::from(&members[1]),
                }
            } else {
                MessageChange::Unpin
            };
            let at = at_ms(t0, 1 + i64::try_from(round).unwrap());
            store
                .change_message("root", &change, at)
                .await
                .unwrap()
                .unwrap();
        }
    };
    let replier = async {
        for round in 0..ROUNDS {
            let replier = &members[round % members.len()];
            let at = at_ms(t0, 100 + i64::try_from(round).unwrap());
            let mut reply = Message::new(
                format!("reply{round}"),
                "r1",
                UserStub::from(replier),
                "a reply",
                at,
            );
            reply.thread_id = Some("root".into());
            let effects = PostEffects {
                counts_in_room: true,
                ..PostEffects::default()
            };
            store.post_message(&reply, &effects).await.unwrap();
            let follow = MessageChange::Follow {
                user_id: format!("follower{round}"),
            };
            store
                .change_message("root", &follow, at)
                .await
                .unwrap()
                .unwrap();
        }
    };
    let reactors = futures_util::future::join_all(members.iter().map(reactor));
    tokio::join!(reactors, editor, pinner, replier);

    let last = store.message_by_id("root").await.unwrap().unwrap();
    assert_eq!(last.text, format!("edit {}", ROUNDS - 1));
    assert!(last.pinned, "the last pin stays");
    assert_eq!(last.reactions.len(), ROUNDS, "every emoji is there");
    for (emoji, users) in &last.reactions {
        assert_eq!(users.len(), members.len(), "no reaction to {emoji} lost");
    }
    let mut starred = last.starred_by.clone();
    starred.sort();
    let mut everyone: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    everyone.sort();
    assert_eq!(starred, everyone, "no star lost");
    assert_eq!(last.thread_count, i64::try_from(ROUNDS).unwrap());
    for round in 0..ROUNDS {
        assert!(
            last.thread_participants
                .contains(&format!("follower{round}")),
            "follower{round} kept"
        );
    }
    // Every member replied at least once (round-robin over more rounds than members).
    for member in &members {
        assert!(
            last.thread_participants.contains(&member.id),
            "replier {} is a participant",
            member.id
        );
    }
}

/// Opening an empty database creates every table; opening it again (twice at once, as
/// several nodes starting together would) applies nothing twice and keeps the data.
pub async fn migrations_from_empty<S, F, Fut>(open: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    use crate::{MessageFilter, PostEffects, RoomFilter};
    use comet_core::room::{Message, UserStub};
    let t0 = now();
    let store = open().await;
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert!(store.settings().await.unwrap().is_empty());
    assert!(store.permissions().await.unwrap().is_empty());
    assert!(store.roles().await.unwrap().is_empty());
    assert_eq!(store.count_failed_logins("k", t0).await.unwrap(), 0);
    assert_eq!(
        store
            .list_rooms(&RoomFilter::default(), &Page::all())
            .await
            .unwrap()
            .1,
        0
    );
    assert!(store.removed_rooms(t0).await.unwrap().is_empty());

    let ann = user("a1", "ann", "ann@example.com", t0);
    store.insert_user(&ann).await.unwrap();
    store
        .insert_token(&login_token("a1", "h1", t0))
        .await
        .unwrap();
    store.record_failed_login("k", t0).await.unwrap();
    let dev = room("r1", "dev", &ann, t0);
    store
        .create_room(&dev, &[subscription("s1", &dev, &ann, t0)], None)
        .await
        .unwrap();
    store
        .post_message(
            &Message::new(
                "m1".into(),
                "r1",
                UserStub::from(&ann),
                "persisted words",
                t0,
            ),
            &PostEffects {
                counts_in_room: true,
                becomes_last_message: true,
                ..PostEffects::default()
            },
        )
        .await
        .unwrap();
    drop(store);

    let (again, and_again) = tokio::join!(open(), open());
    for store in [&again, &and_again] {
        assert_eq!(store.count_users().await.unwrap(), 1);
        assert!(store.user_by_token("h1").await.unwrap().is_some());
        assert_eq!(store.count_failed_logins("k", t0).await.unwrap(), 1);
        assert_eq!(
            store.room_by_id("r1").await.unwrap().unwrap().message_count,
            1
        );
        let found = store
            .search_messages("r1", "persist", &MessageFilter::default(), false, 0, None)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
    }
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

/// Thread replies: followers join the root's `replies`, followers and the mentioned get the
/// thread among their unread threads (with its user and group marks), and reading the thread
/// takes it out again.
pub async fn thread_unreads(store: &dyn Store) {
    use crate::{MessageSortKey, PostEffects, ThreadReplyEffects};
    use comet_core::room::{Message, UserStub};
    let t0 = now();
    let ann = user("a1", "ann", "ann@example.com", t0);
    let ben = user("b1", "ben", "ben@example.com", t0);
    let cat = user("c1", "cat", "cat@example.com", t0);
    for u in [&ann, &ben, &cat] {
        store.insert_user(u).await.unwrap();
    }
    let ops = room("r1", "Ops", &ann, t0);
    let subs = [
        subscription("s1", &ops, &ann, t0),
        subscription("s2", &ops, &ben, t0),
        subscription("s3", &ops, &cat, t0),
    ];
    store.create_room(&ops, &subs, None).await.unwrap();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    let root = Message::new("m1".into(), "r1", UserStub::from(&ann), "root", at(1));
    store
        .post_message(&root, &PostEffects::default())
        .await
        .unwrap();

    // Ben replies and mentions cat: ann (the root's author) starts following and gets an
    // unread thread; cat, mentioned, gets it with the user mark.
    let mut reply = Message::new("m2".into(), "r1", UserStub::from(&ben), "@cat", at(2));
    reply.thread_id = Some("m1".into());
    let effects = |followers: &[&str], group: bool, mentioned: &[&str]| PostEffects {
        counts_in_room: true,
        thread: Some(ThreadReplyEffects {
            new_followers: vec!["a1".into()],
            followers: followers.iter().map(|s| (*s).to_owned()).collect(),
            group,
            mentioned: mentioned.iter().map(|s| (*s).to_owned()).collect(),
        }),
        ..PostEffects::default()
    };
    store
        .post_message(&reply, &effects(&["a1"], false, &["c1"]))
        .await
        .unwrap();
    let mut followers = store
        .message_by_id("m1")
        .await
        .unwrap()
        .unwrap()
        .thread_participants;
    followers.sort();
    assert_eq!(followers, ["a1", "b1"]);
    let ann_now = store.subscription("r1", "a1").await.unwrap().unwrap();
    assert_eq!(ann_now.thread_unread, ["m1"]);
    assert!(ann_now.thread_unread_user.is_empty() && ann_now.thread_unread_group.is_empty());
    assert!(ann_now.alert);
    let cat_now = store.subscription("r1", "c1").await.unwrap().unwrap();
    assert_eq!(
        (
            cat_now.thread_unread.clone(),
            cat_now.thread_unread_user.clone()
        ),
        (vec!["m1".to_owned()], vec!["m1".to_owned()])
    );
    let ben_now = store.subscription("r1", "b1").await.unwrap().unwrap();
    assert!(ben_now.thread_unread.is_empty() && !ben_now.alert);

    // An @all reply by cat: ann's thread is listed once, now with the group mark.
    let mut all = Message::new("m3".into(), "r1", UserStub::from(&cat), "@all", at(3));
    all.thread_id = Some("m1".into());
    store
        .post_message(&all, &effects(&["a1", "b1"], true, &[]))
        .await
        .unwrap();
    let ann_now = store.subscription("r1", "a1").await.unwrap().unwrap();
    assert_eq!(
        (
            ann_now.thread_unread.clone(),
            ann_now.thread_unread_group.clone()
        ),
        (vec!["m1".to_owned()], vec!["m1".to_owned()])
    );

    // Reading the thread takes it out of every list; the alert goes only when asked.
    let read = store
        .read_thread("r1", "a1", "m1", false, at(4))
        .await
        .unwrap()
        .unwrap();
    assert!(read.thread_unread.is_empty());
    assert!(read.thread_unread_user.is_empty() && read.thread_unread_group.is_empty());
    assert!(read.alert);
    assert_eq!(read.updated_at, at(4));
    let read = store
        .read_thread("r1", "c1", "m1", true, at(5))
        .await
        .unwrap()
        .unwrap();
    assert!(read.thread_unread.is_empty() && read.thread_unread_user.is_empty());
    assert!(!read.alert);
    assert!(
        store
            .read_thread("r1", "nobody", "m1", true, at(5))
            .await
            .unwrap()
            .is_none()
    );

    // Messages sorted by their author's username.
    let by_author = Page {
        offset: 0,
        count: None,
        sort: vec![(MessageSortKey::AuthorUsername, Direction::Descending)],
    };
    let ids: Vec<String> = store
        .room_messages("r1", &crate::MessageFilter::default(), &by_author)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["m3", "m2", "m1"]);
}

/// Instances, connections, leases and rate-limit windows shared by several instances.
pub async fn cluster(store: &dyn Store) {
    let t0 = now();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);

    // Connections on two instances add up per user.
    store.instance_heartbeat("a", t0).await.unwrap();
    store.instance_heartbeat("b", t0).await.unwrap();
    store
        .set_connection("a", "1", "u1", Some(Presence::Online), t0)
        .await
        .unwrap();
    store
        .set_connection("b", "1", "u1", Some(Presence::Away), t0)
        .await
        .unwrap();
    store
        .set_connection("b", "2", "u2", Some(Presence::Online), t0)
        .await
        .unwrap();
    // Online if any connection is, on any instance.
    assert_eq!(
        store.connections_presence("u1").await.unwrap(),
        Presence::Online
    );
    assert_eq!(
        store.connections_presence("nobody").await.unwrap(),
        Presence::Offline
    );
    // The same connection again replaces its presence.
    store
        .set_connection("a", "1", "u1", Some(Presence::Away), at(1))
        .await
        .unwrap();
    // Away once all are.
    assert_eq!(
        store.connections_presence("u1").await.unwrap(),
        Presence::Away
    );
    store
        .set_connection("a", "1", "u1", None, at(1))
        .await
        .unwrap();
    assert_eq!(
        store.connections_presence("u1").await.unwrap(),
        Presence::Away
    );

    // Counted overall and per instance.
    assert_eq!(store.count_connections().await.unwrap(), 2);
    assert_eq!(
        store.instances().await.unwrap(),
        vec![
            crate::InstanceRecord {
                id: "a".into(),
                last_beat: t0,
                connections: 0,
            },
            crate::InstanceRecord {
                id: "b".into(),
                last_beat: t0,
                connections: 2,
            },
        ]
    );

    // Instance b stops beating: its connections go, and whose they were is reported once.
    store.instance_heartbeat("a", at(30)).await.unwrap();
    store
        .set_connection("b", "3", "u2", Some(Presence::Online), t0)
        .await
        .unwrap();
    assert_eq!(
        store.expire_instances(at(10)).await.unwrap(),
        vec!["u1".to_owned(), "u2".to_owned()]
    );
    assert_eq!(
        store.connections_presence("u2").await.unwrap(),
        Presence::Offline
    );
    assert!(store.expire_instances(at(10)).await.unwrap().is_empty());
    // A connection of an instance never heard from counts as dead too.
    store
        .set_connection("ghost", "1", "u3", Some(Presence::Online), at(30))
        .await
        .unwrap();
    assert_eq!(
        store.expire_instances(at(10)).await.unwrap(),
        vec!["u3".to_owned()]
    );
    store
        .set_connection("a", "9", "u4", Some(Presence::Online), at(30))
        .await
        .unwrap();
    store.clear_connections().await.unwrap();
    assert_eq!(
        store.connections_presence("u4").await.unwrap(),
        Presence::Offline
    );

    // Leases: one holder at a time, renewable by its holder, free once expired.
    assert!(store.acquire_lease("sweep", "a", t0, at(15)).await.unwrap());
    assert!(
        !store
            .acquire_lease("sweep", "b", at(5), at(20))
            .await
            .unwrap()
    );
    assert!(
        store
            .acquire_lease("sweep", "a", at(10), at(25))
            .await
            .unwrap()
    );
    assert!(
        !store
            .acquire_lease("sweep", "b", at(20), at(35))
            .await
            .unwrap()
    );
    assert!(
        store
            .acquire_lease("sweep", "b", at(26), at(40))
            .await
            .unwrap()
    );
    assert!(
        !store
            .acquire_lease("sweep", "a", at(27), at(42))
            .await
            .unwrap()
    );
    assert!(
        store
            .acquire_lease("other", "a", at(27), at(42))
            .await
            .unwrap()
    );

    // Rate windows count within their period and restart after it.
    let period = 10_000;
    assert_eq!(
        store.hit_rate_window("k", t0, period).await.unwrap(),
        (t0, 1)
    );
    assert_eq!(
        store.hit_rate_window("k", at(3), period).await.unwrap(),
        (t0, 2)
    );
    assert_eq!(
        store.hit_rate_window("k", at(9), period).await.unwrap(),
        (t0, 3)
    );
    assert_eq!(
        store.hit_rate_window("k", at(10), period).await.unwrap(),
        (at(10), 1)
    );
    assert_eq!(
        store
            .hit_rate_window("other", at(10), period)
            .await
            .unwrap(),
        (at(10), 1)
    );
    assert_eq!(store.purge_rate_windows(at(10)).await.unwrap(), 0);
    assert_eq!(store.purge_rate_windows(at(11)).await.unwrap(), 2);

    // Many racing hits are all counted.
    let hits = (0..20).map(|_| store.hit_rate_window("race", at(50), period));
    let results = futures_util::future::join_all(hits).await;
    let mut counts: Vec<u64> = results.into_iter().map(|r| r.unwrap().1).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<u64>>());
}

fn upload(id: &str, room: &str, name: &str, content_type: &str, at: Timestamp) -> crate::Upload {
    crate::Upload {
        id: id.into(),
        name: name.into(),
        size: 1234,
        content_type: content_type.into(),
        extension: name
            .rsplit_once('.')
            .map(|(_, e)| e.to_lowercase())
            .unwrap_or_default(),
        room_id: room.into(),
        user_id: "u1".into(),
        store_key: id.into(),
        store: "FileSystem:Uploads".into(),
        complete: true,
        description: None,
        dimensions: None,
        format: None,
        expires_at: None,
        uploaded_at: at,
        updated_at: at,
        original_file_id: None,
    }
}

/// Upload records: insert, look up, update, list with filters and paging, expiry, delete.
pub async fn uploads(store: &dyn Store) {
    use crate::UploadFilter;
    let t0 = now();
    let later = |ms: i64| t0 + chrono::Duration::milliseconds(ms);
    let mut photo = upload("f1", "r1", "Holiday Photo.PNG", "image/png", later(0));
    photo.dimensions = Some((640, 480));
    photo.format = Some("png".into());
    photo.description = Some("the beach".into());
    store.insert_upload(&photo).await.unwrap();
    assert_eq!(store.upload_by_id("f1").await.unwrap(), Some(photo.clone()));
    assert_eq!(photo.type_group(), "image");
    assert!(matches!(
        store.insert_upload(&photo).await,
        Err(StoreError::Conflict(Conflict::Id))
    ));

    let mut pending = upload("f2", "r1", "report_100%.pdf", "application/pdf", later(1));
    pending.complete = false;
    pending.expires_at = Some(later(10));
    store.insert_upload(&pending).await.unwrap();
    store
        .insert_upload(&upload("f3", "r2", "other.txt", "text/plain", later(2)))
        .await
        .unwrap();
    assert_eq!(
        store
            .user_uploads("u1")
            .await
            .unwrap()
            .iter()
            .map(|u| u.id.as_str())
            .collect::<Vec<_>>(),
        ["f1", "f2", "f3"],
        "a user's uploads, oldest first"
    );
    assert!(store.user_uploads("nobody").await.unwrap().is_empty());

    // Newest first; the total ignores paging.
    let all = UploadFilter::default();
    let (page, total) = store.room_uploads("r1", &all, 0, None).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        page.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["f2", "f1"]
    );
    let (page, total) = store.room_uploads("r1", &all, 1, Some(1)).await.unwrap();
    assert_eq!((page.len(), page[0].id.as_str(), total), (1, "f1", 2));
    let (page, _) = store.room_uploads("r1", &all, 0, Some(0)).await.unwrap();
    assert!(page.is_empty());

    // Filters: name without regard to case with wildcards literal, type group, completion.
    let by_name = |name: &str| UploadFilter {
        name: Some(name.into()),
        ..UploadFilter::default()
    };
    let (page, total) = store
        .room_uploads("r1", &by_name("PHOTO"), 0, None)
        .await
        .unwrap();
    assert_eq!((page[0].id.as_str(), total), ("f1", 1));
    let (_, total) = store
        .room_uploads("r1", &by_name("100%"), 0, None)
        .await
        .unwrap();
    assert_eq!(total, 1);
    let (_, total) = store
        .room_uploads("r1", &by_name("_"), 0, None)
        .await
        .unwrap();
    assert_eq!(total, 1, "underscore is literal");
    let images = UploadFilter {
        type_group: Some("image".into()),
        ..UploadFilter::default()
    };
    let (page, _) = store.room_uploads("r1", &images, 0, None).await.unwrap();
    assert_eq!(page.len(), 1);
    let complete = UploadFilter {
        only_complete: true,
        ..UploadFilter::default()
    };
    let (page, _) = store.room_uploads("r1", &complete, 0, None).await.unwrap();
    assert_eq!(page[0].id, "f1");

    // A thumbnail keeps its original's id, is of group `thumb`, and is listed only on request.
    let mut thumb = upload(
        "f1t",
        "r1",
        "thumb-Holiday Photo.PNG",
        "image/png",
        later(0),
    );
    thumb.original_file_id = Some("f1".into());
    thumb.dimensions = Some((480, 360));
    store.insert_upload(&thumb).await.unwrap();
    assert_eq!(
        store.upload_by_id("f1t").await.unwrap(),
        Some(thumb.clone())
    );
    assert_eq!(thumb.type_group(), "thumb");
    let (_, total) = store.room_uploads("r1", &all, 0, None).await.unwrap();
    assert_eq!(total, 2, "thumbnails are not listed");
    let (page, _) = store.room_uploads("r1", &images, 0, None).await.unwrap();
    assert_eq!(page.len(), 1);
    let with_thumbs = UploadFilter {
        include_thumbs: true,
        ..UploadFilter::default()
    };
    let (_, total) = store
        .room_uploads("r1", &with_thumbs, 0, None)
        .await
        .unwrap();
    assert_eq!(total, 3);
    // Up to a time, inclusive.
    let up_to = UploadFilter {
        uploaded_up_to: Some(later(0)),
        ..UploadFilter::default()
    };
    let (page, _) = store.room_uploads("r1", &up_to, 0, None).await.unwrap();
    assert_eq!(
        page.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["f1"]
    );
    assert!(store.delete_upload("f1t").await.unwrap());

    // Expiry finds only unconfirmed uploads past their time.
    assert!(store.expired_uploads(later(5)).await.unwrap().is_empty());
    let expired = store.expired_uploads(later(11)).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id, "f2");

    // Confirming keeps the identity and changes the mutable fields.
    pending.complete = true;
    pending.expires_at = None;
    pending.description = Some("quarterly".into());
    pending.updated_at = later(3);
    pending.size += 7;
    pending.store = "AmazonS3:Uploads".into();
    assert!(store.update_upload(&pending).await.unwrap());
    assert_eq!(
        store.upload_by_id("f2").await.unwrap(),
        Some(pending.clone())
    );
    assert!(store.expired_uploads(later(11)).await.unwrap().is_empty());
    let missing = upload("nope", "r1", "x", "text/plain", t0);
    assert!(!store.update_upload(&missing).await.unwrap());

    assert!(store.delete_upload("f1").await.unwrap());
    assert!(!store.delete_upload("f1").await.unwrap());
    assert_eq!(store.upload_by_id("f1").await.unwrap(), None);
    let (_, total) = store.room_uploads("r1", &all, 0, None).await.unwrap();
    assert_eq!(total, 1);
}

fn avatar(owner: crate::AvatarOwner, id: &str, etag: &str, at: Timestamp) -> crate::Avatar {
    crate::Avatar {
        owner,
        owner_id: id.into(),
        origin: "upload".into(),
        content_type: "image/png".into(),
        size: 321,
        etag: etag.into(),
        store: "FileSystem:Avatars".into(),
        store_key: format!("avatar-{etag}"),
        updated_at: at,
    }
}

/// Avatar records: one per owner, replaced (handing back the previous), users and rooms
/// apart, removed (handing back what was removed).
pub async fn avatars(store: &dyn Store) {
    use crate::AvatarOwner::{Room, User};
    let t0 = now();
    assert_eq!(store.avatar(User, "u1").await.unwrap(), None);
    let first = avatar(User, "u1", "e1", t0);
    assert_eq!(store.put_avatar(&first).await.unwrap(), None);
    assert_eq!(store.avatar(User, "u1").await.unwrap(), Some(first.clone()));
    // A room with the same id is another owner.
    assert_eq!(store.avatar(Room, "u1").await.unwrap(), None);
    let room = avatar(Room, "u1", "r1", t0);
    assert_eq!(store.put_avatar(&room).await.unwrap(), None);

    let mut second = avatar(User, "u1", "e2", t0 + chrono::Duration::milliseconds(5));
    second.origin = "url".into();
    second.content_type = "image/jpeg".into();
    second.size = 7;
    assert_eq!(store.put_avatar(&second).await.unwrap(), Some(first));
    assert_eq!(
        store.avatar(User, "u1").await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.avatar(Room, "u1").await.unwrap(), Some(room.clone()));

    assert_eq!(store.delete_avatar(User, "u1").await.unwrap(), Some(second));
    assert_eq!(store.delete_avatar(User, "u1").await.unwrap(), None);
    assert_eq!(store.avatar(User, "u1").await.unwrap(), None);
    assert_eq!(store.delete_avatar(Room, "u1").await.unwrap(), Some(room));
}

fn report_author(id: &str, at: Timestamp) -> crate::ReportAuthor {
    crate::ReportAuthor {
        id: id.into(),
        username: format!("user-{id}"),
        name: Some(format!("Name {id}")),
        created_at: at,
    }
}

/// A report of a message written by `author` in `room_id`.
fn message_report(
    id: &str,
    message_id: &str,
    author: (&str, &str),
    text: &str,
    room_id: &str,
    at: Timestamp,
) -> crate::ModerationReport {
    let stub = comet_core::room::UserStub {
        id: author.0.into(),
        username: author.1.into(),
        name: Some(format!("Ä {}", author.1)),
    };
    let mut message = comet_core::room::Message::new(message_id.into(), room_id, stub, text, at);
    message.reactions.insert(":smile:".into(), vec!["x".into()]);
    crate::ModerationReport {
        id: id.into(),
        description: format!("report {id}"),
        reported_by: report_author("reporter", at),
        ts: at,
        subject: crate::ReportSubject::Message {
            message: Box::new(message),
            room: crate::ReportRoom {
                id: room_id.into(),
                name: Some(format!("room-{room_id}")),
                fname: Some(format!("Room {room_id}")),
                room_type: comet_core::room::RoomType::Channel,
                federated: false,
            },
        },
        moderation: None,
    }
}

fn user_report(id: &str, user_id: &str, username: &str, at: Timestamp) -> crate::ModerationReport {
    crate::ModerationReport {
        id: id.into(),
        description: format!("report {id}"),
        reported_by: report_author("reporter", at),
        ts: at,
        subject: crate::ReportSubject::User(crate::ReportedUser {
            id: user_id.into(),
            username: username.into(),
            name: Some(format!("Name {username}")),
            emails: vec![(format!("{username}@example.com"), true)],
            created_at: at,
        }),
        moderation: None,
    }
}

/// Moderation reports: stored copies read back as written; listings grouped by author and by
/// reported user with counts, distinct rooms, deleted authors, date and text filters, sorts
/// and pages; per-target listings; closing reports keeps the first decision.
pub async fn reports(store: &dyn Store) {
    use crate::{ReportFilter, ReportGroupSortKey as Key, ReportTarget};
    let t0 = now() - chrono::Duration::hours(1);
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    // "au" exists as an account, "bu" does not.
    store
        .insert_user(&user("au", "alice", "alice@example.com", t0))
        .await
        .unwrap();
    let reports = [
        message_report("p1", "m1", ("au", "alice"), "first spam", "r1", at(1)),
        message_report("p2", "m1", ("au", "alice"), "first spam", "r1", at(2)),
        message_report("p3", "m2", ("au", "alice"), "second SPAM", "r2", at(3)),
        message_report("p4", "m3", ("bu", "bob"), "hello_world 100%", "r1", at(4)),
        user_report("u1", "cu", "carol", at(5)),
        user_report("u2", "cu", "carol", at(6)),
        user_report("u3", "du", "dave", at(7)),
    ];
    for report in &reports {
        store.insert_report(report).await.unwrap();
    }
    assert_eq!(
        store.report_by_id("p2").await.unwrap().as_ref(),
        Some(&reports[1])
    );
    assert_eq!(
        store.report_by_id("u3").await.unwrap().as_ref(),
        Some(&reports[6])
    );
    assert_eq!(store.report_by_id("nope").await.unwrap(), None);

    let everything = ReportFilter {
        oldest: t0 - chrono::Duration::days(1),
        latest: now() + chrono::Duration::days(1),
        search: None,
    };
    let newest = Page {
        offset: 0,
        count: Some(10),
        sort: vec![],
    };
    let (groups, total) = store
        .message_reports_by_author(&everything, &newest)
        .await
        .unwrap();
    assert_eq!(total, 2);
    let summary: Vec<_> = groups
        .iter()
        .map(|g| {
            (
                g.latest.id.as_str(),
                g.count,
                g.rooms.len(),
                g.author_deleted,
            )
        })
        .collect();
    assert_eq!(summary, [("p4", 1, 1, true), ("p3", 3, 2, false)]);
    let rooms: Vec<_> = groups[1].rooms.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(rooms, ["r1", "r2"]);

    let by_count = Page {
        offset: 0,
        count: Some(1),
        sort: vec![(Key::Count, Direction::Descending)],
    };
    let (groups, total) = store
        .message_reports_by_author(&everything, &by_count)
        .await
        .unwrap();
    assert_eq!((groups.len(), total), (1, 2));
    assert_eq!(groups[0].latest.id, "p3");
    let second = Page {
        offset: 1,
        ..by_count
    };
    let (groups, _) = store
        .message_reports_by_author(&everything, &second)
        .await
        .unwrap();
    assert_eq!(groups[0].latest.id, "p4");
    let by_name = Page {
        offset: 0,
        count: None,
        sort: vec![(Key::Username, Direction::Ascending)],
    };
    let (groups, _) = store
        .message_reports_by_author(&everything, &by_name)
        .await
        .unwrap();
    let order: Vec<_> = groups.iter().map(|g| g.latest.id.as_str()).collect();
    assert_eq!(order, ["p3", "p4"]);

    // Search: any case, LIKE's wildcards taken literally, over text, description and author.
    for (search, expected) in [
        ("spam", vec!["p3"]),
        ("_world 100%", vec!["p4"]),
        ("o%w", vec![]),
        ("o_w", vec!["p4"]),
        ("BOB", vec!["p4"]),
        ("report p1", vec!["p1"]),
    ] {
        let filter = ReportFilter {
            search: Some(search.into()),
            ..everything.clone()
        };
        let (groups, total) = store
            .message_reports_by_author(&filter, &newest)
            .await
            .unwrap();
        let ids: Vec<_> = groups.iter().map(|g| g.latest.id.as_str()).collect();
        assert_eq!(ids, expected, "{search}");
        assert_eq!(total, expected.len() as u64, "{search}");
    }
    // Dates are exclusive bounds.
    let window = ReportFilter {
        oldest: at(1),
        latest: at(3),
        search: None,
    };
    let (groups, _) = store
        .message_reports_by_author(&window, &newest)
        .await
        .unwrap();
    let summary: Vec<_> = groups
        .iter()
        .map(|g| (g.latest.id.as_str(), g.count))
        .collect();
    assert_eq!(summary, [("p2", 1)]);

    let (users, total) = store
        .user_reports_by_user(&everything, &newest)
        .await
        .unwrap();
    let summary: Vec<_> = users
        .iter()
        .map(|g| (g.latest.id.as_str(), g.count))
        .collect();
    assert_eq!((summary, total), (vec![("u3", 1), ("u2", 2)], 2));
    let carol = ReportFilter {
        search: Some("CAR".into()),
        ..everything.clone()
    };
    let (users, total) = store.user_reports_by_user(&carol, &newest).await.unwrap();
    assert_eq!((users.len(), total), (1, 1));

    let ids = |reports: &[crate::ModerationReport]| {
        reports.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    };
    let target = ReportTarget::MessagesBy("au".into());
    let (found, total) = store
        .open_reports(&target, None, true, 0, Some(2))
        .await
        .unwrap();
    assert_eq!(
        (ids(&found), total),
        (vec!["p3".to_owned(), "p2".to_owned()], 3)
    );
    let (found, _) = store
        .open_reports(&target, None, false, 1, None)
        .await
        .unwrap();
    assert_eq!(ids(&found), ["p2", "p3"]);
    let (found, total) = store
        .open_reports(&target, Some("second"), true, 0, None)
        .await
        .unwrap();
    assert_eq!((ids(&found), total), (vec!["p3".to_owned()], 1));
    let message = ReportTarget::Message("m1".into());
    let (found, _) = store
        .open_reports(&message, None, true, 0, None)
        .await
        .unwrap();
    assert_eq!(ids(&found), ["p2", "p1"]);
    let carol_reports = ReportTarget::User("cu".into());
    let (found, total) = store
        .open_reports(&carol_reports, None, true, 0, None)
        .await
        .unwrap();
    assert_eq!(
        (ids(&found), total),
        (vec!["u2".to_owned(), "u1".to_owned()], 2)
    );

    // Closing: only open reports, once; closed ones leave every listing but stay readable.
    let first = crate::ModerationInfo {
        hidden_at: at(10),
        moderated_by: "mod".into(),
        reason: "No reason provided".into(),
        action: "None".into(),
    };
    assert_eq!(store.hide_reports(&message, &first).await.unwrap(), 2);
    let again = crate::ModerationInfo {
        action: "DELETE Messages".into(),
        ..first.clone()
    };
    assert_eq!(store.hide_reports(&message, &again).await.unwrap(), 0);
    assert_eq!(
        store.report_by_id("p1").await.unwrap().unwrap().moderation,
        Some(first)
    );
    let (found, total) = store
        .open_reports(&target, None, true, 0, None)
        .await
        .unwrap();
    assert_eq!((ids(&found), total), (vec!["p3".to_owned()], 1));
    assert_eq!(store.hide_reports(&target, &again).await.unwrap(), 1);
    let (groups, total) = store
        .message_reports_by_author(&everything, &newest)
        .await
        .unwrap();
    assert_eq!((groups.len(), total), (1, 1));
    assert_eq!(store.hide_reports(&carol_reports, &again).await.unwrap(), 2);
    let (users, total) = store
        .user_reports_by_user(&everything, &newest)
        .await
        .unwrap();
    assert_eq!((users.len(), total), (1, 1));
    assert_eq!(
        store.report_by_id("u1").await.unwrap().unwrap().moderation,
        Some(again)
    );
}

pub async fn file_blocklist(store: &dyn Store) {
    let t0 = now();
    let entry = |n: u32, reason: Option<&str>, ms: i64| crate::BlockedFileHash {
        sha256: format!("{n:064x}"),
        added_by: "admin1".into(),
        reason: reason.map(str::to_owned),
        added_at: t0 + chrono::Duration::milliseconds(ms),
    };
    let first = entry(1, Some("malware"), 0);
    assert!(!store.is_file_hash_blocked(&first.sha256).await.unwrap());
    assert!(store.block_file_hash(&first).await.unwrap());
    // Listing it again changes nothing, not even the reason.
    assert!(
        !store
            .block_file_hash(&entry(1, Some("other"), 9))
            .await
            .unwrap()
    );
    assert!(store.is_file_hash_blocked(&first.sha256).await.unwrap());
    let second = entry(2, None, 5);
    let third = entry(3, None, 5);
    assert!(store.block_file_hash(&second).await.unwrap());
    assert!(store.block_file_hash(&third).await.unwrap());
    // Newest first; the same time by digest, descending.
    assert_eq!(
        store.blocked_file_hashes(0, None).await.unwrap(),
        (vec![third.clone(), second.clone(), first.clone()], 3)
    );
    assert_eq!(
        store.blocked_file_hashes(1, Some(1)).await.unwrap(),
        (vec![second.clone()], 3)
    );
    assert!(store.unblock_file_hash(&second.sha256).await.unwrap());
    assert!(!store.unblock_file_hash(&second.sha256).await.unwrap());
    assert!(!store.is_file_hash_blocked(&second.sha256).await.unwrap());
    assert_eq!(
        store.blocked_file_hashes(0, None).await.unwrap(),
        (vec![third, first], 2)
    );
}

/// Room bans: banning removes the member (uncounted, to the sync trash) and records the ban
/// with its system message; a non-member cannot be banned; bans page oldest first; unbanning
/// removes the ban only once; deleting the room takes its bans along.
pub async fn room_bans(store: &dyn Store) {
    use comet_core::room::{Message, UserStub};
    let t0 = now();
    let later = |ms: i64| t0 + chrono::Duration::milliseconds(ms);
    let mod_user = user("b-mod", "moddy", "moddy@example.com", t0);
    let eve = user("b-eve", "eve", "eve@example.com", t0);
    let mal = user("b-mal", "mal", "mal@example.com", t0);
    for u in [&mod_user, &eve, &mal] {
        store.insert_user(u).await.unwrap();
    }
    let hall = room("r-hall", "hall", &mod_user, t0);
    let subscriptions = [
        subscription("bs-mod", &hall, &mod_user, t0),
        subscription("bs-eve", &hall, &eve, t0),
        subscription("bs-mal", &hall, &mal, t0),
    ];
    store
        .create_room(&hall, &subscriptions, None)
        .await
        .unwrap();
    let users_count = || async {
        store
            .room_by_id("r-hall")
            .await
            .unwrap()
            .unwrap()
            .users_count
    };
    assert_eq!(users_count().await, 3);
    assert_eq!(store.room_ban("r-hall", "b-eve").await.unwrap(), None);

    let ban = |user_id: &str, ms: i64| crate::RoomBan {
        room_id: "r-hall".into(),
        user_id: user_id.into(),
        banned_by: "b-mod".into(),
        banned_at: later(ms),
    };
    let mut banned = Message::new("bm1".into(), "r-hall", UserStub::from(&mod_user), "eve", t0);
    banned.kind = Some("user-banned".into());
    assert!(
        store
            .ban_member(&ban("b-eve", 2), Some(&banned))
            .await
            .unwrap()
    );
    assert_eq!(store.subscription("r-hall", "b-eve").await.unwrap(), None);
    assert_eq!(users_count().await, 2);
    assert_eq!(
        store.room_ban("r-hall", "b-eve").await.unwrap(),
        Some(ban("b-eve", 2))
    );
    assert!(store.message_by_id("bm1").await.unwrap().is_some());
    let trashed = store
        .removed_subscriptions("b-eve", later(-1))
        .await
        .unwrap();
    assert_eq!(trashed.len(), 1);
    assert_eq!(trashed[0].room_id, "r-hall");
    // Not a member (any more): nothing changes.
    assert!(!store.ban_member(&ban("b-eve", 3), None).await.unwrap());
    assert_eq!(
        store.room_ban("r-hall", "b-eve").await.unwrap(),
        Some(ban("b-eve", 2))
    );
    assert!(store.ban_member(&ban("b-mal", 1), None).await.unwrap());

    let (page, total) = store.room_bans("r-hall", 0, None).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        page.iter().map(|b| b.user_id.as_str()).collect::<Vec<_>>(),
        ["b-mal", "b-eve"],
        "oldest first"
    );
    let (page, total) = store.room_bans("r-hall", 1, Some(1)).await.unwrap();
    assert_eq!((total, page), (2, vec![ban("b-eve", 2)]));

    let mut unbanned = Message::new("bm2".into(), "r-hall", UserStub::from(&mod_user), "eve", t0);
    unbanned.kind = Some("user-unbanned".into());
    assert!(
        store
            .unban("r-hall", "b-eve", Some(&unbanned))
            .await
            .unwrap()
    );
    assert!(!store.unban("r-hall", "b-eve", None).await.unwrap());
    assert_eq!(store.room_ban("r-hall", "b-eve").await.unwrap(), None);
    assert!(store.message_by_id("bm2").await.unwrap().is_some());
    // Unbanning does not make them a member again.
    assert_eq!(store.subscription("r-hall", "b-eve").await.unwrap(), None);
    assert_eq!(users_count().await, 1);

    assert!(store.delete_room("r-hall").await.unwrap());
    assert_eq!(store.room_bans("r-hall", 0, None).await.unwrap().1, 0);
}
/// Invite links: an invite with its first token, more tokens for it, lookups by digest only,
/// reuse only while unexpired and not used up, uses counted only while some are left,
/// removal with every token, and deleting the room takes its invites along.
pub async fn invites(store: &dyn Store) {
    use crate::{Invite, InviteToken};
    let t0 = now();
    let later = |ms: i64| t0 + chrono::Duration::milliseconds(ms);
    let owner = user("i-own", "inviter", "inviter@example.com", t0);
    store.insert_user(&owner).await.unwrap();
    let hall = room("r-inv", "invited", &owner, t0);
    store
        .create_room(&hall, &[subscription("is-own", &hall, &owner, t0)], None)
        .await
        .unwrap();
    let invite = |id: &str, max_uses: i64, expires: Option<Timestamp>| Invite {
        id: id.into(),
        room_id: "r-inv".into(),
        user_id: "i-own".into(),
        days: 1,
        max_uses,
        uses: 0,
        expires,
        created_at: t0,
        updated_at: t0,
    };
    let token = |hash: &str, invite_id: &str| InviteToken {
        token_hash: hash.into(),
        invite_id: invite_id.into(),
        created_at: t0,
    };
    let once = invite("0000000000000001", 1, Some(later(60_000)));
    store
        .insert_invite(&once, &token("h1", &once.id))
        .await
        .unwrap();
    assert_eq!(
        store.invite_by_id(&once.id).await.unwrap(),
        Some(once.clone())
    );
    assert_eq!(
        store.invite_by_token_hash("h1").await.unwrap(),
        Some(once.clone())
    );
    assert_eq!(store.invite_by_token_hash(&once.id).await.unwrap(), None);
    assert!(
        store
            .add_invite_token(&token("h2", &once.id))
            .await
            .unwrap()
    );
    assert_eq!(
        store.invite_by_token_hash("h2").await.unwrap(),
        Some(once.clone())
    );
    assert!(
        !store
            .add_invite_token(&token("h3", "no-such-invite"))
            .await
            .unwrap()
    );
    assert_eq!(store.invite_by_token_hash("h3").await.unwrap(), None);

    let reusable =
        |max_uses: i64, at: Timestamp| store.reusable_invite("i-own", "r-inv", max_uses, 1, at);
    assert_eq!(reusable(1, later(1)).await.unwrap(), Some(once.clone()));
    assert_eq!(reusable(1, later(60_000)).await.unwrap(), None, "expired");
    assert_eq!(reusable(5, later(1)).await.unwrap(), None, "other limits");
    assert_eq!(
        store
            .reusable_invite("someone", "r-inv", 1, 1, later(1))
            .await
            .unwrap(),
        None
    );

    assert!(store.take_invite_use(&once.id, later(2)).await.unwrap());
    assert!(
        !store.take_invite_use(&once.id, later(3)).await.unwrap(),
        "used up"
    );
    let used = store.invite_by_id(&once.id).await.unwrap().unwrap();
    assert_eq!((used.uses, used.updated_at), (1, later(2)));
    assert_eq!(reusable(1, later(1)).await.unwrap(), None, "used up");

    let endless = invite("0000000000000002", 0, None);
    store
        .insert_invite(&endless, &token("h4", &endless.id))
        .await
        .unwrap();
    for _ in 0..3 {
        assert!(store.take_invite_use(&endless.id, later(4)).await.unwrap());
    }
    assert_eq!(
        reusable(0, later(1_000_000)).await.unwrap().unwrap().uses,
        3
    );
    assert_eq!(
        store
            .invites()
            .await
            .unwrap()
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>(),
        [once.id.as_str(), endless.id.as_str()]
    );

    assert!(store.delete_invite(&once.id).await.unwrap());
    assert!(!store.delete_invite(&once.id).await.unwrap());
    assert_eq!(store.invite_by_token_hash("h1").await.unwrap(), None);
    assert_eq!(store.invite_by_token_hash("h2").await.unwrap(), None);
    assert!(!store.take_invite_use(&once.id, later(5)).await.unwrap());

    assert!(store.delete_room("r-inv").await.unwrap());
    assert_eq!(store.invites().await.unwrap(), vec![]);
    assert_eq!(store.invite_by_token_hash("h4").await.unwrap(), None);
}

fn audit_draft(action: &str, actor: &str, target: &str, at: Timestamp) -> AuditDraft {
    AuditDraft {
        at,
        actor_id: format!("id-{actor}"),
        actor_username: actor.into(),
        action: action.into(),
        target_kind: "user".into(),
        target_id: format!("id-{target}"),
        target_name: Some(target.into()),
        client_address: Some("192.0.2.7".into()),
        user_agent: Some("agent/1.0".into()),
        before: Some(r#"{"active":true}"#.into()),
        after: None,
    }
}

/// Walks the whole chain as `comet audit verify` does, a page at a time.
async fn verify_audit(store: &dyn Store) -> ChainVerdict {
    let mut verifier = ChainVerifier::new();
    let mut after = 0;
    loop {
        let page = store.audit_entries_after(after, 3).await.unwrap();
        let Some(last) = page.last() else {
            return verifier.finish();
        };
        after = last.seq;
        for entry in &page {
            if let Err(broken) = verifier.check(entry) {
                return broken;
            }
        }
    }
}

/// The audit log: appends chain, listings filter and page newest first, concurrent appends
/// never fork the chain, and pruning keeps it verifiable.
pub async fn audit_log(store: &dyn Store) {
    use comet_core::audit::GENESIS_HASH;
    let t0 = now();
    let at = |minutes: i64| t0 - chrono::Duration::minutes(60 - minutes);
    assert_eq!(
        verify_audit(store).await,
        ChainVerdict::Intact { entries: 0 }
    );

    let first = store
        .append_audit(&audit_draft("user.create", "alice", "bob", at(0)))
        .await
        .unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, GENESIS_HASH);
    let second = store
        .append_audit(&audit_draft("user.update", "alice", "carol", at(10)))
        .await
        .unwrap();
    assert_eq!(second.seq, 2);
    assert_eq!(second.prev_hash, first.hash);
    store
        .append_audit(&audit_draft("room.delete", "dave", "general", at(20)))
        .await
        .unwrap();
    store
        .append_audit(&audit_draft("room.archive", "alice", "general", at(30)))
        .await
        .unwrap();

    // Stored entries read back exactly as appended.
    let back = store.audit_entries_after(0, 10).await.unwrap();
    assert_eq!(back.len(), 4);
    assert_eq!(back[0], first);
    assert_eq!(back[1], second);

    // Filters, newest first, with totals.
    let list = |filter: AuditFilter, offset: u64, count: Option<u64>| async move {
        let (entries, total) = store.list_audit(&filter, offset, count).await.unwrap();
        (entries.iter().map(|e| e.seq).collect::<Vec<_>>(), total)
    };
    assert_eq!(
        list(AuditFilter::default(), 0, None).await,
        (vec![4, 3, 2, 1], 4)
    );
    assert_eq!(
        list(AuditFilter::default(), 1, Some(2)).await,
        (vec![3, 2], 4)
    );
    let by_actor = |actor: &str| AuditFilter {
        actor: Some(actor.into()),
        ..AuditFilter::default()
    };
    assert_eq!(list(by_actor("alice"), 0, None).await, (vec![4, 2, 1], 3));
    assert_eq!(list(by_actor("id-dave"), 0, None).await, (vec![3], 1));
    let by_action = |action: &str| AuditFilter {
        action: Some(action.into()),
        ..AuditFilter::default()
    };
    assert_eq!(list(by_action("room.delete"), 0, None).await, (vec![3], 1));
    assert_eq!(list(by_action("room."), 0, None).await, (vec![4, 3], 2));
    assert_eq!(list(by_action("room"), 0, None).await, (vec![], 0));
    let by_target = AuditFilter {
        target: Some("general".into()),
        actor: Some("alice".into()),
        ..AuditFilter::default()
    };
    assert_eq!(list(by_target, 0, None).await, (vec![4], 1));
    // An actor or target filter pages through its matches, whichever column they are in.
    assert_eq!(list(by_actor("alice"), 1, Some(1)).await, (vec![2], 3));
    assert_eq!(list(by_actor("alice"), 0, Some(2)).await, (vec![4, 2], 3));
    let by_target_alone = |target: &str| AuditFilter {
        target: Some(target.into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        list(by_target_alone("general"), 0, None).await,
        (vec![4, 3], 2)
    );
    assert_eq!(
        list(by_target_alone("id-general"), 1, Some(5)).await,
        (vec![3], 2)
    );
    let by_time = AuditFilter {
        since: Some(at(10)),
        until: Some(at(30)),
        ..AuditFilter::default()
    };
    assert_eq!(list(by_time, 0, None).await, (vec![3, 2], 2));

    // Appends racing one another still make one chain.
    let racing: Vec<_> = (0..16)
        .map(|i| {
            let draft = audit_draft("setting.update", &format!("racer{i}"), "x", at(40));
            async move { store.append_audit(&draft).await.unwrap() }
        })
        .collect();
    let mut seqs: Vec<u64> = futures_util::future::join_all(racing)
        .await
        .iter()
        .map(|e| e.seq)
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (5..=20).collect::<Vec<_>>());
    assert_eq!(
        verify_audit(store).await,
        ChainVerdict::Intact { entries: 20 }
    );

    // Pruning removes the old part and anchors the rest; the head is never removed.
    let prune = audit_draft(comet_core::audit::PRUNE_ACTION, "system", "audit_log", t0);
    assert_eq!(store.prune_audit(at(15), &prune).await.unwrap(), 2);
    let kept = store.audit_entries_after(0, 100).await.unwrap();
    assert_eq!(kept.first().map(|e| e.seq), Some(3));
    let last = kept.last().unwrap();
    assert_eq!(last.seq, 21);
    assert_eq!(last.draft.action, comet_core::audit::PRUNE_ACTION);
    assert_eq!(
        comet_core::audit::PruneAnchor::of(last),
        Some(comet_core::audit::PruneAnchor {
            through_seq: 2,
            last_hash: second.hash.clone(),
        })
    );
    assert_eq!(
        verify_audit(store).await,
        ChainVerdict::Intact { entries: 19 }
    );
    assert_eq!(store.prune_audit(at(15), &prune).await.unwrap(), 0);
    // Everything older than the future: all but the head (the newest prune entry) goes.
    let future = t0 + chrono::Duration::hours(1);
    assert_eq!(store.prune_audit(future, &prune).await.unwrap(), 18);
    let kept = store.audit_entries_after(0, 100).await.unwrap();
    assert_eq!(kept.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![21, 22]);
    assert_eq!(
        verify_audit(store).await,
        ChainVerdict::Intact { entries: 2 }
    );
    let next = store
        .append_audit(&audit_draft("user.delete", "alice", "bob", t0))
        .await
        .unwrap();
    assert_eq!(next.seq, 23);
    assert_eq!(
        verify_audit(store).await,
        ChainVerdict::Intact { entries: 3 }
    );

    // A name that is one actor's id and another's username matches both; an entry whose id
    // and username are the same string is listed and counted once.
    store
        .append_audit(&audit_draft("user.update", "id-alice", "bob", t0))
        .await
        .unwrap();
    assert_eq!(list(by_actor("id-alice"), 0, None).await, (vec![24, 23], 2));
    assert_eq!(list(by_actor("id-alice"), 0, Some(1)).await, (vec![24], 2));
    assert_eq!(list(by_actor("id-alice"), 1, Some(1)).await, (vec![23], 2));
    let mut same = audit_draft("user.update", "same", "bob", t0);
    same.actor_id = "same".into();
    store.append_audit(&same).await.unwrap();
    assert_eq!(list(by_actor("same"), 0, Some(10)).await, (vec![25], 1));
}

fn queued_mail(id: &str, at: Timestamp) -> crate::QueuedMail {
    crate::QueuedMail {
        id: id.into(),
        recipient: format!("{id}@example.com"),
        subject: format!("Subject {id}"),
        text_body: "text".into(),
        html_body: "<p>html</p>".into(),
        created_at: at,
        next_attempt_at: at,
        attempts: 0,
        last_error: None,
    }
}

/// The mail queue (bounded, claimed once, retried) and email tokens (single use, one per
/// user and kind).
pub async fn mail(store: &dyn Store) {
    use crate::{EmailToken, EmailTokenKind};
    let t0 = Timestamp::from_timestamp_millis(1_700_000_000_000).unwrap();
    let secs = |n: i64| t0 + chrono::Duration::seconds(n);

    // Bounded: the third message does not fit a queue of two.
    assert!(store.enqueue_mail(&queued_mail("m1", t0), 2).await.unwrap());
    assert!(
        store
            .enqueue_mail(&queued_mail("m2", secs(1)), 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .enqueue_mail(&queued_mail("m3", secs(2)), 2)
            .await
            .unwrap()
    );
    assert_eq!(store.pending_mail_count().await.unwrap(), 2);

    // Nothing is due before its time; a claim takes the due ones once.
    assert!(
        store
            .claim_due_mail(secs(-1), secs(60), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store.claim_due_mail(secs(5), secs(65), 1).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0],
        crate::QueuedMail {
            next_attempt_at: secs(65),
            ..queued_mail("m1", t0)
        }
    );
    let claimed = store.claim_due_mail(secs(5), secs(65), 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["m2"]
    );
    assert!(
        store
            .claim_due_mail(secs(6), secs(66), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A failed attempt counts, keeps its error, and comes back when the retry is due.
    store
        .mail_attempt_failed("m1", secs(30), "connection refused")
        .await
        .unwrap();
    assert!(
        store
            .claim_due_mail(secs(29), secs(90), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = store.claim_due_mail(secs(30), secs(90), 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].id, "m1");
    assert_eq!(retried[0].attempts, 1);
    assert_eq!(retried[0].last_error.as_deref(), Some("connection refused"));

    // Delivered mail goes; the lease of a claimed message ends and it is claimable again.
    store.remove_mail("m1").await.unwrap();
    assert_eq!(store.pending_mail_count().await.unwrap(), 1);
    let again = store.claim_due_mail(secs(65), secs(125), 10).await.unwrap();
    assert_eq!(
        again.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["m2"]
    );
    store.remove_mail("m2").await.unwrap();
    assert_eq!(store.pending_mail_count().await.unwrap(), 0);

    // Tokens: the latest per user and kind is the only one; taking one deletes it.
    store
        .insert_user(&user("u-mail", "mailer", "mailer@example.com", t0))
        .await
        .unwrap();
    let token = |hash: &str, kind: EmailTokenKind, expires_at: Timestamp| EmailToken {
        hashed_token: hash.into(),
        kind,
        user_id: "u-mail".into(),
        address: "mailer@example.com".into(),
        created_at: t0,
        expires_at,
    };
    let first = token("h1", EmailTokenKind::ResetPassword, secs(3600));
    let second = token("h2", EmailTokenKind::ResetPassword, secs(3600));
    let verify = token("h3", EmailTokenKind::VerifyEmail, secs(10));
    store.replace_email_token(&first).await.unwrap();
    store.replace_email_token(&verify).await.unwrap();
    store.replace_email_token(&second).await.unwrap();
    assert_eq!(
        store
            .take_email_token("h1", EmailTokenKind::ResetPassword)
            .await
            .unwrap(),
        None
    );
    // A token of another kind is not taken by its hash alone.
    assert_eq!(
        store
            .take_email_token("h2", EmailTokenKind::VerifyEmail)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_email_token("h2", EmailTokenKind::ResetPassword)
            .await
            .unwrap(),
        Some(second)
    );
    assert_eq!(
        store
            .take_email_token("h2", EmailTokenKind::ResetPassword)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.delete_expired_email_tokens(secs(11)).await.unwrap(),
        1
    );
    assert_eq!(
        store
            .take_email_token("h3", EmailTokenKind::VerifyEmail)
            .await
            .unwrap(),
        None
    );
    // Deleting the user deletes their tokens.
    store.replace_email_token(&first).await.unwrap();
    store.delete_user("u-mail").await.unwrap();
    assert_eq!(
        store
            .take_email_token("h1", EmailTokenKind::ResetPassword)
            .await
            .unwrap(),
        None
    );
}

/// A user's TOTP state: enrolment waits for confirmation (and a stale confirmation changes
/// nothing), backup codes are used once each even when used at the same moment, disabling
/// removes everything, and deleting the user removes it too.
pub async fn two_factor(store: &dyn Store) {
    let t0 = now();
    let owner = user("tf1", "totp.owner", "totp@example.com", t0);
    store.insert_user(&owner).await.unwrap();
    assert_eq!(store.user_totp("tf1").await.unwrap(), None);
    assert!(!store.replace_backup_codes("tf1", &[], t0).await.unwrap());

    store
        .set_totp_temp_secret("tf1", "first", t0)
        .await
        .unwrap();
    store
        .set_totp_temp_secret("tf1", "second", t0)
        .await
        .unwrap();
    let waiting = store.user_totp("tf1").await.unwrap().unwrap();
    assert_eq!(
        (
            waiting.enabled,
            waiting.secret,
            waiting.temp_secret.as_deref()
        ),
        (false, None, Some("second"))
    );
    // A confirmation of a replaced enrolment changes nothing.
    let codes: Vec<String> = vec!["h1".into(), "h2".into(), "h3".into()];
    assert!(!store.enable_totp("tf1", "first", &codes, t0).await.unwrap());
    assert!(
        store
            .enable_totp("tf1", "second", &codes, t0)
            .await
            .unwrap()
    );
    let enabled = store.user_totp("tf1").await.unwrap().unwrap();
    assert!(enabled.enabled);
    assert_eq!(enabled.secret.as_deref(), Some("second"));
    assert_eq!(enabled.temp_secret, None);
    assert_eq!(enabled.backup_codes, codes);
    // Starting another enrolment keeps the enabled secret.
    store
        .set_totp_temp_secret("tf1", "third", t0)
        .await
        .unwrap();
    let both = store.user_totp("tf1").await.unwrap().unwrap();
    assert_eq!(
        (
            both.enabled,
            both.secret.as_deref(),
            both.temp_secret.as_deref()
        ),
        (true, Some("second"), Some("third"))
    );

    // Each code once, even when used twice at the same moment.
    let (a, b) = tokio::join!(
        store.use_backup_code("tf1", "h2"),
        store.use_backup_code("tf1", "h2")
    );
    assert_eq!(
        [a.unwrap(), b.unwrap()]
            .iter()
            .filter(|used| **used)
            .count(),
        1
    );
    assert!(!store.use_backup_code("tf1", "unknown").await.unwrap());
    assert_eq!(
        store.user_totp("tf1").await.unwrap().unwrap().backup_codes,
        vec!["h1".to_owned(), "h3".to_owned()]
    );
    assert!(
        store
            .replace_backup_codes("tf1", &["n1".into()], t0)
            .await
            .unwrap()
    );
    assert!(!store.use_backup_code("tf1", "h1").await.unwrap());
    assert!(store.use_backup_code("tf1", "n1").await.unwrap());

    assert!(store.disable_totp("tf1").await.unwrap());
    assert!(!store.disable_totp("tf1").await.unwrap());
    assert_eq!(store.user_totp("tf1").await.unwrap(), None);

    store
        .set_totp_temp_secret("tf1", "again", t0)
        .await
        .unwrap();
    assert!(store.delete_user("tf1").await.unwrap());
    assert_eq!(store.user_totp("tf1").await.unwrap(), None);
}

/// A user's second factor by email: turning it on and off, one code at a time (a new one
/// replaces the old), a code used once even when used at the same moment, expired codes
/// forgotten, and turning it off forgetting the code.
pub async fn email_two_factor(store: &dyn Store) {
    let t0 = now();
    let owner = user("ef1", "email.tf", "emailtf@example.com", t0);
    store.insert_user(&owner).await.unwrap();
    assert_eq!(store.email_two_factor("ef1").await.unwrap(), None);
    assert!(!store.use_email_code("ef1", "h").await.unwrap());

    store
        .set_email_two_factor_enabled("ef1", true, t0)
        .await
        .unwrap();
    let state = store.email_two_factor("ef1").await.unwrap().unwrap();
    assert!(state.enabled);
    assert_eq!(state.code_hash, None);

    let expires = t0 + chrono::Duration::minutes(10);
    store
        .set_email_code("ef1", "first", expires, t0)
        .await
        .unwrap();
    store
        .set_email_code("ef1", "second", expires, t0)
        .await
        .unwrap();
    let state = store.email_two_factor("ef1").await.unwrap().unwrap();
    assert!(state.enabled, "a code leaves the switch as it is");
    assert_eq!(state.code_hash.as_deref(), Some("second"));
    assert_eq!(
        state.code_expires_at.map(|t| t.timestamp_millis()),
        Some(expires.timestamp_millis())
    );
    assert!(!store.use_email_code("ef1", "first").await.unwrap());
    let (a, b) = tokio::join!(
        store.use_email_code("ef1", "second"),
        store.use_email_code("ef1", "second")
    );
    assert!(a.unwrap() ^ b.unwrap(), "a code is used exactly once");
    assert_eq!(
        store
            .email_two_factor("ef1")
            .await
            .unwrap()
            .unwrap()
            .code_hash,
        None
    );

    // Expired codes are forgotten; unexpired ones stay.
    store
        .set_email_code("ef1", "third", expires, t0)
        .await
        .unwrap();
    store.remove_expired_email_code("ef1", t0).await.unwrap();
    assert!(
        store
            .email_two_factor("ef1")
            .await
            .unwrap()
            .unwrap()
            .code_hash
            .is_some()
    );
    store
        .remove_expired_email_code("ef1", expires)
        .await
        .unwrap();
    assert_eq!(
        store
            .email_two_factor("ef1")
            .await
            .unwrap()
            .unwrap()
            .code_hash,
        None
    );

    // Off forgets a waiting code.
    store
        .set_email_code("ef1", "fourth", expires, t0)
        .await
        .unwrap();
    store
        .set_email_two_factor_enabled("ef1", false, t0)
        .await
        .unwrap();
    let state = store.email_two_factor("ef1").await.unwrap().unwrap();
    assert!(!state.enabled);
    assert_eq!(state.code_hash, None);

    // A code for a user who never turned it on starts it off.
    let other = user("ef2", "email.tf2", "emailtf2@example.com", t0);
    store.insert_user(&other).await.unwrap();
    store.set_email_code("ef2", "c", expires, t0).await.unwrap();
    assert!(
        !store
            .email_two_factor("ef2")
            .await
            .unwrap()
            .unwrap()
            .enabled
    );

    assert!(store.delete_user("ef1").await.unwrap());
    assert_eq!(store.email_two_factor("ef1").await.unwrap(), None);
}

/// Workspace counts and statistics snapshots.
pub async fn statistics(store: &dyn Store) {
    use crate::StatisticsSnapshot;
    let t0 = now();
    let empty = store.workspace_counts().await.unwrap();
    assert_eq!(empty.total_users, 0);
    assert_eq!(empty.uploads_total_size, 0);
    assert!(empty.database_size.is_some_and(|n| n > 0));
    let mut away = user("st1", "stats.away", "st1@example.com", t0);
    away.status = Presence::Away;
    store.insert_user(&away).await.unwrap();
    let mut gone = user("st2", "stats.gone", "st2@example.com", t0);
    gone.active = false;
    store.insert_user(&gone).await.unwrap();
    let counts = store.workspace_counts().await.unwrap();
    assert_eq!(counts.total_users, 2);
    assert_eq!(counts.active_users, 1);
    assert_eq!(counts.non_active_users, 1);
    assert_eq!(counts.away_users, 1);
    assert_eq!(counts.online_users, 0);

    assert_eq!(store.latest_statistics().await.unwrap(), None);
    let snapshot = |id: &str, at: Timestamp| StatisticsSnapshot {
        id: id.into(),
        created_at: at,
        document: json!({"_id": id, "totalUsers": 2}),
    };
    for (i, id) in ["s1", "s2", "s3"].iter().enumerate() {
        let at = t0 + chrono::Duration::seconds(i64::try_from(i).unwrap());
        store.insert_statistics(&snapshot(id, at)).await.unwrap();
    }
    let latest = store.latest_statistics().await.unwrap().unwrap();
    assert_eq!(latest.id, "s3");
    assert_eq!(latest.document, json!({"_id": "s3", "totalUsers": 2}));
    let (page, total) = store.list_statistics(1, Some(1)).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        page.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s2"]
    );
    let (all, _) = store.list_statistics(0, None).await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s3", "s2", "s1"]
    );
    assert_eq!(
        store
            .prune_statistics(t0 + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.list_statistics(0, None).await.unwrap().1, 2);
}

/// Teams: creation marks the main room, memberships with roles, filtered member pages, team
/// listings by member, rooms joining and leaving, deletion releasing every room.
pub async fn teams(store: &dyn Store) {
    use crate::TeamMemberFilter;
    use comet_core::page::RoomFilter;
    use comet_core::team::{Creator, Team, TeamMember, TeamType};
    let t0 = now();
    let owner = user("t-own", "owner", "owner@example.com", t0);
    let mut bea = user("t-bea", "bea", "bea@example.com", at_ms(t0, 1));
    bea.status = Presence::Online;
    let mut gone = user("t-gone", "gone", "gone@example.com", at_ms(t0, 2));
    gone.active = false;
    for u in [&owner, &bea, &gone] {
        store.insert_user(u).await.unwrap();
    }
    let main = room("r-team", "crew", &owner, t0);
    store
        .create_room(&main, &[subscription("ts-own", &main, &owner, t0)], None)
        .await
        .unwrap();
    let side = room("r-side", "crew-side", &owner, t0);
    store
        .create_room(&side, &[subscription("ts-side", &side, &owner, t0)], None)
        .await
        .unwrap();
    let creator = Creator {
        id: owner.id.clone(),
        username: owner.username.clone(),
    };
    let member = |id: &str, user_id: &str, roles: &[&str], ms: i64| TeamMember {
        id: id.into(),
        team_id: "team-1".into(),
        user_id: user_id.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        created_by: creator.clone(),
        created_at: at_ms(t0, ms),
    };
    let team = Team {
        id: "team-1".into(),
        name: "crew".into(),
        team_type: TeamType::Private,
        room_id: main.id.clone(),
        created_by: creator.clone(),
        created_at: t0,
        updated_at: t0,
    };
    store
        .insert_team(&team, &[member("tm-own", "t-own", &["owner"], 0)])
        .await
        .unwrap();
    assert_eq!(
        store.team_by_id("team-1").await.unwrap(),
        Some(team.clone())
    );
    assert_eq!(
        store.team_by_name("crew").await.unwrap(),
        Some(team.clone())
    );
    assert_eq!(store.team_by_name("Crew").await.unwrap(), None);
    let main_now = store.room_by_id("r-team").await.unwrap().unwrap();
    assert_eq!(main_now.team_id.as_deref(), Some("team-1"));
    assert!(main_now.team_main);
    assert!(!main_now.team_default);

    // Memberships.
    assert!(
        store
            .add_team_member(&member("tm-bea", "t-bea", &[], 1))
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_team_member(&member("tm-bea2", "t-bea", &[], 1))
            .await
            .unwrap()
    );
    assert!(
        store
            .add_team_member(&member("tm-gone", "t-gone", &[], 2))
            .await
            .unwrap()
    );
    let mut stray = member("tm-stray", "t-bea", &[], 3);
    stray.team_id = "no-such-team".into();
    assert!(!store.add_team_member(&stray).await.unwrap());
    assert_eq!(store.count_team_members("team-1").await.unwrap(), 3);
    assert_eq!(
        store
            .count_team_members_with_role("team-1", "owner")
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .set_team_member_roles("team-1", "t-bea", &["owner".into(), "moderator".into()])
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_team_member_roles("team-1", "t-nobody", &[])
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .team_member("team-1", "t-bea")
            .await
            .unwrap()
            .unwrap()
            .roles,
        vec!["owner".to_owned(), "moderator".to_owned()]
    );
    assert_eq!(
        store
            .count_team_members_with_role("team-1", "owner")
            .await
            .unwrap(),
        2
    );

    // Member pages: active users only, in the order they joined, filtered.
    let all = TeamMemberFilter::default();
    let (page, total) = store.team_members("team-1", &all, 0, None).await.unwrap();
    assert_eq!(total, 2);
    let ids: Vec<&str> = page
        .iter()
        .map(|(m, u)| {
            assert_eq!(m.user_id, u.id);
            u.id.as_str()
        })
        .collect();
    assert_eq!(ids, ["t-own", "t-bea"]);
    let (page, total) = store
        .team_members("team-1", &all, 1, Some(1))
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 2));
    assert_eq!(page[0].1.id, "t-bea");
    let by_username = TeamMemberFilter {
        username: Some("BE".into()),
        ..TeamMemberFilter::default()
    };
    let (page, total) = store
        .team_members("team-1", &by_username, 0, None)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 1));
    let by_name = TeamMemberFilter {
        name: Some("name own".into()),
        ..TeamMemberFilter::default()
    };
    let (page, _) = store
        .team_members("team-1", &by_name, 0, None)
        .await
        .unwrap();
    assert_eq!(page[0].1.id, "t-own");
    let online = TeamMemberFilter {
        statuses: vec!["online".into()],
        ..TeamMemberFilter::default()
    };
    let (page, _) = store
        .team_members("team-1", &online, 0, None)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].1.id, "t-bea");
    let except = TeamMemberFilter {
        except_user: Some("t-own".into()),
        ..TeamMemberFilter::default()
    };
    let (_, total) = store
        .team_members("team-1", &except, 0, None)
        .await
        .unwrap();
    assert_eq!(total, 1);

    // Listings.
    let second = Team {
        id: "team-2".into(),
        name: "other".into(),
        team_type: TeamType::Public,
        room_id: side.id.clone(),
        created_at: at_ms(t0, 5),
        updated_at: at_ms(t0, 5),
        ..team.clone()
    };
    store.insert_team(&second, &[]).await.unwrap();
    let (teams, total) = store.list_teams(None, 0, None).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(teams[0].id, "team-1");
    let (teams, total) = store.list_teams(Some("t-bea"), 0, None).await.unwrap();
    assert_eq!((teams.len(), total), (1, 1));
    let (teams, total) = store.list_teams(None, 1, Some(5)).await.unwrap();
    assert_eq!((teams[0].id.as_str(), total), ("team-2", 2));
    assert_eq!(store.teams_of_user("t-bea").await.unwrap().len(), 1);

    // A room joins the first team as a default room.
    let mut joined = store.room_by_id("r-side").await.unwrap().unwrap();
    joined.team_id = Some("team-1".into());
    joined.team_main = false;
    joined.team_default = true;
    assert!(store.update_room(&joined).await.unwrap());
    // The main room is the team's, but not one of its rooms.
    assert_eq!(store.count_team_rooms("team-1").await.unwrap(), 1);
    let of_team = RoomFilter {
        team_id: Some("team-1".into()),
        ..RoomFilter::default()
    };
    let (rooms, total) = store.list_rooms(&of_team, &Page::all()).await.unwrap();
    assert_eq!((rooms.len(), total), (2, 2));
    let without_main = RoomFilter {
        without_team_main: true,
        ..of_team.clone()
    };
    let (rooms, total) = store.list_rooms(&without_main, &Page::all()).await.unwrap();
    assert_eq!((rooms[0].id.as_str(), total), ("r-side", 1));
    let defaults = RoomFilter {
        team_default_only: true,
        ..of_team.clone()
    };
    let (rooms, _) = store.list_rooms(&defaults, &Page::all()).await.unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].id, "r-side");
    let mains = RoomFilter {
        team_main_only: true,
        ..RoomFilter::default()
    };
    let (rooms, _) = store.list_rooms(&mains, &Page::all()).await.unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].id, "r-team");

    // Renaming and retyping.
    let renamed = Team {
        name: "crew2".into(),
        team_type: TeamType::Public,
        updated_at: at_ms(t0, 9),
        ..team.clone()
    };
    assert!(store.update_team(&renamed).await.unwrap());
    assert_eq!(store.team_by_id("team-1").await.unwrap(), Some(renamed));

    // Removing a member, then deleting the team: its rooms are released.
    assert!(store.remove_team_member("team-1", "t-gone").await.unwrap());
    assert!(!store.remove_team_member("team-1", "t-gone").await.unwrap());
    let mut released = store.delete_team("team-1").await.unwrap();
    released.sort();
    assert_eq!(released, ["r-side", "r-team"]);
    assert_eq!(store.team_by_id("team-1").await.unwrap(), None);
    assert_eq!(store.count_team_members("team-1").await.unwrap(), 0);
    for id in ["r-side", "r-team"] {
        let room = store.room_by_id(id).await.unwrap().unwrap();
        assert_eq!(room.team_id, None);
        assert!(!room.team_main && !room.team_default);
    }
    assert!(store.team_by_id("team-2").await.unwrap().is_some());
}

/// Custom emoji, user statuses and sounds: names unique, lookups by name and alias, pages by
/// name with totals and filters, updates, and deletes (an emoji's leaving a trash row).
pub async fn custom_assets(store: &dyn Store) {
    use crate::{AssetFile, CustomEmoji, CustomEmojiFilter, CustomSound, CustomUserStatus};
    let t0 = now();
    let later = |ms: i64| t0 + chrono::Duration::milliseconds(ms);
    let file = |key: &str, content_type: &str| AssetFile {
        content_type: content_type.into(),
        size: 7,
        store: "FileSystem:Uploads".into(),
        store_key: key.into(),
        uploaded_at: t0,
    };
    let emoji = |id: &str, name: &str, aliases: &[&str], at: Timestamp| CustomEmoji {
        id: id.into(),
        name: name.into(),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        extension: "png".into(),
        etag: None,
        file: None,
        updated_at: at,
    };
    let party = emoji("e1", "party", &["fiesta", "bash"], t0);
    store.insert_custom_emoji(&party).await.unwrap();
    let mut cat = emoji("e2", "Cat", &[], later(10));
    cat.file = Some(file("emoji-e2", "image/gif"));
    cat.etag = Some("abc".into());
    store.insert_custom_emoji(&cat).await.unwrap();
    assert!(matches!(
        store
            .insert_custom_emoji(&emoji("e3", "party", &[], t0))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.custom_emoji_by_id("e2").await.unwrap(),
        Some(cat.clone())
    );
    assert_eq!(
        store.custom_emoji_by_name("party").await.unwrap(),
        Some(party.clone())
    );
    assert_eq!(store.custom_emoji_by_name("PARTY").await.unwrap(), None);
    let using = |name: &'static str, except: Option<&'static str>| async move {
        store
            .custom_emoji_using(name, except)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(using("party", None).await, ["e1"]);
    assert_eq!(using("bash", None).await, ["e1"]);
    assert_eq!(using("bash", Some("e1")).await, Vec::<String>::new());
    assert_eq!(using("fies", None).await, Vec::<String>::new());

    let names = |page: (Vec<CustomEmoji>, u64)| {
        (
            page.0.into_iter().map(|e| e.name).collect::<Vec<_>>(),
            page.1,
        )
    };
    let all = CustomEmojiFilter::default();
    assert_eq!(
        names(store.list_custom_emoji(&all, 0, None).await.unwrap()),
        (vec!["Cat".to_owned(), "party".to_owned()], 2),
        "bytewise by name"
    );
    assert_eq!(
        names(store.list_custom_emoji(&all, 1, Some(5)).await.unwrap()),
        (vec!["party".to_owned()], 2)
    );
    let named = CustomEmojiFilter {
        name_contains: Some("CA".into()),
        ..CustomEmojiFilter::default()
    };
    assert_eq!(
        names(store.list_custom_emoji(&named, 0, None).await.unwrap()),
        (vec!["Cat".to_owned()], 1)
    );
    let recent = CustomEmojiFilter {
        updated_after: Some(t0),
        ..CustomEmojiFilter::default()
    };
    assert_eq!(
        names(store.list_custom_emoji(&recent, 0, None).await.unwrap()),
        (vec!["Cat".to_owned()], 1)
    );
    let by_id = CustomEmojiFilter {
        id: Some("e1".into()),
        ..CustomEmojiFilter::default()
    };
    assert_eq!(store.list_custom_emoji(&by_id, 0, None).await.unwrap().1, 1);

    let mut renamed = party.clone();
    renamed.name = "partying".into();
    renamed.aliases = vec![];
    renamed.file = Some(file("emoji-e1", "image/png"));
    renamed.etag = Some("def".into());
    renamed.updated_at = later(20);
    assert!(store.update_custom_emoji(&renamed).await.unwrap());
    assert_eq!(
        store.custom_emoji_by_id("e1").await.unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(using("bash", None).await, Vec::<String>::new());
    let mut clash = renamed.clone();
    clash.name = "Cat".into();
    assert!(matches!(
        store.update_custom_emoji(&clash).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        !store
            .update_custom_emoji(&emoji("nope", "x", &[], t0))
            .await
            .unwrap()
    );

    assert_eq!(
        store.delete_custom_emoji("e2", later(30)).await.unwrap(),
        Some(cat)
    );
    assert_eq!(
        store.delete_custom_emoji("e2", later(31)).await.unwrap(),
        None
    );
    let trash = store.deleted_custom_emoji_since(later(29)).await.unwrap();
    assert_eq!(trash.len(), 1);
    assert_eq!(
        (trash[0].id.as_str(), trash[0].name.as_str()),
        ("e2", "Cat")
    );
    assert_eq!(trash[0].deleted_at, later(30));
    assert!(
        store
            .deleted_custom_emoji_since(later(30))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.custom_emoji_by_name("Cat").await.unwrap(), None);

    let status = |id: &str, name: &str, status_type: &str| CustomUserStatus {
        id: id.into(),
        name: name.into(),
        status_type: status_type.into(),
        updated_at: t0,
    };
    let meeting = status("s1", "In a meeting", "busy");
    store.insert_custom_user_status(&meeting).await.unwrap();
    store
        .insert_custom_user_status(&status("s2", "Lunch", "away"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_custom_user_status(&status("s3", "Lunch", ""))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .custom_user_status_by_name("In a meeting")
            .await
            .unwrap(),
        Some(meeting.clone())
    );
    let (page, total) = store
        .list_custom_user_statuses(None, Some("LUN"), 0, None)
        .await
        .unwrap();
    assert_eq!((page[0].id.as_str(), total), ("s2", 1));
    let (page, total) = store
        .list_custom_user_statuses(Some("s1"), None, 0, Some(10))
        .await
        .unwrap();
    assert_eq!((page, total), (vec![meeting.clone()], 1));
    let (page, total) = store
        .list_custom_user_statuses(None, None, 0, Some(1))
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 2));
    let mut busy = meeting.clone();
    busy.name = "Busy busy".into();
    busy.status_type = "offline".into();
    assert!(store.update_custom_user_status(&busy).await.unwrap());
    assert_eq!(
        store.custom_user_status_by_id("s1").await.unwrap(),
        Some(busy.clone())
    );
    assert_eq!(
        store.delete_custom_user_status("s1").await.unwrap(),
        Some(busy)
    );
    assert_eq!(store.delete_custom_user_status("s1").await.unwrap(), None);
    assert_eq!(store.custom_user_status_by_id("s1").await.unwrap(), None);

    let ding = CustomSound {
        id: "so1".into(),
        name: "ding".into(),
        extension: "mp3".into(),
        file: None,
        updated_at: t0,
    };
    store.insert_custom_sound(&ding).await.unwrap();
    assert!(matches!(
        store
            .insert_custom_sound(&CustomSound {
                id: "so2".into(),
                ..ding.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    let mut uploaded = ding.clone();
    uploaded.file = Some(file("sound-so1", "audio/mpeg"));
    uploaded.updated_at = later(5);
    assert!(store.update_custom_sound(&uploaded).await.unwrap());
    assert_eq!(
        store.custom_sound_by_id("so1").await.unwrap(),
        Some(uploaded.clone())
    );
    assert_eq!(
        store.custom_sound_by_name("ding").await.unwrap(),
        Some(uploaded.clone())
    );
    let (page, total) = store.list_custom_sounds(Some("DI"), 0, None).await.unwrap();
    assert_eq!((page, total), (vec![uploaded.clone()], 1));
    assert_eq!(
        store
            .list_custom_sounds(Some("zz"), 0, None)
            .await
            .unwrap()
            .1,
        0
    );
    assert_eq!(
        store.delete_custom_sound("so1").await.unwrap(),
        Some(uploaded)
    );
    assert_eq!(store.delete_custom_sound("so1").await.unwrap(), None);
}

/// Automatic translation: members' choices, the languages a room's messages go into, and
/// translations merged into a message without undoing an edit made meanwhile.
pub async fn auto_translate(store: &dyn Store) {
    use crate::{AttachmentTranslations, AutoTranslateChange};
    use comet_core::room::{Message, UserStub};
    let t0 = now();
    let ann = user("a1", "ann", "ann@example.com", t0);
    let ben = user("b1", "ben", "ben@example.com", t0);
    let cat = user("c1", "cat", "cat@example.com", t0);
    let dan = user("d1", "dan", "dan@example.com", t0);
    for u in [&ann, &ben, &cat, &dan] {
        store.insert_user(u).await.unwrap();
    }
    let lobby = room("r1", "lobby", &ann, t0);
    let mut root = Message::new("m1".into(), "r1", UserStub::from(&ann), "Good morning", t0);
    root.attachments = Some(json!([{"title": "a.png", "description": "A cat"}, {"title": "b"}]));
    store
        .create_room(
            &lobby,
            &[
                subscription("s1", &lobby, &ann, t0),
                subscription("s2", &lobby, &ben, t0),
                subscription("s3", &lobby, &cat, t0),
            ],
            Some(&root),
        )
        .await
        .unwrap();

    let fresh = store.subscription("r1", "b1").await.unwrap().unwrap();
    assert_eq!(
        (fresh.auto_translate, fresh.auto_translate_language),
        (None, None)
    );
    let on = |language: Option<&str>| AutoTranslateChange::Switch {
        on: true,
        default_language: language.map(str::to_owned),
    };
    assert!(
        store
            .change_auto_translate("r1", "d1", &on(Some("pt")), t0)
            .await
            .unwrap()
            .is_none(),
        "not a member"
    );
    let at = at_ms(t0, 5);
    let ben_on = store
        .change_auto_translate("r1", "b1", &on(Some("pt")), at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            ben_on.auto_translate,
            ben_on.auto_translate_language.as_deref()
        ),
        (Some(true), Some("pt"))
    );
    assert_eq!(ben_on.updated_at, at);
    // A default language never replaces a chosen one.
    let ben_off = store
        .change_auto_translate(
            "r1",
            "b1",
            &AutoTranslateChange::Switch {
                on: false,
                default_language: Some("es".into()),
            },
            at,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            ben_off.auto_translate,
            ben_off.auto_translate_language.as_deref()
        ),
        (Some(false), Some("pt"))
    );
    let cat_language = store
        .change_auto_translate("r1", "c1", &AutoTranslateChange::Language("es".into()), at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            cat_language.auto_translate,
            cat_language.auto_translate_language.as_deref()
        ),
        (None, Some("es"))
    );
    assert!(
        store
            .auto_translate_languages("r1", "a1")
            .await
            .unwrap()
            .is_empty(),
        "a language without translation on counts for nothing"
    );
    store
        .change_auto_translate("r1", "c1", &on(None), at)
        .await
        .unwrap();
    store
        .change_auto_translate("r1", "b1", &on(None), at)
        .await
        .unwrap();
    store
        .change_auto_translate("r1", "a1", &on(Some("pt")), at)
        .await
        .unwrap();
    assert_eq!(
        store.auto_translate_languages("r1", "a1").await.unwrap(),
        ["es", "pt"]
    );
    assert_eq!(
        store.auto_translate_languages("r1", "b1").await.unwrap(),
        ["es", "pt"]
    );
    assert_eq!(
        store.auto_translate_languages("r1", "c1").await.unwrap(),
        ["pt"]
    );
    assert!(
        store
            .auto_translate_languages("r2", "a1")
            .await
            .unwrap()
            .is_empty()
    );

    // Other subscription updates leave the choice alone.
    let mut ben_sub = store.subscription("r1", "b1").await.unwrap().unwrap();
    ben_sub.favorite = true;
    ben_sub.auto_translate = None;
    ben_sub.auto_translate_language = None;
    store.update_subscription(&ben_sub).await.unwrap();
    let ben_sub = store.subscription("r1", "b1").await.unwrap().unwrap();
    assert!(ben_sub.favorite);
    assert_eq!(
        (
            ben_sub.auto_translate,
            ben_sub.auto_translate_language.as_deref()
        ),
        (Some(true), Some("pt"))
    );

    // A user's new language reaches their subscriptions except those opted out.
    let lounge = room("r2", "lounge", &cat, t0);
    store
        .create_room(&lounge, &[subscription("s4", &lounge, &cat, t0)], None)
        .await
        .unwrap();
    store
        .change_auto_translate(
            "r1",
            "c1",
            &AutoTranslateChange::Switch {
                on: false,
                default_language: None,
            },
            at,
        )
        .await
        .unwrap();
    let t_lang = at_ms(t0, 7);
    let followed = store
        .follow_user_language("c1", Some("de"), t_lang)
        .await
        .unwrap();
    assert_eq!(
        followed
            .iter()
            .map(|s| (
                s.room_id.as_str(),
                s.auto_translate,
                s.auto_translate_language.as_deref()
            ))
            .collect::<Vec<_>>(),
        [("r2", Some(true), Some("de"))],
        "the opted-out lobby stays as it was"
    );
    assert!(
        store
            .follow_user_language("c1", Some("de"), at_ms(t0, 8))
            .await
            .unwrap()
            .is_empty(),
        "nothing to change"
    );
    let stopped = store
        .follow_user_language("c1", None, at_ms(t0, 9))
        .await
        .unwrap();
    assert_eq!(stopped.len(), 1);
    assert_eq!(
        (
            stopped[0].auto_translate,
            stopped[0].auto_translate_language.as_deref()
        ),
        (None, None)
    );
    let lobby_cat = store.subscription("r1", "c1").await.unwrap().unwrap();
    assert_eq!(
        (
            lobby_cat.auto_translate,
            lobby_cat.auto_translate_language.as_deref()
        ),
        (Some(false), Some("es"))
    );

    // Translations merge by language, for the text and for attachments' descriptions.
    let translate = |source: &str, language: &str, text: &str| MessageChange::Translate {
        source_text: source.into(),
        provider: "comet-builtin".into(),
        translations: [(language.to_owned(), text.to_owned())].into(),
        attachments: vec![AttachmentTranslations {
            index: 0,
            source_description: "A cat".into(),
            translations: [(language.to_owned(), format!("{text} (gato)"))].into(),
        }],
    };
    let t1 = at_ms(t0, 10);
    let changed = store
        .change_message("m1", &translate("Good morning", "pt", "Bom dia"), t1)
        .await
        .unwrap()
        .unwrap();
    assert!(changed.changed);
    store
        .change_message("m1", &translate("Good morning", "es", "Buenos días"), t1)
        .await
        .unwrap()
        .unwrap();
    let stored = store.message_by_id("m1").await.unwrap().unwrap();
    assert_eq!(
        stored.translations,
        [
            ("es".to_owned(), "Buenos días".to_owned()),
            ("pt".to_owned(), "Bom dia".to_owned())
        ]
        .into()
    );
    assert_eq!(
        stored.translation_provider.as_deref(),
        Some("comet-builtin")
    );
    assert_eq!(
        stored.attachments.as_ref().unwrap()[0]["translations"],
        json!({"pt": "Bom dia (gato)", "es": "Buenos días (gato)"})
    );
    assert!(
        stored.attachments.as_ref().unwrap()[1]
            .get("translations")
            .is_none()
    );

    // An edit clears them, and a translation of the old text arriving later is dropped.
    let edit = MessageChange::Edit {
        text: "Good evening".into(),
        mentions: Vec::new(),
        channels: Vec::new(),
        urls: Vec::new(),
        md: None,
        by: UserStub::from(&ann),
        attachments: None,
        custom_fields: None,
    };
    store
        .change_message("m1", &edit, at_ms(t0, 11))
        .await
        .unwrap()
        .unwrap();
    let late = store
        .change_message(
            "m1",
            &translate("Good morning", "pt", "Bom dia"),
            at_ms(t0, 12),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(!late.changed);
    let stored = store.message_by_id("m1").await.unwrap().unwrap();
    assert!(stored.translations.is_empty());
    assert_eq!(stored.translation_provider, None);
    assert_eq!(stored.text, "Good evening");
}

/// Video conferences: insert, read back, updates that name a stale revision lose, a room's
/// calls newest first with their total, and unanswered direct calls.
pub async fn video_conferences(store: &dyn Store) {
    use crate::{CallUser, VideoConference, VideoConferenceKind, video_conference_status};
    let t0 = now();
    let later = |ms: i64| t0 + chrono::Duration::milliseconds(ms);
    let owner = user("vc-own", "caller", "caller@example.com", t0);
    store.insert_user(&owner).await.unwrap();
    let hall = room("r-vc", "calls", &owner, t0);
    store
        .create_room(&hall, &[subscription("vs-own", &hall, &owner, t0)], None)
        .await
        .unwrap();
    let caller = CallUser {
        id: "vc-own".into(),
        username: "caller".into(),
        name: Some("Caller".into()),
        avatar_etag: None,
        ts: t0,
    };
    let call = |id: &str, kind: VideoConferenceKind, ms: i64| VideoConference {
        id: id.into(),
        kind,
        room_id: "r-vc".into(),
        status: video_conference_status::CALLING,
        users: Vec::new(),
        created_by: caller.clone(),
        created_at: later(ms),
        ended_at: None,
        ended_by: None,
        provider_name: "jitsi".into(),
        url: None,
        started_message_id: None,
        ended_message_id: None,
        ringing: kind == VideoConferenceKind::Direct,
        title: None,
        anonymous_users: 0,
        discussion_rid: None,
        updated_at: None,
        present: Vec::new(),
        revision: 0,
    };
    let first = call("vc-1", VideoConferenceKind::Videoconference, 0);
    let second = call("vc-2", VideoConferenceKind::Direct, 10);
    let third = call("vc-3", VideoConferenceKind::Direct, 20_000);
    for c in [&first, &second, &third] {
        store.insert_video_conference(c).await.unwrap();
    }
    assert_eq!(
        store.video_conference("vc-1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.video_conference("missing").await.unwrap(), None);

    let mut joined = first.clone();
    joined.status = video_conference_status::STARTED;
    joined.users.push(CallUser {
        ts: later(5),
        ..caller.clone()
    });
    joined.ended_at = Some(later(6));
    joined.present = vec!["vc-own".into(), "vc-other".into()];
    assert!(store.update_video_conference(&joined).await.unwrap());
    let stored = store.video_conference("vc-1").await.unwrap().unwrap();
    assert_eq!(stored.revision, 1);
    assert_eq!(stored.users, joined.users);
    // Who is in a Comet call now is kept, in the order they came.
    assert_eq!(stored.present, joined.present);
    assert_eq!(stored.ended_at, Some(later(6)));
    // Written from revision 0 after someone else wrote revision 1: refused, nothing changes.
    let mut stale = first.clone();
    stale.status = video_conference_status::ENDED;
    assert!(!store.update_video_conference(&stale).await.unwrap());
    assert_eq!(
        store
            .video_conference("vc-1")
            .await
            .unwrap()
            .unwrap()
            .status,
        video_conference_status::STARTED
    );

    let (page, total) = store.room_video_conferences("r-vc", 0, 2).await.unwrap();
    assert_eq!(total, 3);
    let ids: Vec<&str> = page.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["vc-3", "vc-2"]);
    let (page, _) = store.room_video_conferences("r-vc", 2, 2).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(
        store
            .room_video_conferences("elsewhere", 0, 10)
            .await
            .unwrap()
            .1,
        0
    );

    // Only direct calls still calling, created before the cut-off.
    let unanswered = store.unanswered_direct_calls(later(1_000)).await.unwrap();
    let ids: Vec<&str> = unanswered.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["vc-2"]);

    // Calls of any kind still calling or started, created before the cut-off, oldest first.
    let open = store.open_video_conferences(later(1_000)).await.unwrap();
    let ids: Vec<&str> = open.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["vc-1", "vc-2"]);
    let mut ended = store.video_conference("vc-2").await.unwrap().unwrap();
    ended.status = video_conference_status::DECLINED;
    assert!(store.update_video_conference(&ended).await.unwrap());
    let open = store.open_video_conferences(later(30_000)).await.unwrap();
    let ids: Vec<&str> = open.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["vc-1", "vc-3"]);
}
