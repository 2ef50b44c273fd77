//! Video conferences (upstream's `VideoConf` service) with its providers built in: Jitsi
//! (links, signed when token authentication is on) and Comet's own (see `calls.rs`). A call
//! in a room is posted as a `videoconf` message; a DM call started with ringing is a `direct`
//! call that rings the other member until it is answered, cancelled or, unanswered, cancelled
//! by the server after `COMET_CALL_RING_SECONDS`. Every change of a call is told to the room
//! (`<rid>/videoconf`), and its message is announced again so clients redraw it.

use crate::pipeline::{Draft, Sender};
use crate::{Service, Session, VideoConferences, store_error};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use comet_core::room::{Message, Room, RoomType, UserStub};
use comet_core::user::User;
use comet_core::{Error, Result, Timestamp, now};
use comet_store::{AvatarOwner, MessageChange, PostEffects};
pub use comet_store::{CallUser, VideoConference, VideoConferenceKind, video_conference_status};
use serde_json::{Value, json};
use std::sync::Arc;

/// The provider key and label of the built-in Jitsi integration.
pub const JITSI: &str = "jitsi";
const JITSI_LABEL: &str = "Jitsi";
/// The provider key and label of Comet's own calls (WebRTC in the web client).
pub const COMET: &str = "comet";
const COMET_LABEL: &str = "Comet";
/// How long a signed Jitsi link stays usable to enter the room.
const JITSI_TOKEN_SECONDS: i64 = 60 * 60;
/// How many tries a change gets against concurrent changes of the same call.
const UPDATE_ATTEMPTS: usize = 8;
/// The app id upstream's call messages and blocks carry.
const VIDEOCONF_CORE: &str = "videoconf-core";
/// Rooms with more members than this are not rung when a call starts (upstream's limit).
const MOST_MEMBERS_RUNG: u64 = 10;
/// Calls still open after a day are expired (upstream's `VideoConferences` cron).
const LONG_RUNNING_HOURS: i64 = 24;
/// How often the sweeper looks for calls to cancel or expire.
const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);
/// How often, in sweeps, long-running calls are looked for (about every ten minutes).
const LONG_RUNNING_SWEEP_EVERY: u32 = 300;

/// What `video-conference.start` answers.
#[derive(Debug, Clone)]
pub struct StartedCall {
    pub call: VideoConference,
    /// For a direct call: the other member.
    pub callee_id: Option<String>,
}

/// The parameters of a `<uid>/video-conference` event (`{uid, rid, callId}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallParams {
    pub uid: String,
    pub rid: String,
    pub call_id: String,
}

impl CallParams {
    fn json(&self) -> Value {
        json!({"uid": self.uid, "rid": self.rid, "callId": self.call_id})
    }
}

fn invalid_params() -> Error {
    Error::failure("invalid-params")
}

fn write_refused() -> Error {
    Error::meteor("error-not-allowed", "Not allowed")
}

