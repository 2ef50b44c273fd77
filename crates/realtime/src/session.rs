//! One DDP connection: handshake, heartbeats, methods and subscriptions.

use crate::Realtime;
use crate::hub::{
    NOTIFY_ALL, NOTIFY_LOGGED, NOTIFY_ROOM, NOTIFY_USER, ROLES, ROOM_MESSAGES, USER_PRESENCE,
    stream_name,
};
use crate::outbox::{Frame, Next, Outbox, Outgoing};
use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use comet_core::user::Presence;
use comet_core::{Error, ErrorKind};
use comet_methods::{MethodContext, Outcome, error_object, result_message};
use comet_protocol::ddp::{Framing, decode_frame};
use comet_service::listening::Listening;
use comet_service::ratelimit::{Allowance, DdpCall};
use comet_service::{ClientInfo, Session};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Silence after which the server pings, and after which a silent client is dropped: Meteor's
/// DDP heartbeat (15 s interval, 15 s timeout), which clients and proxies are tuned to.
const IDLE: Duration = Duration::from_secs(15);

/// Meteor publications that clients subscribe to on connecting and that hold no documents
/// here (no OAuth services are configured; the client bundle is not Meteor's): they answer
/// `ready` so that the clients go on.
const EMPTY_PUBLICATIONS: &[&str] = &[
    "meteor.loginServiceConfiguration",
    "meteor_autoupdate_clientVersions",
];

/// Whether a logged-in connection counts as online or away: away while the client says so
/// (`UserPresence:away`) or while it has done nothing but heartbeats for the user's idle time
/// limit (their `enableAutoAway` / `idleTimeLimit` preferences).
struct Activity {
    client_away: bool,
    idle: bool,
    last_active: tokio::time::Instant,
    idle_after: Option<Duration>,
}

impl Activity {
    fn new() -> Self {
        Activity {
            client_away: false,
            idle: false,
            last_active: tokio::time::Instant::now(),
            idle_after: None,
        }
    }

    fn presence(&self) -> Presence {
        if self.client_away || self.idle {
            Presence::Away
        } else {
            Presence::Online
        }
    }

    /// When the connection turns idle unless something happens first.
    fn idle_deadline(&self) -> Option<tokio::time::Instant> {
        match self.idle_after {
            Some(limit) if !self.idle => Some(self.last_active + limit),
            _ => None,
        }
    }
}

/// The user's auto-away preferences, as `me` reports them (defaults from settings).
fn idle_limit(realtime: &Realtime, session: &Session) -> Option<Duration> {
    let preferences = realtime.service.accounts().me(&session.user).preferences;
    let enabled = preferences
        .get("enableAutoAway")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let seconds = preferences
        .get("idleTimeLimit")
        .and_then(Value::as_u64)
        .unwrap_or(300);
    (enabled && seconds > 0).then(|| Duration::from_secs(seconds))
}

/// The bytes to put on the wire: raw frames go out as they are, shared with every other
/// recipient; SockJS wraps each in its own `a[...]` envelope.
fn encode(framing: Framing, frame: Frame) -> Utf8Bytes {
    match framing {
        Framing::Raw => frame,
        Framing::SockJs => Utf8Bytes::from(format!("a{}", json!([frame.as_str()]))),
    }
}

/// Frames written to the socket before it is flushed: a burst costs one write, not one each.
const WRITE_BATCH: usize = 64;

/// A fixed-window counter.
struct Window {
    started: tokio::time::Instant,
    calls: u64,
}

impl Window {
    /// Counts a call; `Err(time until the window resets)` when over the allowance.
    fn hit(&mut self, allowance: Allowance) -> Result<(), Duration> {
        let now = tokio::time::Instant::now();
        if now.duration_since(self.started) >= allowance.period {
            self.started = now;
            self.calls = 0;
        }
        self.calls += 1;
        if self.calls > allowance.calls {
            return Err(allowance
                .period
                .saturating_sub(now.duration_since(self.started)));
        }
        Ok(())
    }

    fn new() -> Self {
        Window {
            started: tokio::time::Instant::now(),
            calls: 0,
        }
    }
}

