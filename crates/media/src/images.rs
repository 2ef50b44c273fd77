//! Image work for uploads: thumbnails and previews for file messages (upstream's
//! `createImageThumbnail` / `resizeImagePreview`), avatars cut to a square, and removing
//! EXIF/GPS metadata from uploads as they stream in ([`MetadataFilter`]).
//!
//! Decoding is where a hostile file hurts: a few kilobytes can claim a billion pixels or
//! inflate to gigabytes. So nothing is decoded whose header claims more than `MAX_PIXELS`,
//! no more than `MAX_INPUT_BYTES` of a file is ever read for decoding, and the decoder itself
//! runs under `image::Limits` (width, height and total allocation), which also catches files
//! whose header lies. The async wrapper (`run_bounded`) adds a cap on how many decode at once
//! and a time limit. Everything here is pure and synchronous apart from that wrapper.

use base64::Engine;
use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::Semaphore;

/// The most pixels an image may claim to be decoded (about a 48-megapixel photo).
pub const MAX_PIXELS: u64 = 48_000_000;
/// The widest or tallest image decoded.
pub const MAX_SIDE: u32 = 20_000;
/// The most bytes the decoder may allocate for one image (RGBA of `MAX_PIXELS` plus slack).
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// Larger files are not read for thumbnails at all.
pub const MAX_INPUT_BYTES: u64 = 32 * 1024 * 1024;
/// How long one decode, including waiting for a turn, may take before it is given up.
pub const DECODE_TIMEOUT: Duration = Duration::from_secs(20);
/// Upstream's preview: 32×32 at most, blurred JPEG, base64 (`image_preview`).
const PREVIEW_SIDE: u32 = 32;

/// Why an image could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("not an image type that can be processed")]
    Unsupported,
    #[error("image too large to process")]
    TooLarge,
    #[error("image processing took too long")]
    TimedOut,
    #[error("image could not be decoded: {0}")]
    Decode(String),
    #[error("image could not be encoded: {0}")]
    Encode(String),
}

/// The decodable formats, by media type.
pub fn format_of(content_type: &str) -> Option<ImageFormat> {
    match content_type {
        "image/png" => Some(ImageFormat::Png),
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/gif" => Some(ImageFormat::Gif),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// Whether dimensions claimed by a header are small enough to decode.
pub fn within_limits(width: u32, height: u32) -> bool {
    width > 0
        && height > 0
        && width <= MAX_SIDE
        && height <= MAX_SIDE
        && u64::from(width) * u64::from(height) <= MAX_PIXELS
}

/// Width and height from an image's header, without decoding it.
pub fn image_dimensions(content_type: &str, head: &[u8]) -> Option<(u32, u32)> {
    let be32 = |at: usize| {
        head.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let le16 = |at: usize| {
        head.get(at..at + 2)
            .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let le24 = |at: usize| {
        head.get(at..at + 3)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], 0]))
    };
    let found = match content_type {
        "image/png" if head.get(12..16) == Some(b"IHDR") => Some((be32(16)?, be32(20)?)),
        "image/gif" => Some((le16(6)?, le16(8)?)),
        "image/webp" => match head.get(12..16)? {
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            b"VP8 " => Some((le16(26)? & 0x3fff, le16(28)? & 0x3fff)),
            b"VP8L" => {
                let bits = u32::from_le_bytes(head.get(21..25)?.try_into().ok()?);
                Some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
            }
            _ => None,
        },
        "image/jpeg" => {
            // The metadata filter's segment walk, which reads fill bytes, stray bytes and
            // frame headers as decoders do (a bare walk from length to length takes `FF FF`
            // for a segment and lands on a frame no decoder reads).
            let mut walk = MetadataFilter::new(content_type, false, false)?;
            walk.push(head, &mut Vec::new());
            walk.dimensions()
        }
        _ => None,
    };
    found.filter(|(w, h)| *w > 0 && *h > 0)
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

fn decode_error(e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::Limits(_) => ImageError::TooLarge,
        image::ImageError::Unsupported(_) => ImageError::Unsupported,
        other => ImageError::Decode(other.to_string()),
    }
}

