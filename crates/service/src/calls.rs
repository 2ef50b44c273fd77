//! Comet's own call provider (`comet`): the web client makes the call over WebRTC as a mesh of
//! at most [`MAX_PRESENT`] people, Comet relays the signalling (offers, answers, ICE
//! candidates) between the people in the call, and a TURN server (coturn) relays media when
//! peers cannot reach each other, with short-lived credentials from coturn's REST API scheme.
//!
//! Who is in a call now is the call document's `present` list, changed under the document's
//! revision like every other change of a call, so two people joining at once never exceed the
//! limit and the last one leaving always ends the call.

use crate::{Session, VideoConferences, store_error};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use comet_core::user::{Presence, User};
use comet_core::{Error, Result, now};
use comet_events::Event;
use comet_store::{CallUser, VideoConference, VideoConferenceKind, video_conference_status};
use serde_json::{Map, Value, json};

pub use crate::video_conferences::COMET;
/// How many people a call holds at once: every participant sends their media to every other
/// one (a mesh), which ordinary uplinks carry for about this many.
pub const MAX_PRESENT: usize = 6;
/// The largest signalling payload relayed (an SDP offer with many candidates is a few KiB).
pub const MAX_SIGNAL_BYTES: usize = 64 * 1024;
/// The signalling messages the web client exchanges.
pub const SIGNAL_TYPES: &[&str] = &["offer", "answer", "candidate", "bye"];
/// `Comet_Calls_TURN_Credential_TTL` is kept within these bounds (seconds).
const MIN_TTL: i64 = 60;
const MAX_TTL: i64 = 7 * 24 * 60 * 60;
const UPDATE_ATTEMPTS: usize = 8;

/// What `video-conference.iceServers` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServers {
    /// `RTCIceServer` dictionaries: `{urls}` for STUN, `{urls, username, credential}` for TURN.
    pub servers: Vec<Value>,
    /// How many seconds the TURN credentials stay valid.
    pub ttl: i64,
}

/// coturn's REST API credentials (`use-auth-secret`): the username is the expiry as a Unix
/// time and the user's id, the password the base64 HMAC-SHA1 of the username under the
/// shared secret. coturn recomputes the HMAC and refuses the username once it has expired.
pub fn turn_credentials(secret: &str, user_id: &str, expires_at: i64) -> (String, String) {
    let username = format!("{expires_at}:{user_id}");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    let tag = ring::hmac::sign(&key, username.as_bytes());
    (username, STANDARD.encode(tag.as_ref()))
}

/// The STUN and TURN URLs of `Comet_Calls_ICE_Servers` (separated by commas or whitespace),
/// as `(stun, turn)`; anything that is not a `stun:`, `stuns:`, `turn:` or `turns:` URL is
/// left out.
pub fn parse_ice_urls(setting: &str) -> (Vec<String>, Vec<String>) {
    let mut stun = Vec::new();
    let mut turn = Vec::new();
    for url in setting
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|u| !u.is_empty())
    {
        let scheme = url
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("stun" | "stuns") => stun.push(url.to_owned()),
            Some("turn" | "turns") => turn.push(url.to_owned()),
            _ => {}
        }
    }
    (stun, turn)
}

fn not_allowed() -> Error {
    Error::meteor("error-not-allowed", "Not allowed")
}

fn is_active(call: &VideoConference) -> bool {
    call.ended_at.is_none() && call.status <= video_conference_status::STARTED
}

fn call_user(user: &User, at: comet_core::Timestamp) -> CallUser {
    CallUser {
        id: user.id.clone(),
        username: user.username.clone(),
        name: (!user.name.is_empty()).then(|| user.name.clone()),
        avatar_etag: None,
        ts: at,
    }
}