/// One DDP subscription of the connection.
struct Subscription {
    id: Box<str>,
    stream: &'static str,
    event_name: Box<str>,
    /// Made with `useCollection: true`: such a stream shows as one document (`id: "id"`) of
    /// the collection named after it, `added` with the first such subscription and `removed`
    /// with the last, as Meteor's streamer does for collection clients.
    collection: bool,
}

/// What a connection keeps between messages. Vectors rather than maps: most connections hold
/// a handful of subscriptions and call a handful of methods, and an empty vector allocates
/// nothing.
struct State {
    /// Method calls per method name (at most 256 names, then forgotten), and in all.
    method_windows: Vec<(Box<str>, Window)>,
    connection_window: Window,
    hub_id: u64,
    session: Option<Session>,
    subscriptions: Vec<Subscription>,
    /// Per stream, how many of its subscriptions use the collection.
    collection_documents: Vec<(&'static str, usize)>,
    client: ClientInfo,
    activity: Activity,
}

impl State {
    fn subscription(&self, id: &str) -> Option<usize> {
        self.subscriptions.iter().position(|s| &*s.id == id)
    }
}

/// Runs a connection until it closes.
///
/// One task per connection: the reader (DDP messages in, answers queued) and the writer
/// (queued frames out) are two futures polled together in the connection's task, so that a
/// slow client's socket never holds up reading, and a full queue never holds up writing.
pub async fn run(realtime: Arc<Realtime>, socket: WebSocket, framing: Framing, client: ClientInfo) {
    let (sink, mut stream) = socket.split();
    let outbox = Arc::new(Outbox::default());
    let hub_id = realtime.hub.join(outbox.clone());
    comet_metrics::REALTIME_CONNECTIONS.inc();
    let writer = write_frames(sink, &outbox, framing);
    tokio::pin!(writer);
    let mut writer_done = false;
    {
        let reading = read_messages(&realtime, &mut stream, &outbox, framing, client, hub_id);
        tokio::pin!(reading);
        loop {
            tokio::select! {
                () = &mut reading => break,
                () = &mut writer, if !writer_done => writer_done = true,
            }
        }
    }
    // The writer finishes what is queued and the close frame. Meanwhile, and after it until
    // the client answers the close, whatever the client still sends is read and dropped:
    // closing a socket with unread input resets it, and a reset makes the client discard what
    // it has not read yet, the close frame included. A client that reads nothing cannot hold
    // the writer (and the socket) past the grace time: the writer is dropped with the task.
    let drain = async { while let Some(Ok(_)) = stream.next().await {} };
    tokio::pin!(drain);
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if writer_done {
            let _ = tokio::time::timeout(CLOSE_ANSWER_WAIT, &mut drain).await;
            return;
        }
        tokio::select! {
            () = &mut writer => {
                let _ = tokio::time::timeout(CLOSE_ANSWER_WAIT, &mut drain).await;
            }
            () = &mut drain => {
                (&mut writer).await;
            }
        }
    })
    .await;
}

