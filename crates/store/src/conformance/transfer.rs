//! Moving a database (`TransferStore`): a source filled through the ordinary methods with
//! every kind of record is copied page by page into an empty store, which must then answer
//! every read exactly as the source does, and go on behaving the same.

use super::{direct_room, login_token, pat, room, subscription, user};
use crate::transfer::{Record, RecordKind, copy_kind};
use crate::{
    MessageChange, MessageFilter, MessageSortKey, PostEffects, RoomFilter, RoomSortKey, Store,
    StoreError, UserFilter,
};
use comet_core::page::{Direction, Page, UserSortKey};
use comet_core::role::{Permission, Role};
use comet_core::room::{Mention, Message, Room, RoomType, Subscription, UserStub};
use comet_core::setting::{Setting, SettingType};
use comet_core::user::{Email, Presence, User, UserType};
use comet_core::{Timestamp, now};
use serde_json::json;

/// Reads the same thing from both stores and asserts equal answers; evaluates to the answer.
macro_rules! same {
    ($from:expr, $to:expr, |$s:ident| $read:expr) => {{
        let before = {
            let $s = $from;
            $read.await.unwrap()
        };
        let after = {
            let $s = $to;
            $read.await.unwrap()
        };
        assert_eq!(after, before, "{}", stringify!($read));
        before
    }};
}

const USERS: [&str; 5] = ["a1", "b1", "c1", "d1", "g1"];
const ROOMS: [&str; 6] = ["r1", "r2", "r3", "r4", "r5", "r6"];
const MESSAGES: [&str; 21] = [
    "m-first", "m-join", "m-leave", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10",
    "m11", "m12", "m13", "m14", "m15", "m16", "m-new", "m-none",
];
const TOKENS: [&str; 8] = [
    "h-a1", "h-a2", "h-a3", "p-a", "p-b-old", "p-b", "h-b1", "h-g1",
];

fn message(id: &str, room_id: &str, author: &User, text: &str, at: Timestamp) -> Message {
    Message::new(id.into(), room_id, UserStub::from(author), text, at)
}

fn posted() -> PostEffects {
    PostEffects {
        counts_in_room: true,
        becomes_last_message: true,
        unread_for_all: true,
        alert_others: true,
        ..PostEffects::default()
    }
}

/// A member's subscription to a direct room, named after the other participant.
fn direct_subscription(
    id: &str,
    room: &Room,
    member: &User,
    other: &User,
    at: Timestamp,
) -> Subscription {
    Subscription {
        name: other.username.clone(),
        fname: Some(other.name.clone()),
        ..subscription(id, room, member, at)
    }
}

