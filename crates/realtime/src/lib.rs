//! Rocket.Chat's realtime API: DDP over WebSocket at `/websocket` (and SockJS's raw path),
//! with Meteor methods and the streams clients subscribe to, fed by the event bus.

pub mod hub;
mod session;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use comet_service::{ClientInfo, Service};
use std::net::SocketAddr;
use std::sync::Arc;

/// Largest DDP message a client may send.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

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
                        realtime.hub.dispatch(&event);
                        if let comet_events::Event::Room {
                            room,
                            last_message: Some(message),
                        } = &*event
                        {
                            realtime.push_member_subscriptions(&room.id, &message.author.id);
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "realtime dispatcher fell behind the event bus");
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
            .members_watching_subscriptions(room_id)
            .into_iter()
            .filter(|u| u != author_id)
            .collect();
        if members.is_empty() {
            return;
        }
        let realtime = self.clone();
        let room_id = room_id.to_owned();
        tokio::spawn(async move {
            for user_id in members {
                match realtime
                    .service
                    .member_subscription(&room_id, &user_id)
                    .await
                {
                    Ok(Some(subscription)) => realtime.hub.send_subscription(&subscription),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "could not load a subscription to push"),
                }
            }
        });
    }
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
    framing: session::Framing,
    client: ClientInfo,
) -> Response {
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
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
        session::Framing::Raw,
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
        session::Framing::SockJs,
        client_info(Some(peer), &headers),
    )
}

/// The realtime routes.
pub fn router(realtime: Arc<Realtime>) -> Router {
    Router::new()
        .route("/websocket", get(websocket))
        .route("/sockjs/{server}/{session}/websocket", get(sockjs))
        .with_state(realtime)
}
