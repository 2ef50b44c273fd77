//! Files under a directory of the data dir (upstream's `FileSystem` store).
//!
//! Writes copy through a small buffer into a temporary file that is renamed into place only
//! once complete, so a reader never sees half a file and an interrupted or refused upload
//! leaves nothing behind.

use super::{BlobError, BlobReader, BlobStore};
use async_trait::async_trait;
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Files under a directory of the data dir (upstream's `FileSystem` store).
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

/// Removes the temporary file unless the write completed (errors and cancelled futures alike).
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Synchronous on purpose: a dropped future has no runtime to await on.
            let _ = std::fs::remove_file(path);
        }
    }
}

impl LocalBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBlobStore { root: root.into() }
    }

    /// Keys are service-made ids; anything else is refused rather than joined into a path.
    fn path(&self, key: &str) -> io::Result<PathBuf> {
        let safe = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !safe {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad blob key"));
        }
        Ok(self.root.join(key))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    fn name(&self) -> &'static str {
        "FileSystem:Uploads"
    }

    async fn put(
        &self,
        key: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
        limit: Option<u64>,
    ) -> Result<u64, BlobError> {
        let target = self.path(key)?;
        let temp_dir = self.root.join("tmp");
        tokio::fs::create_dir_all(&temp_dir).await?;
        let temp = temp_dir.join(format!("{key}.{:016x}", rand::random::<u64>()));
        let mut guard = TempGuard(Some(temp.clone()));
        // Every file write is a hop to the blocking pool: gathering network chunks into big
        // writes keeps that cost small next to the copy.
        let mut file =
            tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::create(&temp).await?);
        let mut buffer = vec![0u8; 64 * 1024];
        let mut written: u64 = 0;
        loop {
            let n = body.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            written += n as u64;
            if let Some(limit) = limit
                && written > limit
            {
                return Err(BlobError::TooLarge(limit));
            }
            file.write_all(&buffer[..n]).await?;
        }
        file.flush().await?;
        file.get_ref().sync_all().await?;
        drop(file);
        tokio::fs::rename(&temp, &target).await?;
        guard.0 = None;
        Ok(written)
    }

    async fn open(&self, key: &str, offset: u64) -> io::Result<Option<BlobReader>> {
        let path = self.path(key)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.metadata().await?.len();
        if offset > 0 {
            file.seek(io::SeekFrom::Start(offset)).await?;
        }
        Ok(Some(BlobReader {
            len,
            body: Box::new(file),
        }))
    }

    async fn delete(&self, key: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_reads_and_refuses_past_the_limit_leaving_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let blobs = LocalBlobStore::new(dir.path());
        let mut body: &[u8] = b"hello world";
        assert_eq!(
            blobs.put("abc", &mut body, Some(11)).await.expect("put"),
            11
        );
        let mut reader = blobs.open("abc", 6).await.expect("open").expect("exists");
        assert_eq!(reader.len, 11);
        let mut rest = String::new();
        reader.body.read_to_string(&mut rest).await.expect("read");
        assert_eq!(rest, "world");

        let mut big: &[u8] = b"0123456789";
        assert!(matches!(
            blobs.put("big", &mut big, Some(5)).await,
            Err(BlobError::TooLarge(5))
        ));
        assert!(blobs.open("big", 0).await.expect("open").is_none());
        let leftovers = std::fs::read_dir(dir.path().join("tmp"))
            .expect("tmp")
            .count();
        assert_eq!(leftovers, 0, "the refused write left its temporary file");

        assert!(blobs.path("../etc/passwd").is_err());
        blobs.delete("abc").await.expect("delete");
        blobs.delete("abc").await.expect("deleting twice is fine");
        assert!(blobs.open("abc", 0).await.expect("open").is_none());
    }
}
