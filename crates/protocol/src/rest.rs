//! REST v1 bodies.

use crate::iso;
use comet_core::role::{Permission, Role};
use comet_core::setting::Setting;
use comet_core::user::User;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// `emails[]` entry.
#[derive(Debug, Serialize)]
pub struct EmailWire {
    pub address: String,
    pub verified: bool,
}

/// A user as REST routes show it. `full` adds what only the user and privileged callers see.
#[derive(Debug, Serialize)]
pub struct UserWire {
    #[serde(rename = "_id")]
    pub id: String,
    pub username: String,
    pub name: String,
    #[serde(rename = "type")]
    pub user_type: &'static str,
    pub status: &'static str,
    pub active: bool,
    #[serde(rename = "utcOffset")]
    pub utc_offset: Value,
    #[serde(rename = "statusText", skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    #[serde(rename = "customFields", skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<EmailWire>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(rename = "createdAt", skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(rename = "_updatedAt", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(rename = "lastLogin", skip_serializing_if = "Option::is_none")]
    pub last_login: Option<String>,
    #[serde(rename = "statusConnection", skip_serializing_if = "Option::is_none")]
    pub status_connection: Option<&'static str>,
    #[serde(
        rename = "requirePasswordChange",
        skip_serializing_if = "Option::is_none"
    )]
    pub require_password_change: Option<bool>,
}

