//! Changes to one existing message. A backend applies a change atomically: it locks the
//! message, reads it, applies the change with [`MessageChange::apply`] and writes it back in
//! one transaction, so that concurrent changes to one message (reactions, stars, an edit, a
//! pin, thread replies) all survive. The rules of each change live here, once, for every
//! backend.

use comet_core::Timestamp;
use comet_core::links::MessageUrl;
use comet_core::room::{Mention, Message, UserStub};
use serde_json::Value;
use std::collections::BTreeMap;

/// One change to a live message.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageChange {
    /// New text (with the mentions, URLs and markup tree parsed from it) by `by`.
    Edit {
        text: String,
        mentions: Vec<Mention>,
        channels: Vec<(String, String)>,
        urls: Vec<MessageUrl>,
        md: Option<Value>,
        by: UserStub,
        /// The attachments after the edit (its quotes follow the new text); `None` leaves
        /// them as they are.
        attachments: Option<Value>,
        /// New custom fields; `None` leaves them as they are.
        custom_fields: Option<Value>,
    },
    /// Previews fetched for some of the message's URLs: each fills the entry with its URL, if
    /// the message (edited meanwhile, perhaps) still has one that is not `ignoreParse`.
    LinkPreviews {
        previews: Vec<MessageUrl>,
    },
    Pin {
        by: UserStub,
    },
    Unpin,
    Star {
        user_id: String,
    },
    Unstar {
        user_id: String,
    },
    /// Join a thread's participants (notified of replies).
    Follow {
        user_id: String,
    },
    Unfollow {
        user_id: String,
    },
    /// Add `username`'s reaction `emoji` (with colons).
    React {
        emoji: String,
        username: String,
    },
    Unreact {
        emoji: String,
        username: String,
    },
    /// The message's files were removed (pruned): it keeps only `attachments`.
    RemoveFiles {
        attachments: Option<Value>,
    },
    /// Translations made by `provider` from `source_text` (the text as it was when read for
    /// translating): merged into `translations` by language, and each attachment's
    /// into its `translations` when its description is still the one translated. An edit
    /// made meanwhile wins: if the text is no longer `source_text`, nothing changes.
    Translate {
        source_text: String,
        provider: String,
        translations: BTreeMap<String, String>,
        attachments: Vec<AttachmentTranslations>,
    },
    /// Deleted while `Message_ShowDeletedStatus` is on: the message stays as an empty
    /// "message removed" (`t: rm`) entry, as upstream's `setAsDeletedByIdAndUser` leaves it.
    MarkDeleted {
        by: UserStub,
    },
    /// What the message shows changed outside it (the call a `videoconf` message stands
    /// for): written again with a new `_updatedAt`, so it is announced and synced again.
    Touch,
}

/// Translations of one attachment's `description`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentTranslations {
    /// The attachment's position in `attachments`.
    pub index: usize,
    /// Its description as translated; a different one now means the translations are stale.
    pub source_description: String,
    pub translations: BTreeMap<String, String>,
}

/// A change's result: the message as it now is, and whether the change altered it (an
/// unaltered message is not written, and nothing needs announcing).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageChanged {
    pub message: Message,
    pub changed: bool,
}

fn add_once(list: &mut Vec<String>, item: &str) -> bool {
    if list.iter().any(|existing| existing == item) {
        return false;
    }
    list.push(item.to_owned());
    true
}

fn remove_all(list: &mut Vec<String>, item: &str) -> bool {
    let before = list.len();
    list.retain(|existing| existing != item);
    list.len() != before
}

