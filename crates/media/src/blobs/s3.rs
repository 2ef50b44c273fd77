//! S3-compatible object storage (upstream's `AmazonS3` store), spoken directly over HTTP with
//! AWS Signature Version 4.
//!
//! Writes stream in bounded parts: a file that fits in one part is sent with a single `PUT`,
//! a larger one as a multipart upload of [`PART_SIZE`] parts. A multipart upload that fails,
//! goes past the size limit, or whose future is dropped is aborted, so the bucket keeps
//! neither an object nor stored parts. Reads are streamed `GET`s with a `Range` header.
//! Every request has a timeout. Credentials never reach logs, errors or `Debug` output.

use super::{BlobError, BlobReader, BlobStore};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::io::StreamReader;

/// Size of each part of a multipart upload, and of the one buffer a write holds (S3's
/// smallest part is 5 MiB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Longest a request without a streamed body may take (one part, a delete, an abort).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest to wait for a connection to the endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a download may stall between two reads.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Most of an error answer read to find its code.
const ERROR_BODY_LIMIT: usize = 16 * 1024;
/// Longest presigned URL lifetime S3 accepts (7 days).
const MAX_PRESIGN_SECS: u64 = 7 * 24 * 3600;

/// Characters left as they are when encoding a URI component (RFC 3986 unreserved).
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// The same for a path, where `/` separates segments.
const PATH: &percent_encoding::AsciiSet = &COMPONENT.remove(b'/');

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, COMPONENT).to_string()
}

/// Where and as whom to store: built from the `FileUpload_S3_*` settings.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// The signing region (`us-east-1` when the setting is empty, as upstream).
    pub region: String,
    /// The service URL (`FileUpload_S3_BucketURL`), e.g. `https://s3.eu-west-1.amazonaws.com`.
    pub endpoint: url::Url,
    pub access_key: String,
    pub secret_key: String,
    /// `https://host/bucket/key` rather than `https://bucket.host/key`.
    pub force_path_style: bool,
    /// A canned ACL sent with each object (`FileUpload_S3_Acl`), if any.
    pub acl: Option<String>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint.as_str())
            .field("force_path_style", &self.force_path_style)
            .field("acl", &self.acl)
            .finish_non_exhaustive()
    }
}

/// The `host` header and URL of an object (or of the bucket when `key` is empty).
struct Target {
    url: url::Url,
    host: String,
    /// The path as signed (already encoded).
    path: String,
}

impl S3Config {
    fn target(&self, key: &str) -> io::Result<Target> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_owned());
        let host = self.endpoint.host_str().ok_or_else(|| bad("no host"))?;
        let host = match self.endpoint.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let base = self.endpoint.path().trim_end_matches('/');
        let encoded_key = percent_encoding::utf8_percent_encode(key, PATH).to_string();
        let (host, path) = if self.force_path_style {
            (
                host,
                format!("{base}/{}/{encoded_key}", encode(&self.bucket)),
            )
        } else {
            (
                format!("{}.{host}", self.bucket),
                format!("{base}/{encoded_key}"),
            )
        };
        let url = url::Url::parse(&format!("{}://{host}{path}", self.endpoint.scheme()))
            .map_err(|_| bad("bad endpoint"))?;
        Ok(Target { url, host, path })
    }
}

/// Lowercase hex SHA-256.
fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// HMAC-SHA256 (RFC 2104), small enough to keep here rather than pull another digest version.
fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(data);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// A request to sign: method, target, query pairs (unencoded) and headers to sign
/// (lowercase names) besides `host`.
struct Signing<'a> {
    method: &'a str,
    host: &'a str,
    path: &'a str,
    query: &'a [(String, String)],
    headers: &'a [(&'a str, String)],
    payload_hash: &'a str,
}

/// The SigV4 scope and keys for one moment.
struct Signer<'a> {
    config: &'a S3Config,
    /// `YYYYMMDD'T'HHMMSS'Z'`.
    amz_date: String,
}

impl<'a> Signer<'a> {
    fn new(config: &'a S3Config, at: chrono::DateTime<chrono::Utc>) -> Self {
        Signer {
            config,
            amz_date: at.format("%Y%m%dT%H%M%SZ").to_string(),
        }
    }

