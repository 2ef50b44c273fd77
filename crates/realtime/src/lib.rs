//! Rocket.Chat's realtime API: DDP over WebSocket at `/websocket` (and SockJS's raw path),
//! with Meteor methods and the streams clients subscribe to, fed by the event bus.

pub mod hub;
pub mod outbox;
mod session;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use comet_protocol::ddp::Framing;
use comet_service::{ClientInfo, Service};
use std::net::SocketAddr;
use std::sync::Arc;

/// Largest DDP message a client may send.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

/// Bytes read from a client's socket at a time.
const READ_BUFFER_BYTES: usize = 1024;

/// The realtime side of a server: the service and the hub of live sessions.
pub struct Realtime {
    pub service: Arc<Service>,
    pub hub: hub::Hub,
}

impl Realtime {
    /// Creates the hub and starts feeding it from the service's event bus.
    pub fn start(service: Arc<Service>) -> Arc<Realtime> {
        let realtime = Arc::new(Realtime {
            service,
            hub: hub::Hub::default(),
        });
        let mut events = realtime.service.events().subscribe();
        let dispatcher = Arc::downgrade(&realtime);
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        let Some(realtime) = dispatcher.upgrade() else {
                            break;
                        };
                        realtime.hub.dispatch(&event.event);
                        if let comet_events::Event::Room {
                            room,
                            last_message: Some(message),
                        } = &event.event
                        {
                            realtime.push_member_subscriptions(&room.id, &message.author.id);
                            realtime.push_notifications(room, message);
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        let Some(realtime) = dispatcher.upgrade() else {
                            break;
                        };
                        // Events were lost for every session at once: none may go on as if
                        // nothing happened, so all reconnect and catch up.
                        let closed = realtime.hub.close_all(1013, "missed events");
                        tracing::warn!(
                            missed,
                            closed,
                            "realtime dispatcher fell behind the event bus; sessions closed to resync"
                        );
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        realtime
    }
}

impl Realtime {
    /// After a new message, connected members see their unread state change: their
    /// subscriptions are loaded (off the dispatch loop) and pushed to them.
    fn push_member_subscriptions(self: &Arc<Self>, room_id: &str, author_id: &str) {
        let members: Vec<String> = self
            .hub
            .members_listening(room_id, "subscriptions-changed")
            .into_iter()
            .filter(|u| u != author_id)
            .collect();
        if members.is_empty() {
            return;
        }
        let realtime = self.clone();
        let room_id = room_id.to_owned();
        tokio::spawn(async move {
            match realtime
                .service
                .rooms()
                .member_subscriptions(&room_id, &members)
                .await
            {
                Ok(subscriptions) => {
                    for subscription in &subscriptions {
                        realtime.hub.send_subscription(subscription);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not load subscriptions to push"),
            }
        });
    }
}

impl Realtime {
    /// Desktop notifications (`<uid>/notification`) of a new message for the users listening
    /// here, as the service's notification policy decides.
    fn push_notifications(
        self: &Arc<Self>,
        room: &comet_core::room::Room,
        message: &comet_core::room::Message,
    ) {
        let listening = self.hub.members_listening(&room.id, "notification");
        let candidates = self
            .service
            .messages()
            .notification_candidates(room, message, listening);
        if candidates.is_empty() {
            return;
        }
        let realtime = self.clone();
        let room = room.clone();
        let message = message.clone();
        tokio::spawn(async move {
            let notifications = match realtime
                .service
                .messages()
                .desktop_notifications(&room, &message, &candidates)
                .await
            {
                Ok(notifications) => notifications,
                Err(e) => {
                    tracing::warn!(error = %e, "could not decide desktop notifications");
                    return;
                }
            };
            for notification in &notifications {
                realtime
                    .hub
                    .send_notification(&notification.user_id, notification_frame(notification));
            }
        });
    }
}

/// A desktop notification as upstream's clients read it.
fn notification_frame(n: &comet_service::notifications::DesktopNotification) -> serde_json::Value {
    let mut payload = serde_json::json!({
        "_id": n.message_id,
        "rid": n.room_id,
        "sender": {"_id": n.sender.id, "username": n.sender.username, "name": n.sender_name},
        "type": n.room_type.as_str(),
        "name": n.room_name,
        "message": {"msg": n.message_text},
    });
    if let (Some(tmid), serde_json::Value::Object(map)) = (&n.thread_id, &mut payload) {
        map.insert("tmid".into(), serde_json::json!(tmid));
    }
    serde_json::json!({"title": n.title, "text": n.text, "payload": payload})
}

fn client_info(peer: Option<SocketAddr>, headers: &HeaderMap) -> ClientInfo {
    ClientInfo {
        ip: peer.map(|p| p.ip()),
        user_agent: headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

fn upgrade(
    realtime: Arc<Realtime>,
    ws: WebSocketUpgrade,
    framing: Framing,
    client: ClientInfo,
) -> Response {
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // Small explicit buffers: tungstenite's defaults hold over 100 KiB per connection. The
        // read buffer stays allocated (and filled) for the connection's life, and clients'
        // DDP messages are mostly well under 1 KiB; a larger message is read in several
        // reads into a buffer reserved for its whole length. Writes are gathered up to 4 KiB
        // so that a burst of frames costs few writes.
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(4 * 1024)
        .on_upgrade(move |socket| session::run(realtime, socket, framing, client))
}

/// `GET /websocket`: DDP with one JSON message per text frame.
async fn websocket(
    State(realtime): State<Arc<Realtime>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(
        realtime,
        ws,
        Framing::Raw,
        client_info(Some(peer), &headers),
    )
}

/// `GET /sockjs/:server/:session/websocket`: DDP inside SockJS frames.
async fn sockjs(
    State(realtime): State<Arc<Realtime>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(
        realtime,
        ws,
        Framing::SockJs,
        client_info(Some(peer), &headers),
    )
}

/// `GET /sockjs/info`: what SockJS clients (Meteor's DDP client among them) ask before
/// choosing a transport, answered as Meteor's SockJS server does. Only the WebSocket
/// transport is served.
async fn sockjs_info() -> Response {
    let info = serde_json::json!({
        "websocket": true,
        "origins": ["*:*"],
        "cookie_needed": false,
        "entropy": comet_core::id::random_u32(),
    });
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/json; charset=UTF-8",
            ),
            (
                axum::http::header::CACHE_CONTROL,
                "no-store, no-cache, no-transform, must-revalidate, max-age=0",
            ),
            (axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        info.to_string(),
    )
        .into_response()
}

/// The realtime routes.
pub fn router(realtime: Arc<Realtime>) -> Router {
    Router::new()
        .route("/websocket", get(websocket))
        .route("/sockjs/info", get(sockjs_info))
        .route("/sockjs/{server}/{session}/websocket", get(sockjs))
        .with_state(realtime)
}
