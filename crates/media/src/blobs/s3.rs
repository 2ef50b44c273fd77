//! S3-compatible object storage (upstream's `AmazonS3` store). `rusty-s3` builds and signs
//! each request (AWS Signature Version 4 in the query string; it does no I/O) and reqwest
//! sends it.
//!
//! Writes stream in bounded parts: a file that fits in one part is sent with a single `PUT`,
//! a larger one as a multipart upload of [`PART_SIZE`] parts. A multipart upload that fails,
//! goes past the size limit, or whose future is dropped is aborted, so the bucket keeps
//! neither an object nor stored parts. Reads are streamed `GET`s with a `Range` header.
//! Every request has a timeout. Credentials never reach logs, errors or `Debug` output: a
//! signed URL carries the access key id, so transport errors are reported without their URL.

use super::{BlobError, BlobReader, BlobStore};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use rusty_s3::actions::{CreateMultipartUpload, ListObjectsV2};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
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
/// How long the signed URL of a request sent at once stays valid: the clock skew S3 allows
/// for signed headers, so that a server whose clock is a few minutes off still works.
const SIGNED_REQUEST_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Most of an error answer read to find its code.
const ERROR_BODY_LIMIT: usize = 16 * 1024;
/// Longest presigned URL lifetime S3 accepts (7 days).
const MAX_PRESIGN_SECS: u64 = 7 * 24 * 3600;

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

/// The text of the first `<tag>` element (enough to read an error answer's code).
fn xml_value<'t>(xml: &'t str, tag: &str) -> Option<&'t str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// A transport failure, described without the request's URL: a signed URL names the access
/// key id and carries a signature.
fn unreachable_error(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "the S3 endpoint did not answer in time".to_owned();
    }
    if e.is_connect() {
        return "cannot connect to the S3 endpoint".to_owned();
    }
    let e = e.without_url();
    let mut text = format!("request to the S3 endpoint failed: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn http_method(method: rusty_s3::Method) -> reqwest::Method {
    match method {
        rusty_s3::Method::Head => reqwest::Method::HEAD,
        rusty_s3::Method::Get => reqwest::Method::GET,
        rusty_s3::Method::Post => reqwest::Method::POST,
        rusty_s3::Method::Put => reqwest::Method::PUT,
        rusty_s3::Method::Delete => reqwest::Method::DELETE,
    }
}

