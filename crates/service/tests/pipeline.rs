//! The message pipeline and the events it publishes, tested at the service without HTTP:
//! filters apply to every message, a refusal stores nothing, concurrent changes to one message
//! are all kept, and every event names who caused it.

mod harness;

use comet_events::{Actor, Cause, Event};
use comet_service::messages::NewMessage;
use harness::TestService;
use serde_json::json;

fn text(text: &str) -> NewMessage {
    NewMessage {
        text: text.into(),
        ..NewMessage::default()
    }
}

#[tokio::test]
async fn filters_rewrite_what_is_stored_and_sent() {
    let t = TestService::start().await;
    let admin = t.admin().await;
    let ann = t.member("ann").await;
    let room = t.channel(&admin, "filtered", &["ann"]).await;
    t.set("Message_BadWordsFilterList", json!("heck")).await;
    t.set("Message_AllowBadWordsFilter", json!(true)).await;
    let mut events = t.service.events().subscribe();

    let sent = t
        .service
        .messages()
        .send_message(&ann, &room, text("what the HECK"))
        .await
        .expect("sent");
    assert_eq!(sent.text, "what the ****");
    let (stored, _) = t
        .service
        .messages()
        .readable_message(&ann, &sent.id)
        .await
        .expect("stored");
    assert_eq!(stored.text, "what the ****");
    let published = loop {
        let envelope = events.recv().await.expect("event");
        if let Event::Message(message) = &envelope.event {
            break (**message).clone();
        }
    };
    assert_eq!(published.text, "what the ****");

    // Turned off, the filter leaves messages alone.
    t.set("Message_AllowBadWordsFilter", json!(false)).await;
    let plain = t
        .service
        .messages()
        .send_message(&ann, &room, text("heck"))
        .await
        .expect("sent");
    assert_eq!(plain.text, "heck");
}

#[tokio::test]
async fn events_carry_the_actor_and_cause_of_the_request() {
    let t = TestService::start().await;
    let admin = t.admin().await;
    let room = t.channel(&admin, "attributed", &[]).await;
    let mut events = t.service.events().subscribe();
    let cause = comet_service::request_cause(Some(&admin), "request-42".into());
    let sent = comet_service::with_cause(
        cause,
        t.service.messages().send_message(&admin, &room, text("hi")),
    )
    .await
    .expect("sent");
    let envelope = loop {
        let envelope = events.recv().await.expect("event");
        if matches!(&envelope.event, Event::Message(m) if m.id == sent.id) {
            break envelope;
        }
    };
    assert_eq!(
        envelope.actor,
        Actor::User {
            id: admin.user.id.clone(),
            username: "admin".into()
        }
    );
    assert_eq!(envelope.cause.as_deref(), Some("request-42"));
    assert_eq!(envelope.version, comet_events::EVENT_VERSION);
    assert_eq!(envelope.instance, t.service.config().instance_id);

    // Outside any request, the system acts.
    let system = comet_events::current_cause();
    assert_eq!(
        system,
        Cause {
            actor: Actor::System,
            request_id: None
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reactions_stars_and_pins_are_all_kept() {
    let t = TestService::start().await;
    let admin = t.admin().await;
    let mut members = Vec::new();
    for i in 0..6 {
        members.push(t.member(&format!("m{i}")).await);
    }
    let names: Vec<String> = (0..6).map(|i| format!("m{i}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let room = t.channel(&admin, "busy", &name_refs).await;
    let root = t
        .service
        .messages()
        .send_message(&members[0], &room, text("root"))
        .await
        .expect("root");
    let service = &t.service;
    let work = members.iter().enumerate().map(|(i, member)| {
        let id = root.id.clone();
        let room_id = root.room_id.clone();
        async move {
            service
                .messages()
                .star_message(member, &id, true)
                .await
                .expect("star");
            for round in 0..5 {
                service
                    .messages()
                    .react(member, &id, &format!("e{round}"), Some(true))
                    .await
                    .expect("react");
            }
            if i == 0 {
                for round in 0..4 {
                    service
                        .messages()
                        .update_message(member, &room_id, &id, &format!("edit {round}"), None, None)
                        .await
                        .expect("edit");
                }
            }
        }
    });
    let pins = async {
        for _ in 0..3 {
            service
                .messages()
                .pin_message(&admin, &root.id, true)
                .await
                .expect("pin");
            service
                .messages()
                .pin_message(&admin, &root.id, false)
                .await
                .expect("unpin");
        }
        service
            .messages()
            .pin_message(&admin, &root.id, true)
            .await
            .expect("pin");
    };
    tokio::join!(futures_util::future::join_all(work), pins);
    let (last, _) = service
        .messages()
        .readable_message(&admin, &root.id)
        .await
        .expect("read");
    assert_eq!(last.text, "edit 3");
    assert!(last.pinned);
    assert_eq!(last.starred_by.len(), 6, "{:?}", last.starred_by);
    assert_eq!(last.reactions.len(), 5);
    for users in last.reactions.values() {
        assert_eq!(users.len(), 6, "{:?}", last.reactions);
    }
}
