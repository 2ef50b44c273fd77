//! The NATS bus against a real nats-server (path in `NATS_SERVER_BIN`, which `scripts/test`
//! sets; outside CI the tests are skipped with a note when it is unset).

use comet_events::{Actor, Cause, Envelope, Event, EventBus, NatsBus};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Longest any wait may take.
const WAIT: Duration = Duration::from_secs(10);

struct NatsServer {
    child: Child,
    url: String,
    port: u16,
    binary: String,
}

impl NatsServer {
    /// Starts nats-server on a free loopback port, or `None` when there is none to start.
    fn start() -> Option<NatsServer> {
        let binary = match std::env::var("NATS_SERVER_BIN") {
            Ok(binary) if !binary.is_empty() => binary,
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "NATS_SERVER_BIN is not set: run scripts/test, or export NATS_SERVER_BIN=$(scripts/nats-server.sh)"
                );
                eprintln!(
                    "skipped: NATS_SERVER_BIN is not set (export NATS_SERVER_BIN=$(scripts/nats-server.sh))"
                );
                return None;
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut server = NatsServer {
            child: Self::spawn(&binary, port),
            url: format!("nats://127.0.0.1:{port}"),
            port,
            binary,
        };
        server.wait_until_up();
        Some(server)
    }

    fn spawn(binary: &str, port: u16) -> Child {
        Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server")
    }

    fn wait_until_up(&mut self) {
        let deadline = std::time::Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        self.child = Self::spawn(&self.binary, self.port);
        self.wait_until_up();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn deleted(id: &str) -> Event {
    Event::MessageDeleted {
        room_id: "GENERAL".into(),
        message_id: id.into(),
    }
}

fn system(event: Event) -> Envelope {
    Envelope::new("test", event)
}

/// The next event to arrive (without its envelope).
async fn next(rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<Envelope>>) -> Event {
    next_envelope(rx).await.event
}

async fn next_envelope(
    rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<Envelope>>,
) -> Envelope {
    let envelope = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("an event in time")
        .expect("bus open");
    (*envelope).clone()
}

/// Nothing more arrives for a while.
async fn quiet(rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<Envelope>>) {
    if let Ok(Ok(extra)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        panic!("unexpected extra event {extra:?}");
    }
}

#[tokio::test]
async fn events_reach_every_instance_exactly_once() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let a = NatsBus::connect(&server.url, "a").await.expect("a");
    let b = NatsBus::connect(&server.url, "b").await.expect("b");
    let mut on_a = a.subscribe();
    let mut on_b = b.subscribe();
    // Subscriptions are live once a round trip has gone through.
    tokio::time::sleep(Duration::from_millis(300)).await;

    a.publish(system(deleted("m1")));
    assert_eq!(next(&mut on_a).await, deleted("m1"));
    assert_eq!(next(&mut on_b).await, deleted("m1"));
    b.publish(system(deleted("m2")));
    assert_eq!(next(&mut on_a).await, deleted("m2"));
    assert_eq!(next(&mut on_b).await, deleted("m2"));
    quiet(&mut on_a).await;
    quiet(&mut on_b).await;

    // Everything an envelope carries survives the trip: who, when, where, why, and a message
    // with its dates and mentions.
    let mut message = comet_core::room::Message::new(
        "m3".into(),
        "GENERAL",
        comet_core::room::UserStub {
            id: "u1".into(),
            username: "ann".into(),
            name: Some("Ann".into()),
        },
        "hi @ben",
        comet_core::now(),
    );
    message.mentions = vec![comet_core::room::Mention {
        id: "u2".into(),
        username: "ben".into(),
        name: None,
    }];
    let cause = Cause {
        actor: Actor::User {
            id: "u1".into(),
            username: "ann".into(),
        },
        request_id: Some("request-1".into()),
    };
    let envelope = comet_events::with_cause(cause, async {
        Envelope::new("a", Event::Message(Box::new(message)))
    })
    .await;
    a.publish(envelope.clone());
    assert_eq!(next_envelope(&mut on_b).await, envelope);
    assert_eq!(
        a.stats()
            .published
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}

#[tokio::test]
async fn an_instance_without_nats_keeps_serving_its_own_and_recovers() {
    let Some(mut server) = NatsServer::start() else {
        return;
    };
    let a = NatsBus::connect(&server.url, "a").await.expect("a");
    let b = NatsBus::connect(&server.url, "b").await.expect("b");
    let mut on_a = a.subscribe();
    let mut on_b = b.subscribe();
    tokio::time::sleep(Duration::from_millis(300)).await;

    server.stop();
    a.publish(system(deleted("while-down")));
    assert_eq!(next(&mut on_a).await, deleted("while-down"));

    server.restart();
    // Both clients reconnect on their own; then events flow between them again.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(a.connected() && b.connected()) {
        assert!(
            std::time::Instant::now() < deadline,
            "clients did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // What was published while NATS was away may or may not have been buffered by the client;
    // drain it, then check live traffic.
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(300), on_b.recv()).await {}
    a.publish(system(deleted("after")));
    assert_eq!(next(&mut on_a).await, deleted("after"));
    assert_eq!(next(&mut on_b).await, deleted("after"));
}