impl VideoConferences<'_> {
    /// Applies `change` to the stored call, retrying when someone changed it meanwhile; a
    /// refusal from `change` stops with nothing written. The flag is false when `change` left
    /// the call as it was (nothing is written then either).
    async fn change_call(
        &self,
        call_id: &str,
        change: impl Fn(&mut VideoConference) -> Result<bool>,
    ) -> Result<(VideoConference, bool)> {
        for _ in 0..UPDATE_ATTEMPTS {
            let mut call = self
                .ctx
                .store
                .video_conference(call_id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| Error::failure("invalid-params"))?;
            if !change(&mut call)? {
                return Ok((call, false));
            }
            call.updated_at = Some(now());
            if self
                .ctx
                .store
                .update_video_conference(&call)
                .await
                .map_err(store_error)?
            {
                call.revision += 1;
                return Ok((call, true));
            }
        }
        Err(Error::internal("video conference kept changing"))
    }

    /// `video-conference.join` of a Comet call, before it is recorded as any call's join:
    /// the caller becomes present, unless [`MAX_PRESENT`] people are in it already.
    pub(crate) async fn enter_comet_call(&self, session: &Session, call_id: &str) -> Result<()> {
        let user_id = session.user.id.clone();
        let (call, changed) = self
            .change_call(call_id, |call| {
                if !is_active(call) {
                    // What joining an ended call answers (upstream's bare failure).
                    return Err(Error::failure(""));
                }
                if call.present.contains(&user_id) {
                    return Ok(false);
                }
                if call.present.len() >= MAX_PRESENT {
                    return Err(Error::failure("error-call-full"));
                }
                call.present.push(user_id.clone());
                Ok(true)
            })
            .await?;
        if changed {
            self.notify_call_changed(&call).await;
        }
        Ok(())
    }

    /// `video-conference.leave`: the caller is no longer in the Comet call; when the last
    /// person leaves, the call ends (`ended`, `endedAt`, `endedBy` the one who left last).
    pub async fn leave(&self, session: &Session, call_id: &str) -> Result<VideoConference> {
        let call = self.readable_call(session, call_id).await?;
        if call.provider_name != COMET {
            return Err(Error::failure("invalid-params"));
        }
        self.remove_present(call_id, call_user(&session.user, now()))
            .await
    }

    /// Takes `leaver` out of the people in the call, ending it when they were the last.
    async fn remove_present(&self, call_id: &str, leaver: CallUser) -> Result<VideoConference> {
        let at = leaver.ts;
        let (call, changed) = self
            .change_call(call_id, |call| {
                let Some(index) = call.present.iter().position(|id| *id == leaver.id) else {
                    return Ok(false);
                };
                call.present.remove(index);
                // Ended in the same write, so nobody can join the emptied call meanwhile.
                if call.present.is_empty() && is_active(call) {
                    call.status = video_conference_status::ENDED;
                    call.ended_at = Some(at);
                    call.ended_by = Some(leaver.clone());
                    call.ringing = false;
                }
                Ok(true)
            })
            .await?;
        if changed {
            self.notify_call_changed(&call).await;
            if call.status == video_conference_status::ENDED
                && call.kind == VideoConferenceKind::Direct
            {
                self.tell_direct_call_over(&call).await?;
            }
        }
        Ok(call)
    }

    /// Takes out of Comet calls the people whose last connection ended after they joined (the
    /// browser crashed, the network went, the tab closed before its `leave` got out), so they
    /// neither hold one of the call's places nor keep an abandoned call going. Connections are
    /// kept in the store, so every instance sees the same; someone who joined without ever
    /// connecting (over REST only) is left alone.
    pub(crate) async fn drop_disconnected(&self) -> Result<()> {
        let calls = self
            .ctx
            .store
            .open_video_conferences(now())
            .await
            .map_err(store_error)?;
        for call in calls.iter().filter(|c| c.provider_name == COMET) {
            for user_id in &call.present {
                let Some(user) = self
                    .ctx
                    .store
                    .user_by_id(user_id)
                    .await
                    .map_err(store_error)?
                else {
                    continue;
                };
                let joined_at = call.users.iter().find(|u| u.id == user.id).map(|u| u.ts);
                if user.status_connection == Presence::Offline
                    && joined_at.is_some_and(|joined| user.updated_at > joined)
                {
                    self.remove_present(&call.id, call_user(&user, now()))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// A Comet call that is still going on and that the caller is present in.
    async fn present_call(&self, user_id: &str, call_id: &str) -> Result<Option<VideoConference>> {
        let call = self
            .ctx
            .store
            .video_conference(call_id)
            .await
            .map_err(store_error)?;
        Ok(call.filter(|call| {
            call.provider_name == COMET
                && is_active(call)
                && call.present.iter().any(|id| id == user_id)
        }))
    }

    /// `video-conference.iceServers`: the STUN and TURN servers for a Comet call the caller
    /// is in, TURN ones with credentials valid for `Comet_Calls_TURN_Credential_TTL` seconds.
    /// Without a TURN secret, TURN servers are left out (they would refuse anyway).
    pub async fn ice_servers(&self, session: &Session, call_id: &str) -> Result<IceServers> {
        let call = self.readable_call(session, call_id).await?;
        if call.provider_name != COMET {
            return Err(Error::failure("invalid-params"));
        }
        if self
            .present_call(&session.user.id, call_id)
            .await?
            .is_none()
        {
            return Err(Error::forbidden_because("error-not-allowed"));
        }
        let ttl = match self.ctx.setting_int("Comet_Calls_TURN_Credential_TTL") {
            ttl if ttl <= 0 => 3600,
            ttl => ttl.clamp(MIN_TTL, MAX_TTL),
        };
        let (stun, turn) = parse_ice_urls(&self.ctx.setting_str("Comet_Calls_ICE_Servers"));
        let secret = self.ctx.setting_str("Comet_Calls_TURN_Secret");
        let mut servers = Vec::new();
        if !stun.is_empty() {
            servers.push(json!({"urls": stun}));
        }
        if !turn.is_empty() && !secret.is_empty() {
            let (username, credential) =
                turn_credentials(&secret, &session.user.id, now().timestamp() + ttl);
            servers.push(json!({"urls": turn, "username": username, "credential": credential}));
        }
        Ok(IceServers { servers, ttl })
    }

    /// Relays one signalling message (`stream-notify-user` `<target>/webrtc`) from the caller to
    /// `target_id`, both present in the active Comet call the message names. The delivered
    /// message carries `from`, the caller, set here; a refusal delivers nothing.
    pub async fn relay_signal(
        &self,
        session: &Session,
        target_id: &str,
        message: &Value,
    ) -> Result<()> {
        let Some(fields) = message.as_object() else {
            return Err(not_allowed());
        };
        if serde_json::to_vec(message).map_or(usize::MAX, |bytes| bytes.len()) > MAX_SIGNAL_BYTES {
            return Err(not_allowed());
        }
        let (Some(call_id), Some(kind)) = (
            fields.get("callId").and_then(Value::as_str),
            fields.get("type").and_then(Value::as_str),
        ) else {
            return Err(not_allowed());
        };
        // `from` is the server's to set: a message claiming to be from someone else is
        // refused rather than silently corrected, so a forging client learns nothing works.
        let forged = fields
            .get("from")
            .is_some_and(|from| from.as_str() != Some(session.user.id.as_str()));
        if !SIGNAL_TYPES.contains(&kind) || target_id == session.user.id || forged {
            return Err(not_allowed());
        }
        let Some(call) = self.present_call(&session.user.id, call_id).await? else {
            return Err(not_allowed());
        };
        if !call.present.iter().any(|id| id == target_id) {
            return Err(not_allowed());
        }
        let mut payload = Map::new();
        payload.insert("callId".into(), json!(call.id));
        payload.insert("from".into(), json!(session.user.id));
        payload.insert("type".into(), json!(kind));
        for field in ["sdp", "candidate"] {
            if let Some(value) = fields.get(field) {
                payload.insert(field.into(), value.clone());
            }
        }
        self.ctx.publish(Event::UserNotice {
            user_id: target_id.to_owned(),
            name: "webrtc".to_owned(),
            args: json!([Value::Object(payload)]),
        });
        Ok(())
    }

    /// Tells clients a Comet call changed (someone came or left, or it ended): the room's
    /// `<rid>/videoconf` and the call message, as every change of a call is told.
    async fn notify_call_changed(&self, call: &VideoConference) {
        self.announce_change(call).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credentials_follow_coturns_rest_api() {
        let (username, credential) = turn_credentials("north", "user1", 1_700_000_000);
        assert_eq!(username, "1700000000:user1");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, b"north");
        let tag = STANDARD.decode(&credential).expect("base64 credential");
        assert_eq!(tag.len(), 20, "an HMAC-SHA1 is 20 bytes");
        ring::hmac::verify(&key, username.as_bytes(), &tag).expect("signed with the secret");
        let other = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, b"south");
        assert!(ring::hmac::verify(&other, username.as_bytes(), &tag).is_err());
    }

    #[test]
    fn ice_urls_split_on_commas_and_whitespace_and_keep_only_stun_and_turn() {
        let (stun, turn) = parse_ice_urls(
            " stun:stun.example:3478,turn:turn.example:3478?transport=udp\n\
             turns:turn.example:5349 , http://nope STUN:caps.example ",
        );
        assert_eq!(stun, vec!["stun:stun.example:3478", "STUN:caps.example"]);
        assert_eq!(
            turn,
            vec![
                "turn:turn.example:3478?transport=udp",
                "turns:turn.example:5349"
            ]
        );
        assert_eq!(parse_ice_urls(""), (Vec::new(), Vec::new()));
    }
}