/// Reads DDP messages and acts on them until the connection ends, then takes the session out
/// of the hub and tells the writer that nothing more comes.
async fn read_messages(
    realtime: &Arc<Realtime>,
    stream: &mut SplitStream<WebSocket>,
    outbox: &Outbox,
    framing: Framing,
    client: ClientInfo,
    hub_id: u64,
) {
    let mut state = State {
        method_windows: Vec::new(),
        connection_window: Window::new(),
        hub_id,
        session: None,
        subscriptions: Vec::new(),
        collection_documents: Vec::new(),
        client,
        activity: Activity::new(),
    };
    let mut connected = false;
    let mut pinged = false;
    let mut last_heard = tokio::time::Instant::now();
    loop {
        let silence_deadline = last_heard + IDLE;
        let wake = state
            .activity
            .idle_deadline()
            .map_or(silence_deadline, |idle| idle.min(silence_deadline));
        let next = tokio::select! {
            biased;
            // The hub closed the session ahead of its queue: the writer sends the close.
            () = outbox.closing() => break,
            next = tokio::time::timeout_at(wake, stream.next()) => next,
        };
        let message = match next {
            Err(_) => {
                let now = tokio::time::Instant::now();
                if state.activity.idle_deadline().is_some_and(|at| at <= now) {
                    state.activity.idle = true;
                    // Boxed, as every action below: what an action holds while it waits is
                    // allocated for the action only, not for the connection's whole life.
                    Box::pin(report_presence(realtime, &state)).await;
                }
                if now < silence_deadline {
                    continue;
                }
                if pinged {
                    outbox.push(Outgoing::Close(4000, "timeout")).await;
                    break;
                }
                pinged = true;
                last_heard = now;
                send(outbox, json!({"msg": "ping"})).await;
                continue;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                if is_too_big(e) {
                    outbox.push(Outgoing::Close(1009, "message too big")).await;
                }
                break;
            }
            Ok(Some(Ok(message))) => message,
        };
        pinged = false;
        last_heard = tokio::time::Instant::now();
        let text = match message {
            WsMessage::Text(text) => text,
            WsMessage::Close(_) => break,
            WsMessage::Binary(_) => {
                outbox.push(Outgoing::Close(1007, "unsupported data")).await;
                break;
            }
            _ => continue,
        };
        if !Box::pin(handle_frame(
            realtime,
            outbox,
            &mut state,
            &mut connected,
            framing,
            text,
        ))
        .await
        {
            break;
        }
    }
    realtime.hub.leave(state.hub_id);
    comet_metrics::REALTIME_CONNECTIONS.dec();
    if let Some(session) = state.session.take() {
        log_presence(
            Box::pin(realtime.service.connections().connection_state(
                &session.user.id,
                state.hub_id,
                None,
            ))
            .await,
        );
    }
    outbox.finish();
}

/// Acts on one WebSocket text frame (one DDP message, or several in a SockJS frame); false
/// ends the connection.
async fn handle_frame(
    realtime: &Realtime,
    outbox: &Outbox,
    state: &mut State,
    connected: &mut bool,
    framing: Framing,
    text: Utf8Bytes,
) -> bool {
    let Some(batch) = decode_frame(framing, text.as_str()) else {
        send(outbox, json!({"msg": "error", "reason": "Bad request"})).await;
        outbox.push(Outgoing::Close(1002, "protocol error")).await;
        return false;
    };
    for ddp in batch {
        let kind = ddp.get("msg").and_then(Value::as_str).unwrap_or_default();
        if !*connected {
            if kind != "connect" {
                outbox.push(Outgoing::Close(1002, "protocol error")).await;
                return false;
            }
            let version = ddp.get("version").and_then(Value::as_str).unwrap_or("1");
            if !matches!(version, "1" | "pre1" | "pre2") {
                send(outbox, json!({"msg": "failed", "version": "1"})).await;
                return false;
            }
            *connected = true;
            send(
                outbox,
                json!({"msg": "connected", "session": comet_core::id::new_id()}),
            )
            .await;
            continue;
        }
        if !handle(realtime, outbox, state, kind, &ddp).await {
            return false;
        }
    }
    true
}

/// How long a closing connection may take to write its last frames and the close frame to a
/// client that reads slowly or not at all.
const CLOSE_GRACE: Duration = Duration::from_secs(30);

/// How long a closed connection waits for the client to answer its close frame before the
/// socket is dropped.
const CLOSE_ANSWER_WAIT: Duration = Duration::from_secs(3);

/// Whether a read failed because the client's message exceeded the frame size limit.
fn is_too_big(error: axum::Error) -> bool {
    error
        .into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

/// Tells the outbox, when the writer ends however it ends (finished, failed, or dropped with
/// the task after the grace time), that nothing queued will be written any more.
struct WriterGone<'a>(&'a Outbox);

impl Drop for WriterGone<'_> {
    fn drop(&mut self) {
        self.0.writer_gone();
    }
}

