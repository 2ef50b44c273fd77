//! Moderation reports as upstream's `IModerationReport` and the console's listings
//! (`IModerationAudit`, user report groups).

use crate::{chat, iso};
use comet_core::moderation::{
    AuthorReports, ModerationReport, ReportAuthor, ReportRoom, ReportSubject, ReportedUser,
    UserReports,
};
use comet_core::user::User;
use serde_json::{Map, Value, json};

fn reported_by(author: &ReportAuthor) -> Value {
    json!({
        "_id": author.id,
        "username": author.username,
        "name": author.name,
        "createdAt": iso(author.created_at),
    })
}

/// A reported message's room (`{_id, name, fname, t, federated}`).
pub fn report_room(room: &ReportRoom) -> Value {
    let mut doc = Map::new();
    doc.insert("_id".into(), json!(room.id));
    if let Some(name) = &room.name {
        doc.insert("name".into(), json!(name));
    }
    if let Some(fname) = &room.fname {
        doc.insert("fname".into(), json!(fname));
    }
    doc.insert("t".into(), json!(room.room_type.as_str()));
    doc.insert("federated".into(), json!(room.federated));
    Value::Object(doc)
}

fn emails(addresses: &[(String, bool)]) -> Value {
    addresses
        .iter()
        .map(|(address, verified)| json!({"address": address, "verified": verified}))
        .collect()
}

fn reported_user(user: &ReportedUser) -> Value {
    json!({
        "_id": user.id,
        "username": user.username,
        "name": user.name,
        "emails": emails(&user.emails),
        "createdAt": iso(user.created_at),
    })
}

/// A whole report (`moderation.reportInfo`).
pub fn report(r: &ModerationReport) -> Value {
    let mut doc = Map::new();
    doc.insert("_id".into(), json!(r.id));
    doc.insert("description".into(), json!(r.description));
    doc.insert("reportedBy".into(), reported_by(&r.reported_by));
    doc.insert("ts".into(), json!(iso(r.ts)));
    match &r.subject {
        ReportSubject::Message { message, room } => {
            doc.insert("message".into(), chat::message(message));
            doc.insert("room".into(), report_room(room));
        }
        ReportSubject::User(user) => {
            doc.insert("reportedUser".into(), reported_user(user));
        }
    }
    let updated = r.moderation.as_ref().map_or(r.ts, |m| m.hidden_at);
    doc.insert("_updatedAt".into(), json!(iso(updated)));
    if let Some(info) = &r.moderation {
        doc.insert("_hidden".into(), json!(true));
        doc.insert(
            "moderationInfo".into(),
            json!({
                "hiddenAt": iso(info.hidden_at),
                "moderatedBy": info.moderated_by,
                "reason": info.reason,
                "action": info.action,
            }),
        );
    }
    Value::Object(doc)
}

/// A report among a message's reports (`moderation.reports`): `{_id, description,
/// reportedBy, ts, room}`.
pub fn message_report(r: &ModerationReport) -> Value {
    let mut doc = json!({
        "_id": r.id,
        "description": r.description,
        "reportedBy": reported_by(&r.reported_by),
        "ts": iso(r.ts),
    });
    if let (ReportSubject::Message { room, .. }, Some(obj)) = (&r.subject, doc.as_object_mut()) {
        obj.insert("room".into(), report_room(room));
    }
    doc
}

/// A reported message of one author (`moderation.user.reportedMessages`): `{_id, message,
/// ts, room}`.
pub fn reported_message(r: &ModerationReport) -> Value {
    let mut doc = json!({"_id": r.id, "ts": iso(r.ts)});
    if let (ReportSubject::Message { message, room }, Some(obj)) = (&r.subject, doc.as_object_mut())
    {
        obj.insert("message".into(), chat::message(message));
        obj.insert("room".into(), report_room(room));
    }
    doc
}

/// A report about a user (`moderation.user.reportsByUserId`): `{_id, description, ts,
/// reportedBy, reportedUser}`.
pub fn user_report(r: &ModerationReport) -> Value {
    let mut doc = json!({
        "_id": r.id,
        "description": r.description,
        "ts": iso(r.ts),
        "reportedBy": reported_by(&r.reported_by),
    });
    if let (ReportSubject::User(user), Some(obj)) = (&r.subject, doc.as_object_mut()) {
        obj.insert("reportedUser".into(), reported_user(user));
    }
    doc
}

/// One author's group of reported messages (`moderation.reportsByUsers`): the newest
/// report's message and author, the distinct rooms, the count, and whether the account is
/// gone.
pub fn author_reports(group: &AuthorReports) -> Value {
    let (message, author) = match &group.latest.subject {
        ReportSubject::Message { message, .. } => (Some(message.as_ref()), Some(&message.author)),
        ReportSubject::User(_) => (None, None),
    };
    json!({
        "userId": author.map(|a| a.id.clone()),
        "username": author.map(|a| a.username.clone()),
        "name": author.and_then(|a| a.name.clone()),
        "message": message.map(|m| m.text.clone()),
        "msgId": message.map(|m| m.id.clone()),
        "ts": iso(group.latest.ts),
        "rooms": group.rooms.iter().map(report_room).collect::<Vec<_>>(),
        "roomIds": group.rooms.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        "count": group.count,
        "isUserDeleted": group.author_deleted,
    })
}

/// One reported user's group (`moderation.userReports`): `{reportedUser, ts, count}`.
pub fn user_reports(group: &UserReports) -> Value {
    let user = match &group.latest.subject {
        ReportSubject::User(user) => reported_user(user),
        ReportSubject::Message { .. } => Value::Null,
    };
    json!({"reportedUser": user, "ts": iso(group.latest.ts), "count": group.count})
}

/// The author named by `moderation.user.reportedMessages` (`{_id, username, name}`).
pub fn report_author_user(user: &User) -> Value {
    json!({"_id": user.id, "username": user.username, "name": user.name})
}

/// The user named by `moderation.user.reportsByUserId`, with the addresses its reports
/// recorded (`emails`) rather than the current ones, as upstream.
pub fn reported_user_profile(user: &User, recorded_emails: &[(String, bool)]) -> Value {
    json!({
        "_id": user.id,
        "username": user.username,
        "name": user.name,
        "active": user.active,
        "roles": user.roles,
        "emails": emails(recorded_emails),
        "createdAt": iso(user.created_at),
    })
}
