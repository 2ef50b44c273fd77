//! The markup tree (`md`) saved with every message a person writes, as upstream's
//! `BeforeSaveMarkdownParser` computes it: from the final text (after the bad-words filter), with
//! the parser options upstream's server takes from settings. System messages have none (upstream
//! saves them without its message hooks), nor have empty texts, end-to-end encrypted ones, texts
//! longer than upstream's parse limit, or any message when `DISABLE_MESSAGE_PARSER` is set.

use crate::Service;
use crate::pipeline::{Draft, Filter};
use async_trait::async_trait;
use comet_core::Result;
use comet_core::markup::{Options, parse_json};
use comet_core::room::Message;
use serde_json::Value;

/// Upstream's default `MESSAGE_MAX_PARSE_LENGTH`, in UTF-16 units as JavaScript counts: longer
/// texts are saved without a tree.
const MAX_PARSE_LENGTH: usize = 30_000;

/// The parser options as upstream's server sets them (`getMarkdownConfig`).
fn options(service: &Service) -> Options {
    let katex = service.setting_bool("Katex_Enabled");
    Options {
        colors: service.setting_bool("HexColorPreview_Enabled"),
        emoticons: true,
        katex_dollar: katex && service.setting_bool("Katex_Dollar_Syntax"),
        katex_parenthesis: katex && service.setting_bool("Katex_Parenthesis_Syntax"),
        custom_domains: service
            .setting_str("Message_CustomDomain_AutoLink")
            .split(',')
            .map(|domain| domain.trim().to_owned())
            .filter(|domain| !domain.is_empty())
            .collect(),
    }
}

/// The tree to save with `message`, or `None` when upstream would save none.
pub(crate) fn tree_for(service: &Service, message: &Message) -> Option<Value> {
    if service.config.disable_message_parser
        || message.kind.is_some()
        || message.text.is_empty()
        || message.text.encode_utf16().count() > MAX_PARSE_LENGTH
    {
        return None;
    }
    parse_json(&message.text, &options(service))
}

/// The last filter: annotates the draft with its tree, once every rewrite of the text is done.
pub(crate) struct Markup;

#[async_trait]
impl Filter for Markup {
    fn name(&self) -> &'static str {
        "markup"
    }

    async fn apply(&self, service: &Service, draft: &mut Draft<'_>) -> Result<()> {
        draft.message.md = tree_for(service, &draft.message);
        Ok(())
    }
}
