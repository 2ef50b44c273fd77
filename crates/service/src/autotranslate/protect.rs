//! What a translator must never see: a message's text is cut into pieces, and only prose goes
//! to the translator. Code blocks and inline code, links and URLs, `@mentions`, `#channels`,
//! `:emoji:` and emoji characters, line markers (quotes, lists, headings) and inline markdown
//! markers (`*`, `_`, `~`) are kept byte for byte, as is the whitespace around prose.
//!
//! Upstream puts such tokens into the text as `<i class=notranslate>{n}</i>` and relies on the
//! service to leave them alone; the built-in engine's models know no markup, so Comet never
//! sends them at all and joins the translated prose back between them.

/// One piece of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Kept as it is.
    Keep(String),
    /// Prose to translate (never starting or ending with whitespace).
    Translate(String),
}

/// `text` cut into pieces; joining them gives `text` back.
pub fn split(text: &str) -> Vec<Piece> {
    let mut pieces = Pieces::default();
    let mut in_fence = false;
    for line in text.split_inclusive('\n') {
        let content = line.trim_start();
        if content.starts_with("```") {
            // A fence line opens or closes a block; a block on one line is kept as well.
            let closes_on_same_line = !in_fence && content.trim_end().len() > 3 && {
                let rest = &content.trim_end()[3..];
                rest.ends_with("```")
            };
            if !closes_on_same_line {
                in_fence = !in_fence;
            }
            pieces.keep(line);
            continue;
        }
        if in_fence {
            pieces.keep(line);
            continue;
        }
        let marker_len = line_marker_len(line);
        pieces.keep(&line[..marker_len]);
        split_inline(&line[marker_len..], &mut pieces);
    }
    pieces.finish()
}

/// Joins pieces back, with the prose replaced by `translated` in order (missing translations
/// keep the original prose).
pub fn join(pieces: &[Piece], translated: &mut impl Iterator<Item = String>) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Keep(text) => out.push_str(text),
            Piece::Translate(text) => match translated.next() {
                Some(translation) => out.push_str(translation.trim()),
                None => out.push_str(text),
            },
        }
    }
    out
}

/// The prose of `pieces`, in order.
pub fn prose(pieces: &[Piece]) -> impl Iterator<Item = &String> {
    pieces.iter().filter_map(|piece| match piece {
        Piece::Translate(text) => Some(text),
        Piece::Keep(_) => None,
    })
}

#[derive(Default)]
struct Pieces {
    done: Vec<Piece>,
    kept: String,
    prose: String,
}

impl Pieces {
    fn keep(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.flush_prose();
        self.kept.push_str(text);
    }

    fn prose_char(&mut self, c: char) {
        if self.prose.is_empty() && c.is_whitespace() {
            self.kept.push(c);
            return;
        }
        if self.prose.is_empty() && !self.kept.is_empty() {
            self.done.push(Piece::Keep(std::mem::take(&mut self.kept)));
        }
        self.prose.push(c);
    }

    fn flush_prose(&mut self) {
        if self.prose.is_empty() {
            return;
        }
        let prose = std::mem::take(&mut self.prose);
        let trimmed = prose.trim_end();
        let trailing = &prose[trimmed.len()..];
        // Prose without a letter (numbers, punctuation) has nothing to translate.
        if trimmed.chars().any(char::is_alphabetic) {
            self.done.push(Piece::Translate(trimmed.to_owned()));
        } else {
            self.kept.push_str(trimmed);
        }
        self.kept.push_str(trailing);
    }

    fn finish(mut self) -> Vec<Piece> {
        self.flush_prose();
        if !self.kept.is_empty() {
            self.done.push(Piece::Keep(self.kept));
        }
        // Neighbouring kept pieces come from flushes: merge them.
        let mut merged: Vec<Piece> = Vec::with_capacity(self.done.len());
        for piece in self.done {
            match (merged.last_mut(), piece) {
                (Some(Piece::Keep(last)), Piece::Keep(next)) => last.push_str(&next),
                (_, piece) => merged.push(piece),
            }
        }
        merged
    }
}

/// The length of a line's leading markdown marker: indentation, `>` quotes, a list bullet or
/// number, a heading's `#`s, each with the spaces after it.
fn line_marker_len(line: &str) -> usize {
    let bytes = line.as_bytes();
    let mut i = 0;
    let skip_spaces = |i: &mut usize| {
        while *i < bytes.len() && (bytes[*i] == b' ' || bytes[*i] == b'\t') {
            *i += 1;
        }
    };
    skip_spaces(&mut i);
    while i < bytes.len() && bytes[i] == b'>' {
        i += 1;
        skip_spaces(&mut i);
    }
    let start = i;
    if i < bytes.len() && matches!(bytes[i], b'-' | b'*' | b'+') {
        if bytes.get(i + 1).is_some_and(|b| *b == b' ') {
            i += 1;
            skip_spaces(&mut i);
            return i;
        }
    } else if i < bytes.len() && bytes[i] == b'#' {
        let mut j = i;
        while j < bytes.len() && bytes[j] == b'#' {
            j += 1;
        }
        if j - i <= 6 && bytes.get(j).is_some_and(|b| *b == b' ') {
            i = j;
            skip_spaces(&mut i);
            return i;
        }
    } else if i < bytes.len() && bytes[i].is_ascii_digit() {
        let mut j = i;
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
        if bytes.get(j).is_some_and(|b| *b == b'.' || *b == b')')
            && bytes.get(j + 1).is_some_and(|b| *b == b' ')
        {
            i = j + 1;
            skip_spaces(&mut i);
            return i;
        }
    }
    start
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn is_emoji_char(c: char) -> bool {
    matches!(u32::from(c),
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF | 0xFE0F | 0x200D)
}

/// The length of a URL starting at `rest`, if one does.
fn url_len(rest: &str) -> Option<usize> {
    let lower_prefix: String = rest
        .chars()
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    if !["http://", "https://", "mailto:", "www.", "ftp://"]
        .iter()
        .any(|scheme| lower_prefix.starts_with(scheme))
    {
        return None;
    }
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '|' | '"' | '`'))
        .unwrap_or(rest.len());
    // Punctuation ending a sentence is not part of the URL; it is kept either way.
    let url = rest[..end].trim_end_matches(['.', ',', ';', '!', '?', ')', ']']);
    Some(url.len()).filter(|len| *len > 0)
}

