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
