//! Quotes: a link in a message's text to another message of this server
//! (`<Site_Url>/channel/general?msg=<id>`) becomes a quote attachment showing that message,
//! as upstream's `BeforeSaveJumpToMessage` does for every message a user saves. The linked
//! message is quoted only for a writer who may read its room; its link is then not fetched
//! for a preview (`ignoreParse`). An edit drops the quotes of the old text first, so the
//! attachments always follow the text as it now is.

use crate::pipeline::{Draft, Filter, Sender};
use crate::{Service, store_error};
use async_trait::async_trait;
use comet_core::Result;
use comet_core::room::Message;
use serde_json::{Value, json};

/// Most quotes one message gets: each costs two reads, and a text can hold many links.
const MAX_QUOTES: usize = 20;

/// Whether an attachment is a quote of a message (upstream's `isQuoteAttachment`).
pub(crate) fn is_quote(attachment: &Value) -> bool {
    attachment
        .get("message_link")
        .is_some_and(|link| !link.is_null())
}

/// The message id a link names in its `msg` query parameter.
fn linked_message_id(link: &str) -> Option<String> {
    let parsed = url::Url::parse(link).ok()?;
    parsed
        .query_pairs()
        .find(|(key, _)| key == "msg")
        .map(|(_, value)| value.into_owned())
        .filter(|id| !id.is_empty())
}

/// The quoted message's own attachments, cut at upstream's default quote chain limit (2): a
/// quote inside them keeps its text but loses what it quoted in turn.
fn nested_attachments(quoted: &Message) -> Value {
    let Some(Value::Array(items)) = &quoted.attachments else {
        return json!([]);
    };
    let trimmed = items
        .iter()
        .map(|item| {
            let mut item = item.clone();
            if is_quote(&item)
                && let Value::Object(fields) = &mut item
            {
                fields.remove("attachments");
            }
            item
        })
        .collect();
    Value::Array(trimmed)
}

fn quote_attachment(quoted: &Message, link: &str, real_name: bool) -> Value {
    let author = quoted
        .alias
        .clone()
        .filter(|a| !a.is_empty())
        .or_else(|| {
            quoted
                .author
                .name
                .clone()
                .filter(|name| real_name && !name.is_empty())
        })
        .unwrap_or_else(|| quoted.author.username.clone());
    json!({
        "text": quoted.text,
        "message_link": link,
        "author_name": author,
        "author_icon": format!("/avatar/{}", quoted.author.username),
        "attachments": nested_attachments(quoted),
        "ts": comet_core::iso(quoted.created_at),
    })
}

/// The pipeline step that turns message links into quotes.
pub(crate) struct Quotes;

#[async_trait]
impl Filter for Quotes {
    fn name(&self) -> &'static str {
        "quotes"
    }

    async fn apply(&self, service: &Service, draft: &mut Draft<'_>) -> Result<()> {
        let Sender::Member(session) = draft.sender else {
            return Ok(());
        };
        let message = &mut draft.message;
        if message.kind.is_some() {
            return Ok(());
        }
        // The quotes of an edited message's old text may no longer be linked from it.
        if message.edited_at.is_some()
            && let Some(Value::Array(items)) = &mut message.attachments
        {
            items.retain(|item| !is_quote(item));
        }
        let site = service.setting_str("Site_Url");
        let site = site.trim();
        if site.is_empty() || message.urls.is_empty() {
            return Ok(());
        }
        let real_name = service.setting_bool("UI_Use_Real_Name");
        let mut quotes = Vec::new();
        for url in &mut message.urls {
            if quotes.len() >= MAX_QUOTES {
                break;
            }
            if !url.url.contains(site) {
                continue;
            }
            let Some(id) = linked_message_id(&url.url) else {
                continue;
            };
            let Some(quoted) = service
                .store
                .message_by_id(&id)
                .await
                .map_err(store_error)?
                .filter(|m| m.deleted_at.is_none())
            else {
                continue;
            };
            let Some(room) = service
                .store
                .room_by_id(&quoted.room_id)
                .await
                .map_err(store_error)?
            else {
                continue;
            };
            if !service
                .rooms()
                .can_access_room(&session.user, &room)
                .await?
            {
                continue;
            }
            quotes.push(quote_attachment(&quoted, &url.url, real_name));
            url.ignore_parse = true;
        }
        if !quotes.is_empty() {
            match &mut message.attachments {
                Some(Value::Array(items)) => items.extend(quotes),
                _ => message.attachments = Some(Value::Array(quotes)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_name_messages_by_their_msg_parameter() {
        assert_eq!(
            linked_message_id("http://chat.example/channel/general?msg=abc123"),
            Some("abc123".to_owned())
        );
        assert_eq!(
            linked_message_id("http://chat.example/channel/general?x=1&msg=a%20b"),
            Some("a b".to_owned())
        );
        assert_eq!(
            linked_message_id("http://chat.example/channel/general"),
            None
        );
        assert_eq!(linked_message_id("not a url"), None);
    }

    #[test]
    fn only_attachments_with_a_link_are_quotes() {
        assert!(is_quote(&json!({"message_link": "http://x/?msg=1"})));
        assert!(!is_quote(&json!({"message_link": null})));
        assert!(!is_quote(&json!({"title": "file"})));
    }
}