/// Merges one attachment's translations, if it still has the description translated.
fn translate_attachment(message: &mut Message, translated: &AttachmentTranslations) -> bool {
    let Some(attachment) = message
        .attachments
        .as_mut()
        .and_then(Value::as_array_mut)
        .and_then(|list| list.get_mut(translated.index))
        .and_then(Value::as_object_mut)
    else {
        return false;
    };
    if attachment.get("description").and_then(Value::as_str)
        != Some(translated.source_description.as_str())
    {
        return false;
    }
    let entry = attachment
        .entry("translations")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(serde_json::Map::new());
    }
    let Some(existing) = entry.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    for (language, text) in &translated.translations {
        if existing.get(language).and_then(Value::as_str) != Some(text.as_str()) {
            existing.insert(language.clone(), Value::String(text.clone()));
            changed = true;
        }
    }
    changed
}

impl MessageChange {
    /// Applies the change to `message` at time `at`; false when it changes nothing (already
    /// pinned, already starred ...), and then `message` is left as it was.
    pub fn apply(&self, message: &mut Message, at: Timestamp) -> bool {
        let changed = match self {
            MessageChange::Edit {
                text,
                mentions,
                channels,
                urls,
                md,
                by,
                attachments,
                custom_fields,
            } => {
                message.text = text.clone();
                message.mentions = mentions.clone();
                message.channels = channels.clone();
                message.urls = urls.clone();
                if let Some(attachments) = attachments {
                    message.attachments = Some(attachments.clone());
                }
                if let Some(fields) = custom_fields {
                    message.custom_fields = Some(fields.clone());
                }
                message.md = md.clone();
                // Translations of the old text would be shown as the new one's.
                message.translations.clear();
                message.translation_provider = None;
                message.edited_at = Some(at);
                message.edited_by = Some(by.clone());
                true
            }
            MessageChange::Pin { by } => {
                if message.pinned {
                    false
                } else {
                    message.pinned = true;
                    message.pinned_at = Some(at);
                    message.pinned_by = Some(by.clone());
                    true
                }
            }
            MessageChange::Unpin => {
                if message.pinned {
                    message.pinned = false;
                    message.pinned_at = None;
                    message.pinned_by = None;
                    true
                } else {
                    false
                }
            }
            MessageChange::Star { user_id } => add_once(&mut message.starred_by, user_id),
            MessageChange::Unstar { user_id } => remove_all(&mut message.starred_by, user_id),
            MessageChange::Follow { user_id } => {
                add_once(&mut message.thread_participants, user_id)
            }
            MessageChange::Unfollow { user_id } => {
                remove_all(&mut message.thread_participants, user_id)
            }
            MessageChange::React { emoji, username } => add_once(
                message.reactions.entry(emoji.clone()).or_default(),
                username,
            ),
            MessageChange::Unreact { emoji, username } => {
                let removed = message
                    .reactions
                    .get_mut(emoji)
                    .is_some_and(|users| remove_all(users, username));
                if message.reactions.get(emoji).is_some_and(Vec::is_empty) {
                    message.reactions.remove(emoji);
                }
                removed
            }
            MessageChange::LinkPreviews { previews } => {
                let mut changed = false;
                for entry in message.urls.iter_mut().filter(|e| !e.ignore_parse) {
                    let Some(preview) = previews.iter().find(|p| p.url == entry.url) else {
                        continue;
                    };
                    if entry.meta != preview.meta || entry.headers != preview.headers {
                        entry.meta = preview.meta.clone();
                        entry.headers = preview.headers.clone();
                        changed = true;
                    }
                }
                changed
            }
            MessageChange::Translate {
                source_text,
                provider,
                translations,
                attachments,
            } => {
                if message.text != *source_text || message.kind.is_some() {
                    return false;
                }
                let mut changed = false;
                for (language, text) in translations {
                    if message.translations.get(language) != Some(text) {
                        message.translations.insert(language.clone(), text.clone());
                        changed = true;
                    }
                }
                for attachment in attachments {
                    changed |= translate_attachment(message, attachment);
                }
                if changed && message.translation_provider.as_deref() != Some(provider) {
                    message.translation_provider = Some(provider.clone());
                }
                changed
            }
            MessageChange::RemoveFiles { attachments } => {
                message.files = None;
                message.attachments = attachments.clone();
                true
            }
            MessageChange::MarkDeleted { by } => {
                message.kind = Some("rm".to_owned());
                message.text = String::new();
                // Upstream unsets the markup tree with the text.
                message.md = None;
                message.urls.clear();
                message.mentions.clear();
                message.channels.clear();
                message.attachments = Some(Value::Array(Vec::new()));
                message.files = None;
                message.reactions.clear();
                message.thread_show = false;
                message.edited_at = Some(at);
                message.edited_by = Some(by.clone());
                true
            }
            MessageChange::Touch => true,
        };
        if changed {
            message.updated_at = at;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stub(id: &str) -> UserStub {
        UserStub {
            id: id.into(),
            username: id.into(),
            name: None,
        }
    }

    fn message() -> Message {
        Message::new("m".into(), "r", stub("a"), "hi", comet_core::now())
    }

    #[test]
    fn repeated_changes_change_nothing_the_second_time() {
        let at = comet_core::now();
        let mut m = message();
        for change in [
            MessageChange::Pin { by: stub("a") },
            MessageChange::Star {
                user_id: "b".into(),
            },
            MessageChange::Follow {
                user_id: "b".into(),
            },
            MessageChange::React {
                emoji: ":x:".into(),
                username: "b".into(),
            },
        ] {
            assert!(change.apply(&mut m, at), "{change:?} first time");
            let before = m.clone();
            assert!(!change.apply(&mut m, at), "{change:?} second time");
            assert_eq!(m, before);
        }
    }

    #[test]
    fn removing_the_last_reaction_removes_the_emoji() {
        let at = comet_core::now();
        let mut m = message();
        let react = |username: &str| MessageChange::React {
            emoji: ":x:".into(),
            username: username.into(),
        };
        assert!(react("b").apply(&mut m, at));
        assert!(react("c").apply(&mut m, at));
        let unreact = |username: &str| MessageChange::Unreact {
            emoji: ":x:".into(),
            username: username.into(),
        };
        assert!(unreact("b").apply(&mut m, at));
        assert_eq!(m.reactions[":x:"], vec!["c".to_owned()]);
        assert!(unreact("c").apply(&mut m, at));
        assert!(m.reactions.is_empty());
        assert!(!unreact("c").apply(&mut m, at));
        assert!(m.reactions.is_empty(), "no empty entry left behind");
    }

    #[test]
    fn unpinning_clears_who_and_when() {
        let at = comet_core::now();
        let mut m = message();
        assert!(MessageChange::Pin { by: stub("a") }.apply(&mut m, at));
        assert!(m.pinned_by.is_some() && m.pinned_at.is_some());
        assert!(MessageChange::Unpin.apply(&mut m, at));
        assert_eq!((m.pinned, m.pinned_at, m.pinned_by), (false, None, None));
    }

    #[test]
    fn previews_fill_only_urls_the_message_still_has() {
        let at = comet_core::now();
        let mut m = message();
        let mut skipped = MessageUrl::new("https://skip.example");
        skipped.ignore_parse = true;
        m.urls = vec![MessageUrl::new("https://a.example"), skipped];
        let preview = |url: &str| MessageUrl {
            meta: [("ogTitle".to_owned(), url.to_owned())].into(),
            ..MessageUrl::new(url)
        };
        let change = MessageChange::LinkPreviews {
            previews: vec![
                preview("https://a.example"),
                preview("https://skip.example"),
                preview("https://gone.example"),
            ],
        };
        assert!(change.apply(&mut m, at));
        assert_eq!(m.urls[0].meta["ogTitle"], "https://a.example");
        assert!(m.urls[1].meta.is_empty(), "ignoreParse is left alone");
        assert!(
            !change.apply(&mut m, at),
            "the same previews again change nothing"
        );
    }
}