/// Writes queued frames to the socket in batches until the session has finished and its
/// queue is empty, or a close is asked for. A close asked for ahead of the queue
/// (`Outbox::close_now`) goes ahead of whatever is still queued, and interrupts a write that a
/// client not reading has blocked.
async fn write_frames(
    mut sink: SplitSink<WebSocket, WsMessage>,
    outbox: &Outbox,
    framing: Framing,
) {
    let _gone = WriterGone(outbox);
    if framing == Framing::SockJs
        && sink
            .send(WsMessage::Text(Utf8Bytes::from_static("o")))
            .await
            .is_err()
    {
        return;
    }
    let close = loop {
        let first = match outbox.next().await {
            Next::CloseNow(code, reason) => break (code, reason),
            Next::Item(item) => item,
            Next::End => return,
        };
        let batch = async {
            let mut next = Some(first);
            let mut written = 0;
            while let Some(outgoing) = next.take() {
                match outgoing {
                    Outgoing::Frame(frame) => {
                        sink.feed(WsMessage::Text(encode(framing, frame)))
                            .await
                            .map_err(|_| None)?;
                    }
                    Outgoing::Close(code, reason) => return Err(Some((code, reason))),
                }
                written += 1;
                if written < WRITE_BATCH {
                    next = outbox.pop();
                }
            }
            sink.flush().await.map_err(|_| None)
        };
        let outcome = tokio::select! {
            biased;
            close = outbox.close_ahead() => Err(Some(close)),
            outcome = batch => outcome,
        };
        match outcome {
            Ok(()) => {}
            Err(None) => return,
            Err(Some(close)) => break close,
        }
    };
    let (code, reason) = close;
    let frame = WsMessage::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }));
    // Bounded by the connection's grace time (see `run`).
    let _ = sink.send(frame).await;
}

/// Presence bookkeeping failing must not end the connection; it is logged.
fn log_presence(outcome: comet_core::Result<()>) {
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "presence update failed");
    }
}

/// Tells the service this connection's presence (if logged in).
async fn report_presence(realtime: &Realtime, state: &State) {
    if let Some(session) = &state.session {
        log_presence(
            realtime
                .service
                .connections()
                .connection_state(
                    &session.user.id,
                    state.hub_id,
                    Some(state.activity.presence()),
                )
                .await,
        );
    }
}

/// A client message other than a heartbeat: the connection is in use.
async fn became_active(realtime: &Realtime, state: &mut State) {
    state.activity.last_active = tokio::time::Instant::now();
    if state.activity.idle {
        state.activity.idle = false;
        report_presence(realtime, state).await;
    }
}

async fn send(outbox: &Outbox, message: Value) {
    outbox
        .push(Outgoing::Frame(Frame::from(message.to_string())))
        .await;
}

/// Handles one DDP message; false ends the connection.
async fn handle(
    realtime: &Realtime,
    outbox: &Outbox,
    state: &mut State,
    kind: &str,
    ddp: &Value,
) -> bool {
    match kind {
        "ping" => {
            let mut pong = json!({"msg": "pong"});
            if let (Some(id), Value::Object(map)) = (ddp.get("id"), &mut pong) {
                map.insert("id".into(), id.clone());
            }
            send(outbox, pong).await;
        }
        "pong" | "connect" => {}
        "method" => {
            became_active(realtime, state).await;
            if !refresh_session(realtime, outbox, state).await {
                return false;
            }
            method(realtime, outbox, state, ddp).await;
        }
        "sub" => {
            became_active(realtime, state).await;
            if !refresh_session(realtime, outbox, state).await {
                return false;
            }
            subscribe(realtime, outbox, state, ddp).await;
        }
        "unsub" => {
            let id = ddp
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Some(at) = state.subscription(&id) {
                let subscription = state.subscriptions.swap_remove(at);
                let stream = subscription.stream;
                realtime
                    .hub
                    .unlisten(state.hub_id, stream, &subscription.event_name);
                if subscription.collection
                    && let Some(at) = state
                        .collection_documents
                        .iter()
                        .position(|(s, _)| *s == stream)
                {
                    let remaining = &mut state.collection_documents[at].1;
                    *remaining = remaining.saturating_sub(1);
                    if *remaining == 0 {
                        state.collection_documents.swap_remove(at);
                        send(
                            outbox,
                            json!({"msg": "removed", "collection": stream, "id": "id"}),
                        )
                        .await;
                    }
                }
            }
            send(outbox, json!({"msg": "nosub", "id": id})).await;
        }
        _ => {
            send(
                outbox,
                json!({"msg": "error", "reason": "Bad request", "offendingMessage": ddp}),
            )
            .await;
        }
    }
    true
}

