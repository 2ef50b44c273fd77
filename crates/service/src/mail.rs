//! Outgoing mail: rendered messages wait in the store's durable queue (`MailStore`) and a
//! worker on each instance delivers them through a [`MailTransport`] (SMTP, `comet-mail`) as
//! the `SMTP_*` settings say at the moment of delivery.
//!
//! A mail server that is down or refuses for a while delays mail and loses none: a failed
//! attempt is retried with a doubling backoff (from `COMET_MAIL_RETRY_SECONDS`, at most an hour
//! apart) until `MAX_MAIL_AGE` has passed. The queue holds at most `MAIL_QUEUE_CAPACITY`
//! messages; beyond that new mail is dropped and logged, so a flood of requests cannot fill the
//! database. Nothing here waits for a mail server on a request's path.

use crate::mail_templates::RenderedMail;
use crate::{Service, store_error};
use comet_core::{Result, Timestamp, now};
use comet_mail::{MailTransport, OutgoingMail, Security, SmtpSettings};
use comet_store::QueuedMail;
use std::sync::Arc;
use std::time::Duration;

/// Most messages waiting at once.
pub const MAIL_QUEUE_CAPACITY: u64 = 10_000;
/// Mail not delivered within this long is abandoned (its links would have expired anyway).
const MAX_MAIL_AGE: chrono::Duration = chrono::Duration::days(3);
/// The longest wait between two attempts at one message.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// How long a claimed message is left to the instance that claimed it (a delivery takes at
/// most a minute; an instance that dies mid-delivery releases it when this ends).
const CLAIM_LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// Messages claimed at a time.
const CLAIM_BATCH: u64 = 10;
/// How often the worker looks for due mail when nothing wakes it.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The worker's side of the queue: its transport and what wakes it.
pub(crate) struct MailQueue {
    transport: Arc<dyn MailTransport>,
    /// Shared with the worker, which waits on it without holding the service.
    wake: Arc<tokio::sync::Notify>,
}

impl MailQueue {
    pub(crate) fn new(transport: Arc<dyn MailTransport>) -> MailQueue {
        MailQueue {
            transport,
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }
}

impl Service {
    /// Where mail goes, from the `SMTP_*` settings; `None` while `SMTP_Host` is empty (mail is
    /// off, as upstream without `MAIL_URL`).
    pub(crate) fn smtp_settings(&self) -> Option<SmtpSettings> {
        let host = self.setting_str("SMTP_Host").trim().to_owned();
        if host.is_empty() {
            return None;
        }
        let implicit_tls = self.setting_str("SMTP_Protocol") == "smtps";
        let security = if implicit_tls {
            Security::ImplicitTls
        } else if self.setting_bool("SMTP_IgnoreTLS") {
            Security::Plain
        } else {
            Security::StartTlsWhenOffered
        };
        let port = self.setting_str("SMTP_Port").trim().parse::<u16>().ok();
        let username = self.setting_str("SMTP_Username");
        let password = self.setting_str("SMTP_Password");
        let credentials =
            (!username.is_empty() && !password.is_empty()).then_some((username, password));
        Some(SmtpSettings {
            host,
            port,
            security,
            credentials,
        })
    }

    /// The sender: `From_Email`, else `no-reply@` the site's host.
    fn mail_sender(&self) -> String {
        let from = self.setting_str("From_Email").trim().to_owned();
        if !from.is_empty() {
            return from;
        }
        let site = self.setting_str("Site_Url");
        let host = url::Url::parse(&site)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".to_owned());
        format!("no-reply@{host}")
    }

    /// Queues a message for `recipient`. False when mail is off (no `SMTP_Host`) or the queue
    /// is full; either is logged, never shown to the requester (who must not learn from it
    /// whether an address has an account).
    pub(crate) async fn queue_mail(&self, recipient: &str, mail: RenderedMail) -> Result<bool> {
        if self.smtp_settings().is_none() {
            tracing::info!("mail not sent: SMTP_Host is not set");
            return Ok(false);
        }
        let at = now();
        let queued = QueuedMail {
            id: comet_core::id::new_id(),
            recipient: recipient.to_owned(),
            subject: mail.subject,
            text_body: mail.text,
            html_body: mail.html,
            created_at: at,
            next_attempt_at: at,
            attempts: 0,
            last_error: None,
        };
        let accepted = self
            .store
            .enqueue_mail(&queued, MAIL_QUEUE_CAPACITY)
            .await
            .map_err(store_error)?;
        if accepted {
            self.mail.wake.notify_one();
        } else {
            tracing::warn!(
                capacity = MAIL_QUEUE_CAPACITY,
                "mail queue full: message dropped"
            );
        }
        Ok(accepted)
    }

