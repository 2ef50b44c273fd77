//! Link previews (upstream's `API_Embed`). A message's `urls` are found when it is posted or
//! edited (`comet_core::links`); once it is saved, the pages they point to are fetched in the
//! background, never delaying the answer, and what the pages say of themselves (title,
//! description, Open Graph and Twitter tags, a linked oEmbed description) is written into the
//! message with one `MessageChange::LinkPreviews`, which reaches clients as any change to a
//! message does (`stream-room-messages`).
//!
//! Fetching is bounded everywhere: jobs wait in a queue of `QUEUE` (a full queue drops the
//! preview, not the message), at most `CONCURRENT_FETCHES` run at once (shared with
//! `chat.getURLPreview`), each exchange gets `API_EmbedTimeout` seconds, pages are read up to
//! `MAX_PAGE_BYTES`, and every request and redirect passes the SSRF guard of `outbound` as
//! well as `API_EmbedIgnoredHosts` and `API_EmbedSafePorts`.

use crate::rooms::RoomAccess;
use crate::{Messages, Service, outbound};
use comet_core::links::{self, MessageUrl};
use comet_core::room::Message;
use comet_store::MessageChange;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// Messages waiting for their previews; beyond this, new ones go without.
const QUEUE: usize = 256;
/// Pages fetched at once, by messages and `chat.getURLPreview` together.
const CONCURRENT_FETCHES: usize = 4;
/// How much of a page is read: its head, where the metadata is, comes first.
const MAX_PAGE_BYTES: usize = 256 * 1024;
const MAX_OEMBED_BYTES: usize = 64 * 1024;
/// Upstream previews nothing in a message with more external URLs than this.
const MAX_EXTERNAL_URL_PREVIEWS: usize = 5;
const MAX_REDIRECTS: usize = 5;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// When `API_EmbedTimeout` is not a positive number of seconds.
const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// The previews of one saved message still to fetch.
pub(crate) struct PreviewJob {
    message_id: String,
    urls: Vec<String>,
}

/// The service's side of the preview queue: where jobs go in, and the permits every fetch
/// takes.
pub(crate) struct PreviewQueue {
    jobs: mpsc::Sender<PreviewJob>,
    fetches: Arc<Semaphore>,
    /// The client of the last fetch and the settings it was made for. Making one loads the
    /// system's root certificates (milliseconds of CPU), so fetches share it, and its
    /// connection pool, until a setting it depends on changes.
    client: std::sync::Mutex<Option<(ClientSettings, reqwest::Client)>>,
}

/// What a preview client is made from.
#[derive(Clone, PartialEq, Eq)]
struct ClientSettings {
    allow_private: bool,
    timeout: Duration,
    user_agent: String,
    ignored_hosts: String,
    safe_ports: String,
}

impl PreviewQueue {
    pub(crate) fn new() -> (PreviewQueue, mpsc::Receiver<PreviewJob>) {
        let (jobs, waiting) = mpsc::channel(QUEUE);
        let queue = PreviewQueue {
            jobs,
            fetches: Arc::new(Semaphore::new(CONCURRENT_FETCHES)),
            client: std::sync::Mutex::new(None),
        };
        (queue, waiting)
    }
}

impl Service {
    /// Runs queued preview jobs, each on a task of its own once a fetch permit is free, so
    /// that no more tasks exist than permits. Holds the service weakly: the worker ends with
    /// it.
    pub(crate) fn run_preview_worker(self: &Arc<Self>, mut waiting: mpsc::Receiver<PreviewJob>) {
        let service = Arc::downgrade(self);
        let fetches = self.previews.fetches.clone();
        tokio::spawn(async move {
            while let Some(job) = waiting.recv().await {
                let Ok(permit) = fetches.clone().acquire_owned().await else {
                    break;
                };
                let Some(service) = service.upgrade() else {
                    break;
                };
                tokio::spawn(async move {
                    service.messages().fill_previews(job).await;
                    drop(permit);
                });
            }
        });
    }
}