/// Reads the logged-in user and token again before the connection acts, so that a role,
/// permission or account change made anywhere applies to it at once. False when the session
/// has ended (token removed or expired, user deactivated or deleted): the connection is closed,
/// as Meteor closes connections whose login token is removed.
async fn refresh_session(realtime: &Realtime, outbox: &Outbox, state: &mut State) -> bool {
    let Some(session) = &state.session else {
        return true;
    };
    match realtime.service.accounts().current_session(session).await {
        Ok(current) => {
            state.session = Some(current);
            true
        }
        Err(e) if e.kind == ErrorKind::NotLoggedIn => {
            let name = format!("{}/force_logout", session.user.id);
            outbox
                .push(Outgoing::Frame(crate::hub::changed(
                    NOTIFY_USER,
                    &name,
                    json!([]),
                )))
                .await;
            outbox.push(Outgoing::Close(4001, "logged out")).await;
            false
        }
        // The database failing for a moment does not end the session: the action goes on
        // with what is known and will fail or succeed on its own.
        Err(e) => {
            tracing::warn!(error = %e, "could not refresh a realtime session");
            true
        }
    }
}

async fn method(realtime: &Realtime, outbox: &Outbox, state: &mut State, ddp: &Value) {
    let id = ddp.get("id").cloned().unwrap_or(Value::Null);
    let name = ddp
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let params = match ddp.get("params") {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    if let Err(wait) = rate_limit(realtime, state, name) {
        let error = Error::ddp_too_many_requests(duration_ms(wait));
        send(outbox, result_message(&id, &Err(error))).await;
        send(outbox, json!({"msg": "updated", "methods": [id]})).await;
        return;
    }
    if name == "logout" {
        // This connection's own logout ends its token everywhere; the connection itself stays
        // open (Meteor keeps it, logged out), so it stops answering to the token first.
        realtime.hub.forget_token(state.hub_id);
    }
    let ctx = MethodContext {
        session: state.session.as_ref(),
        client: &state.client,
    };
    let cause = comet_service::request_cause(state.session.as_ref(), comet_core::id::new_id());
    let outcome = comet_service::with_request(
        cause,
        state.client.clone(),
        comet_methods::call(&realtime.service, name, params, ctx),
    )
    .await;
    let result = match outcome {
        Ok(Outcome::Value(value)) => Ok(value),
        Ok(Outcome::LoggedIn(login, answer)) => {
            match realtime
                .service
                .accounts()
                .authenticate(&login.user.id, &login.token)
                .await
            {
                Ok(session) => {
                    let rooms = match realtime.service.rooms().subscriptions(&session, None).await {
                        Ok(subs) => subs.into_iter().map(|s| s.room_id).collect(),
                        Err(e) => {
                            tracing::warn!(error = %e, "could not load the rooms of a realtime session");
                            Vec::new()
                        }
                    };
                    realtime.hub.set_user(
                        state.hub_id,
                        Some(session.user.id.clone()),
                        Some(session.token.hashed_token.clone()),
                        rooms,
                    );
                    state.activity.idle_after = idle_limit(realtime, &session);
                    if let Some(previous) = state.session.replace(session) {
                        log_presence(
                            realtime
                                .service
                                .connections()
                                .connection_state(&previous.user.id, state.hub_id, None)
                                .await,
                        );
                    }
                    report_presence(realtime, state).await;
                    Ok(answer)
                }
                Err(e) => Err(e),
            }
        }
        Ok(Outcome::ConnectionPresence(presence)) => {
            state.activity.client_away = presence == Presence::Away;
            report_presence(realtime, state).await;
            Ok(Value::Null)
        }
        Ok(Outcome::LoggedOut) => {
            if let Some(previous) = state.session.take() {
                log_presence(
                    realtime
                        .service
                        .connections()
                        .connection_state(&previous.user.id, state.hub_id, None)
                        .await,
                );
            }
            realtime.hub.set_user(state.hub_id, None, None, Vec::new());
            for subscription in std::mem::take(&mut state.subscriptions) {
                realtime
                    .hub
                    .unlisten(state.hub_id, subscription.stream, &subscription.event_name);
            }
            for (stream, _) in std::mem::take(&mut state.collection_documents) {
                send(
                    outbox,
                    json!({"msg": "removed", "collection": stream, "id": "id"}),
                )
                .await;
            }
            Ok(Value::Null)
        }
        Err(e) => Err(e),
    };
    if let Err(error) = &result {
        tracing::info!(
            method = name,
            user = state.session.as_ref().map_or("-", |s| s.user.id.as_str()),
            error = error.code.as_deref().unwrap_or("-"),
            reason = %error.reason,
            "method failed"
        );
    }
    send(outbox, result_message(&id, &result)).await;
    send(outbox, json!({"msg": "updated", "methods": [id]})).await;
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Applies upstream's DDP limits (`DDP_Rate_Limit_*`) to a method call or a subscription
/// unless the user may bypass them: every applicable limit counts the call, and a refusal
/// says how long until the longest refusing window resets.
fn rate_limit(realtime: &Realtime, state: &mut State, name: &str) -> Result<(), Duration> {
    let service = &realtime.service;
    let user = state.session.as_ref().map(|s| &s.user);
    if service.bypasses_rate_limits(user) {
        return Ok(());
    }
    let mut refused = service
        .check_ddp_shared_limits(&DdpCall {
            user,
            ip: state.client.ip,
            name,
        })
        .err();
    let mut refuse = |wait: Duration| refused = Some(refused.map_or(wait, |r| r.max(wait)));
    let (per_connection, per_method) = service.ddp_connection_allowances(name);
    if let Some(allowance) = per_connection
        && let Err(wait) = state.connection_window.hit(allowance)
    {
        refuse(wait);
    }
    if let Some(allowance) = per_method {
        if state.method_windows.len() > 256 {
            state.method_windows.clear();
        }
        let at = match state.method_windows.iter().position(|(n, _)| &**n == name) {
            Some(at) => at,
            None => {
                state.method_windows.push((name.into(), Window::new()));
                state.method_windows.len() - 1
            }
        };
        if let Err(wait) = state.method_windows[at].1.hit(allowance) {
            refuse(wait);
        }
    }
    refused.map_or(Ok(()), Err)
}

/// What listening to `event_name` of `stream` means, in the service's terms (which decide
/// who may); `None` for a stream nobody may listen to.
fn listening<'a>(stream: &'static str, event_name: &'a str) -> Option<Listening<'a>> {
    let first_part = event_name.split('/').next().unwrap_or_default();
    Some(match stream {
        NOTIFY_ALL => Listening::Everyone,
        ROOM_MESSAGES if event_name == "__my_messages__" => Listening::OwnRooms,
        ROOM_MESSAGES => Listening::RoomMessages(event_name),
        NOTIFY_ROOM => Listening::RoomActivity(first_part),
        NOTIFY_USER => Listening::User(first_part),
        NOTIFY_LOGGED | USER_PRESENCE | ROLES => Listening::LoggedIn,
        _ => return None,
    })
}

/// Whether the session may listen to `event_name` of `stream`.
async fn may_listen(
    realtime: &Realtime,
    session: Option<&Session>,
    stream: &'static str,
    event_name: &str,
) -> Result<(), Error> {
    let Some(what) = listening(stream, event_name) else {
        return Err(Error::meteor("not-allowed", "Not allowed"));
    };
    realtime.service.may_listen(session, what).await
}

/// Whether a stream subscription asks for collection compatibility: its second parameter is
/// `true` or `{"useCollection": true, ...}`.
fn uses_collection(ddp: &Value) -> bool {
    match ddp.get("params").and_then(|p| p.get(1)) {
        Some(Value::Bool(flag)) => *flag,
        Some(options) => options.get("useCollection") == Some(&Value::Bool(true)),
        None => false,
    }
}

/// Answers a refused subscription, leaving a log line that names the stream.
async fn refuse_subscription(outbox: &Outbox, id: &str, name: &str, error: &Error) {
    tracing::info!(
        subscription = name,
        error = error.code.as_deref().unwrap_or("-"),
        reason = %error.reason,
        "subscription refused"
    );
    send(
        outbox,
        json!({"msg": "nosub", "id": id, "error": error_object(error)}),
    )
    .await;
}

async fn subscribe(realtime: &Realtime, outbox: &Outbox, state: &mut State, ddp: &Value) {
    let id = ddp
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let name = ddp.get("name").and_then(Value::as_str).unwrap_or_default();
    let event_name = ddp
        .get("params")
        .and_then(|p| p.get(0))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Err(wait) = rate_limit(realtime, state, name) {
        let error = Error::ddp_too_many_requests(duration_ms(wait));
        refuse_subscription(outbox, &id, name, &error).await;
        return;
    }
    if EMPTY_PUBLICATIONS.contains(&name) {
        send(outbox, json!({"msg": "ready", "subs": [id]})).await;
        return;
    }
    let Some(stream) = stream_name(name) else {
        let error = Error::meteor("404", format!("Subscription '{name}' not found"));
        refuse_subscription(outbox, &id, name, &error).await;
        return;
    };
    if stream == USER_PRESENCE {
        // The options edit this connection's watch list: `{"added": [uid], "removed": [uid]}`.
        if state.session.is_none() {
            let error = Error::meteor("not-allowed", "Not allowed");
            refuse_subscription(outbox, &id, name, &error).await;
            return;
        }
        let options = ddp.get("params").and_then(|p| p.get(1));
        let list = |key: &str| -> Vec<String> {
            options
                .and_then(|o| o.get(key))
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .take(1000)
                        .collect()
                })
                .unwrap_or_default()
        };
        for uid in list("added") {
            if !realtime.hub.listen(state.hub_id, USER_PRESENCE, &uid) {
                break;
            }
        }
        for uid in list("removed") {
            realtime.hub.unlisten(state.hub_id, USER_PRESENCE, &uid);
        }
        send(outbox, json!({"msg": "ready", "subs": [id]})).await;
        return;
    }
    match may_listen(realtime, state.session.as_ref(), stream, &event_name).await {
        Ok(()) if state.subscription(&id).is_some() => {
            // A repeated id is the same subscription: ready again, nothing new to track.
            send(outbox, json!({"msg": "ready", "subs": [id]})).await;
        }
        Ok(()) => {
            if realtime.hub.listen(state.hub_id, stream, &event_name) {
                let collection = uses_collection(ddp);
                if collection {
                    let at = match state
                        .collection_documents
                        .iter()
                        .position(|(s, _)| *s == stream)
                    {
                        Some(at) => at,
                        None => {
                            state.collection_documents.push((stream, 0));
                            state.collection_documents.len() - 1
                        }
                    };
                    state.collection_documents[at].1 += 1;
                    if state.collection_documents[at].1 == 1 {
                        send(
                            outbox,
                            json!({"msg": "added", "collection": stream, "id": "id",
                                   "fields": {"eventName": event_name}}),
                        )
                        .await;
                    }
                }
                state.subscriptions.push(Subscription {
                    id: id.as_str().into(),
                    stream,
                    event_name: event_name.into(),
                    collection,
                });
                send(outbox, json!({"msg": "ready", "subs": [id]})).await;
            } else {
                let error = Error::meteor(
                    "error-too-many-subscriptions",
                    "Too many subscriptions on this connection",
                );
                refuse_subscription(outbox, &id, name, &error).await;
            }
        }
        Err(error) => refuse_subscription(outbox, &id, name, &error).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_map_to_what_the_service_decides_on() {
        assert_eq!(
            listening(ROOM_MESSAGES, "GENERAL"),
            Some(Listening::RoomMessages("GENERAL"))
        );
        assert_eq!(
            listening(ROOM_MESSAGES, "__my_messages__"),
            Some(Listening::OwnRooms)
        );
        assert_eq!(
            listening(NOTIFY_ROOM, "r1/user-activity"),
            Some(Listening::RoomActivity("r1"))
        );
        assert_eq!(
            listening(NOTIFY_USER, "u1/notification"),
            Some(Listening::User("u1"))
        );
        assert_eq!(listening(NOTIFY_ALL, "x"), Some(Listening::Everyone));
        assert_eq!(listening(ROLES, "roles"), Some(Listening::LoggedIn));
        assert_eq!(listening("stream-nothing", "x"), None);
    }
}