fn io_error(e: BlobError) -> io::Error {
    match e {
        BlobError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// Objects under a prefix of one bucket.
#[derive(Clone)]
pub struct S3BlobStore {
    name: &'static str,
    /// Added before every key (`uploads/`), so several kinds of files share a bucket.
    prefix: &'static str,
    config: S3Config,
    /// The bucket's URLs, or why the endpoint cannot address it (say, virtual-host style on
    /// an IP address).
    bucket: Result<Bucket, String>,
    credentials: Credentials,
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
        let style = if config.force_path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            config.endpoint.clone(),
            style,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| format!("the S3 endpoint cannot address this bucket: {e}"));
        let credentials = Credentials::new(config.access_key.clone(), config.secret_key.clone());
        S3BlobStore {
            name,
            prefix,
            config,
            bucket,
            credentials,
            http,
        }
    }

    pub fn config(&self) -> &S3Config {
        &self.config
    }

    fn bucket(&self) -> Result<&Bucket, BlobError> {
        self.bucket
            .as_ref()
            .map_err(|cause| BlobError::Unavailable(cause.clone()))
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

    /// The `x-amz-acl` header, when an ACL is configured.
    fn acl(&self) -> Option<(&'static str, &str)> {
        self.config.acl.as_deref().map(|acl| ("x-amz-acl", acl))
    }

    /// Signs `action`, with `headers` among what is signed, into a request carrying them.
    fn signed<'a, A: S3Action<'a>>(
        &self,
        mut action: A,
        headers: &[(&'static str, &'a str)],
    ) -> reqwest::RequestBuilder {
        for (name, value) in headers {
            action.headers_mut().insert(*name, *value);
        }
        let url = action.sign(SIGNED_REQUEST_LIFETIME);
        let mut request = self.http.request(http_method(A::METHOD), url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    }

    /// Sends a request with a body held in memory (at most one part); anything but a success
    /// is an error naming the cause.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, BlobError> {
        let response = request
            .header(reqwest::header::CONTENT_LENGTH, body.len())
            .body(body)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| BlobError::Unavailable(unreachable_error(e)))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(BlobError::Unavailable(describe_failure(response).await))
        }
    }

    async fn text(response: reqwest::Response) -> Result<String, BlobError> {
        response
            .text()
            .await
            .map_err(|e| BlobError::Unavailable(unreachable_error(e)))
    }

    async fn put_multipart(
        &self,
        object_key: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
        limit: Option<u64>,
        mut buffer: Vec<u8>,
    ) -> Result<u64, BlobError> {
        let bucket = self.bucket()?;
        let create = bucket.create_multipart_upload(Some(&self.credentials), object_key);
        let acl = self.acl();
        let response = self
            .send(self.signed(create, acl.as_slice()), Vec::new())
            .await?;
        let text = Self::text(response).await?;
        let upload_id = CreateMultipartUpload::parse_response(&text)
            .ok()
            .map(|created| created.upload_id().to_owned())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| BlobError::Unavailable("S3 gave no multipart upload id".to_owned()))?;
        let mut guard = AbortGuard {
            store: Some(self.clone()),
            key: object_key.to_owned(),
            upload_id: upload_id.clone(),
        };
        let result = self
            .upload_parts(bucket, object_key, &upload_id, body, limit, &mut buffer)
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
        bucket: &Bucket,
        object_key: &str,
        upload_id: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
        limit: Option<u64>,
        buffer: &mut Vec<u8>,
    ) -> Result<u64, BlobError> {
        let mut etags: Vec<String> = Vec::new();
        let mut written: u64 = 0;
        loop {
            let part_number = u16::try_from(etags.len() + 1)
                .map_err(|_| BlobError::Unavailable("too many parts for S3".to_owned()))?;
            let part = std::mem::take(buffer);
            let len = part.len() as u64;
            let action =
                bucket.upload_part(Some(&self.credentials), object_key, part_number, upload_id);
            let response = self.send(self.signed(action, &[]), part).await?;
            let etag = response
                .headers()
                .get(reqwest::header::ETAG)
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
        let complete = bucket.complete_multipart_upload(
            Some(&self.credentials),
            object_key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let xml = complete.clone().body();
        let response = self
            .send(self.signed(complete, &[]), xml.into_bytes())
            .await?;
        // S3 may answer 200 and report the failure in the body.
        let text = Self::text(response).await?;
        if text.contains("<Error>") {
            let code = xml_value(&text, "Code").unwrap_or("an error");
            return Err(BlobError::Unavailable(format!(
                "S3 could not complete the upload: {code}"
            )));
        }
        Ok(written)
    }

    async fn abort_multipart(&self, object_key: &str, upload_id: &str) {
        let aborted = match self.bucket() {
            Ok(bucket) => {
                let abort =
                    bucket.abort_multipart_upload(Some(&self.credentials), object_key, upload_id);
                self.send(self.signed(abort, &[]), Vec::new())
                    .await
                    .map(drop)
            }
            Err(e) => Err(e),
        };
        if let Err(e) = aborted {
            tracing::warn!(error = %e, key = object_key, "could not abort a multipart upload");
        }
    }

    /// A presigned GET URL for an object key (already prefixed), signed at `at`, with the
    /// `Content-Disposition` and `Content-Type` to answer with, if given.
    fn presign_object(
        &self,
        object_key: &str,
        expires_secs: u64,
        answer_with: Option<(&str, &str)>,
        at: &jiff::Timestamp,
    ) -> Result<url::Url, BlobError> {
        let mut action = self
            .bucket()?
            .get_object(Some(&self.credentials), object_key);
        if let Some((disposition, content_type)) = answer_with {
            let query = action.query_mut();
            query.insert("response-content-disposition", disposition);
            query.insert("response-content-type", content_type);
        }
        let expires = Duration::from_secs(expires_secs.clamp(1, MAX_PRESIGN_SECS));
        Ok(action.sign_with_time(expires, at))
    }

    /// Creates the bucket (for setting up a server and for tests); an existing bucket of ours
    /// is fine.
    pub async fn create_bucket(&self) -> io::Result<()> {
        let create = self
            .bucket()
            .map_err(io_error)?
            .create_bucket(&self.credentials);
        let body = create.body().into_bytes();
        match self.send(self.signed(create, &[]), body).await {
            Ok(_) => Ok(()),
            Err(BlobError::Unavailable(cause)) if cause.contains("BucketAlreadyOwnedByYou") => {
                Ok(())
            }
            Err(e) => Err(io_error(e)),
        }
    }

    /// The keys (without this store's prefix) of the first 1000 objects under the prefix, for
    /// checks and tests.
    pub async fn list_keys(&self) -> io::Result<Vec<String>> {
        let mut list = self
            .bucket()
            .map_err(io_error)?
            .list_objects_v2(Some(&self.credentials));
        list.with_prefix(self.prefix);
        let response = self
            .send(self.signed(list, &[]), Vec::new())
            .await
            .map_err(io_error)?;
        let text = Self::text(response).await.map_err(io_error)?;
        let listed = ListObjectsV2::parse_response(&text).map_err(io::Error::other)?;
        Ok(listed
            .contents
            .into_iter()
            .map(|object| match object.key.strip_prefix(self.prefix) {
                Some(key) => key.to_owned(),
                None => object.key,
            })
            .collect())
    }

    /// How many unfinished multipart uploads the bucket has under this store's prefix (for
    /// checks and tests: an interrupted upload must leave none).
    pub async fn pending_multipart_uploads(&self) -> io::Result<usize> {
        let bucket = self.bucket().map_err(io_error)?;
        // rusty-s3 has no ListMultipartUploads action: its signing function signs this one.
        // The query pairs are sorted by name, as it requires.
        let url = rusty_s3::signing::sign(
            &jiff::Timestamp::now(),
            rusty_s3::Method::Get,
            bucket.base_url().clone(),
            self.credentials.key(),
            self.credentials.secret(),
            None,
            bucket.region(),
            SIGNED_REQUEST_LIFETIME.as_secs(),
            [("prefix", self.prefix), ("uploads", "")].into_iter(),
            std::iter::empty(),
        );
        let response = self
            .send(self.http.get(url), Vec::new())
            .await
            .map_err(io_error)?;
        let text = Self::text(response).await.map_err(io_error)?;
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
        let bucket = self.bucket()?;
        let mut buffer = Vec::with_capacity(PART_SIZE);
        let first = fill(body, &mut buffer, limit, 0).await?;
        if first < PART_SIZE {
            // It all fits in one part: one PUT, and nothing exists until it succeeds.
            let put = bucket.put_object(Some(&self.credentials), &object_key);
            let acl = self.acl();
            self.send(self.signed(put, acl.as_slice()), buffer).await?;
            return Ok(first as u64);
        }
        self.put_multipart(&object_key, body, limit, buffer).await
    }

    async fn open(&self, key: &str, offset: u64) -> io::Result<Option<BlobReader>> {
        let object_key = self.object_key(key)?;
        let get = self
            .bucket()
            .map_err(io_error)?
            .get_object(Some(&self.credentials), &object_key);
        let mut request = self.signed(get, &[]);
        if offset > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={offset}-"));
        }
        let response = tokio::time::timeout(REQUEST_TIMEOUT, request.send())
            .await
            .map_err(|_| io::Error::other("the S3 endpoint did not answer in time"))?
            .map_err(|e| io::Error::other(unreachable_error(e)))?;
        let status = response.status().as_u16();
        let total_from_range = |response: &reqwest::Response| {
            response
                .headers()
                .get(reqwest::header::CONTENT_RANGE)
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
                        .map_err(|e| io::Error::other(unreachable_error(e))),
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
        let delete = self
            .bucket()
            .map_err(io_error)?
            .delete_object(Some(&self.credentials), &object_key);
        let response = self
            .signed(delete, &[])
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| io::Error::other(unreachable_error(e)))?;
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
        let url = self
            .presign_object(
                &object_key,
                expires_secs,
                Some((content_disposition, content_type)),
                &jiff::Timestamp::now(),
            )
            .ok()?;
        Some(url.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The credentials and bucket of AWS's SigV4 examples for S3.
    fn example_store(endpoint: &str, force_path_style: bool) -> S3BlobStore {
        let config = S3Config {
            bucket: "examplebucket".to_owned(),
            region: "us-east-1".to_owned(),
            endpoint: url::Url::parse(endpoint).expect("url"),
            access_key: "AKIAIOSFODNN7EXAMPLE".to_owned(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
            force_path_style,
            acl: None,
        };
        S3BlobStore::new(
            "AmazonS3:Uploads",
            "",
            config,
            http_client().expect("client"),
        )
    }

    /// 2013-05-24T00:00:00Z, the moment of AWS's examples.
    fn example_time() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_369_353_600).expect("time")
    }

    #[test]
    fn presigns_aws_example_url() {
        // "Example: Presigned URL" of AWS's "Authenticating Requests: Using Query Parameters".
        let store = example_store("https://s3.amazonaws.com", false);
        let url = store
            .presign_object("test.txt", 86400, None, &example_time())
            .expect("url");
        assert_eq!(
            url.as_str(),
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn download_urls_answer_with_our_headers_for_a_bounded_time() {
        let store = example_store("https://s3.amazonaws.com", false);
        let disposition = "attachment; filename*=UTF-8''a%20b.png";
        let url = store
            .presign_object(
                "uploads/abc",
                30 * 24 * 3600,
                Some((disposition, "image/png")),
                &example_time(),
            )
            .expect("url");
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let value = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("response-content-disposition"), Some(disposition));
        assert_eq!(value("response-content-type"), Some("image/png"));
        assert_eq!(value("X-Amz-Expires"), Some("604800"), "at most 7 days");
        let url = store
            .presign_object("uploads/abc", 0, None, &example_time())
            .expect("url");
        assert!(url.as_str().contains("&X-Amz-Expires=1&"), "{url}");
    }

    #[test]
    fn path_style_virtual_host_and_keys() {
        let path = example_store("http://127.0.0.1:8333/s3", true);
        let url = path
            .presign_object("uploads/abc", 60, None, &example_time())
            .expect("url");
        assert!(
            url.as_str()
                .starts_with("http://127.0.0.1:8333/s3/examplebucket/uploads/abc?"),
            "{url}"
        );
        let virtual_host = example_store("https://s3.eu-west-1.amazonaws.com", false);
        let url = virtual_host
            .presign_object("uploads/abc", 60, None, &example_time())
            .expect("url");
        assert!(
            url.as_str()
                .starts_with("https://examplebucket.s3.eu-west-1.amazonaws.com/uploads/abc?"),
            "{url}"
        );
        // A bucket cannot be a subdomain of an IP address.
        let unaddressable = example_store("http://127.0.0.1:8333", false);
        assert!(matches!(
            unaddressable.presign_object("k", 60, None, &example_time()),
            Err(BlobError::Unavailable(_))
        ));
        assert!(path.object_key("../etc/passwd").is_err());
        assert!(path.presigned_get("", 60, "inline", "text/plain").is_none());
        // Secrets stay out of Debug output.
        let shown = format!("{path:?}");
        assert!(
            !shown.contains("EXAMPLEKEY") && !shown.contains("AKIA"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn storage_failures_are_reported_without_credentials() {
        // An endpoint that hangs up on every request.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                drop(connection);
            }
        });
        let store = example_store(&format!("http://{address}"), true);
        let mut body: &[u8] = b"hello";
        let Err(BlobError::Unavailable(cause)) = store.put("abc", &mut body, None).await else {
            panic!("a write to a failing endpoint succeeded");
        };
        let read = store.open("abc", 0).await.expect_err("nothing to read");
        for text in [cause, read.to_string()] {
            assert!(text.contains("S3 endpoint"), "{text}");
            assert!(
                !text.contains("AKIA") && !text.contains("Signature"),
                "{text}"
            );
        }
        assert_eq!(
            xml_value("<Error><Code>NoSuchBucket</Code></Error>", "Code"),
            Some("NoSuchBucket")
        );
    }
}
