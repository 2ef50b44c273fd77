//! Property: after any sequence of messages, every member's `unread`, `userMentions`,
//! `groupMentions` and `alert` equal what upstream's rules give (channels count mentions only,
//! direct rooms count everything; the author's own counters never move).

use comet_core::room::RoomType;
use comet_service::accounts::Registration;
use comet_service::messages::NewMessage;
use comet_service::rooms::{NewRoom, RoomRef};
use comet_service::{
    ClientInfo, LoginRequest, PasswordInput, Service, ServiceConfig, Session, UserSelector,
};
use comet_store_sqlite::SqliteStore;
use proptest::prelude::*;
use std::sync::Arc;

const NAMES: [&str; 3] = ["ann", "ben", "cat"];
const PASSWORD: &str = "Pass-Word-1!";

#[derive(Debug, Clone)]
struct Post {
    author: usize,
    mentions: Vec<usize>,
    all: bool,
}

fn post() -> impl Strategy<Value = Post> {
    (
        0..3usize,
        proptest::collection::vec(0..3usize, 0..3),
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(author, mentions, all)| Post {
            author,
            mentions,
            all,
        })
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counters {
    unread: i64,
    user_mentions: i64,
    group_mentions: i64,
    alert: bool,
}

/// Upstream's `notifyUsersOnMessage`, written independently of the service.
fn expected(direct: bool, posts: &[Post]) -> [Counters; 3] {
    let mut c = [Counters::default(); 3];
    for p in posts {
        let mentioned: Vec<usize> = p
            .mentions
            .iter()
            .copied()
            .filter(|m| *m != p.author)
            .collect();
        for member in (0..3).filter(|m| *m != p.author) {
            let named = mentioned.contains(&member);
            if !mentioned.is_empty() {
                if named {
                    c[member].user_mentions += 1;
                    c[member].unread += 1;
                }
            } else if p.all {
                c[member].group_mentions += 1;
                c[member].unread += 1;
            }
            if direct && !p.all && !named {
                c[member].unread += 1;
            }
            c[member].alert = true;
        }
    }
    c
}

async fn setup(direct: bool) -> (tempfile::TempDir, Arc<Service>, Vec<Session>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("t.db"))
        .await
        .expect("store");
    let config = ServiceConfig {
        bcrypt_cost: 4,
        ..ServiceConfig::default()
    };
    let bus: Arc<dyn comet_events::EventBus> = Arc::new(comet_events::InProcessBus::default());
    let service = Service::start(Arc::new(store), bus, config)
        .await
        .expect("service");
    let client = ClientInfo::default();
    let mut sessions = Vec::new();
    for name in NAMES {
        let registration = Registration {
            username: name.into(),
            email: format!("{name}@example.com"),
            password: PASSWORD.into(),
            name: Some(name.into()),
            ..Registration::default()
        };
        service
            .register(registration, &client)
            .await
            .expect("register");
        let login = service
            .login(
                LoginRequest::Password {
                    user: UserSelector::Username(name.into()),
                    password: PasswordInput::Plain(PASSWORD.into()),
                },
                &client,
            )
            .await
            .expect("login");
        sessions.push(
            service
                .authenticate(&login.user.id, &login.token)
                .await
                .expect("session"),
        );
    }
    let room = if direct {
        service
            .create_direct(&sessions[0], &["ben".into(), "cat".into()], false)
            .await
            .expect("dm")
    } else {
        let room = NewRoom {
            name: "room".into(),
            members: vec!["ben".into(), "cat".into()],
            ..NewRoom::default()
        };
        service
            .create_room(&sessions[0], RoomType::Channel, room)
            .await
            .expect("room")
    };
    (dir, service, sessions, room.id)
}

fn run(direct: bool, posts: &[Post]) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (_dir, service, sessions, room_id) = setup(direct).await;
        let room = service
            .room_for(
                &sessions[0],
                &RoomRef::Id(room_id.clone()),
                comet_service::rooms::RoomFamily::Any,
            )
            .await
            .expect("room");
        for p in posts {
            let mut text = String::from("hello");
            for m in &p.mentions {
                text.push_str(&format!(" @{}", NAMES[*m]));
            }
            if p.all {
                text.push_str(" @all");
            }
            let message = NewMessage {
                text,
                ..NewMessage::default()
            };
            service
                .send_message(&sessions[p.author], &room, message)
                .await
                .expect("send");
        }
        let want = expected(direct, posts);
        for (i, session) in sessions.iter().enumerate() {
            let s = service
                .subscription(session, &room_id)
                .await
                .expect("read")
                .expect("member");
            let got = Counters {
                unread: s.unread,
                user_mentions: s.user_mentions,
                group_mentions: s.group_mentions,
                alert: s.alert,
            };
            prop_assert_eq!(got, want[i], "member {} after {:?}", NAMES[i], posts);
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn channel_counters_follow_upstream(posts in proptest::collection::vec(post(), 1..10)) {
        run(false, &posts)?;
    }

    #[test]
    fn direct_counters_follow_upstream(posts in proptest::collection::vec(post(), 1..10)) {
        run(true, &posts)?;
    }
}
