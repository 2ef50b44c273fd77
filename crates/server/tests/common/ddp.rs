//! A minimal DDP client for the tests: connect, call, subscribe, wait for frames (every wait
//! with a timeout, answering pings on the way).

use super::{PASSWORD, TestServer, sha256_hex};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Longest any single wait for a frame may take.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Ddp {
    pub socket: Socket,
    pub next_id: u64,
}

impl Ddp {
    pub async fn connect(server: &TestServer) -> Ddp {
        Self::connect_to(&server.base).await
    }

    /// Connects to the server at `base` (`http://host:port`).
    pub async fn connect_to(base: &str) -> Ddp {
        let url = format!("{}/websocket", base.replace("http://", "ws://"));
        let (socket, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("connect");
        let mut ddp = Ddp { socket, next_id: 0 };
        ddp.send(json!({"msg": "connect", "version": "1", "support": ["1"]}))
            .await;
        let connected = ddp.until(|m| m["msg"] == "connected").await;
        assert!(connected["session"].is_string());
        ddp
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    /// The next frame matching `want`, answering pings on the way.
    pub async fn until(&mut self, want: impl Fn(&Value) -> bool) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a frame in time")
                .expect("open socket")
                .expect("frame");
            let Message::Text(text) = frame else { continue };
            let value: Value = serde_json::from_str(&text).expect("json");
            if value["msg"] == "ping" {
                self.send(json!({"msg": "pong"})).await;
                continue;
            }
            if want(&value) {
                return value;
            }
        }
    }

    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.send(json!({"msg": "method", "id": id, "method": method, "params": params}))
            .await;
        self.until(|m| m["msg"] == "result" && m["id"] == json!(id))
            .await
    }

    pub async fn sub(&mut self, name: &str, event: &str) -> Value {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.send(json!({"msg": "sub", "id": id, "name": name, "params": [event, {"useCollection": false, "args": []}]}))
            .await;
        self.until(|m| {
            (m["msg"] == "ready" && m["subs"][0] == json!(id))
                || (m["msg"] == "nosub" && m["id"] == json!(id))
        })
        .await
    }

    pub async fn login(&mut self, username: &str) -> Value {
        self.login_with(username, PASSWORD).await
    }

    pub async fn login_with(&mut self, username: &str, password: &str) -> Value {
        let reply = self
            .call(
                "login",
                json!([{"user": {"username": username}, "password": {"digest": sha256_hex(password), "algorithm": "sha-256"}}]),
            )
            .await;
        assert!(reply.get("error").is_none(), "{reply}");
        reply["result"].clone()
    }
}