impl UserWire {
    /// The user's public profile, plus the private fields when `full`.
    pub fn new(user: &User, full: bool) -> Self {
        UserWire {
            id: user.id.clone(),
            username: user.username.clone(),
            name: user.name.clone(),
            user_type: user.user_type.as_str(),
            status: user.status.as_str(),
            active: user.active,
            utc_offset: utc_offset(user.utc_offset),
            status_text: (!user.status_text.is_empty()).then(|| user.status_text.clone()),
            nickname: user.nickname.clone(),
            bio: user.bio.clone(),
            custom_fields: user.custom_fields.clone(),
            emails: full.then(|| emails(user)).flatten(),
            roles: full.then(|| user.roles.clone()),
            created_at: full.then(|| iso(user.created_at)),
            updated_at: full.then(|| iso(user.updated_at)),
            last_login: if full { user.last_login.map(iso) } else { None },
            status_connection: full.then(|| user.status_connection.as_str()),
            require_password_change: full.then_some(user.require_password_change),
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A user as `users.listByStatus` lists them: upstream's projection for its administration
/// table (name, username, roles, status, activity, last login, type). Addresses only with
/// `full` (upstream shows them to every caller; Comet only to those who may see them).
pub fn user_by_status(user: &User, full: bool) -> Value {
    let mut doc = Map::new();
    doc.insert("_id".into(), json!(user.id));
    doc.insert("username".into(), json!(user.username));
    doc.insert("name".into(), json!(user.name));
    doc.insert("type".into(), json!(user.user_type.as_str()));
    doc.insert("status".into(), json!(user.status.as_str()));
    doc.insert("active".into(), json!(user.active));
    doc.insert("roles".into(), json!(user.roles));
    if let Some(at) = user.last_login {
        doc.insert("lastLogin".into(), json!(iso(at)));
    }
    if full && let Some(emails) = emails(user) {
        doc.insert("emails".into(), json!(emails));
    }
    Value::Object(doc)
}

/// Hours from UTC as JavaScript writes numbers: `0` and `2`, but `5.5`.
pub fn utc_offset(hours: f64) -> Value {
    if hours.fract() == 0.0 && hours.abs() < 24.0 {
        json!(hours as i64)
    } else {
        json!(hours)
    }
}

fn emails(user: &User) -> Option<Vec<EmailWire>> {
    user.email.as_ref().map(|e| {
        vec![EmailWire {
            address: e.address.clone(),
            verified: e.verified,
        }]
    })
}

/// `GET me` (and `login`'s `data.me`): the caller's own document as upstream's `getUserInfo`.
pub fn me(user: &User, preferences: Map<String, Value>, avatar_url: &str) -> Value {
    let mut doc = Map::new();
    doc.insert("_id".into(), json!(user.id));
    doc.insert("username".into(), json!(user.username));
    doc.insert("name".into(), json!(user.name));
    if let Some(emails) = emails(user) {
        doc.insert(
            "emails".into(),
            json!(
                emails
                    .iter()
                    .map(|e| json!({"address": e.address, "verified": e.verified}))
                    .collect::<Vec<_>>()
            ),
        );
    }
    doc.insert("status".into(), json!(user.status.as_str()));
    doc.insert("statusDefault".into(), json!(user.status_default.as_str()));
    doc.insert(
        "statusConnection".into(),
        json!(user.status_connection.as_str()),
    );
    if !user.status_text.is_empty() {
        doc.insert("statusText".into(), json!(user.status_text));
    }
    doc.insert("utcOffset".into(), utc_offset(user.utc_offset));
    doc.insert("active".into(), json!(user.active));
    doc.insert("roles".into(), json!(user.roles));
    doc.insert(
        "requirePasswordChange".into(),
        json!(user.require_password_change),
    );
    doc.insert("_updatedAt".into(), json!(iso(user.updated_at)));
    for (key, value) in [
        ("nickname", &user.nickname),
        ("bio", &user.bio),
        ("language", &user.language),
    ] {
        if let Some(v) = value {
            doc.insert(key.into(), json!(v));
        }
    }
    if let Some(custom) = &user.custom_fields {
        doc.insert("customFields".into(), custom.clone());
    }
    doc.insert(
        "settings".into(),
        json!({"profile": {}, "preferences": Value::Object(preferences)}),
    );
    if let Some(email) = user.email.as_ref().filter(|e| e.verified) {
        doc.insert("email".into(), json!(email.address));
    }
    doc.insert("avatarUrl".into(), json!(avatar_url));
    doc.insert("isOAuthUser".into(), json!(false));
    doc.insert(
        "services".into(),
        json!({"password": {"exists": user.password_bcrypt.is_some()}}),
    );
    Value::Object(doc)
}

/// `{_id, value}` of a setting (`settings.public`, `settings/:_id`).
pub fn setting_value(setting: &Setting) -> Value {
    json!({"_id": setting.id, "value": setting.value})
}

/// A setting in `GET settings`, with `packageValue` when asked for defaults.
pub fn setting_listed(setting: &Setting, include_defaults: bool) -> Value {
    let mut v = setting_value(setting);
    if include_defaults && let Value::Object(map) = &mut v {
        map.insert("packageValue".into(), setting.package_value.clone());
    }
    v
}

pub fn permission(p: &Permission) -> Value {
    json!({"_id": p.id, "roles": p.roles, "_updatedAt": iso(p.updated_at)})
}

pub fn role(r: &Role) -> Value {
    json!({
        "_id": r.id,
        "name": r.name,
        "scope": r.scope,
        "description": r.description,
        "protected": r.protected,
        "mandatory2fa": r.mandatory_2fa,
    })
}

/// A user in `roles.getUsersInRole`: `name, username, emails, avatarETag, createdAt, _updatedAt`.
pub fn user_in_role(user: &User) -> Value {
    let mut v = json!({
        "_id": user.id,
        "name": user.name,
        "username": user.username,
        "createdAt": iso(user.created_at),
        "_updatedAt": iso(user.updated_at),
    });
    if let (Some(emails), Value::Object(map)) = (emails(user), &mut v) {
        map.insert(
            "emails".into(),
            json!(
                emails
                    .iter()
                    .map(|e| json!({"address": e.address, "verified": e.verified}))
                    .collect::<Vec<_>>()
            ),
        );
    }
    v
}

/// Escapes text for SVG (XML) content and attribute values, as upstream's `escapeHTML`.
fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The badge `shield.svg` answers, drawn as upstream draws it: a grey left part holding the
/// icon and `name`, a coloured right part holding `text`, widths estimated at 6 pixels a
/// character. Every text is escaped, the icon's address included.
pub fn shield_svg(name: &str, text: &str, color: &str, hide_icon: bool, icon_url: &str) -> String {
    let icon_size = if hide_icon { 7 } else { 24 };
    let name_chars = name.encode_utf16().count();
    let left = if name.is_empty() {
        icon_size
    } else {
        name_chars * 6 + 7 + icon_size
    };
    let right = text.encode_utf16().count() * 6 + 20;
    let width = left + right;
    let height = 20;
    let name = escape_xml(name);
    let text = escape_xml(text);
    let color = escape_xml(color);
    let icon = if hide_icon {
        String::new()
    } else {
        format!(
            r#"<image x="5" y="3" width="14" height="14" xlink:href="{}"/>"#,
            escape_xml(icon_url)
        )
    };
    let label = if name.is_empty() {
        String::new()
    } else {
        format!(
            r##"<text x="{icon_size}" y="15" fill="#010101" fill-opacity=".3">{name}</text><text x="{icon_size}" y="14">{name}</text>"##
        )
    };
    let text_x = left + 7;
    format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{width}" height="{height}">"#,
            r##"<linearGradient id="b" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>"##,
            r##"<mask id="a"><rect width="{width}" height="{height}" rx="3" fill="#fff"/></mask>"##,
            r##"<g mask="url(#a)"><path fill="#555" d="M0 0h{left}v{height}H0z"/><path fill="{color}" d="M{left} 0h{right}v{height}H{left}z"/><path fill="url(#b)" d="M0 0h{width}v{height}H0z"/></g>"##,
            "{icon}",
            r##"<g fill="#fff" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11">{label}<text x="{text_x}" y="15" fill="#010101" fill-opacity=".3">{text}</text><text x="{text_x}" y="14">{text}</text></g>"##,
            "</svg>"
        ),
        width = width,
        height = height,
        left = left,
        right = right,
        color = color,
        icon = icon,
        label = label,
        text_x = text_x,
        text = text,
    )
}

#[cfg(test)]
mod shield_tests {
    use super::shield_svg;

    #[test]
    fn every_text_is_escaped() {
        let svg = shield_svg(
            "<script>",
            "#a&b\"'",
            "#4c1",
            false,
            "https://x/\"><script>",
        );
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("#a&amp;b&quot;&#39;"));
        assert!(svg.contains(r#"xlink:href="https://x/&quot;&gt;&lt;script&gt;""#));
    }

    #[test]
    fn widths_follow_the_text_as_upstream() {
        // No name, icon shown: 24 + ("JOIN CHAT" 9 × 6 + 20 = 74).
        let svg = shield_svg("", "JOIN CHAT", "#4c1", false, "u");
        assert!(svg.contains(r#"width="98" height="20""#), "{svg}");
        // Hidden icon: 7 + 3 × 6 + 7 = 32 on the left.
        let svg = shield_svg("abc", "x", "#4c1", true, "u");
        assert!(svg.contains("M0 0h32v20H0z"), "{svg}");
        assert!(!svg.contains("<image"));
    }
}