/// Whether `username` is in `API_EmbedDisabledFor` (comma-separated usernames).
fn embed_disabled_for(list: &str, username: &str) -> bool {
    list.split(',').any(|u| u.trim() == username)
}

/// Whether the settings let a preview fetch `url`: not an ignored host, a safe port.
fn target_allowed(url: &reqwest::Url, ignored_hosts: &str, safe_ports: &str) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    !links::host_ignored(host, ignored_hosts)
        && links::port_allowed(url.scheme(), url.port(), safe_ports)
}

/// A page's text: bytes decoded with the charset it declares (`Content-Type`, else its
/// `<meta>`), a byte-order mark, or UTF-8; undecodable bytes become U+FFFD.
fn decode_page(content_type: Option<&str>, bytes: &[u8]) -> String {
    let declared = links::declared_charset(content_type, bytes)
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()));
    let encoding = declared.unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = encoding.decode(bytes);
    text.into_owned()
}

fn is_html(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|ct| {
        let ct = ct.trim().to_ascii_lowercase();
        ct.starts_with("text/html") || ct.starts_with("application/xhtml+xml")
    })
}

impl Messages<'_> {
    /// The `urls` of a message being posted or edited: none with `parseUrls: false`.
    pub(crate) fn urls_for(
        &self,
        text: &str,
        parse_urls: Option<bool>,
        preview_urls: Option<&[String]>,
    ) -> Vec<MessageUrl> {
        if parse_urls == Some(false) {
            return Vec::new();
        }
        links::message_urls(text, preview_urls, &self.ctx.setting_str("Site_Url"))
    }

    /// After a message is saved (upstream's `afterSaveMessage` hook): queues the fetching of
    /// the previews it still lacks, unless `API_Embed` is off, the sender is in
    /// `API_EmbedDisabledFor`, the message carries attachments, or it has more than five
    /// external URLs (upstream previews none then).
    pub(crate) fn queue_previews(&self, message: &Message) {
        if message.urls.is_empty() || !self.ctx.setting_bool("API_Embed") {
            return;
        }
        if message
            .attachments
            .as_ref()
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            return;
        }
        if embed_disabled_for(
            &self.ctx.setting_str("API_EmbedDisabledFor"),
            &message.author.username,
        ) {
            return;
        }
        let site_url = self.ctx.setting_str("Site_Url");
        let external = message
            .urls
            .iter()
            .filter(|u| !u.url.contains(&site_url))
            .count();
        if external > MAX_EXTERNAL_URL_PREVIEWS {
            return;
        }
        let urls: Vec<String> = message
            .urls
            .iter()
            .filter(|u| !u.ignore_parse && u.meta.is_empty() && u.headers.is_empty())
            .map(|u| u.url.clone())
            .collect();
        if urls.is_empty() {
            return;
        }
        let job = PreviewJob {
            message_id: message.id.clone(),
            urls,
        };
        if let Err(mpsc::error::TrySendError::Full(job)) = self.ctx.previews.jobs.try_send(job) {
            tracing::warn!(message = %job.message_id, "link preview queue full: no previews");
        }
    }

    /// Fetches a job's pages one after another (as upstream) and writes what was found.
    async fn fill_previews(&self, job: PreviewJob) {
        if !self.ctx.setting_bool("API_Embed") {
            return;
        }
        let mut previews = Vec::new();
        for url in &job.urls {
            if let Some(preview) = self.fetch_preview(url).await {
                previews.push(preview);
            }
        }
        if previews.is_empty() {
            return;
        }
        if let Err(e) = self
            .change_message(&job.message_id, &MessageChange::LinkPreviews { previews })
            .await
        {
            tracing::warn!(error = %e, message = %job.message_id, "could not save link previews");
        }
    }

    /// `chat.getURLPreview`: the preview of one URL for a room the caller may read, marked
    /// `ignoreParse` (so that a message sent with it is not fetched again). Nothing is fetched
    /// while `API_Embed` is off, or when no fetch permit frees up in time: the preview is then
    /// empty (`meta: {}`), as for a page that could not be read.
    pub async fn url_preview(&self, _room: &RoomAccess, url: &str) -> MessageUrl {
        let mut preview = MessageUrl::new(url);
        if self.ctx.setting_bool("API_Embed") {
            let permit = tokio::time::timeout(
                self.fetch_timeout(),
                self.ctx.previews.fetches.clone().acquire_owned(),
            )
            .await;
            if let Ok(Ok(_permit)) = permit
                && let Some(found) = self.fetch_preview(url).await
            {
                preview = found;
            }
        }
        preview.ignore_parse = true;
        preview
    }

    fn fetch_timeout(&self) -> Duration {
        let seconds = u64::try_from(self.ctx.setting_int("API_EmbedTimeout"))
            .ok()
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_TIMEOUT_SECS);
        Duration::from_secs(seconds)
    }

    /// The preview of one URL (upstream's `parseUrl`): `None` when it may not be fetched, the
    /// fetch failed or the page did not answer 200. Only HTML bodies are read.
    async fn fetch_preview(&self, raw_url: &str) -> Option<MessageUrl> {
        let url = reqwest::Url::parse(raw_url).ok()?;
        let ignored_hosts = self.ctx.setting_str("API_EmbedIgnoredHosts");
        let safe_ports = self.ctx.setting_str("API_EmbedSafePorts");
        let allow_private = self.ctx.config.link_preview_allow_private;
        if !outbound::url_allowed(&url, allow_private)
            || !target_allowed(&url, &ignored_hosts, &safe_ports)
        {
            tracing::debug!(url = %raw_url, "link preview refused by the settings or the guard");
            return None;
        }
        let agent = self.ctx.setting_str("API_Embed_UserAgent");
        let user_agent = format!("{} Comet/{}", agent.trim(), env!("CARGO_PKG_VERSION"));
        let timeout = self.fetch_timeout();
        let client = match self.preview_client(ClientSettings {
            allow_private,
            timeout,
            user_agent: user_agent.trim().to_owned(),
            ignored_hosts,
            safe_ports,
        }) {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(error = %e, "could not make the link preview client");
                return None;
            }
        };
        let language = Some(self.ctx.setting_str("Language"))
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "en".to_owned());
        let fetched = tokio::time::timeout(
            // The page, then perhaps its oEmbed description, each within the client's timeout.
            timeout * 2,
            Self::read_preview(&client, url, &language),
        )
        .await;
        match fetched {
            Ok(Ok(preview)) => preview.map(|(meta, headers)| MessageUrl {
                url: raw_url.to_owned(),
                meta,
                headers,
                ignore_parse: false,
            }),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, url = %raw_url, "link preview fetch failed");
                None
            }
            Err(_) => {
                tracing::debug!(url = %raw_url, "link preview fetch timed out");
                None
            }
        }
    }

    /// The shared preview client for `settings`, made anew when they changed.
    fn preview_client(&self, settings: ClientSettings) -> Result<reqwest::Client, String> {
        let mut cached = match self.ctx.previews.client.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((made_for, client)) = cached.as_ref()
            && *made_for == settings
        {
            return Ok(client.clone());
        }
        let (ignored_hosts, safe_ports) =
            (settings.ignored_hosts.clone(), settings.safe_ports.clone());
        let client = outbound::client(
            settings.allow_private,
            outbound::Limits {
                total: settings.timeout,
                connect: CONNECT_TIMEOUT.min(settings.timeout),
                max_redirects: MAX_REDIRECTS,
                user_agent: settings.user_agent.clone(),
            },
            move |next| target_allowed(next, &ignored_hosts, &safe_ports),
        )?;
        *cached = Some((settings, client.clone()));
        Ok(client)
    }

    /// Fetches a page and, when it links one, its oEmbed description: the relevant metadata
    /// and headers, or `None` for an answer other than 200.
    #[allow(
        clippy::type_complexity,
        reason = "a private helper returning the two maps of a preview"
    )]
    async fn read_preview(
        client: &reqwest::Client,
        url: reqwest::Url,
        language: &str,
    ) -> std::result::Result<
        Option<(BTreeMap<String, String>, BTreeMap<String, String>)>,
        reqwest::Error,
    > {
        let mut response = client
            .get(url)
            .header(reqwest::header::ACCEPT_LANGUAGE, language)
            .send()
            .await?;
        if response.status().as_u16() != 200 {
            return Ok(None);
        }
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let mut headers = BTreeMap::new();
        if let Some(length) = header(reqwest::header::CONTENT_LENGTH) {
            headers.insert("contentLength".to_owned(), length);
        }
        if let Some(ct) = &content_type {
            headers.insert("contentType".to_owned(), ct.clone());
        }
        if !is_html(content_type.as_deref()) {
            return Ok(Some((BTreeMap::new(), headers)));
        }
        let final_url = response.url().clone();
        let (bytes, _) = outbound::read_capped(&mut response, MAX_PAGE_BYTES).await?;
        let page = links::parse_page(&decode_page(content_type.as_deref(), &bytes));
        let mut meta = page.meta;
        if let Some(href) = page.oembed_url
            && let Ok(oembed_url) = final_url.join(&href)
            && let Some(description) = Self::read_oembed(client, oembed_url).await
        {
            for (key, value) in links::oembed_meta(&description) {
                meta.entry(key).or_insert(value);
            }
        }
        Ok(Some((links::relevant_meta(meta), headers)))
    }

    /// An oEmbed description (JSON), through the same guarded client; `None` on any failure:
    /// the page's own metadata is preview enough.
    async fn read_oembed(client: &reqwest::Client, url: reqwest::Url) -> Option<Value> {
        let mut response = client.get(url).send().await.ok()?;
        if response.status().as_u16() != 200 {
            return None;
        }
        let (bytes, cut) = outbound::read_capped(&mut response, MAX_OEMBED_BYTES)
            .await
            .ok()?;
        if cut {
            return None;
        }
        serde_json::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_users_are_listed_by_username() {
        assert!(embed_disabled_for("bot, ann", "ann"));
        assert!(!embed_disabled_for("bot, ann", "an"));
        assert!(!embed_disabled_for("", "ann"));
    }

    #[test]
    fn pages_decode_with_their_declared_charset() {
        let latin1 = b"<title>Caf\xe9</title>";
        assert_eq!(
            decode_page(Some("text/html; charset=iso-8859-1"), latin1),
            "<title>Café</title>"
        );
        let declared = b"<meta charset=\"windows-1252\"><title>\x93q\x94</title>";
        assert!(decode_page(Some("text/html"), declared).contains("\u{201c}q\u{201d}"));
        assert_eq!(decode_page(None, "héllo".as_bytes()), "héllo");
        assert!(is_html(Some("text/html; charset=utf-8")) && is_html(None));
        assert!(!is_html(Some("image/png")));
    }

    #[test]
    fn targets_follow_the_settings() {
        let url = |s: &str| reqwest::Url::parse(s).expect("url");
        let ignored = "localhost, 127.0.0.1, 10.0.0.0/8";
        assert!(target_allowed(
            &url("https://example.com/"),
            ignored,
            "80, 443"
        ));
        assert!(target_allowed(
            &url("http://example.com:80/"),
            ignored,
            "80, 443"
        ));
        assert!(!target_allowed(
            &url("http://example.com:8080/"),
            ignored,
            "80, 443"
        ));
        assert!(!target_allowed(
            &url("http://10.1.1.1/"),
            ignored,
            "80, 443"
        ));
        assert!(!target_allowed(
            &url("http://localhost/"),
            ignored,
            "80, 443"
        ));
    }
}