/// Decodes under the limits and turns the image upright per its EXIF orientation.
fn decode(bytes: &[u8], format: ImageFormat) -> Result<DynamicImage, ImageError> {
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(ImageError::TooLarge);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    if !within_limits(width, height) {
        return Err(ImageError::TooLarge);
    }
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);
    Ok(image)
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    let failed = |e: image::ImageError| ImageError::Encode(e.to_string());
    match format {
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(image.to_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 80))
            .map_err(failed)?,
        ImageFormat::Gif => DynamicImage::ImageRgba8(image.to_rgba8())
            .write_with_encoder(GifEncoder::new(&mut out))
            .map_err(failed)?,
        ImageFormat::WebP => DynamicImage::ImageRgba8(image.to_rgba8())
            .write_with_encoder(WebPEncoder::new_lossless(&mut out))
            .map_err(failed)?,
        _ => {
            let image = if image.color().has_alpha() {
                DynamicImage::ImageRgba8(image.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(image.to_rgb8())
            };
            image
                .write_with_encoder(PngEncoder::new(&mut out))
                .map_err(failed)?;
        }
    }
    Ok(out)
}

fn media_type(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Gif => "image/gif",
        ImageFormat::WebP => "image/webp",
        _ => "image/png",
    }
}

/// A thumbnail to store as its own upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    /// `identify.format` of the thumbnail (`png`, `jpeg`, ...).
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
}

/// What a file message shows for an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// Width and height once turned upright.
    pub width: u32,
    pub height: u32,
    /// The blurred 32-pixel JPEG preview, base64 (`image_preview`).
    pub preview: String,
    /// A smaller copy, when the image is larger than the thumbnail box and thumbnails are on.
    pub thumbnail: Option<Thumbnail>,
}

/// Upstream's rule: no thumbnail when the image is smaller than the box in both directions.
pub fn needs_thumbnail(width: u32, height: u32, box_width: u32, box_height: u32) -> bool {
    !(height < box_height && width < box_width)
}

/// Decodes an image once and derives its preview and (when `thumbnail_box` is given and the
/// image does not fit in it) a thumbnail fitted inside the box, in the image's own format.
pub fn process(
    bytes: &[u8],
    content_type: &str,
    thumbnail_box: Option<(u32, u32)>,
) -> Result<Processed, ImageError> {
    let format = format_of(content_type).ok_or(ImageError::Unsupported)?;
    // The header decides first; the decoder's own limits catch headers that lie.
    if let Some((w, h)) = image_dimensions(content_type, bytes)
        && !within_limits(w, h)
    {
        return Err(ImageError::TooLarge);
    }
    let image = decode(bytes, format)?;
    let (width, height) = (image.width(), image.height());
    let small = image.thumbnail(PREVIEW_SIDE, PREVIEW_SIDE).blur(1.0);
    let preview =
        base64::engine::general_purpose::STANDARD.encode(encode(&small, ImageFormat::Jpeg)?);
    let thumbnail = match thumbnail_box {
        Some((bw, bh)) if bw > 0 && bh > 0 && needs_thumbnail(width, height, bw, bh) => {
            let resized = image.resize(bw, bh, FilterType::Triangle);
            Some(Thumbnail {
                bytes: encode(&resized, format)?,
                content_type: media_type(format),
                format: format.extensions_str().first().copied().unwrap_or("png"),
                width: resized.width(),
                height: resized.height(),
            })
        }
        _ => None,
    };
    Ok(Processed {
        width,
        height,
        preview,
        thumbnail,
    })
}

/// An avatar: the image turned upright, centre-cropped to a square and scaled to `size`.
/// JPEGs stay JPEG; everything else becomes PNG (upstream turns GIF into PNG too). Returns
/// the bytes and their media type.
pub fn avatar_image(bytes: &[u8], size: u32) -> Result<(Vec<u8>, &'static str), ImageError> {
    let format = format_of(crate::sniff::sniff(bytes)).ok_or(ImageError::Unsupported)?;
    if let Some((w, h)) = image_dimensions(media_type(format), bytes)
        && !within_limits(w, h)
    {
        return Err(ImageError::TooLarge);
    }
    let size = size.clamp(1, 4096);
    let image = decode(bytes, format)?.resize_to_fill(size, size, FilterType::Triangle);
    let out = if format == ImageFormat::Jpeg {
        ImageFormat::Jpeg
    } else {
        ImageFormat::Png
    };
    Ok((encode(&image, out)?, media_type(out)))
}