    /// `YYYYMMDD`.
    fn date(&self) -> &str {
        self.amz_date.get(..8).unwrap_or_default()
    }

    fn scope(&self) -> String {
        format!("{}/{}/s3/aws4_request", self.date(), self.config.region)
    }

    fn canonical_query(query: &[(String, String)]) -> String {
        let mut pairs: Vec<(String, String)> =
            query.iter().map(|(k, v)| (encode(k), encode(v))).collect();
        pairs.sort();
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Returns `(signed header names, signature)`.
    fn sign(&self, request: &Signing<'_>) -> (String, String) {
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        headers.push(("host".to_owned(), request.host.to_owned()));
        headers.sort();
        let signed_headers = headers
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let mut canonical_headers = String::new();
        for (name, value) in &headers {
            let _ = writeln!(canonical_headers, "{name}:{value}");
        }
        let canonical = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            request.method,
            if request.path.is_empty() {
                "/"
            } else {
                request.path
            },
            Self::canonical_query(request.query),
            canonical_headers,
            signed_headers,
            request.payload_hash
        );
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            self.amz_date,
            self.scope(),
            sha256_hex(canonical.as_bytes())
        );
        let mut key = hmac_sha256(
            format!("AWS4{}", self.config.secret_key).as_bytes(),
            self.date().as_bytes(),
        );
        for part in [self.config.region.as_str(), "s3", "aws4_request"] {
            key = hmac_sha256(&key, part.as_bytes());
        }
        let signature = hex::encode(hmac_sha256(&key, to_sign.as_bytes()));
        (signed_headers, signature)
    }

    /// The `Authorization` header for a request.
    fn authorization(&self, request: &Signing<'_>) -> String {
        let (signed_headers, signature) = self.sign(request);
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
            self.config.access_key,
            self.scope()
        )
    }

    /// The query of a presigned URL (everything but the signature, then the signature).
    fn presign(
        &self,
        host: &str,
        path: &str,
        mut query: Vec<(String, String)>,
        expires: u64,
    ) -> Vec<(String, String)> {
        query.extend([
            ("X-Amz-Algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
            (
                "X-Amz-Credential".to_owned(),
                format!("{}/{}", self.config.access_key, self.scope()),
            ),
            ("X-Amz-Date".to_owned(), self.amz_date.clone()),
            ("X-Amz-Expires".to_owned(), expires.to_string()),
            ("X-Amz-SignedHeaders".to_owned(), "host".to_owned()),
        ]);
        let (_, signature) = self.sign(&Signing {
            method: "GET",
            host,
            path,
            query: &query,
            headers: &[],
            payload_hash: "UNSIGNED-PAYLOAD",
        });
        query.push(("X-Amz-Signature".to_owned(), signature));
        query
    }
}

/// An S3 error answer's `<Code>` (or the status when there is none).
async fn describe_failure(response: reqwest::Response) -> String {
    let status = response.status();
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Ok(Some(chunk)) = stream.try_next().await {
        body.extend_from_slice(&chunk);
        if body.len() >= ERROR_BODY_LIMIT {
            break;
        }
    }
    let text = String::from_utf8_lossy(&body);
    match xml_value(&text, "Code") {
        Some(code) => format!("S3 answered {} {code}", status.as_u16()),
        None => format!("S3 answered {}", status.as_u16()),
    }
}

/// The text of the first `<tag>` element (S3's answers are flat enough for this).
fn xml_value<'t>(xml: &'t str, tag: &str) -> Option<&'t str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

fn unreachable_error(e: &reqwest::Error) -> String {
    // reqwest's errors name the URL (never credentials: those are in headers only).
    if e.is_timeout() {
        "the S3 endpoint did not answer in time".to_owned()
    } else if e.is_connect() {
        "cannot connect to the S3 endpoint".to_owned()
    } else {
        format!("request to the S3 endpoint failed: {e}")
    }
}