/// HS256 JSON Web Token over `claims` (RFC 7519), as Jitsi's token authentication expects.
pub fn sign_hs256(claims: &Value, secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// The `video_conf` block upstream's call messages carry.
pub fn call_block(call_id: &str) -> Value {
    json!([{
        "type": "video_conf",
        "blockId": call_id,
        "callId": call_id,
        "appId": VIDEOCONF_CORE,
    }])
}

impl VideoConferences<'_> {
    /// `video-conference.providers`: `[(key, label)]` of the providers turned on.
    pub fn providers(&self) -> Vec<(&'static str, &'static str)> {
        let mut providers = Vec::new();
        if self.ctx.setting_bool("Jitsi_Enabled") {
            providers.push((JITSI, JITSI_LABEL));
        }
        if self.ctx.setting_bool("Comet_Calls_Enabled") {
            providers.push((COMET, COMET_LABEL));
        }
        providers
    }

    /// The provider new calls use (upstream's `getValidatedProvider`): the one
    /// `VideoConf_Default_Provider` names, or, when it names none, Jitsi if it is on, else
    /// Comet's own; it must be configured.
    pub fn validated_provider(&self) -> Result<&'static str> {
        let providers = self.providers();
        if providers.is_empty() {
            return Err(Error::failure("no-videoconf-provider-app"));
        }
        let chosen = self.ctx.setting_str("VideoConf_Default_Provider");
        let provider = if chosen.is_empty() {
            providers.first().map(|(key, _)| *key)
        } else {
            providers
                .iter()
                .map(|(key, _)| *key)
                .find(|key| *key == chosen)
        };
        let Some(provider) = provider else {
            return Err(Error::failure("no-active-video-conf-provider"));
        };
        self.check_configured(provider)?;
        Ok(provider)
    }

    /// Whether `provider` is on and has what it needs (upstream's `validateProvider`).
    fn check_configured(&self, provider: &str) -> Result<()> {
        let on = self.providers().iter().any(|(key, _)| *key == provider);
        let configured = match provider {
            JITSI => !self.ctx.setting_str("Jitsi_Domain").trim().is_empty(),
            _ => true,
        };
        if on && configured {
            Ok(())
        } else {
            Err(Error::failure("video-conf-provider-not-configured"))
        }
    }

    /// What a provider supports (`capabilities`).
    pub fn provider_capabilities(&self, provider: &str) -> Value {
        match provider {
            JITSI | COMET => json!({"mic": true, "cam": true, "title": true}),
            _ => json!({}),
        }
    }

    /// `video-conference.capabilities`: the active provider's name and what it supports.
    pub fn capabilities(&self) -> Result<(&'static str, Value)> {
        let provider = self.validated_provider()?;
        Ok((provider, self.provider_capabilities(provider)))
    }

    /// A room `user` may read; `invalid-params` otherwise, as upstream answers.
    async fn readable_room(&self, user: &User, room_id: &str) -> Result<Room> {
        let room = self
            .ctx
            .store
            .room_by_id(room_id)
            .await
            .map_err(store_error)?
            .ok_or_else(invalid_params)?;
        if !self.ctx.rooms().can_access_room(user, &room).await? {
            return Err(invalid_params());
        }
        Ok(room)
    }

    async fn stored_call(&self, call_id: &str) -> Result<Option<VideoConference>> {
        self.ctx
            .store
            .video_conference(call_id)
            .await
            .map_err(store_error)
    }

    /// A user as a call records them, with their avatar's `avatarETag`.
    async fn call_user(&self, user: &User, at: Timestamp) -> Result<CallUser> {
        let avatar_etag = self
            .ctx
            .store
            .avatar(AvatarOwner::User, &user.id)
            .await
            .map_err(store_error)?
            .map(|avatar| avatar.etag);
        Ok(CallUser {
            id: user.id.clone(),
            username: user.username.clone(),
            name: (!user.name.is_empty()).then(|| user.name.clone()),
            avatar_etag,
            ts: at,
        })
    }

    /// Whether a new call in `room` rings its members (upstream's ringing call types): a
    /// `direct` call in a DM of two, else a ringing conference in a room of at most ten.
    async fn ringing_kind(
        &self,
        room: &Room,
        caller: &User,
        allow_ringing: bool,
    ) -> Result<(VideoConferenceKind, bool, Option<String>)> {
        if !allow_ringing {
            return Ok((VideoConferenceKind::Videoconference, false, None));
        }
        if room.room_type == RoomType::Direct {
            if room.user_ids.len() == 2 {
                let callee = room.user_ids.iter().find(|id| **id != caller.id).cloned();
                if let Some(callee) = callee {
                    return Ok((VideoConferenceKind::Direct, true, Some(callee)));
                }
            }
            if room.user_ids.len() <= 2 {
                return Ok((VideoConferenceKind::Videoconference, false, None));
            }
        }
        let (_, members) = self
            .ctx
            .store
            .subscriptions_of_room(&room.id, 0, Some(0))
            .await
            .map_err(store_error)?;
        Ok((
            VideoConferenceKind::Videoconference,
            members <= MOST_MEMBERS_RUNG,
            None,
        ))
    }

    /// `video-conference.start`: a `direct` call ringing the other member of a DM when
    /// ringing is asked for and allowed, a conference (started at once) otherwise; its
    /// `videoconf` message is posted by the caller.
    pub async fn start(
        &self,
        session: &Session,
        room_id: &str,
        title: Option<String>,
        allow_ringing: bool,
    ) -> Result<StartedCall> {
        let caller = &session.user;
        let room = self.readable_room(caller, room_id).await?;
        if !self
            .ctx
            .rooms()
            .has_room_permission(caller, "call-management", &room.id)
            .await?
        {
            return Err(Error::forbidden());
        }
        let Some(access) = self.ctx.rooms().room_access(session, room.clone()).await? else {
            return Err(invalid_params());
        };
        self.ctx.messages().check_can_send(session, &access).await?;
        let provider = self.validated_provider()?;
        let enabled = match room.room_type {
            RoomType::Direct => self.ctx.setting_bool("VideoConf_Enable_DMs"),
            RoomType::Private => self.ctx.setting_bool("VideoConf_Enable_Groups"),
            _ => self.ctx.setting_bool("VideoConf_Enable_Channels"),
        };
        if !enabled {
            return Err(Error::failure("error-videoconf-disabled"));
        }
        let allow_ringing =
            allow_ringing && self.ctx.has_permission(caller, "videoconf-ring-users");
        let (kind, ringing, callee_id) = self.ringing_kind(&room, caller, allow_ringing).await?;
        let at = now();
        let direct = kind == VideoConferenceKind::Direct;
        let title = (!direct).then(|| {
            title
                .filter(|t| !t.is_empty())
                .or_else(|| room.fname.clone().filter(|n| !n.is_empty()))
                .or_else(|| room.name.clone())
                .unwrap_or_default()
        });
        let mut created_by = self.call_user(caller, at).await?;
        created_by.avatar_etag = None;
        let id = comet_core::id::new_id();
        let mut call = VideoConference {
            url: Some(self.room_url(provider, &id)),
            id,
            kind,
            room_id: room.id.clone(),
            status: if direct {
                video_conference_status::CALLING
            } else {
                video_conference_status::STARTED
            },
            users: Vec::new(),
            created_by,
            created_at: at,
            ended_at: None,
            ended_by: None,
            provider_name: provider.to_owned(),
            started_message_id: None,
            ended_message_id: None,
            ringing,
            title,
            anonymous_users: 0,
            discussion_rid: None,
            updated_at: Some(at),
            present: Vec::new(),
            revision: 0,
        };
        self.ctx
            .store
            .insert_video_conference(&call)
            .await
            .map_err(store_error)?;
        let message = self.post_call_message(&room, caller, &call.id, at).await?;
        let message_id = message.id.clone();
        if let Some((changed, ())) = self
            .change(&call.id, |stored| {
                stored.started_message_id = Some(message_id.clone());
                Some(())
            })
            .await?
        {
            call = changed;
        }
        if ringing && !direct {
            let params = CallParams {
                uid: call.created_by.id.clone(),
                rid: room.id.clone(),
                call_id: call.id.clone(),
            };
            self.notify_members(&room.id, &caller.id, "ring", &params)
                .await?;
        }
        Ok(StartedCall { call, callee_id })
    }

    /// Posts a call's `videoconf` message: no text, upstream's `video_conf` block.
    async fn post_call_message(
        &self,
        room: &Room,
        by: &User,
        call_id: &str,
        at: Timestamp,
    ) -> Result<Message> {
        let mut message = Message::new(
            comet_core::id::new_id(),
            &room.id,
            UserStub::from(by),
            "",
            at,
        );
        message.kind = Some("videoconf".to_owned());
        message.groupable = Some(false);
        message.blocks = Some(call_block(call_id));
        self.ctx
            .messages()
            .post(Draft {
                sender: Sender::System,
                room,
                message,
                effects: PostEffects {
                    counts_in_room: true,
                    becomes_last_message: true,
                    alert_others: true,
                    ..PostEffects::default()
                },
            })
            .await
    }

    /// A call in a room the caller may read: `invalid-params` for a missing call or a room
    /// they may not read, as upstream answers.
    pub async fn readable_call(&self, session: &Session, call_id: &str) -> Result<VideoConference> {
        let call = self
            .stored_call(call_id)
            .await?
            .ok_or_else(invalid_params)?;
        self.readable_room(&session.user, &call.room_id).await?;
        Ok(call)
    }

    /// `video-conference.info`: a call in a room the caller may read, with its provider's
    /// capabilities.
    pub async fn info(&self, session: &Session, call_id: &str) -> Result<(VideoConference, Value)> {
        let call = self.readable_call(session, call_id).await?;
        let capabilities = self.provider_capabilities(&call.provider_name);
        Ok((call, capabilities))
    }

    /// `video-conference.list`: a room's calls, newest first, and their total.
    pub async fn list(
        &self,
        session: &Session,
        room_id: &str,
        offset: i64,
        count: i64,
    ) -> Result<(Vec<VideoConference>, i64)> {
        self.readable_room(&session.user, room_id).await?;
        self.ctx
            .store
            .room_video_conferences(room_id, offset, count)
            .await
            .map_err(store_error)
    }

    /// Applies `apply` to the stored call, retrying when someone changed it meanwhile;
    /// `apply` answers `None` to leave the call as it is. The call as written and what
    /// `apply` answered; `None` when nothing was written.
    async fn change<T>(
        &self,
        call_id: &str,
        mut apply: impl FnMut(&mut VideoConference) -> Option<T>,
    ) -> Result<Option<(VideoConference, T)>> {
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(mut call) = self.stored_call(call_id).await? else {
                return Ok(None);
            };
            let Some(outcome) = apply(&mut call) else {
                return Ok(None);
            };
            call.updated_at = Some(now());
            if self
                .ctx
                .store
                .update_video_conference(&call)
                .await
                .map_err(store_error)?
            {
                call.revision += 1;
                return Ok(Some((call, outcome)));
            }
        }
        Err(Error::internal("video conference kept changing"))
    }

    /// `video-conference.join`: records the caller among the call's users (a direct call is
    /// `started` from then on and stops ringing once the callee joins) and answers the
    /// provider's link for them. An ended call answers upstream's bare failure.
    pub async fn join(
        &self,
        session: &Session,
        call_id: &str,
        mic: bool,
        cam: bool,
    ) -> Result<(String, String)> {
        let call = self.readable_call(session, call_id).await?;
        if call.ended_at.is_some() {
            return Err(self.diagnose(&call.provider_name));
        }
        self.check_configured(&call.provider_name)?;
        if call.provider_name == COMET {
            self.enter_comet_call(session, call_id).await?;
        }
        let user = self.call_user(&session.user, now()).await?;
        let joined = self
            .change(call_id, |stored| {
                if stored.ended_at.is_some() || stored.users.iter().any(|u| u.id == user.id) {
                    return None;
                }
                let was_ringing = stored.ringing;
                stored.users.push(user.clone());
                if stored.kind == VideoConferenceKind::Direct {
                    if was_ringing && user.id != stored.created_by.id {
                        stored.ringing = false;
                    }
                    if stored.status == video_conference_status::CALLING {
                        stored.status = video_conference_status::STARTED;
                    }
                }
                Some(was_ringing)
            })
            .await?;
        let call = match joined {
            Some((call, was_ringing)) => {
                if call.kind == VideoConferenceKind::Direct && was_ringing {
                    let params = CallParams {
                        uid: user.id.clone(),
                        rid: call.room_id.clone(),
                        call_id: call.id.clone(),
                    };
                    self.notify_user(&call.created_by.id, "join", &params);
                    if user.id != call.created_by.id {
                        self.notify_user(&user.id, "join", &params);
                    }
                }
                self.announce_change(&call).await;
                call
            }
            None => self
                .stored_call(call_id)
                .await?
                .ok_or_else(invalid_params)?,
        };
        if call.ended_at.is_some() {
            return Err(self.diagnose(&call.provider_name));
        }
        let url = match call.provider_name.as_str() {
            JITSI => self.jitsi_url(&call, &session.user, mic, cam),
            COMET => self.room_url(COMET, &call.id),
            _ => return Err(Error::failure("failed-to-get-url")),
        };
        Ok((url, call.provider_name))
    }

    /// What upstream answers when joining fails: the provider's problem if it has one,
    /// otherwise a failure with no text.
    fn diagnose(&self, provider: &str) -> Error {
        match self.check_configured(provider) {
            Err(problem) => problem,
            Ok(()) => Error::failure(""),
        }
    }

    /// `video-conference.cancel`: a direct call still ringing is declined by the caller
    /// (`invalid-call` for other calls, `invalid-call-status` once it is answered or over).
    pub async fn cancel(&self, session: &Session, call_id: &str) -> Result<VideoConference> {
        let call = self.readable_call(session, call_id).await?;
        let ender = self.call_user(&session.user, now()).await?;
        self.decline(&call, ender).await
    }

    async fn decline(
        &self,
        call: &VideoConference,
        mut ender: CallUser,
    ) -> Result<VideoConference> {
        if call.kind != VideoConferenceKind::Direct {
            return Err(Error::failure("invalid-call"));
        }
        ender.avatar_etag = None;
        let at = now();
        let declined = self
            .change(&call.id, |stored| {
                if stored.status != video_conference_status::CALLING
                    || stored.ended_by.is_some()
                    || stored.ended_at.is_some()
                {
                    return None;
                }
                stored.ringing = false;
                stored.status = video_conference_status::DECLINED;
                stored.ended_at = Some(at);
                stored.ended_by = Some(CallUser {
                    ts: at,
                    ..ender.clone()
                });
                Some(())
            })
            .await?;
        let Some((call, ())) = declined else {
            return Err(Error::failure("invalid-call-status"));
        };
        self.announce_change(&call).await;
        Ok(call)
    }

    /// Ends a call (upstream's `setStatus(ENDED)`, which providers call): `ended` with
    /// `endedAt`; `by`, when given, is recorded as `endedBy`. A direct call's caller, and the
    /// members who never joined, are told it ended. Nothing happens to a call already over.
    pub async fn end_call(
        &self,
        call_id: &str,
        by: Option<&User>,
    ) -> Result<Option<VideoConference>> {
        let ender = match by {
            Some(user) => {
                let mut ender = self.call_user(user, now()).await?;
                ender.avatar_etag = None;
                Some(ender)
            }
            None => None,
        };
        let at = now();
        let ended = self
            .change(call_id, |stored| {
                if stored.status > video_conference_status::STARTED {
                    return None;
                }
                stored.status = video_conference_status::ENDED;
                stored.ringing = false;
                stored.ended_at.get_or_insert(at);
                if let Some(ender) = &ender {
                    stored.ended_by = Some(ender.clone());
                }
                Some(())
            })
            .await?;
        let Some((call, ())) = ended else {
            return Ok(None);
        };
        self.announce_change(&call).await;
        if call.kind == VideoConferenceKind::Direct {
            self.tell_direct_call_over(&call).await?;
        }
        Ok(Some(call))
    }

    /// Upstream's `endDirectCall`: `end` to the caller and to the room's other members who
    /// never joined.
    pub(crate) async fn tell_direct_call_over(&self, call: &VideoConference) -> Result<()> {
        let params = CallParams {
            uid: call.created_by.id.clone(),
            rid: call.room_id.clone(),
            call_id: call.id.clone(),
        };
        self.notify_user(&call.created_by.id, "end", &params);
        let (members, _) = self
            .ctx
            .store
            .subscriptions_of_room(&call.room_id, 0, None)
            .await
            .map_err(store_error)?;
        for member in members {
            let id = &member.user.id;
            if *id == call.created_by.id || call.users.iter().any(|u| u.id == *id) {
                continue;
            }
            self.notify_user(id, "end", &params);
        }
        Ok(())
    }

    /// Tells the room a call changed (`<rid>/videoconf` with its id, and upstream's older
    /// `<rid>/<callId>`), and announces its message again so clients redraw it.
    pub(crate) async fn announce_change(&self, call: &VideoConference) {
        self.ctx.publish(comet_events::Event::RoomNotice {
            room_id: call.room_id.clone(),
            name: call.id.clone(),
            args: json!([]),
        });
        self.ctx.publish(comet_events::Event::RoomNotice {
            room_id: call.room_id.clone(),
            name: "videoconf".to_owned(),
            args: json!([call.id]),
        });
        if let Some(message_id) = &call.started_message_id
            && let Err(e) = self
                .ctx
                .messages()
                .change_message(message_id, &MessageChange::Touch)
                .await
        {
            tracing::warn!(error = %e, call = %call.id, "could not announce the call's message again");
        }
    }

    /// `stream-notify-user` `<user_id>/video-conference` `{action, params}`.
    fn notify_user(&self, user_id: &str, action: &str, params: &CallParams) {
        self.ctx.publish(comet_events::Event::UserNotice {
            user_id: user_id.to_owned(),
            name: "video-conference".to_owned(),
            args: json!([{"action": action, "params": params.json()}]),
        });
    }

    /// Tells every member of a room but `except` about a call.
    async fn notify_members(
        &self,
        room_id: &str,
        except: &str,
        action: &str,
        params: &CallParams,
    ) -> Result<()> {
        let (members, _) = self
            .ctx
            .store
            .subscriptions_of_room(room_id, 0, None)
            .await
            .map_err(store_error)?;
        for member in members.iter().filter(|m| m.user.id != except) {
            self.notify_user(&member.user.id, action, params);
        }
        Ok(())
    }

    /// Whether `user_id` may read the room `room_id`.
    async fn may_read(&self, user_id: &str, room_id: &str) -> Result<bool> {
        let Some(room) = self
            .ctx
            .store
            .room_by_id(room_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(false);
        };
        let Some(user) = self
            .ctx
            .store
            .user_by_id(user_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(false);
        };
        self.ctx.rooms().can_access_room(&user, &room).await
    }

    /// Upstream's `VideoConf.validateAction`: whether `caller` may tell someone `action`
    /// about a call. Both the caller and `params.uid` must read the room, and the call must
    /// exist; `end` is always allowed, anything else only while the call is calling or
    /// started (a caller still calling about a call that is over is told it ended).
    pub async fn validate_action(
        &self,
        action: &str,
        caller: &User,
        params: &CallParams,
    ) -> Result<bool> {
        if params.call_id.is_empty() || params.uid.is_empty() || params.rid.is_empty() {
            return Ok(false);
        }
        if !self.may_read(&caller.id, &params.rid).await?
            || (caller.id != params.uid && !self.may_read(&params.uid, &params.rid).await?)
        {
            return Ok(false);
        }
        let Some(call) = self.stored_call(&params.call_id).await? else {
            return Ok(false);
        };
        if action == "end" {
            return Ok(true);
        }
        if call.ended_at.is_some() || call.status > video_conference_status::STARTED {
            if action == "call" && caller.id == call.created_by.id {
                self.notify_user(&call.created_by.id, "end", params);
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// The `stream-notify-user` write `["<target>/video-conference", {action, params}]`: the
    /// target's sessions get `{action, params}` when upstream's `validateAction` allows it and
    /// the target may read the call's room too; refused otherwise.
    pub async fn write_user_event(
        &self,
        session: &Session,
        target: &str,
        data: &Value,
    ) -> Result<()> {
        let Some(action) = data
            .get("action")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        else {
            return Err(write_refused());
        };
        let Some(raw) = data.get("params").filter(|p| p.is_object()) else {
            return Err(write_refused());
        };
        let text = |key: &str| {
            raw.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let params = CallParams {
            uid: text("uid"),
            rid: text("rid"),
            call_id: text("callId"),
        };
        if !self.validate_action(action, &session.user, &params).await?
            || !self.may_read(target, &params.rid).await?
        {
            return Err(write_refused());
        }
        self.notify_user(target, action, &params);
        Ok(())
    }

    /// Direct calls nobody answered within the ring time: the caller and the members who
    /// never joined are told they ended, and the call is declined in the caller's name, as
    /// upstream's 40-second timer does.
    pub(crate) async fn cancel_unanswered(&self) -> Result<()> {
        let ring_time = chrono::Duration::from_std(self.ctx.config.call_ring_time)
            .unwrap_or_else(|_| chrono::Duration::seconds(40));
        let calls = self
            .ctx
            .store
            .unanswered_direct_calls(now() - ring_time)
            .await
            .map_err(store_error)?;
        for call in calls {
            self.tell_direct_call_over(&call).await?;
            let ender = call.created_by.clone();
            match self.decline(&call, ender).await {
                Ok(_) => {}
                // Answered or cancelled meanwhile (here or on another instance).
                Err(e) if e.reason == "invalid-call-status" => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Calls still open a day after they started are expired (status 2), as upstream's cron
    /// does.
    pub(crate) async fn expire_long_running(&self) -> Result<()> {
        let calls = self
            .ctx
            .store
            .open_video_conferences(now() - chrono::Duration::hours(LONG_RUNNING_HOURS))
            .await
            .map_err(store_error)?;
        for call in calls {
            let at = now();
            if let Some((call, ())) = self
                .change(&call.id, |stored| {
                    if stored.status > video_conference_status::STARTED {
                        return None;
                    }
                    stored.status = video_conference_status::EXPIRED;
                    stored.ringing = false;
                    stored.ended_at = Some(at);
                    Some(())
                })
                .await?
            {
                self.announce_change(&call).await;
            }
        }
        Ok(())
    }

    /// The call's own address at its provider, the same for everyone (`url`).
    fn room_url(&self, provider: &str, call_id: &str) -> String {
        match provider {
            JITSI => {
                let scheme = if self.ctx.setting_bool("Jitsi_SSL") {
                    "https"
                } else {
                    "http"
                };
                format!(
                    "{scheme}://{}/{}",
                    self.ctx.setting_str("Jitsi_Domain"),
                    self.jitsi_room(call_id)
                )
            }
            _ => format!(
                "{}/call/{call_id}",
                self.ctx.setting_str("Site_Url").trim_end_matches('/')
            ),
        }
    }

    fn jitsi_room(&self, call_id: &str) -> String {
        format!(
            "{}{}{}",
            self.ctx.setting_str("Jitsi_URL_Room_Prefix"),
            call_id,
            self.ctx.setting_str("Jitsi_URL_Room_Suffix")
        )
    }

    /// `https://<domain>/<prefix><callId><suffix>`, signed with `?jwt=` when token
    /// authentication is on, with the member's mic and camera choices in the fragment.
    pub fn jitsi_url(&self, call: &VideoConference, user: &User, mic: bool, cam: bool) -> String {
        let domain = self.ctx.setting_str("Jitsi_Domain");
        let room = self.jitsi_room(&call.id);
        let mut url = self.room_url(JITSI, &call.id);
        let app_id = self.ctx.setting_str("Jitsi_Application_ID");
        let secret = self.ctx.setting_str("Jitsi_Application_Secret");
        if self.ctx.setting_bool("Jitsi_Enabled_TokenAuth")
            && !app_id.is_empty()
            && !secret.is_empty()
        {
            let site = self.ctx.setting_str("Site_Url");
            let mut context_user = json!({
                "id": user.id,
                "name": if user.name.is_empty() { &user.username } else { &user.name },
                "avatar": format!("{}/avatar/{}", site.trim_end_matches('/'), user.username),
            });
            if let Some(email) = &user.email {
                context_user["email"] = json!(email.address);
            }
            let claims = json!({
                "aud": app_id,
                "iss": app_id,
                "sub": domain,
                "room": room,
                "iat": now().timestamp(),
                "exp": now().timestamp() + JITSI_TOKEN_SECONDS,
                "context": {"user": context_user},
            });
            url.push_str("?jwt=");
            url.push_str(&sign_hs256(&claims, &secret));
        }
        url.push_str(&format!(
            "#config.startWithAudioMuted={}&config.startWithVideoMuted={}",
            !mic, !cam
        ));
        url
    }
}

impl Service {
    /// Cancels unanswered direct calls once their ring time is over, takes people whose
    /// connections ended out of Comet calls, and expires calls left open for a day. It reads the calls from the store on every sweep, so calls started
    /// before a restart, or on another instance, are handled too.
    pub(crate) fn run_call_sweeper(self: &Arc<Self>) {
        let service = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(SWEEP_INTERVAL);
            let mut sweeps: u32 = 0;
            loop {
                ticker.tick().await;
                let Some(service) = service.upgrade() else {
                    break;
                };
                if let Err(e) = service.video_conferences().cancel_unanswered().await {
                    tracing::warn!(error = %e, "could not cancel unanswered calls");
                }
                if let Err(e) = service.video_conferences().drop_disconnected().await {
                    tracing::warn!(error = %e, "could not take disconnected people out of calls");
                }
                if sweeps.is_multiple_of(LONG_RUNNING_SWEEP_EVERY)
                    && let Err(e) = service.video_conferences().expire_long_running().await
                {
                    tracing::warn!(error = %e, "could not expire long-running calls");
                }
                sweeps = sweeps.wrapping_add(1);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_token_verifies_and_carries_the_claims() {
        let claims = json!({"aud": "app", "iss": "app", "sub": "meet.example", "room": "r1"});
        let token = sign_hs256(&claims, "s3cret");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret");
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("signature");
        ring::hmac::verify(
            &key,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &signature,
        )
        .expect("signed with the secret");
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("header"))
                .expect("json");
        assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
        let payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("payload"))
                .expect("json");
        assert_eq!(payload, claims);
        let wrong = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"other");
        assert!(
            ring::hmac::verify(
                &wrong,
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &signature
            )
            .is_err()
        );
    }

    #[test]
    fn the_call_block_is_upstreams() {
        assert_eq!(
            call_block("c1"),
            json!([{"type": "video_conf", "blockId": "c1", "callId": "c1", "appId": "videoconf-core"}])
        );
    }
}
