//! What Comet does with the bytes of files: where they are kept ([`blobs`]: the local
//! filesystem or S3-compatible object storage), what they are ([`sniff`]), and the image work
//! done on them ([`images`]: metadata stripped while streaming, bounded decoding, previews,
//! thumbnails, avatars).
//!
//! Nothing here knows of settings, users, the store or HTTP routing: the service decides which
//! store and which limits apply and passes them in.

pub mod blobs;
pub mod images;
pub mod sniff;