/// Objects under a prefix of one bucket.
#[derive(Clone)]
pub struct S3BlobStore {
    name: &'static str,
    /// Added before every key (`uploads/`), so several kinds of files share a bucket.
    prefix: &'static str,
    config: S3Config,
    http: reqwest::Client,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Makes ring the process's TLS crypto provider. reqwest is built without a bundled provider
/// (ring is already in the build; aws-lc-rs is heavy), so every process must call this before
/// building a reqwest client, or the build panics. Calling it again is harmless.
pub fn install_crypto_provider() {
    // An error only means a provider was installed before, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One HTTP client for every S3 store of the process (it pools connections).
pub fn http_client() -> Result<reqwest::Client, String> {
    install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the S3 HTTP client: {e}"))
}

/// Aborts a multipart upload unless disarmed: on errors and on a dropped future alike.
struct AbortGuard {
    store: Option<S3BlobStore>,
    key: String,
    upload_id: String,
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(key = %self.key, "cannot abort a multipart upload: no runtime");
            return;
        };
        let key = std::mem::take(&mut self.key);
        let upload_id = std::mem::take(&mut self.upload_id);
        // A dropped future cannot await; the abort runs on its own.
        runtime.spawn(async move {
            store.abort_multipart(&key, &upload_id).await;
        });
    }
}

/// Reads until `buffer` is full or the body ends; returns how many bytes it holds.
async fn fill(
    body: &mut (dyn AsyncRead + Send + Unpin),
    buffer: &mut Vec<u8>,
    limit: Option<u64>,
    before: u64,
) -> Result<usize, BlobError> {
    buffer.clear();
    let mut chunk = vec![0u8; 64 * 1024];
    while buffer.len() < PART_SIZE {
        let want = chunk.len().min(PART_SIZE - buffer.len());
        let n = body.read(&mut chunk[..want]).await?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(limit) = limit
            && before + buffer.len() as u64 > limit
        {
            return Err(BlobError::TooLarge(limit));
        }
    }
    Ok(buffer.len())
}

impl S3BlobStore {
    pub fn new(
        name: &'static str,
        prefix: &'static str,
        config: S3Config,
        http: reqwest::Client,
    ) -> Self {
        S3BlobStore {
            name,
            prefix,
            config,
            http,
        }
    }

    pub fn config(&self) -> &S3Config {
        &self.config
    }

    fn object_key(&self, key: &str) -> io::Result<String> {
        let safe = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !safe {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad blob key"));
        }
        Ok(format!("{}{key}", self.prefix))
    }

    /// Builds a signed request. `query` is unencoded; `body_hash` the payload's SHA-256.
    fn request(
        &self,
        method: reqwest::Method,
        object_key: &str,
        query: &[(String, String)],
        extra_headers: &[(&str, String)],
        body_hash: &str,
    ) -> io::Result<reqwest::RequestBuilder> {
        let target = self.config.target(object_key)?;
        let signer = Signer::new(&self.config, chrono::Utc::now());
        let mut headers: Vec<(&str, String)> = vec![
            ("x-amz-content-sha256", body_hash.to_owned()),
            ("x-amz-date", signer.amz_date.clone()),
        ];
        headers.extend(extra_headers.iter().cloned());
        let authorization = signer.authorization(&Signing {
            method: method.as_str(),
            host: &target.host,
            path: &target.path,
            query,
            headers: &headers,
            payload_hash: body_hash,
        });
        let mut url = target.url;
        if !query.is_empty() {
            url.set_query(Some(&Signer::canonical_query(query)));
        }
        let mut builder = self
            .http
            .request(method, url)
            .header("authorization", authorization);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        Ok(builder)
    }

