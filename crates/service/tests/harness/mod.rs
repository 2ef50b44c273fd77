//! The service-level test harness: a real `Service` on a temporary SQLite database and the
//! in-process bus, with no HTTP, so that rules can be tested where they live.

#![allow(
    dead_code,
    reason = "each test file uses the part of the harness it needs"
)]

use comet_core::room::RoomType;
use comet_service::accounts::Registration;
use comet_service::rooms::{NewRoom, RoomAccess, RoomFamily, RoomRef};
use comet_service::{
    AdminBootstrap, ClientInfo, LoginRequest, PasswordInput, Service, ServiceConfig, Session,
    UserSelector,
};
use comet_store_sqlite::SqliteStore;
use serde_json::Value;
use std::sync::Arc;

pub const PASSWORD: &str = "Pass-Word-1!";
const ADMIN: &str = "admin";

/// A running service and the directory of its database.
pub struct TestService {
    pub service: Arc<Service>,
    /// The service's store, for tests that arrange rows the service would not write.
    pub store: SqliteStore,
    _dir: tempfile::TempDir,
}

impl TestService {
    /// A fresh service with an admin (`admin`) and a cheap bcrypt cost.
    pub async fn start() -> TestService {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("service.db"))
            .await
            .expect("store");
        let config = ServiceConfig {
            bcrypt_cost: 4,
            admin: Some(AdminBootstrap {
                username: ADMIN.into(),
                password: PASSWORD.into(),
                email: Some("admin@example.com".into()),
                email_verified: true,
                name: "Administrator".into(),
            }),
            // The tests send at machine speed; the per-user message limit meant for floods is
            // tested on its own (crates/server/tests/e2e/abuse.rs).
            setting_overrides: vec![("Comet_Abuse_Messages_Per_User_Limit".into(), "0".into())],
            ..ServiceConfig::default()
        };
        let bus: Arc<dyn comet_events::EventBus> = Arc::new(comet_events::InProcessBus::default());
        let service = Service::start(Arc::new(store.clone()), bus, config)
            .await
            .expect("service");
        TestService {
            service,
            store,
            _dir: dir,
        }
    }

    /// Logs `username` in with `PASSWORD`.
    pub async fn login(&self, username: &str) -> Session {
        let client = ClientInfo::default();
        let login = self
            .service
            .accounts()
            .login(
                LoginRequest::Password {
                    user: UserSelector::Username(username.into()),
                    password: PasswordInput::Plain(PASSWORD.into()),
                    code: None,
                },
                &client,
            )
            .await
            .expect("login");
        self.service
            .accounts()
            .authenticate(&login.user.id, &login.token)
            .await
            .expect("session")
    }

    pub async fn admin(&self) -> Session {
        self.login(ADMIN).await
    }

    /// Registers `username` and logs them in.
    pub async fn member(&self, username: &str) -> Session {
        let registration = Registration {
            username: username.into(),
            email: format!("{username}@example.com"),
            password: PASSWORD.into(),
            name: Some(username.into()),
            ..Registration::default()
        };
        self.service
            .accounts()
            .register(registration, &ClientInfo::default())
            .await
            .expect("register");
        self.login(username).await
    }

    /// A public channel `name` created by `owner` with `members`.
    pub async fn channel(&self, owner: &Session, name: &str, members: &[&str]) -> RoomAccess {
        let room = NewRoom {
            name: name.into(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            ..NewRoom::default()
        };
        let room = self
            .service
            .rooms()
            .create_room(owner, RoomType::Channel, room)
            .await
            .expect("channel");
        self.access(owner, &room.id).await
    }

    /// `session`'s access to a room (panics if they have none).
    pub async fn access(&self, session: &Session, room_id: &str) -> RoomAccess {
        self.service
            .rooms()
            .room_for(session, &RoomRef::Id(room_id.into()), RoomFamily::Any)
            .await
            .expect("room access")
    }

    /// Sets a setting as the admin.
    pub async fn set(&self, id: &str, value: Value) {
        let admin = self.admin().await;
        self.service
            .settings()
            .update_setting(&admin, id, value)
            .await
            .expect("setting");
    }
}
