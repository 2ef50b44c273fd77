//! One DDP connection as the web client keeps it: `connect`, methods with results, stream
//! subscriptions with `ready`/`nosub`, heartbeats answered, stream events counted.

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{Mutex, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

type Sink = SplitSink<WebSocketStream<TcpStream>, Message>;

/// How a request on the connection ended.
enum Answer {
    Result(Value),
    Error(Value),
    Ready,
    NoSub(Value),
}

struct Shared {
    sink: Mutex<Sink>,
    pending: std::sync::Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    closed: AtomicBool,
}

/// A live DDP connection; the reader task ends when the socket closes.
pub struct Ddp {
    shared: Arc<Shared>,
    next_id: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
    timeout: Duration,
}

const CONNECTED: &str = "connected";

impl Ddp {
    /// Opens the WebSocket from loopback source address number `index % sources` and waits
    /// for `connected`.
    pub async fn open(
        url: &str,
        server: SocketAddr,
        index: usize,
        sources: u8,
        timeout: Duration,
        events: Arc<AtomicU64>,
    ) -> Result<Ddp, String> {
        let ws = tokio::time::timeout(
            timeout,
            comet_bench::net::connect(url, server, index, sources),
        )
        .await
        .map_err(|_| "timeout".to_owned())??;
        let (sink, stream) = ws.split();
        let shared = Arc::new(Shared {
            sink: Mutex::new(sink),
            pending: std::sync::Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        });
        let (connected_tx, connected_rx) = oneshot::channel();
        if let Ok(mut pending) = shared.pending.lock() {
            pending.insert(CONNECTED.to_owned(), connected_tx);
        }
        let reader = tokio::spawn(read(stream, shared.clone(), events));
        let ddp = Ddp {
            shared,
            next_id: AtomicU64::new(1),
            reader,
            timeout,
        };
        ddp.send(json!({"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]}))
            .await?;
        match tokio::time::timeout(timeout, connected_rx).await {
            Ok(Ok(_)) => Ok(ddp),
            Ok(Err(_)) => Err("closed before connected".into()),
            Err(_) => Err("timeout".into()),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Relaxed)
    }

    async fn send(&self, frame: Value) -> Result<(), String> {
        let mut sink = self.shared.sink.lock().await;
        tokio::time::timeout(
            self.timeout,
            sink.send(Message::Text(frame.to_string().into())),
        )
        .await
        .map_err(|_| "timeout".to_owned())?
        .map_err(|e| format!("send: {e}"))
    }

    async fn exchange(&self, id: String, frame: Value) -> Result<Answer, String> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut pending) = self.shared.pending.lock() {
            pending.insert(id.clone(), tx);
        }
        if let Err(e) = self.send(frame).await {
            self.forget(&id);
            return Err(e);
        }
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err("connection closed".into()),
            Err(_) => {
                self.forget(&id);
                Err("timeout".into())
            }
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut pending) = self.shared.pending.lock() {
            pending.remove(id);
        }
    }

    /// Calls a method; its result, or the error it answered with.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        let frame = json!({"msg": "method", "id": id, "method": method, "params": params});
        match self.exchange(id, frame).await? {
            Answer::Result(result) => Ok(result),
            Answer::Error(error) => Err(format!(
                "error {}",
                error["error"].as_str().map_or_else(
                    || error["error"].to_string(),
                    std::borrow::ToOwned::to_owned
                )
            )),
            Answer::Ready | Answer::NoSub(_) => Err("unexpected answer".into()),
        }
    }

    /// Subscribes to a stream event as the web client does (`[eventName, {useCollection:
    /// false, args: []}]`) and waits for `ready`; returns the subscription id.
    pub async fn subscribe(&self, stream: &str, event: &str) -> Result<String, String> {
        let id = format!("s{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let frame = json!({"msg": "sub", "id": id, "name": stream,
            "params": [event, {"useCollection": false, "args": []}]});
        match self.exchange(id.clone(), frame).await? {
            Answer::Ready => Ok(id),
            Answer::NoSub(error) => Err(format!("nosub {}", error["error"]["error"])),
            Answer::Result(_) | Answer::Error(_) => Err("unexpected answer".into()),
        }
    }

    /// Ends a subscription (the server answers `nosub`, which nobody waits for).
    pub async fn unsubscribe(&self, id: &str) -> Result<(), String> {
        self.send(json!({"msg": "unsub", "id": id})).await
    }

    /// Closes the connection and waits (briefly) for the reader to end.
    pub async fn close(mut self) {
        {
            let mut sink = self.shared.sink.lock().await;
            let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
        }
        if tokio::time::timeout(Duration::from_secs(2), &mut self.reader)
            .await
            .is_err()
        {
            self.reader.abort();
        }
    }
}

impl Drop for Ddp {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Routes every incoming frame: answers to whoever waits, pongs to pings, events counted.
async fn read(
    mut stream: futures_util::stream::SplitStream<WebSocketStream<TcpStream>>,
    shared: Arc<Shared>,
    events: Arc<AtomicU64>,
) {
    while let Some(Ok(frame)) = stream.next().await {
        let Message::Text(text) = frame else { continue };
        let Ok(frame) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let deliver = |id: &str, answer: Answer| {
            if let Ok(mut pending) = shared.pending.lock()
                && let Some(waiting) = pending.remove(id)
            {
                let _ = waiting.send(answer);
            }
        };
        match frame["msg"].as_str().unwrap_or_default() {
            "changed" | "added" | "removed" => {
                events.fetch_add(1, Ordering::Relaxed);
            }
            "ping" => {
                let pong = match frame.get("id") {
                    Some(id) => json!({"msg": "pong", "id": id}),
                    None => json!({"msg": "pong"}),
                };
                let mut sink = shared.sink.lock().await;
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    sink.send(Message::Text(pong.to_string().into())),
                )
                .await;
            }
            "result" => {
                let id = frame["id"].as_str().unwrap_or_default();
                match frame.get("error") {
                    Some(error) => deliver(id, Answer::Error(error.clone())),
                    None => deliver(id, Answer::Result(frame["result"].clone())),
                }
            }
            "ready" => {
                for id in frame["subs"].as_array().into_iter().flatten() {
                    deliver(id.as_str().unwrap_or_default(), Answer::Ready);
                }
            }
            "nosub" => {
                let id = frame["id"].as_str().unwrap_or_default();
                deliver(id, Answer::NoSub(frame.clone()));
            }
            "connected" => deliver(CONNECTED, Answer::Ready),
            _ => {}
        }
    }
    shared.closed.store(true, Ordering::Relaxed);
    // Whoever still waits learns that the connection is gone.
    if let Ok(mut pending) = shared.pending.lock() {
        pending.clear();
    }
}