/// Cuts one line (after its marker) into kept tokens and prose.
fn split_inline(line: &str, pieces: &mut Pieces) {
    let mut i = 0;
    let mut previous: Option<char> = None;
    while i < line.len() {
        let rest = &line[i..];
        let Some(c) = rest.chars().next() else {
            break;
        };
        let at_word_start = previous.is_none_or(|p| !p.is_alphanumeric());
        let token_len = match c {
            '`' => rest[1..].find('`').map(|end| end + 2),
            '@' | '#' if at_word_start => {
                let len: usize = rest[1..]
                    .chars()
                    .take_while(|c| is_name_char(*c))
                    .map(char::len_utf8)
                    .sum();
                (len > 0).then_some(len + 1)
            }
            ':' => {
                let len: usize = rest[1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-'))
                    .map(char::len_utf8)
                    .sum();
                (len > 0 && rest[1 + len..].starts_with(':')).then_some(len + 2)
            }
            // `](url)` ends a markdown link whose text is translated; `[` opens it.
            ']' if rest.starts_with("](") => rest.find(')').map(|end| end + 1),
            '[' if line[i..].contains("](") => Some(1),
            // `<url|text>`: the URL part is kept, the text translated, `>` kept.
            '<' => url_len(&rest[1..]).map(|len| {
                let after = 1 + len;
                if rest[after..].starts_with(['|', '>']) {
                    after + 1
                } else {
                    after
                }
            }),
            '>' => Some(1),
            '*' | '_' | '~' => {
                let next = rest[1..].chars().next();
                let inside_word = previous.is_some_and(char::is_alphanumeric)
                    && next.is_some_and(char::is_alphanumeric);
                (!inside_word).then_some(1)
            }
            c if is_emoji_char(c) => Some(c.len_utf8()),
            _ if at_word_start => url_len(rest),
            _ => None,
        };
        match token_len {
            Some(len) => {
                pieces.keep(&rest[..len]);
                previous = rest[..len].chars().last();
                i += len;
            }
            None => {
                pieces.prose_char(c);
                previous = Some(c);
                i += c.len_utf8();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep(s: &str) -> Piece {
        Piece::Keep(s.into())
    }
    fn prose(s: &str) -> Piece {
        Piece::Translate(s.into())
    }

    fn round_trip(text: &str) {
        let pieces = split(text);
        assert_eq!(join(&pieces, &mut std::iter::empty()), text, "{pieces:?}");
    }

    #[test]
    fn tokens_are_kept_and_prose_goes_to_the_translator() {
        assert_eq!(
            split("Hello @bob.smith, see `cargo test` :smile: at https://example.com/a?b=1."),
            [
                prose("Hello"),
                keep(" @bob.smith"),
                prose(", see"),
                keep(" `cargo test` :smile: "),
                prose("at"),
                keep(" https://example.com/a?b=1."),
            ]
        );
        assert_eq!(
            split("> *Good* morning #general 🎉"),
            [
                keep("> *"),
                prose("Good"),
                keep("* "),
                prose("morning"),
                keep(" #general 🎉"),
            ]
        );
    }

    #[test]
    fn code_blocks_and_line_markers_are_kept() {
        let text =
            "Look:\n```\nlet x = 1; // do not translate\n```\n- first item\n1. second\n## Title";
        assert_eq!(
            split(text),
            [
                prose("Look:"),
                keep("\n```\nlet x = 1; // do not translate\n```\n- "),
                prose("first item"),
                keep("\n1. "),
                prose("second"),
                keep("\n## "),
                prose("Title"),
            ]
        );
    }

    #[test]
    fn links_keep_their_address_and_translate_their_text() {
        assert_eq!(
            split("[the docs](https://example.com) and <https://x.example|our site>"),
            [
                keep("["),
                prose("the docs"),
                keep("](https://example.com) "),
                prose("and"),
                keep(" <https://x.example|"),
                prose("our site"),
                keep(">"),
            ]
        );
    }

    #[test]
    fn joining_puts_translations_between_the_kept_pieces() {
        let pieces = split("Hello @ann, good *morning*!");
        let translated = ["Olá", ", bom", "dia"].map(String::from);
        assert_eq!(
            join(&pieces, &mut translated.into_iter()),
            "Olá @ann, bom *dia*!"
        );
    }

    #[test]
    fn every_text_comes_back_whole() {
        for text in [
            "",
            "   ",
            "123 456",
            "snake_case and a*b",
            "unclosed `code and [bracket",
            "```rust\nfn main() {}",
            "ünïcode 李 text :not emoji",
            "trailing space   \n\n  indented",
            "@ #  : :: ``",
        ] {
            round_trip(text);
        }
    }
}