    /// Sends a request with a body held in memory (at most one part); errors name the cause.
    async fn send(
        &self,
        method: reqwest::Method,
        object_key: &str,
        query: &[(String, String)],
        extra_headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<reqwest::Response, BlobError> {
        let hash = sha256_hex(&body);
        let response = self
            .request(method, object_key, query, extra_headers, &hash)?
            .header("content-length", body.len())
            .body(body)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| BlobError::Unavailable(unreachable_error(&e)))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(BlobError::Unavailable(describe_failure(response).await))
        }
    }

    fn acl_header(&self) -> Vec<(&'static str, String)> {
        self.config
            .acl
            .iter()
            .map(|acl| ("x-amz-acl", acl.clone()))
            .collect()
    }

    async fn put_multipart(
        &self,
        object_key: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
        limit: Option<u64>,
        mut buffer: Vec<u8>,
    ) -> Result<u64, BlobError> {
        let uploads = [("uploads".to_owned(), String::new())];
        let response = self
            .send(
                reqwest::Method::POST,
                object_key,
                &uploads,
                &self.acl_header(),
                Vec::new(),
            )
            .await?;
        let text = response
            .text()
            .await
            .map_err(|e| BlobError::Unavailable(unreachable_error(&e)))?;
        let upload_id = xml_value(&text, "UploadId")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| BlobError::Unavailable("S3 gave no multipart upload id".to_owned()))?
            .to_owned();
        let mut guard = AbortGuard {
            store: Some(self.clone()),
            key: object_key.to_owned(),
            upload_id: upload_id.clone(),
        };
        let result = self
            .upload_parts(object_key, &upload_id, body, limit, &mut buffer)
            .await;
        // Abort now (awaited) on failure, rather than leaving it to the guard's spawned task.
        if result.is_err()
            && let Some(store) = guard.store.take()
        {
            store.abort_multipart(object_key, &upload_id).await;
        }
        guard.store = None;
        result
    }

    async fn upload_parts(
        &self,
        object_key: &str,
        upload_id: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
        limit: Option<u64>,
        buffer: &mut Vec<u8>,
    ) -> Result<u64, BlobError> {
        let mut etags: Vec<String> = Vec::new();
        let mut written: u64 = 0;
        loop {
            let part_number = etags.len() + 1;
            let query = [
                ("partNumber".to_owned(), part_number.to_string()),
                ("uploadId".to_owned(), upload_id.to_owned()),
            ];
            let part = std::mem::take(buffer);
            let len = part.len() as u64;
            let response = self
                .send(reqwest::Method::PUT, object_key, &query, &[], part)
                .await?;
            let etag = response
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| BlobError::Unavailable("S3 gave a part no ETag".to_owned()))?
                .to_owned();
            etags.push(etag);
            written += len;
            *buffer = Vec::with_capacity(PART_SIZE);
            if fill(body, buffer, limit, written).await? == 0 {
                break;
            }
        }
        let mut complete = String::from("<CompleteMultipartUpload>");
        for (i, etag) in etags.iter().enumerate() {
            let _ = write!(
                complete,
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                i + 1,
                etag.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            );
        }
        complete.push_str("</CompleteMultipartUpload>");
        let query = [("uploadId".to_owned(), upload_id.to_owned())];
        let response = self
            .send(
                reqwest::Method::POST,
                object_key,
                &query,
                &[],
                complete.into_bytes(),
            )
            .await?;
        // S3 may answer 200 and report the failure in the body.
        let text = response
            .text()
            .await
            .map_err(|e| BlobError::Unavailable(unreachable_error(&e)))?;
        if text.contains("<Error>") {
            let code = xml_value(&text, "Code").unwrap_or("an error");
            return Err(BlobError::Unavailable(format!(
                "S3 could not complete the upload: {code}"
            )));
        }
        Ok(written)
    }

    async fn abort_multipart(&self, object_key: &str, upload_id: &str) {
        let query = [("uploadId".to_owned(), upload_id.to_owned())];
        if let Err(e) = self
            .send(reqwest::Method::DELETE, object_key, &query, &[], Vec::new())
            .await
        {
            tracing::warn!(error = %e, key = object_key, "could not abort a multipart upload");
        }
    }

    /// A presigned GET URL for an object key (already prefixed), with response overrides.
    fn presign_object(
        &self,
        object_key: &str,
        expires_secs: u64,
        overrides: Vec<(String, String)>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> io::Result<String> {
        let target = self.config.target(object_key)?;
        let signer = Signer::new(&self.config, at);
        let query = signer.presign(
            &target.host,
            &target.path,
            overrides,
            expires_secs.clamp(1, MAX_PRESIGN_SECS),
        );
        let mut url = target.url;
        url.set_query(Some(&Signer::canonical_query(&query)));
        Ok(url.to_string())
    }

    /// Creates the bucket (for setting up a server and for tests); an existing bucket of ours
    /// is fine.
    pub async fn create_bucket(&self) -> io::Result<()> {
        match self
            .send(reqwest::Method::PUT, "", &[], &[], Vec::new())
            .await
        {
            Ok(_) => Ok(()),
            Err(BlobError::Unavailable(cause)) if cause.contains("BucketAlreadyOwnedByYou") => {
                Ok(())
            }
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }

    /// The keys (without this store's prefix) of the first 1000 objects under the prefix, for
    /// checks and tests.
    pub async fn list_keys(&self) -> io::Result<Vec<String>> {
        let query = [
            ("list-type".to_owned(), "2".to_owned()),
            ("prefix".to_owned(), self.prefix.to_owned()),
        ];
        let response = self
            .send(reqwest::Method::GET, "", &query, &[], Vec::new())
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        let text = response.text().await.map_err(io::Error::other)?;
        Ok(text
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>"))
            .map(|(key, _)| key.strip_prefix(self.prefix).unwrap_or(key).to_owned())
            .collect())
    }

    /// How many unfinished multipart uploads the bucket has under this store's prefix (for
    /// checks and tests: an interrupted upload must leave none).
    pub async fn pending_multipart_uploads(&self) -> io::Result<usize> {
        let query = [
            ("uploads".to_owned(), String::new()),
            ("prefix".to_owned(), self.prefix.to_owned()),
        ];
        let response = self
            .send(reqwest::Method::GET, "", &query, &[], Vec::new())
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        let text = response.text().await.map_err(io::Error::other)?;
        Ok(text.matches("<Upload>").count())
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn put(
        &self,
        key: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
        limit: Option<u64>,
    ) -> Result<u64, BlobError> {
        let object_key = self.object_key(key)?;
        let mut buffer = Vec::with_capacity(PART_SIZE);
        let first = fill(body, &mut buffer, limit, 0).await?;
        if first < PART_SIZE {
            // It all fits in one part: one PUT, and nothing exists until it succeeds.
            self.send(
                reqwest::Method::PUT,
                &object_key,
                &[],
                &self.acl_header(),
                buffer,
            )
            .await?;
            return Ok(first as u64);
        }
        self.put_multipart(&object_key, body, limit, buffer).await
    }

    async fn open(&self, key: &str, offset: u64) -> io::Result<Option<BlobReader>> {
        let object_key = self.object_key(key)?;
        let empty_hash = sha256_hex(b"");
        let mut extra = Vec::new();
        if offset > 0 {
            extra.push(("range", format!("bytes={offset}-")));
        }
        let request = self.request(reqwest::Method::GET, &object_key, &[], &extra, &empty_hash)?;
        let response = tokio::time::timeout(REQUEST_TIMEOUT, request.send())
            .await
            .map_err(|_| io::Error::other("the S3 endpoint did not answer in time"))?
            .map_err(|e| io::Error::other(unreachable_error(&e)))?;
        let status = response.status().as_u16();
        let total_from_range = |response: &reqwest::Response| {
            response
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit_once('/'))
                .and_then(|(_, total)| total.trim().parse::<u64>().ok())
        };
        match status {
            404 => Ok(None),
            // Asked from the end or past it: nothing to read.
            416 => {
                let len = total_from_range(&response).unwrap_or(offset);
                Ok(Some(BlobReader {
                    len,
                    body: Box::new(tokio::io::empty()),
                }))
            }
            200 | 206 => {
                let len = if status == 206 {
                    total_from_range(&response)
                } else {
                    response.content_length()
                }
                .ok_or_else(|| io::Error::other("S3 gave no object length"))?;
                let mut stream = StreamReader::new(
                    response
                        .bytes_stream()
                        .map_err(|e| io::Error::other(unreachable_error(&e))),
                );
                // A 200 to a ranged request (a server ignoring Range) starts at byte 0.
                if status == 200 && offset > 0 {
                    let skipped =
                        tokio::io::copy(&mut (&mut stream).take(offset), &mut tokio::io::sink())
                            .await?;
                    if skipped < offset {
                        return Ok(Some(BlobReader {
                            len,
                            body: Box::new(tokio::io::empty()),
                        }));
                    }
                }
                Ok(Some(BlobReader {
                    len,
                    body: Box::new(stream),
                }))
            }
            _ => Err(io::Error::other(describe_failure(response).await)),
        }
    }

    async fn delete(&self, key: &str) -> io::Result<()> {
        let object_key = self.object_key(key)?;
        let empty_hash = sha256_hex(b"");
        let response = self
            .request(reqwest::Method::DELETE, &object_key, &[], &[], &empty_hash)?
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| io::Error::other(unreachable_error(&e)))?;
        if response.status().is_success() || response.status().as_u16() == 404 {
            Ok(())
        } else {
            Err(io::Error::other(describe_failure(response).await))
        }
    }

    fn presigned_get(
        &self,
        key: &str,
        expires_secs: u64,
        content_disposition: &str,
        content_type: &str,
    ) -> Option<String> {
        let object_key = self.object_key(key).ok()?;
        let overrides = vec![
            (
                "response-content-disposition".to_owned(),
                content_disposition.to_owned(),
            ),
            ("response-content-type".to_owned(), content_type.to_owned()),
        ];
        self.presign_object(&object_key, expires_secs, overrides, chrono::Utc::now())
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The credentials and bucket of AWS's SigV4 examples for S3.
    fn example_config() -> S3Config {
        S3Config {
            bucket: "examplebucket".to_owned(),
            region: "us-east-1".to_owned(),
            endpoint: url::Url::parse("https://s3.amazonaws.com").expect("url"),
            access_key: "AKIAIOSFODNN7EXAMPLE".to_owned(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
            force_path_style: false,
            acl: None,
        }
    }

    fn example_time() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signs_aws_get_object_example() {
        // "Example: GET Object" of AWS's "Signature Calculations for the Authorization Header".
        let config = example_config();
        let target = config.target("test.txt").expect("target");
        assert_eq!(target.host, "examplebucket.s3.amazonaws.com");
        let signer = Signer::new(&config, example_time());
        let empty = sha256_hex(b"");
        let headers = [
            ("range", "bytes=0-9".to_owned()),
            ("x-amz-content-sha256", empty.clone()),
            ("x-amz-date", signer.amz_date.clone()),
        ];
        let (signed, signature) = signer.sign(&Signing {
            method: "GET",
            host: &target.host,
            path: &target.path,
            query: &[],
            headers: &headers,
            payload_hash: &empty,
        });
        assert_eq!(signed, "host;range;x-amz-content-sha256;x-amz-date");
        assert_eq!(
            signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn signs_aws_presigned_url_example() {
        // "Example: Presigned URL" of AWS's "Authenticating Requests: Using Query Parameters".
        let config = example_config();
        let store = S3BlobStore::new(
            "AmazonS3:Uploads",
            "",
            config,
            http_client().expect("client"),
        );
        let url = store
            .presign_object("test.txt", 86400, Vec::new(), example_time())
            .expect("url");
        assert!(url.starts_with("https://examplebucket.s3.amazonaws.com/test.txt?"));
        assert!(
            url.contains(
                "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404&"
            ),
            "{url}"
        );
        assert!(url.contains(
            "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        ));
    }

    #[test]
    fn path_style_and_keys() {
        let mut config = example_config();
        config.force_path_style = true;
        config.endpoint = url::Url::parse("http://127.0.0.1:8333").expect("url");
        let target = config.target("uploads/abc").expect("target");
        assert_eq!(target.host, "127.0.0.1:8333");
        assert_eq!(target.path, "/examplebucket/uploads/abc");
        assert_eq!(
            target.url.as_str(),
            "http://127.0.0.1:8333/examplebucket/uploads/abc"
        );
        // Secrets stay out of Debug output.
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("EXAMPLEKEY") && !shown.contains("AKIA"),
            "{shown}"
        );
        assert_eq!(
            xml_value("<a><UploadId>x1</UploadId></a>", "UploadId"),
            Some("x1")
        );
    }
}
