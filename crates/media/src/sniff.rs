//! What a file is, from its leading bytes rather than its name or the client's claim.

/// What a file's leading bytes say it is.
pub fn sniff(head: &[u8]) -> &'static str {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if starts(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        "image/gif"
    } else if starts(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        "image/webp"
    } else if starts(b"RIFF") && head.get(8..12) == Some(b"WAVE") {
        "audio/wav"
    } else if starts(b"%PDF-") {
        "application/pdf"
    } else if starts(b"PK\x03\x04") {
        "application/zip"
    } else if starts(b"\x1f\x8b") {
        "application/gzip"
    } else if starts(b"OggS") {
        "audio/ogg"
    } else if starts(b"ID3") || starts(b"\xff\xfb") || starts(b"\xff\xf3") {
        "audio/mpeg"
    } else if starts(b"\x1a\x45\xdf\xa3") {
        "video/webm"
    } else if head.get(4..8) == Some(b"ftyp") {
        if head.get(8..10) == Some(b"qt") {
            "video/quicktime"
        } else {
            "video/mp4"
        }
    } else {
        sniff_text(head)
    }
}

/// Text, and the kinds of text a browser would treat as markup.
fn sniff_text(head: &[u8]) -> &'static str {
    if head.contains(&0) {
        return "application/octet-stream";
    }
    // A multi-byte character may be cut at the end of the sample.
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return "application/octet-stream",
    };
    let lower = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_lowercase();
    if lower.contains("<svg") {
        "image/svg+xml"
    } else if lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || lower.contains("<script")
        || lower.contains("<body")
        || lower.contains("<iframe")
    {
        "text/html"
    } else if lower.starts_with("<?xml") {
        "application/xml"
    } else {
        "text/plain"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_trusts_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), "image/png");
        assert_eq!(sniff(b"\xff\xd8\xff\xe0"), "image/jpeg");
        assert_eq!(
            sniff(b"  <svg xmlns='http://www.w3.org/2000/svg'>"),
            "image/svg+xml"
        );
        assert_eq!(sniff(b"<!DOCTYPE html><p>hi"), "text/html");
        assert_eq!(sniff(b"hello, world"), "text/plain");
        assert_eq!(sniff(b"\x00\x01\x02"), "application/octet-stream");
    }
}
