//! What an upload is (`sniff`) and an image's dimensions from its header
//! (`image_dimensions`), which decide whether a file gets a thumbnail and which size its
//! attachment announces.
//!
//! Invariants: the sniffed type is one of the known ones; dimensions are never zero; when the
//! image library reads the header of a file sniffed as that type, it finds the same
//! dimensions (for JPEG, where the first frame header is one it decodes).

#![no_main]

use comet_media::images::{format_of, image_dimensions, within_limits};
use comet_media::sniff::sniff;
use image::ImageReader;
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

const KNOWN: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "audio/wav",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "audio/ogg",
    "audio/mpeg",
    "video/webm",
    "video/quicktime",
    "video/mp4",
    "image/svg+xml",
    "text/html",
    "application/xml",
    "text/plain",
    "application/octet-stream",
];

fuzz_target!(|data: &[u8]| {
    let sniffed = sniff(data);
    assert!(KNOWN.contains(&sniffed), "unknown type {sniffed}");
    for content_type in IMAGE_TYPES {
        let Some((width, height)) = image_dimensions(content_type, data) else {
            continue;
        };
        assert!(width > 0 && height > 0, "{content_type}: {width}x{height}");
        let _ = within_limits(width, height);
        // Compare with the image library only where the file says what it is, as uploads
        // are typed by their bytes.
        if sniffed != content_type {
            continue;
        }
        // libjpeg takes the first frame header and refuses the kinds it cannot decode; the
        // image library skips those to a later one. Compare only where both read the same.
        if content_type == "image/jpeg" && !matches!(first_jpeg_frame(data), Some(0xc0..=0xc2)) {
            continue;
        }
        let Some(format) = format_of(content_type) else {
            panic!("{content_type} has no decoder");
        };
        let mut reader = ImageReader::with_format(Cursor::new(data), format);
        reader.no_limits();
        if let Ok(decoded) = reader.into_dimensions() {
            // image-webp 0.2 reads a lossless (VP8L) side as `(1 + bits) & 0x3fff`, which
            // wraps the format's largest side, 16384, to 0; the header (and libwebp) say 16384.
            if content_type == "image/webp" && lossless_side_wrapped((width, height), decoded) {
                continue;
            }
            assert_eq!(
                (width, height),
                decoded,
                "{content_type}: the header says {width}x{height}, the decoder {decoded:?}"
            );
        }
    }
});

/// Whether the decoder's answer differs from the header's only where a side of 16384 came
/// back as 0.
fn lossless_side_wrapped(header: (u32, u32), decoded: (u32, u32)) -> bool {
    let side = |ours: u32, theirs: u32| ours == theirs || (ours == 16384 && theirs == 0);
    header != decoded && side(header.0, decoded.0) && side(header.1, decoded.1)
}

/// The marker of a JPEG's first frame header, walking segments from the start as decoders
/// do (stray bytes and fill bytes skipped); `None` where there is none or the image library's
/// decoder would misread the way to it.
fn first_jpeg_frame(data: &[u8]) -> Option<u8> {
    let mut at = 2;
    loop {
        let (byte, marker) = (*data.get(at)?, *data.get(at + 1)?);
        if byte != 0xff || marker == 0x00 {
            at += if byte == 0xff { 2 } else { 1 };
            continue;
        }
        if marker == 0xff {
            at += 1;
            continue;
        }
        if marker == 0x01 || (0xd0..=0xd8).contains(&marker) {
            // These markers stand alone (libjpeg, browsers and our header walk step over
            // the two bytes), but zune-jpeg reads a length after every marker it does not
            // know and skips that far: from there on it walks another file.
            return None;
        }
        if matches!(marker, 0xd9 | 0xda) {
            return None;
        }
        let length = data.get(at + 2..at + 4)?;
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        if length < 2 {
            return None;
        }
        if marker == 0xe0 && length < 7 {
            // zune-jpeg (the image library's decoder) reads five bytes of every APP0 segment
            // longer than five, running past a four-byte body into the next marker: from
            // there on it walks a different file than the one on disk, so it is no reference.
            return None;
        }
        if matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) && length >= 7 {
            return Some(marker);
        }
        at += 2 + length;
    }
}
