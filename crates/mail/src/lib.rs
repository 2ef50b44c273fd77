//! Delivering one email message over SMTP. The service decides what to send, to whom and
//! when (its queue and retries); this crate only knows how to hand a message to a mail
//! server, behind [`MailTransport`] so that the service never sees lettre.
//!
//! Connection security follows upstream's `SMTP_Protocol` / `SMTP_IgnoreTLS`: `smtps` is TLS
//! from the first byte; `smtp` upgrades with STARTTLS when the server offers it, unless TLS is
//! ignored. Certificates are checked against the Mozilla roots (webpki-roots), with rustls on
//! ring.

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How long one delivery (connect, greet, send) may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP, never upgraded (`smtp` with `SMTP_IgnoreTLS`).
    Plain,
    /// Plain SMTP upgraded with STARTTLS when the server offers it (`smtp`).
    StartTlsWhenOffered,
    /// TLS from the start (`smtps`).
    ImplicitTls,
}

/// Where and how to deliver. Its `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    /// `None`: 587 for plain SMTP, 465 for `smtps` (nodemailer's defaults).
    pub port: Option<u16>,
    pub security: Security,
    /// Username and password, used only when both are set (as upstream).
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field(
                "username",
                &self.credentials.as_ref().map(|(user, _)| user.as_str()),
            )
            .finish_non_exhaustive()
    }
}

impl SmtpSettings {
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::ImplicitTls => 465,
            Security::Plain | Security::StartTlsWhenOffered => 587,
        })
    }
}

/// One message: a plain-text and an HTML alternative of the same content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a delivery failed, and whether trying again may help.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message can never be delivered as it is (an address that does not parse, a
    /// recipient the server refuses for good).
    #[error("undeliverable: {0}")]
    Permanent(String),
    /// The server could not be reached or answered with a temporary failure.
    #[error("delivery failed: {0}")]
    Temporary(String),
}

impl MailError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Permanent(_))
    }
}

/// Hands messages to a mail server.
#[async_trait]
pub trait MailTransport: Send + Sync {
    async fn deliver(&self, smtp: &SmtpSettings, mail: &OutgoingMail) -> Result<(), MailError>;
}

/// The SMTP transport (lettre). One connection per delivery: mail is rare and queued, so a
/// pool would only hold idle connections open.
#[derive(Debug, Default, Clone, Copy)]
pub struct SmtpTransport;

fn mailbox(address: &str, role: &str) -> Result<Mailbox, MailError> {
    address
        .parse::<Mailbox>()
        .map_err(|e| MailError::Permanent(format!("{role} address {address:?}: {e}")))
}

/// The MIME message for `mail`.
pub fn build_message(mail: &OutgoingMail) -> Result<Message, MailError> {
    Message::builder()
        .from(mailbox(&mail.from, "sender")?)
        .to(mailbox(&mail.to, "recipient")?)
        .subject(mail.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| MailError::Permanent(format!("message: {e}")))
}

#[async_trait]
impl MailTransport for SmtpTransport {
    async fn deliver(&self, smtp: &SmtpSettings, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = build_message(mail)?;
        let tls = match smtp.security {
            Security::Plain => Tls::None,
            Security::StartTlsWhenOffered => Tls::Opportunistic(tls_parameters(&smtp.host)?),
            Security::ImplicitTls => Tls::Wrapper(tls_parameters(&smtp.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.effective_port())
            .tls(tls)
            .timeout(Some(DELIVERY_TIMEOUT));
        if let Some((username, password)) = &smtp.credentials {
            builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
        }
        let transport = builder.build();
        match tokio_timeout(transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
            Ok(Err(e)) => Err(MailError::Temporary(e.to_string())),
            Err(()) => Err(MailError::Temporary("timed out".to_owned())),
        }
    }
}

/// Bounds the whole delivery: lettre's timeout covers each read and write, not their sum.
async fn tokio_timeout<F: std::future::Future>(work: F) -> Result<F::Output, ()> {
    tokio::time::timeout(DELIVERY_TIMEOUT * 2, work)
        .await
        .map_err(|_| ())
}

fn tls_parameters(host: &str) -> Result<TlsParameters, MailError> {
    TlsParameters::builder(host.to_owned())
        .build_rustls()
        .map_err(|e| MailError::Permanent(format!("TLS configuration: {e}")))
}

/// Writes `text` for an HTML document: `&`, `<`, `>`, `"` and `'` as entities, so no name,
/// message or link a user chose can add markup to a mail.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<b onclick='x'>"a" & b</b>"#),
            "&lt;b onclick=&#39;x&#39;&gt;&quot;a&quot; &amp; b&lt;/b&gt;"
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let smtp = SmtpSettings {
            host: "mail.example.com".to_owned(),
            port: None,
            security: Security::ImplicitTls,
            credentials: Some(("me".to_owned(), "hunter2".to_owned())),
        };
        assert!(!format!("{smtp:?}").contains("hunter2"));
        assert_eq!(smtp.effective_port(), 465);
    }

    #[test]
    fn bad_addresses_are_permanent() {
        let mail = OutgoingMail {
            from: "not an address".to_owned(),
            to: "a@example.com".to_owned(),
            subject: "s".to_owned(),
            text: "t".to_owned(),
            html: "h".to_owned(),
        };
        assert!(build_message(&mail).is_err_and(|e| e.is_permanent()));
    }
}
