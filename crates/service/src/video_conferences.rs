//! Video conferences (upstream's `VideoConf` service) with the Jitsi provider built in:
//! starting a call in a room or a DM, joining it (a Jitsi link, signed when token
//! authentication is on), cancelling it, and reading calls.

use crate::{Session, VideoConferences, store_error};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use comet_core::room::RoomType;
use comet_core::user::User;
use comet_core::{Error, Result, Timestamp, now};
pub use comet_store::{CallUser, VideoConference, VideoConferenceKind, video_conference_status};
use serde_json::{Value, json};

/// The provider key and label of the built-in Jitsi integration.
pub const JITSI: &str = "jitsi";
const JITSI_LABEL: &str = "Jitsi";
/// How long a signed Jitsi link stays usable to enter the room.
const JITSI_TOKEN_SECONDS: i64 = 60 * 60;
/// How many tries a change gets against concurrent changes of the same call.
const UPDATE_ATTEMPTS: usize = 8;

/// What `video-conference.start` answers.
#[derive(Debug, Clone)]
pub struct StartedCall {
    pub call: VideoConference,
    /// For a direct call: the other member.
    pub callee_id: Option<String>,
}

fn invalid_params() -> Error {
    Error::failure("invalid-params")
}

fn call_user(user: &User, at: Timestamp) -> CallUser {
    CallUser {
        id: user.id.clone(),
        username: user.username.clone(),
        name: (!user.name.is_empty()).then(|| user.name.clone()),
        avatar_etag: None,
        ts: at,
    }
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

impl VideoConferences<'_> {
    /// The active provider: the one chosen in `VideoConf_Default_Provider` when it is
    /// enabled; with none chosen, Jitsi when it is enabled, else Comet's own.
    pub fn active_provider(&self) -> Option<&'static str> {
        let chosen = self.ctx.setting_str("VideoConf_Default_Provider");
        let jitsi = self.ctx.setting_bool("Jitsi_Enabled");
        let comet = self.comet_enabled();
        match chosen.as_str() {
            "" if jitsi => Some(JITSI),
            "" | crate::calls::COMET if comet => Some(crate::calls::COMET),
            JITSI if jitsi => Some(JITSI),
            _ => None,
        }
    }

    /// `video-conference.providers`: `[{key, label}]` of the providers available.
    pub fn providers(&self) -> Vec<(&'static str, &'static str)> {
        let mut providers = Vec::new();
        if self.ctx.setting_bool("Jitsi_Enabled") {
            providers.push((JITSI, JITSI_LABEL));
        }
        if self.comet_enabled() {
            providers.push((crate::calls::COMET, crate::calls::COMET_LABEL));
        }
        providers
    }

    /// `video-conference.capabilities`: the active provider's name and what it supports.
    pub fn capabilities(&self) -> Result<(&'static str, Value)> {
        let Some(provider) = self.active_provider() else {
            return Err(Error::failure("no-active-video-conf-provider"));
        };
        Ok((provider, json!({"mic": true, "cam": true, "title": true})))
    }

    async fn accessible_room(&self, user: &User, room_id: &str) -> Result<comet_core::room::Room> {
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

    /// `video-conference.start`: a direct call (ringing the other member) in a two-member DM,
    /// a room call anywhere else.
    pub async fn start(
        &self,
        session: &Session,
        room_id: &str,
        title: Option<String>,
        allow_ringing: bool,
    ) -> Result<StartedCall> {
        let room = self.accessible_room(&session.user, room_id).await?;
        let Some(provider) = self.active_provider() else {
            return Err(Error::failure("no-videoconf-provider-app"));
        };
        let enabled = match room.room_type {
            RoomType::Direct => self.ctx.setting_bool("VideoConf_Enable_DMs"),
            RoomType::Private => self.ctx.setting_bool("VideoConf_Enable_Groups"),
            _ => self.ctx.setting_bool("VideoConf_Enable_Channels"),
        };
        if !enabled {
            return Err(Error::failure("error-videoconf-disabled"));
        }
        let callee_id = (room.room_type == RoomType::Direct && room.user_ids.len() == 2)
            .then(|| {
                room.user_ids
                    .iter()
                    .find(|id| **id != session.user.id)
                    .cloned()
            })
            .flatten();
        let at = now();
        let direct = callee_id.is_some();
        let call = VideoConference {
            id: comet_core::id::new_id(),
            kind: if direct {
                VideoConferenceKind::Direct
            } else {
                VideoConferenceKind::Videoconference
            },
            room_id: room.id.clone(),
            status: video_conference_status::CALLING,
            users: Vec::new(),
            created_by: call_user(&session.user, at),
            created_at: at,
            ended_at: None,
            ended_by: None,
            provider_name: provider.to_owned(),
            url: None,
            started_message_id: None,
            ended_message_id: None,
            ringing: direct || allow_ringing,
            title: title.filter(|t| !t.is_empty()),
            anonymous_users: 0,
            discussion_rid: None,
            present: Vec::new(),
            revision: 0,
        };
        self.ctx
            .store
            .insert_video_conference(&call)
            .await
            .map_err(store_error)?;
        Ok(StartedCall { call, callee_id })
    }

    /// `video-conference.info`: a call in a room the caller may read.
    pub async fn info(&self, session: &Session, call_id: &str) -> Result<VideoConference> {
        let call = self
            .ctx
            .store
            .video_conference(call_id)
            .await
            .map_err(store_error)?
            .ok_or_else(invalid_params)?;
        self.accessible_room(&session.user, &call.room_id).await?;
        Ok(call)
    }

    /// `video-conference.list`: a room's calls, newest first, and their total.
    pub async fn list(
        &self,
        session: &Session,
        room_id: &str,
        offset: i64,
        count: i64,
    ) -> Result<(Vec<VideoConference>, i64)> {
        self.accessible_room(&session.user, room_id).await?;
        self.ctx
            .store
            .room_video_conferences(room_id, offset, count)
            .await
            .map_err(store_error)
    }

    /// Applies `change` to the stored call, retrying when someone changed it meanwhile.
    async fn change(
        &self,
        call_id: &str,
        change: impl Fn(&mut VideoConference),
    ) -> Result<VideoConference> {
        for _ in 0..UPDATE_ATTEMPTS {
            let mut call = self
                .ctx
                .store
                .video_conference(call_id)
                .await
                .map_err(store_error)?
                .ok_or_else(invalid_params)?;
            change(&mut call);
            if self
                .ctx
                .store
                .update_video_conference(&call)
                .await
                .map_err(store_error)?
            {
                call.revision += 1;
                return Ok(call);
            }
        }
        Err(Error::internal("video conference kept changing"))
    }

    /// `video-conference.join`: records the caller as joined (the call is `started` from
    /// then on) and answers the provider's link for them.
    pub async fn join(
        &self,
        session: &Session,
        call_id: &str,
        mic: bool,
        cam: bool,
    ) -> Result<(String, String)> {
        let call = self.info(session, call_id).await?;
        if call.ended_at.is_some() || call.status > video_conference_status::STARTED {
            return Err(Error::failure("call-ended"));
        }
        if call.provider_name == crate::calls::COMET {
            let call = self.join_comet(session, call_id).await?;
            return Ok((self.comet_url(&call), call.provider_name));
        }
        let at = now();
        let user = call_user(&session.user, at);
        let call = self
            .change(call_id, |call| {
                if !call.users.iter().any(|u| u.id == user.id) {
                    call.users.push(user.clone());
                }
                call.status = video_conference_status::STARTED;
                call.ringing = false;
            })
            .await?;
        Ok((
            self.jitsi_url(&call, &session.user, mic, cam),
            call.provider_name,
        ))
    }

    /// `video-conference.cancel`: ends a call that is still ringing (`declined` for a direct
    /// call nobody answered), or that was started.
    pub async fn cancel(&self, session: &Session, call_id: &str) -> Result<VideoConference> {
        let call = self.info(session, call_id).await?;
        if call.status > video_conference_status::STARTED {
            return Ok(call);
        }
        let at = now();
        let ender = call_user(&session.user, at);
        self.change(call_id, |call| {
            if call.status <= video_conference_status::STARTED {
                call.status = if call.kind == VideoConferenceKind::Direct
                    && call.status == video_conference_status::CALLING
                {
                    video_conference_status::DECLINED
                } else {
                    video_conference_status::ENDED
                };
                call.ended_at = Some(at);
                call.ended_by = Some(ender.clone());
                call.ringing = false;
            }
        })
        .await
    }

    /// `https://<domain>/<prefix><callId><suffix>`, signed with `?jwt=` when token
    /// authentication is on, with the member's mic and camera choices in the fragment.
    pub fn jitsi_url(&self, call: &VideoConference, user: &User, mic: bool, cam: bool) -> String {
        let scheme = if self.ctx.setting_bool("Jitsi_SSL") {
            "https"
        } else {
            "http"
        };
        let domain = self.ctx.setting_str("Jitsi_Domain");
        let room = format!(
            "{}{}{}",
            self.ctx.setting_str("Jitsi_URL_Room_Prefix"),
            call.id,
            self.ctx.setting_str("Jitsi_URL_Room_Suffix")
        );
        let mut url = format!("{scheme}://{domain}/{room}");
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
}