    /// Delivers due mail until the service goes. Holds the service weakly.
    pub(crate) fn run_mail_worker(self: &Arc<Self>) {
        let service = Arc::downgrade(self);
        let poll = self
            .config
            .mail_retry_initial
            .clamp(Duration::from_millis(100), MAX_POLL_INTERVAL);
        let wake = Arc::clone(&self.mail.wake);
        tokio::spawn(async move {
            loop {
                let Some(live) = service.upgrade() else {
                    break;
                };
                let claimed_any = match live.deliver_due_mail().await {
                    Ok(claimed) => claimed > 0,
                    Err(e) => {
                        tracing::warn!(error = %e, "mail queue: reading due mail failed");
                        false
                    }
                };
                // Not held while waiting, so the service (and its database pool) can go.
                drop(live);
                if claimed_any {
                    // More may be due at once: look again before sleeping.
                    continue;
                }
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                }
            }
        });
    }

    /// Claims a batch of due messages and tries each once; how many it claimed.
    async fn deliver_due_mail(&self) -> Result<usize> {
        let at = now();
        let claimed = self
            .store
            .claim_due_mail(at, at + CLAIM_LEASE, CLAIM_BATCH)
            .await
            .map_err(store_error)?;
        let count = claimed.len();
        for mail in claimed {
            self.attempt_delivery(mail).await?;
        }
        Ok(count)
    }

    async fn attempt_delivery(&self, mail: QueuedMail) -> Result<()> {
        let at = now();
        if at - mail.created_at > MAX_MAIL_AGE {
            tracing::error!(
                mail = %mail.id,
                attempts = mail.attempts,
                last_error = mail.last_error.as_deref().unwrap_or(""),
                "mail abandoned: not delivered in three days"
            );
            comet_metrics::MAIL_ABANDONED.inc();
            return self.store.remove_mail(&mail.id).await.map_err(store_error);
        }
        let Some(smtp) = self.smtp_settings() else {
            // Mail was turned off after this was queued: keep it for when it is back.
            return self.retry_later(&mail, at, "SMTP_Host is not set").await;
        };
        let outgoing = OutgoingMail {
            from: self.mail_sender(),
            to: mail.recipient.clone(),
            subject: mail.subject.clone(),
            text: mail.text_body.clone(),
            html: mail.html_body.clone(),
        };
        match self.mail.transport.deliver(&smtp, &outgoing).await {
            Ok(()) => {
                tracing::info!(mail = %mail.id, attempts = mail.attempts + 1, "mail delivered");
                comet_metrics::MAIL_DELIVERED.inc();
                self.store.remove_mail(&mail.id).await.map_err(store_error)
            }
            Err(e) if e.is_permanent() => {
                tracing::error!(mail = %mail.id, error = %e, "mail undeliverable: dropped");
                comet_metrics::MAIL_ABANDONED.inc();
                self.store.remove_mail(&mail.id).await.map_err(store_error)
            }
            Err(e) => {
                tracing::warn!(mail = %mail.id, attempts = mail.attempts + 1, error = %e, "mail delivery failed; will retry");
                comet_metrics::MAIL_RETRIED.inc();
                self.retry_later(&mail, at, &e.to_string()).await
            }
        }
    }

    async fn retry_later(&self, mail: &QueuedMail, at: Timestamp, error: &str) -> Result<()> {
        let delay = retry_delay(self.config.mail_retry_initial, mail.attempts);
        let next = at + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
        self.store
            .mail_attempt_failed(&mail.id, next, error)
            .await
            .map_err(store_error)
    }

    /// Messages waiting for delivery (for `/metrics`).
    pub async fn pending_mail(&self) -> Result<u64> {
        self.store.pending_mail_count().await.map_err(store_error)
    }
}

/// The wait before the attempt after `failed_attempts` failures: `initial`, doubling each
/// time, at most an hour.
fn retry_delay(initial: Duration, failed_attempts: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failed_attempts.min(20))
        .unwrap_or(u32::MAX);
    initial.saturating_mul(factor).min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        let initial = Duration::from_secs(10);
        assert_eq!(retry_delay(initial, 0), Duration::from_secs(10));
        assert_eq!(retry_delay(initial, 1), Duration::from_secs(20));
        assert_eq!(retry_delay(initial, 3), Duration::from_secs(80));
        assert_eq!(retry_delay(initial, 12), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(initial, u32::MAX), MAX_RETRY_DELAY);
    }
}
