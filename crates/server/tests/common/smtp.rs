//! A real mail server on loopback for the mail tests: `SMTP_SERVER_BIN` (from
//! `scripts/smtp-test-server.sh`: aiosmtpd writing each message it accepts to a file), and a
//! reader of what it received, with MIME decoding enough for Comet's messages. Killed when
//! dropped; every wait has a timeout.

use super::process::{START_TIMEOUT, free_port};
use base64::Engine as _;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct SmtpSink {
    child: Option<Child>,
    binary: String,
    pub port: u16,
    dir: tempfile::TempDir,
    seen: HashSet<PathBuf>,
}

/// One received message, decoded.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl ReceivedMail {
    /// The token after `/<path>/` in the plain-text part's link.
    pub fn link_token(&self, path: &str) -> String {
        let marker = format!("/{path}/");
        let start = self
            .text
            .find(&marker)
            .unwrap_or_else(|| panic!("no /{path}/ link in {:?}", self.text))
            + marker.len();
        self.text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

impl SmtpSink {
    /// The binary, or `None` (the test skips) outside CI; under CI its absence fails.
    fn binary() -> Option<String> {
        match std::env::var("SMTP_SERVER_BIN") {
            Ok(binary) if !binary.is_empty() => Some(binary),
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "SMTP_SERVER_BIN is not set: run scripts/test, or export SMTP_SERVER_BIN=$(scripts/smtp-test-server.sh)"
                );
                eprintln!("skipped: SMTP_SERVER_BIN is not set");
                None
            }
        }
    }

    /// A sink listening on a free port.
    pub fn start() -> Option<SmtpSink> {
        let mut sink = SmtpSink::stopped()?;
        sink.resume();
        Some(sink)
    }

    /// A sink with a port chosen but nothing listening on it yet (a mail server that is down):
    /// [`SmtpSink::resume`] starts it.
    pub fn stopped() -> Option<SmtpSink> {
        Some(SmtpSink {
            child: None,
            binary: SmtpSink::binary()?,
            port: free_port(),
            dir: tempfile::tempdir().expect("mail dir"),
            seen: HashSet::new(),
        })
    }

    /// Starts the server on its port and waits until it accepts connections.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP server");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "SMTP server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The settings that send Comet's mail here.
    pub fn settings(&self) -> Vec<(String, String)> {
        vec![
            ("SMTP_Host".to_owned(), "127.0.0.1".to_owned()),
            ("SMTP_Port".to_owned(), self.port.to_string()),
            ("From_Email".to_owned(), "comet@example.com".to_owned()),
        ]
    }

    fn unread(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read mail dir")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "eml"))
            .filter(|path| !self.seen.contains(path))
            .collect();
        files.sort();
        files
    }

    /// The next message not read yet, waiting up to `timeout` for it.
    pub async fn next_mail(&mut self, timeout: Duration) -> ReceivedMail {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(path) = self.unread().into_iter().next() {
                let raw = std::fs::read(&path).expect("read mail");
                self.seen.insert(path);
                return parse(&raw);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no mail within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asserts that no unread message arrives within `wait`.
    pub async fn expect_no_mail(&mut self, wait: Duration) {
        tokio::time::sleep(wait).await;
        let unread = self.unread();
        assert!(unread.is_empty(), "unexpected mail: {unread:?}");
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Splits a message (or part) into its headers (names lowercased, folded lines joined) and body.
fn split(raw: &str) -> (Vec<(String, String)>, String) {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .or_else(|| raw.split_once("\n\n"))
        .unwrap_or((raw, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push_str(line.trim_start());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`) in a header value.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("=?") {
        let Some(end) = rest[start + 2..].find("?=").map(|e| start + 2 + e) else {
            break;
        };
        let between = rest[..start].trim();
        if !between.is_empty() || out.is_empty() {
            out.push_str(&rest[..start]);
        }
        let word = &rest[start + 2..end];
        let mut pieces = word.splitn(3, '?');
        let (_charset, encoding, text) = (
            pieces.next().unwrap_or(""),
            pieces.next().unwrap_or(""),
            pieces.next().unwrap_or(""),
        );
        let bytes = if encoding.eq_ignore_ascii_case("b") {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("base64 word")
        } else {
            quoted_printable(&text.replace('_', " "))
        };
        out.push_str(&String::from_utf8(bytes).expect("utf-8 word"));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let text = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn decode_body(headers: &[(String, String)], body: &str) -> String {
    let encoding = header(headers, "content-transfer-encoding").to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .expect("base64 body"),
        "quoted-printable" => quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8(bytes)
        .expect("utf-8 body")
        .replace("\r\n", "\n")
}

/// Decodes a message as the sink stored it.
pub fn parse(raw: &[u8]) -> ReceivedMail {
    let raw = String::from_utf8_lossy(raw).into_owned();
    let (headers, body) = split(&raw);
    let mut mail = ReceivedMail {
        to: header(&headers, "x-envelope-to").to_owned(),
        from: decode_words(header(&headers, "from")),
        subject: decode_words(header(&headers, "subject")),
        text: String::new(),
        html: String::new(),
    };
    let content_type = header(&headers, "content-type");
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"').to_owned());
    match boundary {
        Some(boundary) => {
            for part in body.split(&format!("--{boundary}")).skip(1) {
                let part = part.trim_start_matches(['\r', '\n']);
                if part.starts_with("--") {
                    break;
                }
                let (part_headers, part_body) = split(part);
                let kind = header(&part_headers, "content-type").to_ascii_lowercase();
                let decoded = decode_body(&part_headers, &part_body);
                if kind.starts_with("text/html") {
                    mail.html = decoded;
                } else if kind.starts_with("text/plain") {
                    mail.text = decoded;
                }
            }
        }
        None => mail.text = decode_body(&headers, &body),
    }
    mail
}