/// Fills `store` with every kind of record through the ordinary methods, edge cases included.
async fn fill(store: &dyn Store, t0: Timestamp) {
    let at = |s: i64| t0 + chrono::Duration::seconds(s);

    // Users: Unicode everywhere, roles out of alphabetical order, a bot without email or
    // password, an inactive admin, one deleted (with its token).
    let mut ann = user("a1", "Ann", "Ann@Example.com", at(0));
    ann.name = "Ànn Ünïcode 李".into();
    ann.roles = vec!["user".into(), "admin".into()];
    ann.email = Some(Email {
        address: "Ann@Example.com".into(),
        verified: true,
    });
    ann.status = Presence::Busy;
    ann.status_default = Presence::Busy;
    ann.status_connection = Presence::Online;
    ann.status_text = "☕ back soon".into();
    ann.utc_offset = -3.5;
    ann.require_password_change = true;
    ann.language = Some("pt-BR".into());
    ann.bio = Some("line one\nline two «quoted»".into());
    ann.preferences =
        json!({"sidebarViewMode": "extended", "nested": {"list": [1, 2.5, "x"], "on": true}});
    ann.last_login = Some(at(100));
    let mut ben = user("b1", "ben.bot", "unused@example.com", at(1));
    ben.email = None;
    ben.user_type = UserType::Bot;
    ben.password_bcrypt = None;
    ben.custom_fields = None;
    ben.preferences = json!({});
    ben.roles = vec!["bot".into()];
    ben.nickname = None;
    ben.status = Presence::Online;
    ben.status_connection = Presence::Online;
    let mut cat = user("c1", "cat", "cat@example.com", at(2));
    cat.active = false;
    cat.roles = vec!["admin".into(), "user".into()];
    let dan = user("d1", "DÄN", "Dän@Exämple.com", at(3));
    let gone = user("g1", "gone", "gone@example.com", at(4));
    for u in [&ann, &ben, &cat, &dan, &gone] {
        store.insert_user(u).await.unwrap();
    }
    ann.updated_at = at(5);
    assert!(store.update_user(&ann).await.unwrap());

    // Tokens: three logins of one millisecond (pruning breaks the tie by insertion order),
    // a remembered second factor, personal access tokens, one replaced.
    for hashed in ["h-a1", "h-a2", "h-a3"] {
        store
            .insert_token(&login_token("a1", hashed, at(10)))
            .await
            .unwrap();
    }
    assert!(
        store
            .remember_two_factor("h-a2", at(1000), "client-digest")
            .await
            .unwrap()
    );
    store
        .insert_token(&pat("a1", "p-a", "CI ✓ token", at(11)))
        .await
        .unwrap();
    store
        .insert_token(&pat("b1", "p-b-old", "deploy", at(12)))
        .await
        .unwrap();
    let mut replacement = pat("b1", "p-b", "deploy", at(13));
    if let comet_core::user::TokenKind::PersonalAccess {
        bypass_two_factor, ..
    } = &mut replacement.kind
    {
        *bypass_two_factor = false;
    }
    assert!(
        store
            .replace_personal_access_token(&replacement)
            .await
            .unwrap()
    );
    store
        .insert_token(&login_token("b1", "h-b1", at(14)))
        .await
        .unwrap();
    store
        .insert_token(&login_token("g1", "h-g1", at(14)))
        .await
        .unwrap();
    assert!(store.delete_user("g1").await.unwrap());

    // Roles in an order that is not the alphabet's; permissions; settings of every shape.
    for (id, name, scope, protected) in [
        ("rZ", "Zeta 🚀", "Subscriptions", false),
        ("admin", "admin", "Users", true),
        ("user", "user", "Users", true),
        ("rA", "alpha", "Users", false),
    ] {
        store
            .insert_role(&Role {
                id: id.into(),
                name: name.into(),
                scope: scope.into(),
                description: format!("{name} — role"),
                protected,
                mandatory_2fa: id == "admin",
                updated_at: at(15),
            })
            .await
            .unwrap();
    }
    for (id, roles) in [
        ("view-c-room", vec!["user", "admin", "bot"]),
        ("manage-apps", vec!["admin"]),
    ] {
        store
            .insert_permission_if_absent(&Permission {
                id: id.into(),
                roles: roles.into_iter().map(String::from).collect(),
                updated_at: at(16),
            })
            .await
            .unwrap();
    }
    assert!(
        store
            .set_permission_roles("manage-apps", &["rZ".into(), "admin".into()], at(17))
            .await
            .unwrap()
    );
    let setting = |id: &str, value: serde_json::Value, setting_type: SettingType| Setting {
        id: id.into(),
        value: value.clone(),
        package_value: value,
        setting_type,
        public: setting_type != SettingType::Password,
        group: "General".into(),
        section: None,
        choices: vec![],
        updated_at: at(18),
    };
    for s in [
        setting("Site_Name", json!("Comet ✨"), SettingType::String),
        Setting {
            choices: vec!["all_messages".into(), "user_and_group_mentions_only".into()],
            ..setting("Unread_Count", json!("all_messages"), SettingType::Select)
        },
        setting("Message_MaxAllowedSize", json!(5000), SettingType::Int),
        setting("Accounts_TwoFactor", json!(false), SettingType::Boolean),
        setting(
            "Custom_Script",
            json!("console.log(\"hi\")\n"),
            SettingType::Code,
        ),
        Setting {
            section: Some("SMTP".into()),
            ..setting("SMTP_Password", json!("s3cr3t"), SettingType::Password)
        },
    ] {
        assert!(store.insert_setting_if_absent(&s).await.unwrap());
    }
    assert!(
        store
            .set_setting_value("Site_Name", &json!("Acme «Chat»"), at(19))
            .await
            .unwrap()
    );

    // Failed logins, twice in one millisecond for one key.
    for (key, second) in [
        ("user:ann", 30),
        ("user:ann", 30),
        ("ip:10.0.0.1", 31),
        ("user:dän", 32),
    ] {
        store.record_failed_login(key, at(second)).await.unwrap();
    }

    // Rooms of every type and flag, a discussion, an archived room, a deleted one.
    let general = Room {
        default: true,
        featured: true,
        topic: Some("Topic ✓".into()),
        description: Some("Everyone".into()),
        announcement: Some("Ünïcode announcement".into()),
        custom_fields: json!({"team": "core"}),
        hidden_system_messages: vec!["ul".into()],
        unmuted: vec!["carol".into()],
        favorite: true,
        sidepanel: vec!["channels".into(), "discussions".into()],
        ..room("r1", "general", &ann, at(20))
    };
    let mut ann_general = subscription("s-a-r1", &general, &ann, at(20));
    ann_general.roles = vec!["owner".into(), "moderator".into()];
    store
        .create_room(
            &general,
            &[
                ann_general,
                subscription("s-b-r1", &general, &ben, at(20)),
                subscription("s-c-r1", &general, &cat, at(20)),
            ],
            None,
        )
        .await
        .unwrap();
    let secret = Room {
        room_type: RoomType::Private,
        read_only: true,
        react_when_read_only: true,
        broadcast: true,
        encrypted: true,
        join_code: Some("c0de".into()),
        muted: vec!["ben.bot".into()],
        ..room("r2", "secret-ops", &ann, at(21))
    };
    let mut first = message("m-first", "r2", &ann, "secret-ops", at(21));
    first.kind = Some("r".into());
    store
        .create_room(
            &secret,
            &[
                subscription("s-a-r2", &secret, &ann, at(21)),
                subscription("s-b-r2", &secret, &ben, at(21)),
            ],
            Some(&first),
        )
        .await
        .unwrap();
    let direct = direct_room("r3", &ann, &ben, at(22));
    store
        .create_room(
            &direct,
            &[
                direct_subscription("s-a-r3", &direct, &ann, &ben, at(22)),
                direct_subscription("s-b-r3", &direct, &ben, &ann, at(22)),
            ],
            None,
        )
        .await
        .unwrap();
    let discussion = Room {
        fname: Some("Discussion ✓".into()),
        parent_id: Some("r1".into()),
        ..room("r4", "disc-1", &ann, at(23))
    };
    store
        .create_room(
            &discussion,
            &[subscription("s-a-r4", &discussion, &ann, at(23))],
            None,
        )
        .await
        .unwrap();
    let doomed = room("r5", "doomed", &ben, at(24));
    store
        .create_room(
            &doomed,
            &[
                subscription("s-a-r5", &doomed, &ann, at(24)),
                subscription("s-b-r5", &doomed, &ben, at(24)),
            ],
            None,
        )
        .await
        .unwrap();
    store
        .post_message(
            &message("m16", "r5", &ben, "gone with the room", at(24)),
            &posted(),
        )
        .await
        .unwrap();
    assert!(store.delete_room("r5").await.unwrap());
    let mut old = room("r6", "old-times", &cat, at(25));
    store
        .create_room(&old, &[subscription("s-c-r6", &old, &cat, at(25))], None)
        .await
        .unwrap();
    old.archived = true;
    old.updated_at = at(26);
    assert!(store.update_room(&old).await.unwrap());
    // A ban: dan joins the old room and is banned from it.
    assert!(
        store
            .add_member(&subscription("s-d-r6", &old, &dan, at(26)), None)
            .await
            .unwrap()
    );
    let ban = crate::RoomBan {
        room_id: "r6".into(),
        user_id: "d1".into(),
        banned_by: "c1".into(),
        banned_at: at(26),
    };
    assert!(store.ban_member(&ban, None).await.unwrap());
    // An invite to it with two tokens, one use taken.
    let invite = crate::Invite {
        id: "00000000000000aa".into(),
        room_id: "r6".into(),
        user_id: "c1".into(),
        days: 7,
        max_uses: 5,
        uses: 0,
        expires: Some(at(90)),
        created_at: at(26),
        updated_at: at(26),
    };
    let invite_token = |hash: &str| crate::InviteToken {
        token_hash: hash.into(),
        invite_id: invite.id.clone(),
        created_at: at(26),
    };
    store
        .insert_invite(&invite, &invite_token("digest-1"))
        .await
        .unwrap();
    assert!(
        store
            .add_invite_token(&invite_token("digest-2"))
            .await
            .unwrap()
    );
    assert!(store.take_invite_use(&invite.id, at(27)).await.unwrap());

    // Membership with system messages: dan joins, leaves (to the trash) and joins again.
    let mut join = message("m-join", "r1", &dan, "DÄN", at(27));
    join.kind = Some("uj".into());
    assert!(
        store
            .add_member(&subscription("s-d-r1", &general, &dan, at(27)), Some(&join))
            .await
            .unwrap()
    );
    let mut leave = message("m-leave", "r1", &dan, "DÄN", at(28));
    leave.kind = Some("ul".into());
    assert!(store.remove_member("r1", "d1", Some(&leave)).await.unwrap());
    assert!(
        store
            .add_member(&subscription("s-d-r1b", &general, &dan, at(29)), None)
            .await
            .unwrap()
    );

    // Messages: mentions raise counters, two in one millisecond, a thread (one reply also in
    // the room), reactions, pins, stars, an edit, deletions, a discussion, every optional field.
    let mut m1 = message(
        "m1",
        "r1",
        &ann,
        "Hello wörld — implantação 🚀 @ben.bot",
        at(40),
    );
    m1.mentions = vec![Mention {
        id: "b1".into(),
        username: "ben.bot".into(),
        name: None,
    }];
    store
        .post_message(
            &m1,
            &PostEffects {
                unread_for_all: false,
                mentioned_user_ids: vec!["b1".into()],
                ..posted()
            },
        )
        .await
        .unwrap();
    store
        .post_message(
            &message("m2", "r1", &ben, "مرحبا بالعالم @all", at(41)),
            &PostEffects {
                group_mention: true,
                ..posted()
            },
        )
        .await
        .unwrap();
    store
        .post_message(
            &message("m3", "r1", &cat, "你好世界 in the same millisecond", at(41)),
            &posted(),
        )
        .await
        .unwrap();
    let mut m4 = message("m4", "r1", &cat, "on it", at(42));
    m4.thread_id = Some("m1".into());
    store
        .post_message(
            &m4,
            &PostEffects {
                counts_in_room: true,
                ..PostEffects::default()
            },
        )
        .await
        .unwrap();
    let mut m5 = message("m5", "r1", &ben, "also shown in the room", at(43));
    m5.thread_id = Some("m1".into());
    m5.thread_show = true;
    store.post_message(&m5, &posted()).await.unwrap();
    for (emoji, username, react, second) in [
        (":+1:", "ben.bot", true, 44),
        (":tada:", "cat", true, 45),
        (":+1:", "cat", true, 46),
        (":tada:", "cat", false, 47),
        (":сердце:", "DÄN", true, 47),
    ] {
        let (emoji, username) = (emoji.to_owned(), username.to_owned());
        let change = if react {
            MessageChange::React { emoji, username }
        } else {
            MessageChange::Unreact { emoji, username }
        };
        assert!(
            store
                .change_message("m1", &change, at(second))
                .await
                .unwrap()
                .is_some()
        );
    }
    let m2 = store.message_by_id("m2").await.unwrap().unwrap();
    for (change, second) in [
        (
            MessageChange::Pin {
                by: UserStub::from(&ann),
            },
            48,
        ),
        (
            MessageChange::Star {
                user_id: "a1".into(),
            },
            48,
        ),
        (
            MessageChange::Star {
                user_id: "c1".into(),
            },
            48,
        ),
        (
            MessageChange::Edit {
                text: "مرحبا بالعالم (edited)".into(),
                mentions: m2.mentions.clone(),
                channels: m2.channels.clone(),
                urls: Vec::new(),
                md: None,
                by: UserStub::from(&ben),
                attachments: None,
                custom_fields: None,
            },
            49,
        ),
    ] {
        assert!(
            store
                .change_message("m2", &change, at(second))
                .await
                .unwrap()
                .is_some_and(|c| c.changed)
        );
    }
    store
        .post_message(&message("m6", "r1", &ann, "delete me", at(50)), &posted())
        .await
        .unwrap();
    assert!(store.delete_message("m6", at(51)).await.unwrap());
    for (id, second) in [("m7", 52), ("m8", 53)] {
        store
            .post_message(
                &message(id, "r1", &ben, &format!("purge {id}"), at(second)),
                &posted(),
            )
            .await
            .unwrap();
    }
    let purge = MessageFilter {
        text_contains: Some("purge".into()),
        ..MessageFilter::default()
    };
    assert_eq!(
        store
            .delete_messages("r1", &purge, true, &[], None, at(54))
            .await
            .unwrap(),
        2
    );
    let mut m9 = message("m9", "r1", &ann, "let's discuss this", at(55));
    m9.discussion_id = Some("r4".into());
    m9.discussion_count = 2;
    m9.discussion_last_at = Some(at(70));
    store.post_message(&m9, &posted()).await.unwrap();
    let mut m10 = message("m10", "r1", &cat, "see #secret-ops", at(56));
    m10.channels = vec![("r2".into(), "secret-ops".into())];
    m10.attachments =
        Some(json!([{"title": "chart.png", "image_url": "/file-upload/x/chart.png"}]));
    m10.alias = Some("Kitty".into());
    m10.emoji = Some(":cat:".into());
    m10.avatar = Some("/avatar/cat".into());
    m10.groupable = Some(false);
    m10.custom_fields = Some(json!({"source": "import", "n": 3}));
    m10.role = Some("owner".into());
    store.post_message(&m10, &posted()).await.unwrap();
    let mut sub = store.subscription("r1", "a1").await.unwrap().unwrap();
    sub.favorite = true;
    sub.open = false;
    sub.ignored = vec!["c1".into()];
    sub.thread_unread = vec!["m1".into()];
    sub.notifications
        .insert("desktopNotifications".into(), json!("nothing"));
    sub.notifications
        .insert("hideUnreadStatus".into(), json!(true));
    sub.last_reply = Some(at(55));
    sub.last_seen = at(45);
    sub.updated_at = at(57);
    assert!(store.update_subscription(&sub).await.unwrap());

    // Read receipts in the private room; the direct room; the discussion.
    for (id, author, text, second) in [
        ("m11", &ann, "read receipts pending", 60),
        ("m12", &ben, "🚀🚀 Привет, мир", 61),
    ] {
        let mut m = message(id, "r2", author, text, at(second));
        m.unread = true;
        store.post_message(&m, &posted()).await.unwrap();
    }
    assert_eq!(store.mark_messages_read("r2", at(60)).await.unwrap(), 1);
    store
        .post_message(&message("m13", "r3", &ann, "hi ben", at(62)), &posted())
        .await
        .unwrap();
    store
        .post_message(&message("m14", "r3", &ben, "hi Ann", at(63)), &posted())
        .await
        .unwrap();
    store
        .post_message(
            &message("m15", "r4", &ann, "the discussion body", at(64)),
            &posted(),
        )
        .await
        .unwrap();

    // Uploads: a confirmed image with its dimensions, and a temporary one still expiring.
    let image = crate::Upload {
        id: "f1".into(),
        name: "Plan für 2027.png".into(),
        size: 48_213,
        content_type: "image/png".into(),
        extension: "png".into(),
        room_id: "r1".into(),
        user_id: "a1".into(),
        store_key: "f1".into(),
        store: "FileSystem:Uploads".into(),
        complete: true,
        description: Some("the plan".into()),
        dimensions: Some((640, 480)),
        format: Some("png".into()),
        expires_at: None,
        uploaded_at: at(65),
        updated_at: at(66),
        original_file_id: None,
    };
    store.insert_upload(&image).await.unwrap();
    let thumb = crate::Upload {
        id: "f1t".into(),
        name: "thumb-Plan für 2027.png".into(),
        size: 9_001,
        store_key: "f1t".into(),
        dimensions: Some((480, 360)),
        original_file_id: Some("f1".into()),
        ..image.clone()
    };
    store.insert_upload(&thumb).await.unwrap();
    let pending = crate::Upload {
        id: "f2".into(),
        name: "notes.txt".into(),
        content_type: "text/plain".into(),
        extension: "txt".into(),
        store_key: "f2".into(),
        complete: false,
        description: None,
        dimensions: None,
        format: None,
        expires_at: Some(at(3600)),
        ..image
    };
    store.insert_upload(&pending).await.unwrap();

    // Avatars: a user's and a room's.
    for (owner, id) in [
        (crate::AvatarOwner::User, "a1"),
        (crate::AvatarOwner::Room, "r1"),
    ] {
        store
            .put_avatar(&crate::Avatar {
                owner,
                owner_id: id.into(),
                origin: "upload".into(),
                content_type: "image/png".into(),
                size: 1_234,
                etag: format!("etag-{id}"),
                store: "FileSystem:Avatars".into(),
                store_key: format!("avatar-{id}"),
                updated_at: at(67),
            })
            .await
            .unwrap();
    }

    // Moderation reports: an open one of a message, a closed one of a user.
    let reported = from_message_report(&ann, at(68));
    store.insert_report(&reported).await.unwrap();
    let mut closed = super::user_report("rep-u", "b1", "ben.bot", at(69));
    closed.moderation = Some(crate::ModerationInfo {
        hidden_at: at(70),
        moderated_by: "a1".into(),
        reason: "spam".into(),
        action: "None".into(),
    });
    store.insert_report(&closed).await.unwrap();

    // The file blocklist.
    for (n, reason) in [(1, Some("malware")), (2, None)] {
        store
            .block_file_hash(&crate::BlockedFileHash {
                sha256: format!("{n:064x}"),
                added_by: "a1".into(),
                reason: reason.map(str::to_owned),
                added_at: at(70 + n),
            })
            .await
            .unwrap();
    }

    // Two-factor: one user enrolled with backup codes, one half-way through enrolment.
    store
        .set_totp_temp_secret("a1", "sealed-secret-a1", at(72))
        .await
        .unwrap();
    assert!(
        store
            .enable_totp(
                "a1",
                "sealed-secret-a1",
                &["d1".into(), "d2".into()],
                at(73)
            )
            .await
            .unwrap()
    );
    store
        .set_totp_temp_secret("b1", "sealed-temp-b1", at(74))
        .await
        .unwrap();

    // Codes by email: one user with a code waiting; mail waiting; a mailed link's token.
    store
        .set_email_two_factor_enabled("a1", true, at(75))
        .await
        .unwrap();
    store
        .set_email_code("a1", "bcrypt-of-code", at(9000), at(76))
        .await
        .unwrap();
    let queued = crate::QueuedMail {
        id: "mail-1".into(),
        recipient: "ann@example.com".into(),
        subject: "Ünïcode subject".into(),
        text_body: "text".into(),
        html_body: "<p>html</p>".into(),
        created_at: at(77),
        next_attempt_at: at(78),
        attempts: 2,
        last_error: Some("421 try later".into()),
    };
    assert!(store.enqueue_mail(&queued, 100).await.unwrap());
    store
        .replace_email_token(&crate::EmailToken {
            hashed_token: "token-digest".into(),
            kind: crate::EmailTokenKind::ResetPassword,
            user_id: "a1".into(),
            address: "ann@example.com".into(),
            created_at: at(79),
            expires_at: at(9000),
        })
        .await
        .unwrap();
    // A team whose main room is r6, with an owner and a member.
    let creator = comet_core::team::Creator {
        id: "a1".into(),
        username: "ann".into(),
    };
    store
        .insert_team(
            &comet_core::team::Team {
                id: "team-r6".into(),
                name: "team".into(),
                team_type: comet_core::team::TeamType::Private,
                room_id: "r6".into(),
                created_by: creator.clone(),
                created_at: at(75),
                updated_at: at(75),
            },
            &[
                comet_core::team::TeamMember {
                    id: "tm-a1".into(),
                    team_id: "team-r6".into(),
                    user_id: "a1".into(),
                    roles: vec!["owner".into()],
                    created_by: creator.clone(),
                    created_at: at(75),
                },
                comet_core::team::TeamMember {
                    id: "tm-c1".into(),
                    team_id: "team-r6".into(),
                    user_id: "c1".into(),
                    roles: vec![],
                    created_by: creator,
                    created_at: at(76),
                },
            ],
        )
        .await
        .unwrap();
    // Custom emoji (one with a file, one deleted into the trash), a status and a sound.
    let file = |key: &str| crate::AssetFile {
        content_type: "image/png".into(),
        size: 42,
        store: "FileSystem:Uploads".into(),
        store_key: key.into(),
        uploaded_at: at(75),
    };
    for (id, name) in [("ce1", "party"), ("ce2", "gone")] {
        store
            .insert_custom_emoji(&crate::CustomEmoji {
                id: id.into(),
                name: name.into(),
                aliases: vec![format!("{name}-alias"), "ÄLIAS".into()],
                extension: "png".into(),
                etag: Some("e1".into()),
                file: Some(file(&format!("emoji-{id}"))),
                updated_at: at(75),
            })
            .await
            .unwrap();
    }
    store.delete_custom_emoji("ce2", at(76)).await.unwrap();
    store
        .insert_custom_user_status(&crate::CustomUserStatus {
            id: "cs1".into(),
            name: "In a meeting".into(),
            status_type: "busy".into(),
            updated_at: at(76),
        })
        .await
        .unwrap();
    store
        .insert_custom_sound(&crate::CustomSound {
            id: "so1".into(),
            name: "ding".into(),
            extension: "mp3".into(),
            file: Some(crate::AssetFile {
                content_type: "audio/mpeg".into(),
                ..file("sound-so1")
            }),
            updated_at: at(77),
        })
        .await
        .unwrap();
    store
        .insert_video_conference(&crate::VideoConference {
            id: "vc1".into(),
            kind: crate::VideoConferenceKind::Videoconference,
            room_id: "r1".into(),
            status: crate::video_conference_status::ENDED,
            users: vec![crate::CallUser {
                id: "b1".into(),
                username: "ben".into(),
                name: Some("Ben".into()),
                avatar_etag: None,
                ts: at(79),
            }],
            created_by: crate::CallUser {
                id: "a1".into(),
                username: "ann".into(),
                name: None,
                avatar_etag: Some("etag".into()),
                ts: at(78),
            },
            created_at: at(78),
            ended_at: Some(at(80)),
            ended_by: None,
            provider_name: "jitsi".into(),
            url: Some("https://meet.example/vc1".into()),
            started_message_id: Some("m-vc1".into()),
            ended_message_id: None,
            ringing: false,
            title: Some("Stand-up 🙂".into()),
            anonymous_users: 0,
            discussion_rid: None,
            updated_at: Some(at(80)),
            present: vec!["b1".into()],
            revision: 2,
        })
        .await
        .unwrap();

    // The audit log: a chain of a few entries.
    for (i, action) in ["user.create", "setting.update", "room.delete", "user.login"]
        .into_iter()
        .enumerate()
    {
        store
            .append_audit(&comet_core::audit::AuditDraft {
                at: at(70 + i as i64),
                actor_id: "a1".into(),
                actor_username: "ann".into(),
                action: action.into(),
                target_kind: "user".into(),
                target_id: "c1".into(),
                target_name: (i % 2 == 0).then(|| "cat".into()),
                client_address: Some("198.51.100.4".into()),
                user_agent: None,
                before: Some(format!(r#"{{"n":{i}}}"#)),
                after: None,
            })
            .await
            .unwrap();
    }
}

fn from_message_report(author: &User, at: Timestamp) -> crate::ModerationReport {
    let mut report = super::message_report(
        "rep-m",
        "m1",
        (&author.id, &author.username),
        "hi",
        "r1",
        at,
    );
    report.description = "Ünicode 🙂".into();
    report
}

/// A record's identity, to compare exports whose order differs between backends.
fn identity(record: &Record) -> String {
    format!("{record:?}")
}

/// Fills `from`, copies it into the empty `to` in small pages, and checks that `to` answers
/// every read as `from` does and goes on behaving the same; also that an import is one
/// transaction and refuses records that exist.
pub async fn transfer(from: &dyn Store, to: &dyn Store) {
    let t0 = now() - chrono::Duration::minutes(10);
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    fill(from, t0).await;

    for kind in RecordKind::ALL {
        assert_eq!(to.count_records(kind).await.unwrap(), 0, "{kind}");
        assert!(
            from.count_records(kind).await.unwrap() > 0,
            "no {kind} filled"
        );
    }
    for kind in RecordKind::ALL {
        let mut seen = Vec::new();
        let copied = copy_kind(from, to, kind, 3, |n| seen.push(n))
            .await
            .unwrap();
        let expected = from.count_records(kind).await.unwrap();
        assert_eq!(copied, expected, "{kind}");
        assert_eq!(to.count_records(kind).await.unwrap(), expected, "{kind}");
        assert_eq!(seen.last().copied(), Some(expected), "{kind}: progress");
    }

    // Exports hold the same records; those whose insertion order breaks ties come in it.
    for kind in RecordKind::ALL {
        let source = from.export(kind, None, 1000).await.unwrap();
        let target = to.export(kind, None, 1000).await.unwrap();
        assert_eq!((source.next.as_ref(), target.next.as_ref()), (None, None));
        if matches!(
            kind,
            RecordKind::Message
                | RecordKind::LoginToken
                | RecordKind::Role
                | RecordKind::AuditEntry
        ) {
            assert_eq!(target.records, source.records, "{kind}");
        }
        let mut source: Vec<String> = source.records.iter().map(identity).collect();
        let mut target: Vec<String> = target.records.iter().map(identity).collect();
        source.sort();
        target.sort();
        assert_eq!(target, source, "{kind}");
    }
    // A page boundary falls anywhere: one record a page gives the same records.
    let mut one_by_one = Vec::new();
    let mut after = None;
    loop {
        let page = to
            .export(RecordKind::Message, after.as_deref(), 1)
            .await
            .unwrap();
        one_by_one.extend(page.records);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        one_by_one,
        to.export(RecordKind::Message, None, 1000)
            .await
            .unwrap()
            .records
    );

    // Uploads.
    for id in ["f1", "f1t", "f2"] {
        let found = same!(from, to, |s| s.upload_by_id(id));
        assert!(found.is_some(), "upload {id}");
    }

    // Avatars.
    for (owner, id) in [
        (crate::AvatarOwner::User, "a1"),
        (crate::AvatarOwner::Room, "r1"),
    ] {
        let found = same!(from, to, |s| s.avatar(owner, id));
        assert!(found.is_some(), "avatar of {id}");
    }

    // Moderation reports.
    for id in ["rep-m", "rep-u"] {
        let found = same!(from, to, |s| s.report_by_id(id));
        assert!(found.is_some(), "report {id}");
    }

    // Bans.
    let ban = same!(from, to, |s| s.room_ban("r6", "d1"));
    assert!(ban.is_some(), "dan's ban");
    same!(from, to, |s| s.room_bans("r6", 0, None));
    // The audit log, and its chain, continue where they were.
    let entries = same!(from, to, |s| s.audit_entries_after(0, 100));
    assert_eq!(entries.len(), 4);
    let appended = to.append_audit(&entries[0].draft).await.unwrap();
    assert_eq!((appended.seq, &appended.prev_hash), (5, &entries[3].hash));

    // Accounts.
    for id in USERS {
        let found = same!(from, to, |s| s.user_by_id(id));
        assert_eq!(found.is_some(), id != "g1", "{id}");
    }
    let ann = from.user_by_id("a1").await.unwrap().unwrap();
    assert_eq!(ann.password_bcrypt.as_deref(), Some("$2b$04$hash"));
    assert_eq!(ann.roles, ["user", "admin"]);
    for username in ["ann", "BEN.BOT", "Cat", "dän", "gone"] {
        same!(from, to, |s| s.user_by_username(username));
    }
    for email in ["ann@example.com", "DÄN@EXÄMPLE.COM", "cat@example.com"] {
        let found = same!(from, to, |s| s.user_by_email(email));
        assert!(found.is_some(), "{email}");
    }
    let all_users: Vec<String> = USERS.iter().map(|u| (*u).to_owned()).collect();
    let mut before = from.users_by_ids(&all_users).await.unwrap();
    let mut after_users = to.users_by_ids(&all_users).await.unwrap();
    before.sort_by(|a, b| a.id.cmp(&b.id));
    after_users.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(after_users, before);
    let user_filters = [
        UserFilter::default(),
        UserFilter {
            role: Some("admin".into()),
            ..UserFilter::default()
        },
        UserFilter {
            active: Some(false),
            ..UserFilter::default()
        },
        UserFilter {
            search: Some("ÀNN".into()),
            ..UserFilter::default()
        },
        UserFilter {
            search: Some("example".into()),
            ..UserFilter::default()
        },
    ];
    let user_keys = [
        UserSortKey::Username,
        UserSortKey::Name,
        UserSortKey::CreatedAt,
        UserSortKey::UpdatedAt,
        UserSortKey::Status,
        UserSortKey::Active,
        UserSortKey::LastLogin,
        UserSortKey::Type,
        UserSortKey::Email,
    ];
    for filter in &user_filters {
        for key in user_keys {
            for direction in [Direction::Ascending, Direction::Descending] {
                let page = Page {
                    offset: 1,
                    count: Some(2),
                    sort: vec![(key, direction)],
                };
                same!(from, to, |s| s.list_users(filter, &page));
            }
        }
    }
    same!(from, to, |s| s.count_users());
    for role in ["admin", "user", "bot"] {
        same!(from, to, |s| s.count_active_users_with_role(role));
    }
    for hashed in TOKENS {
        let found = same!(from, to, |s| s.user_by_token(hashed));
        assert_eq!(
            found.is_some(),
            !["p-b-old", "h-g1"].contains(&hashed),
            "{hashed}"
        );
    }
    for id in USERS {
        same!(from, to, |s| s.personal_access_tokens(id));
    }
    same!(from, to, |s| s.settings());
    same!(from, to, |s| s.permissions());
    let roles = same!(from, to, |s| s.roles());
    assert_eq!(
        roles.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["rZ", "admin", "user", "rA"]
    );
    for key in ["user:ann", "ip:10.0.0.1", "user:dän", "user:nobody"] {
        for since in [at(0), at(31)] {
            same!(from, to, |s| s.count_failed_logins(key, since));
        }
    }
    assert_eq!(to.count_failed_logins("user:ann", at(0)).await.unwrap(), 2);

    // Rooms and subscriptions.
    for id in ROOMS {
        let found = same!(from, to, |s| s.room_by_id(id));
        assert_eq!(found.is_some(), id != "r5", "{id}");
    }
    for name in ["GENERAL", "secret-ops", "disc-1", "doomed", "old-times"] {
        same!(from, to, |s| s.room_by_name(name));
    }
    let all_rooms: Vec<String> = ROOMS.iter().map(|r| (*r).to_owned()).collect();
    let mut before = from.rooms_by_ids(&all_rooms).await.unwrap();
    let mut after_rooms = to.rooms_by_ids(&all_rooms).await.unwrap();
    before.sort_by(|a, b| a.id.cmp(&b.id));
    after_rooms.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(after_rooms, before);
    let general = before[0].clone();
    assert_eq!(
        (general.message_count, general.users_count),
        (
            from.count_room_messages("r1", &MessageFilter::default())
                .await
                .unwrap() as i64,
            4
        )
    );
    let room_filters = [
        RoomFilter::default(),
        RoomFilter {
            types: vec![RoomType::Private, RoomType::Direct],
            ..RoomFilter::default()
        },
        RoomFilter {
            name: Some("OPS".into()),
            ..RoomFilter::default()
        },
        RoomFilter {
            default_only: true,
            ..RoomFilter::default()
        },
        RoomFilter {
            member: Some("a1".into()),
            ..RoomFilter::default()
        },
        RoomFilter {
            parent_id: Some("r1".into()),
            ..RoomFilter::default()
        },
    ];
    let room_keys = [
        RoomSortKey::Name,
        RoomSortKey::CreatedAt,
        RoomSortKey::UpdatedAt,
        RoomSortKey::LastMessageAt,
        RoomSortKey::MessageCount,
        RoomSortKey::UsersCount,
    ];
    for filter in &room_filters {
        for key in room_keys {
            for direction in [Direction::Ascending, Direction::Descending] {
                let page = Page {
                    offset: 0,
                    count: Some(4),
                    sort: vec![(key, direction)],
                };
                same!(from, to, |s| s.list_rooms(filter, &page));
            }
        }
    }
    for room_id in ROOMS {
        for user_id in USERS {
            same!(from, to, |s| s.subscription(room_id, user_id));
        }
        same!(from, to, |s| s.subscriptions_of_room(room_id, 0, None));
        same!(from, to, |s| s.subscriptions_of_room(room_id, 1, Some(2)));
        let mut before = from
            .subscriptions_of_users_in_room(room_id, &all_users)
            .await
            .unwrap();
        let mut after_subs = to
            .subscriptions_of_users_in_room(room_id, &all_users)
            .await
            .unwrap();
        before.sort_by(|a, b| a.id.cmp(&b.id));
        after_subs.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(after_subs, before, "{room_id}");
        same!(from, to, |s| s.earliest_last_seen(room_id));
    }
    for user_id in USERS {
        same!(from, to, |s| s.subscriptions_of_user(user_id, None));
        same!(from, to, |s| s.subscriptions_of_user(user_id, Some(at(25))));
        let removed = same!(from, to, |s| s.removed_subscriptions(user_id, at(0)));
        assert_eq!(
            removed.len(),
            match user_id {
                "a1" | "b1" => 1,
                // Left general, and was banned from old-times.
                "d1" => 2,
                _ => 0,
            },
            "{user_id}"
        );
    }
    let removed = same!(from, to, |s| s.removed_rooms(at(0)));
    assert_eq!(removed.len(), 1);

    // Messages: every history filter and sort, deletions, search.
    for id in MESSAGES {
        let found = same!(from, to, |s| s.message_by_id(id));
        assert_eq!(
            found.is_some(),
            !["m16", "m-new", "m-none"].contains(&id),
            "{id}"
        );
    }
    let m1 = to.message_by_id("m1").await.unwrap().unwrap();
    assert_eq!(m1.thread_count, 2);
    assert_eq!(m1.reactions.len(), 2);
    assert!(
        to.message_by_id("m6")
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some()
    );
    let all_messages: Vec<String> = MESSAGES.iter().map(|m| (*m).to_owned()).collect();
    let mut before = from.messages_by_ids(&all_messages).await.unwrap();
    let mut after_messages = to.messages_by_ids(&all_messages).await.unwrap();
    before.sort_by(|a, b| a.id.cmp(&b.id));
    after_messages.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(after_messages, before);
    let message_filters = [
        MessageFilter::default(),
        MessageFilter {
            hide_thread_replies: true,
            ..MessageFilter::default()
        },
        MessageFilter {
            latest: Some(at(41)),
            inclusive: true,
            ..MessageFilter::default()
        },
        MessageFilter {
            latest: Some(at(41)),
            ..MessageFilter::default()
        },
        MessageFilter {
            oldest: Some(at(41)),
            inclusive: true,
            ..MessageFilter::default()
        },
        MessageFilter {
            oldest: Some(at(41)),
            latest: Some(at(56)),
            ..MessageFilter::default()
        },
        MessageFilter {
            thread_id: Some("m1".into()),
            ..MessageFilter::default()
        },
        MessageFilter {
            pinned_only: true,
            ..MessageFilter::default()
        },
        MessageFilter {
            starred_by: vec!["c1".into()],
            ..MessageFilter::default()
        },
        MessageFilter {
            mentioning: vec!["b1".into()],
            ..MessageFilter::default()
        },
        MessageFilter {
            updated_after: Some(at(45)),
            ..MessageFilter::default()
        },
        MessageFilter {
            hide_system: true,
            ..MessageFilter::default()
        },
        MessageFilter {
            author_id: Some("c1".into()),
            ..MessageFilter::default()
        },
        MessageFilter {
            thread_roots: true,
            ..MessageFilter::default()
        },
        MessageFilter {
            thread_participant: Some("c1".into()),
            ..MessageFilter::default()
        },
        MessageFilter {
            discussions: true,
            ..MessageFilter::default()
        },
        MessageFilter {
            text_contains: Some("HELLO".into()),
            ..MessageFilter::default()
        },
    ];
    let message_sorts = [
        vec![],
        vec![(MessageSortKey::CreatedAt, Direction::Ascending)],
        vec![(MessageSortKey::CreatedAt, Direction::Descending)],
        vec![(MessageSortKey::UpdatedAt, Direction::Descending)],
        vec![(MessageSortKey::ThreadLastAt, Direction::Descending)],
    ];
    for room_id in ROOMS {
        for filter in &message_filters {
            same!(from, to, |s| s.count_room_messages(room_id, filter));
            for sort in &message_sorts {
                for (offset, count) in [(0, None), (1, Some(3))] {
                    let page = Page {
                        offset,
                        count,
                        sort: sort.clone(),
                    };
                    same!(from, to, |s| s.room_messages(room_id, filter, &page));
                }
            }
        }
        same!(from, to, |s| s.deleted_messages(room_id, at(0)));
        same!(from, to, |s| s.deleted_messages(room_id, at(51)));
    }
    // Best-match order is each engine's own (bm25, ts_rank): compare what is found, and the
    // order only where it is by time.
    let search_filters = [
        MessageFilter::default(),
        MessageFilter {
            hide_thread_replies: true,
            ..MessageFilter::default()
        },
    ];
    for room_id in ["r1", "r2", "r3", "r4"] {
        for filter in &search_filters {
            for text in [
                "hello",
                "WÖRLD",
                "implantacao",
                "مرحبا",
                "你好世界",
                "привет",
                "on",
                "purge",
                "delete",
                "discuss",
                "nothing-like-it",
            ] {
                let ids = |found: Vec<Message>| {
                    let mut ids: Vec<String> = found.into_iter().map(|m| m.id).collect();
                    ids.sort();
                    ids
                };
                let before = ids(from
                    .search_messages(room_id, text, filter, false, 0, None)
                    .await
                    .unwrap());
                let after = ids(to
                    .search_messages(room_id, text, filter, false, 0, None)
                    .await
                    .unwrap());
                assert_eq!(after, before, "search {text:?} in {room_id}");
            }
            for oldest_first in [false, true] {
                same!(from, to, |s| s.search_messages(
                    room_id,
                    "",
                    filter,
                    oldest_first,
                    1,
                    Some(4)
                ));
            }
        }
    }
    let found = to
        .search_messages(
            "r1",
            "implantacao",
            &MessageFilter::default(),
            false,
            0,
            None,
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "diacritics fold on the target too");
    let found = to
        .search_messages("r1", "delete", &MessageFilter::default(), false, 0, None)
        .await
        .unwrap();
    assert!(found.is_empty(), "tombstones are not found");

    // An import is one transaction, and refuses what exists.
    let newcomer = user("n1", "newcomer", "new@example.com", at(90));
    let copy_of_ann = to.user_by_id("a1").await.unwrap().unwrap();
    assert!(matches!(
        to.import(&[Record::User(newcomer), Record::User(copy_of_ann)])
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(to.user_by_id("n1").await.unwrap().is_none());

    // Both go on alike: counters continue from where they were, pruning keeps the same token.
    for store in [from, to] {
        let mut m = message("m-new", "r1", &ann, "after the move @all", at(95));
        m.thread_id = Some("m1".into());
        m.thread_show = true;
        store
            .post_message(
                &m,
                &PostEffects {
                    group_mention: true,
                    ..posted()
                },
            )
            .await
            .unwrap();
        assert!(store.delete_message("m10", at(96)).await.unwrap());
        assert_eq!(store.prune_login_tokens("a1", 1).await.unwrap(), 2);
    }
    same!(from, to, |s| s.room_by_id("r1"));
    same!(from, to, |s| s.message_by_id("m1"));
    for user_id in USERS {
        same!(from, to, |s| s.subscription("r1", user_id));
    }
    for hashed in ["h-a1", "h-a2", "h-a3"] {
        let kept = same!(from, to, |s| s.user_by_token(hashed));
        assert_eq!(kept.is_some(), hashed == "h-a3", "{hashed}");
    }
}
