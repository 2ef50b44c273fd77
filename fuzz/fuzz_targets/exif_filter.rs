//! The streaming filter that drops EXIF/XMP/IPTC/comments from JPEG uploads and metadata
//! chunks from PNG uploads on their way into the blob store (`MetadataFilter`, read through
//! `FilteredReader` as the upload path does).
//!
//! Input: a flags byte (PNG or JPEG, strip, keep orientation), a byte shaping the chunks the
//! file arrives in and the reads made of the filter, then the file. Invariants:
//! - the output, orientation and dimensions are the same whatever the chunking;
//! - without stripping the output is the input;
//! - a stripped JPEG holds no APP1 (EXIF, XMP), APP13 or comment segment other than the
//!   minimal orientation block (where libjpeg would look for segments, skipping stray bytes), and a stripped PNG no metadata chunk, as an independent walk
//!   of the output's segments sees it;
//! - stripping a stripped file changes nothing;
//! - an orientation seen is 1 to 8.

#![no_main]

use comet_media::images::{FilteredReader, MetadataFilter};
use libfuzzer_sys::fuzz_target;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, ReadBuf};

/// The filter fed the whole file at once.
fn filter_whole(filter: &mut MetadataFilter, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    filter.push(data, &mut out);
    filter.finish(&mut out);
    out
}

/// A body arriving in chunks of varying sizes, sometimes not ready yet.
struct Chunked<'a> {
    rest: &'a [u8],
    step: usize,
    shape: u8,
    stall: bool,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        this.stall = !this.stall;
        if this.stall && this.shape & 1 != 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let take = this.step.min(this.rest.len()).min(buf.remaining());
        buf.put_slice(&this.rest[..take]);
        this.rest = &this.rest[take..];
        this.step = (this.step * 7 + usize::from(this.shape)) % 97 + 1;
        Poll::Ready(Ok(()))
    }
}

/// What a filter made of a file: its output, the orientation and the dimensions it saw.
type Filtered = (Vec<u8>, Option<u8>, Option<(u32, u32)>);

/// The filter read as the upload path reads it, through small and varying reads.
fn filter_streamed(filter: MetadataFilter, data: &[u8], shape: u8) -> Filtered {
    let mut body = Chunked {
        rest: data,
        step: usize::from(shape % 16) + 1,
        shape,
        stall: false,
    };
    let mut reader = FilteredReader::new(&mut body, filter);
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    let mut read_size = usize::from(shape >> 4) + 1;
    loop {
        let mut scratch = [0u8; 64];
        let mut buf = ReadBuf::new(&mut scratch[..read_size]);
        match Pin::new(&mut reader).poll_read(&mut cx, &mut buf) {
            Poll::Pending => continue,
            Poll::Ready(Err(e)) => panic!("reading the filter failed: {e}"),
            Poll::Ready(Ok(())) if buf.filled().is_empty() => break,
            Poll::Ready(Ok(())) => out.extend_from_slice(buf.filled()),
        }
        read_size = read_size % 64 + 1;
    }
    let filter = reader.filter();
    (out, filter.orientation(), filter.dimensions())
}

fn new_filter(flags: u8) -> MetadataFilter {
    let content_type = if flags & 1 != 0 {
        "image/png"
    } else {
        "image/jpeg"
    };
    MetadataFilter::new(content_type, flags & 2 != 0, flags & 4 != 0)
        .expect("JPEG and PNG are filtered")
}

fuzz_target!(|data: &[u8]| {
    let [flags, shape, file @ ..] = data else {
        return;
    };
    let (png, strip, keep_orientation) = (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0);
    let mut filter = new_filter(*flags);
    let out = filter_whole(&mut filter, file);
    let whole: Filtered = (out, filter.orientation(), filter.dimensions());
    let streamed = filter_streamed(new_filter(*flags), file, *shape);
    assert_eq!(whole, streamed, "the filter gives another result in chunks");
    let (out, orientation, _) = whole;
    if let Some(o) = orientation {
        assert!((1..=8).contains(&o), "orientation {o}");
    }
    if !strip {
        assert_eq!(out, file, "a filter that strips nothing changed the file");
        return;
    }
    if png {
        png_has_no_metadata(&out);
    } else {
        jpeg_has_no_metadata(&out, keep_orientation);
    }
    let again = filter_whole(&mut new_filter(*flags), &out);
    assert_eq!(again, out, "stripping a stripped file changed it");
});

/// The minimal EXIF block that only tells the orientation, as the filter writes it.
fn is_orientation_block(segment: &[u8]) -> bool {
    const HEAD: &[u8] =
        b"\xff\xe1\x00\x22Exif\0\0MM\0\x2a\0\0\0\x08\x00\x01\x01\x12\x00\x03\0\0\0\x01\0";
    segment.len() == 36
        && segment.starts_with(HEAD)
        && (2..=8).contains(&segment[HEAD.len()])
        && segment[HEAD.len() + 1..] == [0, 0, 0, 0, 0, 0]
}

/// Walks a JPEG's segments up to the image data as libjpeg does: bytes where a marker should
/// be are skipped to the next `FF`, then fill bytes, and `FF 00` is no marker.
fn jpeg_has_no_metadata(out: &[u8], keep_orientation: bool) {
    if !out.starts_with(b"\xff\xd8") {
        return;
    }
    let mut at = 2;
    loop {
        while out.get(at).is_some_and(|&b| b != 0xff) {
            at += 1;
        }
        while out.get(at + 1) == Some(&0xff) {
            at += 1;
        }
        let Some(&marker) = out.get(at + 1) else {
            return;
        };
        match marker {
            0x00 | 0x01 | 0xd0..=0xd8 => at += 2,
            0xd9 => return,
            _ => {
                let Some(length) = out.get(at + 2..at + 4) else {
                    return;
                };
                let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
                if length < 2 || marker == 0xda {
                    return;
                }
                let end = (at + 2 + length).min(out.len());
                let segment = &out[at..end];
                match marker {
                    0xe1 => assert!(
                        keep_orientation && is_orientation_block(segment),
                        "an APP1 segment survived at {at}: {:?}",
                        &segment[..segment.len().min(16)]
                    ),
                    0xed => panic!("an APP13 segment survived at {at}"),
                    0xfe => panic!("a comment survived at {at}"),
                    _ => {}
                }
                at += 2 + length;
            }
        }
    }
}

/// Walks a PNG's chunks.
fn png_has_no_metadata(out: &[u8]) {
    if !out.starts_with(b"\x89PNG\r\n\x1a\n") {
        return;
    }
    let mut at = 8usize;
    while let Some(header) = out.get(at..at + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = &header[4..8];
        assert!(
            ![&b"eXIf"[..], b"tEXt", b"zTXt", b"iTXt", b"tIME"].contains(&kind),
            "a {} chunk survived at {at}",
            String::from_utf8_lossy(kind)
        );
        let Ok(length) = usize::try_from(length) else {
            return;
        };
        at = at.saturating_add(12).saturating_add(length);
    }
}
