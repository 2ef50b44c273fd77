//! The one path every message takes into a room, whoever sends it (REST `chat.postMessage`
//! and `chat.sendMessage`, DDP `sendMessage`, file messages, system messages; later webhooks
//! and bots):
//!
//! 1. **parse**: the edge turns the wire body into a [`NewMessage`](crate::messages::NewMessage)
//!    (one parser, `comet_protocol::chat::new_message`, for REST and DDP);
//! 2. **validate**: `Service::send_message` checks the sender may write there and builds the
//!    message and what posting it changes ([`Draft`]); system messages are built by the
//!    operation that causes them;
//! 3. **filters**: every [`Filter`] in order may reject the draft, rewrite it or annotate it
//!    (links from new accounts refused, the bad-words filter, quotes of linked messages, then
//!    the markup tree `md` of the final text; translation and outgoing integrations plug in
//!    here);
//! 4. **persist**: one store transaction inserts it with its effects on the room, the thread
//!    and the members' subscriptions;
//! 5. **publish**: the message, the updated thread root and the room go on the bus;
//! 6. **notify**: who must hear of it beyond the room's listeners (mentions of non-members
//!    today; desktop notifications are decided by `Service::desktop_notifications` for the
//!    connections that listen for them).

use crate::Messages;
use crate::{Service, Session, store_error};
use async_trait::async_trait;
use comet_core::Result;
use comet_core::room::{Message, Room, RoomType};
use comet_store::PostEffects;
use std::collections::HashSet;

/// Who sends a message.
#[derive(Clone, Copy)]
pub enum Sender<'a> {
    /// A user, through any transport.
    Member(&'a Session),
    /// The server, announcing something that happened in the room (`t` is set).
    System,
}

/// A message that passed validation and is on its way into its room.
pub struct Draft<'a> {
    pub sender: Sender<'a>,
    pub room: &'a Room,
    pub message: Message,
    /// What posting it changes besides inserting it.
    pub effects: PostEffects,
}

/// One step of the pipeline between validation and persistence. Filters run in order; each
/// may reject the message (`Err`, shown to the sender as is), rewrite it or annotate it.
/// They must not write anything themselves: a later filter may still reject the message.
#[async_trait]
pub trait Filter: Send + Sync {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    async fn apply(&self, service: &Service, draft: &mut Draft<'_>) -> Result<()>;
}

/// The filters every message passes, in order; the markup tree is computed last, from the final
/// text.
pub(crate) fn built_in_filters() -> Vec<Box<dyn Filter>> {
    vec![
        Box::new(crate::abuse::NewAccountLinks),
        Box::new(BadWords::default()),
        Box::new(crate::quotes::Quotes),
        Box::new(crate::markup::Markup),
    ]
}

impl Messages<'_> {
    /// Runs the filters over a draft, in order; the first refusal stops the message.
    pub(crate) async fn run_filters(&self, draft: &mut Draft<'_>) -> Result<()> {
        for filter in &self.ctx.filters {
            if let Err(refusal) = filter.apply(self.ctx, draft).await {
                tracing::debug!(filter = filter.name(), room = %draft.room.id, "message refused");
                return Err(refusal);
            }
        }
        Ok(())
    }

    /// Filters, persists, publishes and notifies: stages 3 to 6 for a validated draft.
    pub(crate) async fn post(&self, mut draft: Draft<'_>) -> Result<Message> {
        self.run_filters(&mut draft).await?;
        let Draft {
            sender,
            room,
            message,
            effects,
        } = draft;
        self.ctx
            .store
            .post_message(&message, &effects)
            .await
            .map_err(store_error)?;
        if matches!(sender, Sender::Member(_)) {
            comet_metrics::MESSAGES_POSTED.inc();
        }
        self.ctx
            .publish(comet_events::Event::Message(Box::new(message.clone())));
        if let Some(tmid) = &message.thread_id {
            // The thread's root changed too (reply count, last reply, repliers): upstream
            // streams the updated root to the room so open clients show the new count.
            if let Some(root) = self
                .ctx
                .store
                .message_by_id(tmid)
                .await
                .map_err(store_error)?
                .filter(|root| root.deleted_at.is_none())
            {
                self.ctx
                    .publish(comet_events::Event::Message(Box::new(root)));
            }
        }
        if effects.becomes_last_message {
            let mut updated = room.clone();
            updated.message_count += 1;
            updated.last_message_at = Some(message.created_at);
            updated.last_message_id = Some(message.id.clone());
            updated.updated_at = message.created_at;
            self.ctx.publish(comet_events::Event::Room {
                room: Box::new(updated),
                last_message: Some(Box::new(message.clone())),
            });
        }
        if matches!(sender, Sender::Member(_)) {
            self.ctx.queue_offline_mail(room, &message);
        }
        if let Sender::Member(session) = sender
            && room.room_type != RoomType::Direct
            && let Err(e) = self
                .notice_mentions_outside_room(session, room, &message)
                .await
        {
            tracing::warn!(error = %e, "could not check mentions against the room's members");
        }
        Ok(message)
    }

    /// Posts a system message (built by the operation it announces) through the pipeline; it
    /// counts in the room's messages but changes no one's unread state. (The notices of members
    /// joining and leaving are written by the store in the same transaction as the membership
    /// change, and published after it, outside the filters.)
    pub(crate) async fn post_system(&self, room: &Room, notice: Message) -> Result<Message> {
        self.post(Draft {
            sender: Sender::System,
            room,
            message: notice,
            effects: PostEffects {
                counts_in_room: true,
                ..PostEffects::default()
            },
        })
        .await
    }
}

