//! Property: after any sequence of messages, every member's `unread`, `userMentions`,
//! `groupMentions` and `alert` equal what upstream's rules give (channels count mentions only,
//! direct rooms count everything; the author's own counters never move).

mod harness;

use comet_core::room::RoomType;
use comet_service::Session;
use comet_service::messages::NewMessage;
use comet_service::rooms::NewRoom;
use harness::TestService;
use proptest::prelude::*;

const NAMES: [&str; 3] = ["ann", "ben", "cat"];

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

async fn setup(direct: bool) -> (TestService, Vec<Session>, String) {
    let t = TestService::start().await;
    let mut sessions = Vec::new();
    for name in NAMES {
        sessions.push(t.member(name).await);
    }
    let room = if direct {
        t.service
            .rooms()
            .create_direct(&sessions[0], &["ben".into(), "cat".into()], false)
            .await
            .expect("dm")
    } else {
        let room = NewRoom {
            name: "room".into(),
            members: vec!["ben".into(), "cat".into()],
            ..NewRoom::default()
        };
        t.service
            .rooms()
            .create_room(&sessions[0], RoomType::Channel, room)
            .await
            .expect("room")
    };
    let room_id = room.id;
    (t, sessions, room_id)
}

fn run(direct: bool, posts: &[Post]) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (t, sessions, room_id) = setup(direct).await;
        let service = &t.service;
        let room = t.access(&sessions[0], &room_id).await;
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
                .messages()
                .send_message(&sessions[p.author], &room, message)
                .await
                .expect("send");
        }
        let want = expected(direct, posts);
        for (i, session) in sessions.iter().enumerate() {
            let s = service
                .rooms()
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