/// At most one decode per core at a time, server-wide.
static DECODE_PERMITS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    Arc::new(Semaphore::new(cores))
});

/// Runs `work` on the blocking pool, no more than one per core at once, giving up after
/// `DECODE_TIMEOUT`. The permit travels with the work, so a decode that outlives its timeout
/// still counts against the cap until it really ends.
pub async fn run_bounded<T, F>(work: F) -> Result<T, ImageError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ImageError> + Send + 'static,
{
    let attempt = async {
        let permit = DECODE_PERMITS
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ImageError::TimedOut)?;
        let task = tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        });
        task.await
            .map_err(|e| ImageError::Decode(format!("image task failed: {e}")))?
    };
    tokio::time::timeout(DECODE_TIMEOUT, attempt)
        .await
        .map_err(|_| ImageError::TimedOut)?
}

// ---------------------------------------------------------------------------------------
// Metadata removal while streaming.

/// Which container a `MetadataFilter` walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Jpeg,
    Png,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the signature.
    Start,
    /// Waiting for the next segment or chunk header.
    Header,
    /// Copying this many more bytes of a kept segment.
    Copy(u64),
    /// Dropping this many more bytes of a metadata segment.
    Skip(u64),
    /// Gathering a whole JPEG APP1 segment (at most 64 KiB) to look inside.
    Collect(usize),
    /// Copying everything else unchanged (image data, or a layout not understood).
    Pass,
}