/// Upstream's bad-words filter (`Message_AllowBadWordsFilter`): every word of the message
/// text found in `Message_BadWordsFilterList` (comma-separated, matched whole and without
/// regard to case) and not in `Message_BadWordsWhitelist` has each of its letters and digits
/// replaced by `*`. Comet ships no word list of its own: the operator's list is the list.
///
/// The lists are turned into a set once per change of either setting, not per message, so a
/// list of thousands of words costs a lookup per word of the message.
#[derive(Default)]
struct BadWords {
    compiled: std::sync::Mutex<Option<CompiledBadWords>>,
}

/// The bad-words set built from the two settings' values it was built from.
struct CompiledBadWords {
    list: String,
    allowed: String,
    words: std::sync::Arc<HashSet<String>>,
}

impl BadWords {
    /// The set for the current settings, rebuilt when either changed.
    fn words(&self, list: String, allowed: String) -> std::sync::Arc<HashSet<String>> {
        let mut compiled = match self.compiled.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(current) = compiled.as_ref()
            && current.list == list
            && current.allowed == allowed
        {
            return current.words.clone();
        }
        let words = std::sync::Arc::new(bad_word_set(&list, &allowed));
        *compiled = Some(CompiledBadWords {
            list,
            allowed,
            words: words.clone(),
        });
        words
    }
}

#[async_trait]
impl Filter for BadWords {
    fn name(&self) -> &'static str {
        "bad-words"
    }

    async fn apply(&self, service: &Service, draft: &mut Draft<'_>) -> Result<()> {
        if draft.message.kind.is_some()
            || draft.message.text.is_empty()
            || !service.setting_bool("Message_AllowBadWordsFilter")
        {
            return Ok(());
        }
        let words = self.words(
            service.setting_str("Message_BadWordsFilterList"),
            service.setting_str("Message_BadWordsWhitelist"),
        );
        if let Some(clean) = mask_words(&draft.message.text, &words) {
            draft.message.text = clean;
        }
        Ok(())
    }
}

/// The words of a comma-separated setting, trimmed and lowercased.
fn word_list(setting: &str) -> Vec<String> {
    setting
        .split(',')
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The listed words that are not allowed, lowercased.
fn bad_word_set(list: &str, allowed: &str) -> HashSet<String> {
    let allowed = word_list(allowed);
    word_list(list)
        .into_iter()
        .filter(|w| !allowed.contains(w))
        .collect()
}

/// `text` with every listed (and not allowed) word masked, or `None` when nothing is.
#[cfg(test)]
fn mask_bad_words(text: &str, list: &str, allowed: &str) -> Option<String> {
    mask_words(text, &bad_word_set(list, allowed))
}

/// `text` with every word of `bad` masked, or `None` when nothing is.
fn mask_words(text: &str, bad: &HashSet<String>) -> Option<String> {
    if bad.is_empty() {
        return None;
    }
    let is_word_char = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut masked = false;
    let mut rest = text;
    while !rest.is_empty() {
        let word_len = rest
            .char_indices()
            .find(|&(_, c)| !is_word_char(c))
            .map_or(rest.len(), |(i, _)| i);
        if word_len == 0 {
            let gap_len = rest
                .char_indices()
                .find(|&(_, c)| is_word_char(c))
                .map_or(rest.len(), |(i, _)| i);
            out.push_str(&rest[..gap_len]);
            rest = &rest[gap_len..];
            continue;
        }
        let word = &rest[..word_len];
        if bad.contains(&word.to_lowercase()) {
            masked = true;
            out.extend(word.chars().map(|_| '*'));
        } else {
            out.push_str(word);
        }
        rest = &rest[word_len..];
    }
    masked.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::{BadWords, mask_bad_words};
    use std::sync::Arc;

    #[test]
    fn the_word_set_is_built_once_per_settings_change() {
        let filter = BadWords::default();
        let first = filter.words("one, two".into(), String::new());
        let again = filter.words("one, two".into(), String::new());
        assert!(Arc::ptr_eq(&first, &again));
        let changed = filter.words("one, two".into(), "two".into());
        assert!(!Arc::ptr_eq(&first, &changed));
        assert!(changed.contains("one") && !changed.contains("two"));
    }

    #[test]
    fn a_long_list_is_matched_by_lookup() {
        let list: Vec<String> = (0..1000).map(|n| format!("word{n}")).collect();
        let text = "clean word999 text word0";
        assert_eq!(
            mask_bad_words(text, &list.join(","), ""),
            Some("clean ******* text *****".into())
        );
    }

    #[test]
    fn listed_words_are_masked_whole_and_without_regard_to_case() {
        assert_eq!(
            mask_bad_words("a BadWord, badwords and badword!", "badword, other", ""),
            Some("a *******, badwords and *******!".into())
        );
        assert_eq!(mask_bad_words("nothing here", "badword", ""), None);
        assert_eq!(mask_bad_words("badword", "", ""), None);
    }

    #[test]
    fn the_whitelist_wins_and_any_script_counts() {
        assert_eq!(mask_bad_words("darn it", "darn", "DARN"), None);
        assert_eq!(
            mask_bad_words("ну блин же", "блин", ""),
            Some("ну **** же".into())
        );
    }
}