/// PNG chunks that carry metadata rather than pixels.
const PNG_METADATA: [&[u8; 4]; 5] = [b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"];

/// Removes EXIF (with GPS), XMP, IPTC and comments from a JPEG, and text/EXIF chunks from a
/// PNG, as the bytes pass, without decoding or re-encoding anything: segments are dropped
/// whole, everything else is copied. Only one JPEG APP1 segment (64 KiB at most) is ever
/// held. With `keep_orientation`, the EXIF orientation survives as a minimal EXIF block so
/// viewers still show a photo upright. With `strip` off it only observes the orientation.
#[derive(Debug)]
pub struct MetadataFilter {
    container: Container,
    strip: bool,
    keep_orientation: bool,
    state: State,
    pending: Vec<u8>,
    orientation: Option<u8>,
    dimensions: Option<(u32, u32)>,
}

impl MetadataFilter {
    /// A filter for `content_type`; `None` for types it does not walk.
    pub fn new(content_type: &str, strip: bool, keep_orientation: bool) -> Option<Self> {
        let container = match content_type {
            "image/jpeg" => Container::Jpeg,
            "image/png" => Container::Png,
            _ => return None,
        };
        Some(Self {
            container,
            strip,
            keep_orientation,
            state: State::Start,
            pending: Vec::new(),
            orientation: None,
            dimensions: None,
        })
    }

    /// The EXIF orientation (1–8) seen in the file, if any.
    pub fn orientation(&self) -> Option<u8> {
        self.orientation
    }

    /// A JPEG's stored width and height (before orientation), from its frame header.
    pub fn dimensions(&self) -> Option<(u32, u32)> {
        self.dimensions
    }

    /// Moves up to `want` bytes in total into `pending`; true once it holds them.
    fn gather(&mut self, input: &mut &[u8], want: usize) -> bool {
        let missing = want.saturating_sub(self.pending.len());
        let take = missing.min(input.len());
        self.pending.extend_from_slice(&input[..take]);
        *input = &input[take..];
        self.pending.len() >= want
    }

    fn pass(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
        self.state = State::Pass;
    }

    /// Feeds the next bytes of the file, appending what survives to `out`.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        loop {
            match self.state {
                State::Pass => {
                    out.extend_from_slice(input);
                    return;
                }
                State::Copy(n) | State::Skip(n) => {
                    let k = usize::try_from(n).unwrap_or(usize::MAX).min(input.len());
                    if matches!(self.state, State::Copy(_)) {
                        out.extend_from_slice(&input[..k]);
                    }
                    input = &input[k..];
                    let left = n - k as u64;
                    self.state = match (self.state, left) {
                        (_, 0) => State::Header,
                        (State::Copy(_), left) => State::Copy(left),
                        (_, left) => State::Skip(left),
                    };
                    if left > 0 {
                        return;
                    }
                }
                State::Start => {
                    let (want, signature): (usize, &[u8]) = match self.container {
                        Container::Jpeg => (2, b"\xff\xd8"),
                        Container::Png => (8, b"\x89PNG\r\n\x1a\n"),
                    };
                    if !self.gather(&mut input, want) {
                        return;
                    }
                    if self.pending == signature {
                        out.append(&mut self.pending);
                        self.state = State::Header;
                    } else {
                        self.pass(out);
                    }
                }
                State::Header => {
                    let done = match self.container {
                        Container::Jpeg => self.jpeg_header(&mut input, out),
                        Container::Png => self.png_header(&mut input, out),
                    };
                    if !done {
                        return;
                    }
                }
                State::Collect(total) => {
                    if !self.gather(&mut input, total) {
                        return;
                    }
                    self.app1(out);
                    self.state = State::Header;
                }
            }
        }
    }

    /// Reads a JPEG marker; false when more input is needed.
    fn jpeg_header(&mut self, input: &mut &[u8], out: &mut Vec<u8>) -> bool {
        if !self.gather(input, 2) {
            return false;
        }
        if self.pending[0] != 0xff || self.pending[1] == 0x00 {
            // Bytes where a marker should be, and `FF 00`, are no marker: decoders skip them
            // to the next marker (libjpeg calls them extraneous bytes), so the walk does too.
            // Stripping drops them, which decoders would ignore anyway.
            let skipped = if self.pending[0] == 0xff { 2 } else { 1 };
            let garbage: Vec<u8> = self.pending.drain(..skipped).collect();
            if !self.strip {
                out.extend_from_slice(&garbage);
            }
            return true;
        }
        let marker = self.pending[1];
        if marker == 0xff {
            // A fill byte before a marker: padding, which stripping drops, since one left
            // before a dropped segment would stand before whatever follows it.
            self.pending.remove(0);
            if !self.strip {
                out.push(0xff);
            }
            return true;
        }
        if marker == 0x01 || (0xd0..=0xd8).contains(&marker) {
            out.append(&mut self.pending);
            return true;
        }
        if marker == 0xd9 {
            self.pass(out);
            return true;
        }
        if !self.gather(input, 4) {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([self.pending[2], self.pending[3]]));
        if len < 2 || marker == 0xda {
            // Start of scan: the rest is image data (and, in progressive files, tables).
            self.pass(out);
            return true;
        }
        let body = (len - 2) as u64;
        let is_frame = matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc);
        if is_frame && self.dimensions.is_none() && len >= 7 {
            // Start of frame: precision, height, width. Read them on the way past, as camera
            // photos put it after EXIF blocks far longer than the sniffed head.
            if !self.gather(input, 9) {
                return false;
            }
            let p = &self.pending;
            let height = u32::from(u16::from_be_bytes([p[5], p[6]]));
            let width = u32::from(u16::from_be_bytes([p[7], p[8]]));
            self.dimensions = Some((width, height)).filter(|(w, h)| *w > 0 && *h > 0);
            out.append(&mut self.pending);
            self.state = State::Copy(body - 5);
            return true;
        }
        if marker == 0xe1 {
            self.state = State::Collect(2 + len);
        } else if self.strip && matches!(marker, 0xed | 0xfe) {
            // APP13 (IPTC / Photoshop) and comments.
            self.pending.clear();
            self.state = State::Skip(body);
        } else {
            out.append(&mut self.pending);
            self.state = State::Copy(body);
        }
        true
    }

    /// Decides about a whole APP1 segment held in `pending`.
    fn app1(&mut self, out: &mut Vec<u8>) {
        let segment = std::mem::take(&mut self.pending);
        let payload = segment.get(4..).unwrap_or_default();
        if let Some(tiff) = payload.strip_prefix(b"Exif\0\0") {
            if self.orientation.is_none() {
                self.orientation = exif_orientation(tiff);
            }
            if !self.strip {
                out.extend_from_slice(&segment);
            } else if self.keep_orientation
                && let Some(o) = self.orientation.filter(|o| (2..=8).contains(o))
            {
                out.extend_from_slice(&orientation_segment(o));
            }
        } else if !self.strip {
            out.extend_from_slice(&segment);
        }
    }

    /// Reads a PNG chunk header; false when more input is needed.
    fn png_header(&mut self, input: &mut &[u8], out: &mut Vec<u8>) -> bool {
        if !self.gather(input, 8) {
            return false;
        }
        let len = u32::from_be_bytes([
            self.pending[0],
            self.pending[1],
            self.pending[2],
            self.pending[3],
        ]);
        let kind = [
            self.pending[4],
            self.pending[5],
            self.pending[6],
            self.pending[7],
        ];
        // The chunk's data and CRC follow the header.
        let rest = u64::from(len) + 4;
        if self.strip && PNG_METADATA.contains(&&kind) {
            self.pending.clear();
            self.state = State::Skip(rest);
        } else {
            out.append(&mut self.pending);
            self.state = State::Copy(rest);
        }
        true
    }

    /// Ends the stream: a partial APP1 at a truncated end is dropped when stripping.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !(self.strip && matches!(self.state, State::Collect(_))) {
            out.append(&mut self.pending);
        }
        self.pending.clear();
        self.state = State::Pass;
    }
}

/// The orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block.
fn exif_orientation(tiff: &[u8]) -> Option<u8> {
    let big = match tiff.get(..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let u16_at = |at: usize| {
        let b = tiff.get(at..at + 2)?;
        Some(if big {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    };
    let u32_at = |at: usize| {
        let b = tiff.get(at..at + 4)?;
        let b = [b[0], b[1], b[2], b[3]];
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let entries = usize::from(u16_at(ifd)?);
    (0..entries.min(512)).find_map(|i| {
        let entry = ifd + 2 + i * 12;
        (u16_at(entry)? == 0x0112)
            .then(|| u16_at(entry + 8))
            .flatten()
            .and_then(|v| u8::try_from(v).ok())
            .filter(|v| (1..=8).contains(v))
    })
}

/// An APP1 segment holding only an EXIF orientation.
fn orientation_segment(orientation: u8) -> Vec<u8> {
    let mut s = vec![0xff, 0xe1, 0x00, 34];
    s.extend_from_slice(b"Exif\0\0");
    // Big-endian TIFF header, IFD0 at offset 8 with one entry and no next IFD.
    s.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
    s.extend_from_slice(&[0x00, 0x01]);
    s.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0, orientation, 0, 0]);
    s.extend_from_slice(&[0, 0, 0, 0]);
    s
}

/// A reader passing another through a `MetadataFilter`.
pub struct FilteredReader<'a> {
    inner: &'a mut (dyn AsyncRead + Send + Unpin),
    filter: MetadataFilter,
    out: Vec<u8>,
    at: usize,
    done: bool,
}

impl std::fmt::Debug for FilteredReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilteredReader")
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl<'a> FilteredReader<'a> {
    pub fn new(inner: &'a mut (dyn AsyncRead + Send + Unpin), filter: MetadataFilter) -> Self {
        Self {
            inner,
            filter,
            out: Vec::new(),
            at: 0,
            done: false,
        }
    }

    pub fn filter(&self) -> &MetadataFilter {
        &self.filter
    }
}

impl AsyncRead for FilteredReader<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.at < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.at);
                buf.put_slice(&this.out[this.at..this.at + n]);
                this.at += n;
                if this.at == this.out.len() {
                    this.out.clear();
                    this.at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.done {
                return Poll::Ready(Ok(()));
            }
            let mut scratch = [0u8; 8192];
            let mut read = ReadBuf::new(&mut scratch);
            match Pin::new(&mut *this.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
            if read.filled().is_empty() {
                this.filter.finish(&mut this.out);
                this.done = true;
            } else {
                this.filter.push(read.filled(), &mut this.out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = RgbaImage::from_fn(width, height, |x, y| {
            Rgba([(x % 256) as u8, (y % 256) as u8, 90, 255])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_with_encoder(PngEncoder::new(&mut out))
            .expect("encode png");
        out
    }

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 40])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 85))
            .expect("encode jpeg");
        out
    }

    /// A JPEG with an EXIF block holding an orientation and a GPS IFD, plus a comment.
    fn jpeg_with_gps(orientation: u8) -> Vec<u8> {
        let plain = jpeg(40, 20);
        let mut tiff = b"II\x2a\0\x08\0\0\0".to_vec();
        // IFD0: orientation and a pointer to the GPS IFD.
        tiff.extend_from_slice(&2u16.to_le_bytes());
        tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, orientation, 0, 0, 0]);
        let gps_at = 8 + 2 + 24 + 4;
        tiff.extend_from_slice(&[0x25, 0x88, 4, 0, 1, 0, 0, 0]);
        tiff.extend_from_slice(&(gps_at as u32).to_le_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0]);
        // GPS IFD: latitude reference "N" plus a marker string to look for.
        tiff.extend_from_slice(&1u16.to_le_bytes());
        tiff.extend_from_slice(&[0x01, 0x00, 2, 0, 2, 0, 0, 0, b'N', 0, 0, 0]);
        tiff.extend_from_slice(&[0, 0, 0, 0]);
        tiff.extend_from_slice(b"GPS-SECRET-52.52N-13.40E");
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&[0xff, 0xe1]);
        out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&app1);
        let comment = b"COMMENT-SECRET";
        out.extend_from_slice(&[0xff, 0xfe]);
        out.extend_from_slice(&((comment.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(comment);
        out.extend_from_slice(&plain[2..]);
        out
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    fn filter_all(
        bytes: &[u8],
        content_type: &str,
        strip: bool,
        chunk: usize,
    ) -> (Vec<u8>, Option<u8>) {
        let mut filter = MetadataFilter::new(content_type, strip, true).expect("walkable type");
        let mut out = Vec::new();
        for piece in bytes.chunks(chunk) {
            filter.push(piece, &mut out);
        }
        filter.finish(&mut out);
        (out, filter.orientation())
    }

    #[test]
    fn dimensions_from_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(image_dimensions("image/png", &png), Some((640, 480)));
        let gif = b"GIF89a\x20\x00\x10\x00";
        assert_eq!(image_dimensions("image/gif", gif), Some((32, 16)));
        let jpeg = [
            0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00,
            0x30, 0x00, 0x40,
        ];
        assert_eq!(image_dimensions("image/jpeg", &jpeg), Some((64, 48)));
        assert_eq!(image_dimensions("image/png", b"\x89PNG"), None);
    }

    #[test]
    fn strips_gps_exif_from_jpeg_keeping_pixels_and_orientation() {
        let original = jpeg_with_gps(6);
        assert!(contains(&original, b"GPS-SECRET"));
        for chunk in [1, 3, 7, 100, 1 << 20] {
            let (out, orientation) = filter_all(&original, "image/jpeg", true, chunk);
            assert_eq!(orientation, Some(6));
            assert!(!contains(&out, b"GPS-SECRET"), "chunk {chunk}");
            assert!(!contains(&out, b"COMMENT-SECRET"), "chunk {chunk}");
            // The image data is untouched: the tail after the metadata is identical.
            let plain = jpeg(40, 20);
            assert!(out.ends_with(&plain[2..]));
            // Orientation survives in a minimal EXIF block, so decoding turns the image.
            let img = decode(&out, ImageFormat::Jpeg).expect("decodes");
            assert_eq!((img.width(), img.height()), (20, 40));
        }
        let mut filter = MetadataFilter::new("image/jpeg", true, true).expect("jpeg");
        let mut out = Vec::new();
        filter.push(&original, &mut out);
        filter.finish(&mut out);
        assert_eq!(filter.dimensions(), Some((40, 20)));
        // Not stripping keeps every byte but still reads the orientation.
        let (kept, orientation) = filter_all(&original, "image/jpeg", false, 5);
        assert_eq!(kept, original);
        assert_eq!(orientation, Some(6));
    }

    #[test]
    fn exif_behind_stray_bytes_is_stripped() {
        // Found by fuzzing: bytes where a marker belongs made the filter copy the rest of the
        // file unread, while decoders skip such bytes and read the segments behind them.
        let original = jpeg_with_gps(6);
        let mut stray = original[..2].to_vec();
        stray.extend_from_slice(b"\x00\xff\x00");
        stray.extend_from_slice(&original[2..]);
        // A fill byte, an XMP block, then bytes that would join the fill byte into an APP1.
        let mut joined = original[..2].to_vec();
        joined.push(0xff);
        let xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>";
        joined.extend_from_slice(&[0xff, 0xe1, 0, xmp.len() as u8 + 2]);
        joined.extend_from_slice(xmp);
        joined.extend_from_slice(b"\xe1\x00\x0cGPS-SECRET");
        joined.extend_from_slice(&original[2..]);
        for tampered in [stray, joined] {
            for chunk in [1, 2, 5, 1 << 20] {
                let (out, orientation) = filter_all(&tampered, "image/jpeg", true, chunk);
                assert!(!contains(&out, b"GPS-SECRET"), "chunk {chunk}");
                assert!(!contains(&out, b"xmpmeta"), "chunk {chunk}");
                assert_eq!(orientation, Some(6));
                let img = decode(&out, ImageFormat::Jpeg).expect("decodes");
                assert_eq!((img.width(), img.height()), (20, 40));
            }
            let (kept, _) = filter_all(&tampered, "image/jpeg", false, 3);
            assert_eq!(kept, tampered, "not stripping keeps every byte");
        }
    }

    #[test]
    fn stripping_a_stripped_jpeg_changes_nothing() {
        // Found by fuzzing: a fill byte was kept while the `FF 00` after it was dropped, so
        // the fill byte met the next byte and a second pass read them differently.
        let once = filter_all(b"\xff\xd8\xff\xff\x00\x00", "image/jpeg", true, 1 << 20).0;
        let twice = filter_all(&once, "image/jpeg", true, 1 << 20).0;
        assert_eq!(twice, once);
        let camera = jpeg_with_gps(3);
        let once = filter_all(&camera, "image/jpeg", true, 7).0;
        assert_eq!(filter_all(&once, "image/jpeg", true, 7).0, once);
    }

    #[test]
    fn jpeg_frames_without_a_size_give_no_dimensions() {
        // Found by fuzzing: a start of frame saying 0x0 was taken for the dimensions.
        let jpeg = [
            0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x00, 0x00, 0x00, 0x03,
        ];
        assert_eq!(image_dimensions("image/jpeg", &jpeg), None);
        // Found by fuzzing: a frame header too short to hold a size was read past its end.
        let jpeg = [
            0xff, 0xd8, 0xff, 0xcf, 0x00, 0x02, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x06, 0x00,
            0x08, 0x03,
        ];
        assert_eq!(image_dimensions("image/jpeg", &jpeg), Some((8, 6)));
        // Found by fuzzing: a fill byte (`FF FF`) was read as a marker with a length, and the
        // walk landed on a frame header inside another segment.
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xff, 0x00, 0x06, 0xff, 0xfe, 0x00, 0x0c];
        jpeg.extend_from_slice(&[0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x6b, 0x6b, 0x6b, 0x00]);
        jpeg.extend_from_slice(&[0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x06, 0x00, 0x08, 0x03]);
        assert_eq!(image_dimensions("image/jpeg", &jpeg), Some((8, 6)));
    }

    #[test]
    fn strips_png_text_chunks() {
        let plain = png(8, 8);
        // Insert a tEXt chunk after IHDR (8 + 25 bytes).
        let mut with_text = plain[..33].to_vec();
        let data = b"Comment\0PNG-SECRET";
        with_text.extend_from_slice(&(data.len() as u32).to_be_bytes());
        with_text.extend_from_slice(b"tEXt");
        with_text.extend_from_slice(data);
        with_text.extend_from_slice(&[0, 0, 0, 0]);
        with_text.extend_from_slice(&plain[33..]);
        let (out, _) = filter_all(&with_text, "image/png", true, 3);
        assert_eq!(out, plain);
        assert!(MetadataFilter::new("image/gif", true, true).is_none());
        // Something that is not really a PNG passes unchanged.
        let (junk, _) = filter_all(b"not a png at all", "image/png", true, 4);
        assert_eq!(junk, b"not a png at all");
    }

    #[test]
    fn thumbnails_fit_the_box_in_the_same_format() {
        let big = process(&png(960, 400), "image/png", Some((480, 360))).expect("processes");
        assert_eq!((big.width, big.height), (960, 400));
        let thumb = big.thumbnail.expect("a thumbnail");
        assert_eq!((thumb.width, thumb.height), (480, 200));
        assert_eq!(thumb.content_type, "image/png");
        assert!(image::load_from_memory(&thumb.bytes).is_ok());
        let preview = base64::engine::general_purpose::STANDARD
            .decode(&big.preview)
            .expect("base64");
        let preview = image::load_from_memory(&preview).expect("a jpeg");
        assert_eq!((preview.width(), preview.height()), (32, 13));

        let small = process(&jpeg(100, 50), "image/jpeg", Some((480, 360))).expect("processes");
        assert!(small.thumbnail.is_none());
        let none = process(&png(960, 400), "image/png", None).expect("processes");
        assert!(none.thumbnail.is_none());
        let rotated = process(&jpeg_with_gps(8), "image/jpeg", Some((10, 10))).expect("ok");
        assert_eq!((rotated.width, rotated.height), (20, 40));
        let t = rotated.thumbnail.expect("thumb");
        assert_eq!((t.width, t.height, t.content_type), (5, 10, "image/jpeg"));
        assert!(needs_thumbnail(480, 10, 480, 360));
        assert!(!needs_thumbnail(479, 359, 480, 360));
    }

    #[test]
    fn decompression_bombs_are_refused() {
        // A PNG header claiming 100000×100000 with nothing behind it.
        let mut claim = png(1, 1);
        claim[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        claim[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(matches!(
            process(&claim, "image/png", Some((480, 360))),
            Err(ImageError::TooLarge)
        ));
        assert!(!within_limits(100_000, 100_000));
        assert!(!within_limits(20_001, 10));
        assert!(within_limits(6000, 4000));
        assert!(matches!(
            avatar_image(&claim, 64),
            Err(ImageError::TooLarge)
        ));
        assert!(matches!(
            process(b"GIF89a", "image/svg+xml", None),
            Err(ImageError::Unsupported)
        ));
        assert!(process(b"\x89PNG\r\n\x1a\ngarbage", "image/png", None).is_err());
    }

    #[test]
    fn avatars_are_square() {
        let (bytes, kind) = avatar_image(&png(300, 100), 64).expect("avatar");
        assert_eq!(kind, "image/png");
        let img = image::load_from_memory(&bytes).expect("png");
        assert_eq!((img.width(), img.height()), (64, 64));
        let (bytes, kind) = avatar_image(&jpeg(90, 200), 50).expect("avatar");
        assert_eq!(kind, "image/jpeg");
        let img = image::load_from_memory(&bytes).expect("jpeg");
        assert_eq!((img.width(), img.height()), (50, 50));
        assert!(matches!(
            avatar_image(b"hello", 64),
            Err(ImageError::Unsupported)
        ));
    }

    #[tokio::test]
    async fn bounded_runs_time_out_and_report() {
        let ok = run_bounded(|| Ok(5)).await.expect("runs");
        assert_eq!(ok, 5);
        let failed: Result<(), _> = run_bounded(|| Err(ImageError::Unsupported)).await;
        assert!(matches!(failed, Err(ImageError::Unsupported)));
    }
}
