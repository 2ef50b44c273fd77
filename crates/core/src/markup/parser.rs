//! Upstream's message grammar (`packages/message-parser/src/grammar.pegjs`), rule by rule, as a
//! recursive-descent parser over the text's characters. Each rule function takes a position
//! and returns what it matched and where it ended, or `None`; ordered choices try their
//! alternatives in upstream's order and take the first that matches, as a PEG does. The
//! grammar's state flags (which keep bold from nesting in bold, and emoji from following a
//! stray character) are fields set and cleared where upstream's actions set and clear them.
//!
//! Bounds: every rule attempt costs one step of a budget proportional to the text's length,
//! and nesting deeper than [`MAX_DEPTH`] fails the rule; a parse that runs out of budget
//! yields the plain tree instead.

use super::unicode_tables::{DECIMAL_DIGITS, LETTERS, MARKS};
use super::{Block, Inline, Options, auto_email, auto_link};

/// How deep rules may nest (emphasis in links in emphasis, emoticons looking ahead at
/// emoticons...). Real text stays far below it.
const MAX_DEPTH: usize = 64;

/// Steps allowed for a text of `n` characters: ordinary text takes a few dozen per character.
fn budget(n: usize) -> u64 {
    200_000 + 400 * n as u64
}

/// What an inline rule yields: one node, or several that the enclosing rule splices in
/// (upstream's rules return arrays in places, flattened by `reducePlainTexts`).
enum Item {
    One(Inline),
    Many(Vec<Inline>),
}

pub(super) fn parse(text: &str, options: &Options) -> Vec<Block> {
    let chars: Vec<char> = text.chars().collect();
    let mut parser = Parser {
        budget: budget(chars.len()),
        domain_end: run_ends(&chars, domain_char),
        local_end: run_ends(&chars, |c| is_alnum_or_mark(c) || is_local_special(c)),
        scheme_end: run_ends(&chars, |c| {
            c.is_ascii_alphanumeric() || c == '+' || c == '-'
        }),
        word_end: run_ends(&chars, |c| c.is_ascii_alphanumeric()),
        s: chars,
        o: options,
        skip_bold: false,
        skip_italic: false,
        skip_strike: false,
        skip_references: false,
        skip_bold_emoji: false,
        skip_italic_emoji: false,
        skip_inline_emoji: false,
        steps: 0,
        depth: 0,
    };
    match parser.start() {
        Some(blocks) => blocks,
        None => plain_tree(text),
    }
}

/// For each position, where the run of `class` characters starting there ends: rules that
/// scan a word from every position in it look the end up instead of scanning again.
fn run_ends(chars: &[char], class: impl Fn(char) -> bool) -> Vec<usize> {
    let mut ends = vec![chars.len(); chars.len() + 1];
    for i in (0..chars.len()).rev() {
        ends[i] = if class(chars[i]) { ends[i + 1] } else { i };
    }
    ends
}

/// The tree of a text parsed as nothing but plain lines.
fn plain_tree(text: &str) -> Vec<Block> {
    text.lines()
        .map(|line| {
            if line.is_empty() {
                Block::LineBreak
            } else {
                Block::Paragraph(vec![Inline::Plain(line.to_owned())])
            }
        })
        .collect()
}

/// Upstream's `reducePlainTexts`: flattens the items, turns emoji written against text or
/// other emoji back into the text that was typed (`joinEmoji`), and merges adjacent plain
/// texts.
fn reduce(items: Vec<Item>) -> Vec<Inline> {
    let mut flat: Vec<Inline> = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Item::One(inline) => flat.push(inline),
            Item::Many(inlines) => flat.extend(inlines),
        }
    }
    // Which emoji become text depends on their neighbours as they were, so decide first.
    let as_text: Vec<Option<String>> = (0..flat.len())
        .map(|i| {
            let previous = i.checked_sub(1).and_then(|p| flat.get(p));
            emoji_as_text(&flat[i], previous, flat.get(i + 1))
        })
        .collect();
    let mut out: Vec<Inline> = Vec::with_capacity(flat.len());
    for (inline, text) in flat.into_iter().zip(as_text) {
        let inline = match text {
            Some(text) => Inline::Plain(text),
            None => inline,
        };
        match (out.last_mut(), inline) {
            (Some(Inline::Plain(before)), Inline::Plain(text)) => before.push_str(&text),
            (_, inline) => out.push(inline),
        }
    }
    out
}

fn is_emoji(inline: Option<&Inline>) -> bool {
    matches!(inline, Some(Inline::Emoji { .. } | Inline::EmojiUnicode(_)))
}

fn is_wordy_plain(inline: Option<&Inline>) -> bool {
    matches!(inline, Some(Inline::Plain(text)) if !text.trim().is_empty())
}

/// Upstream's `joinEmoji`: a shortcode or emoticon touching text or another emoji is the text
/// that was typed.
fn emoji_as_text(
    current: &Inline,
    previous: Option<&Inline>,
    next: Option<&Inline>,
) -> Option<String> {
    let Inline::Emoji { value, short_code } = current else {
        return None;
    };
    if previous.is_none() && next.is_none() {
        return None;
    }
    let touching = is_emoji(previous) || is_emoji(next);
    if !(touching || is_wordy_plain(previous) || is_wordy_plain(next)) {
        return None;
    }
    if short_code != value {
        return Some(value.clone());
    }
    Some(format!(":{value}:"))
}

fn merge_plain(parts: &[&str]) -> Inline {
    Inline::Plain(parts.concat())
}

// Character classes of the grammar.

fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let cp = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_eol_char(c: char) -> bool {
    c == '\n' || c == '\r'
}

/// `AnyText`: printable ASCII but `(`, `)`, `*`, `[`, `\`, `]`, `^`, `_`, `` ` ``, `{`, `|`,
/// `}`, `~`; and everything beyond ASCII.
fn is_any_text(c: char) -> bool {
    matches!(c, '\x20'..='\x27' | '\x2B'..='\x40' | 'A'..='Z' | 'a'..='z') || c as u32 >= 0x80
}

/// `Extra`: punctuation a URL does not end with.
fn is_extra(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | '!' | '%' | '~' | '*' | '"' | '\'' | ':' | ';' | '(' | ')' | '='
    )
}

/// `Safe`.
fn is_safe(c: char) -> bool {
    matches!(c, '$' | '@' | '&' | '+' | '_' | '#' | '?' | '-')
}

fn is_alpha(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    in_table(LETTERS, c)
}

fn is_decimal(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    in_table(DECIMAL_DIGITS, c)
}

fn is_mark(c: char) -> bool {
    !c.is_ascii() && in_table(MARKS, c)
}

/// `DomainChar`.
fn domain_char(c: char) -> bool {
    !is_extra(c)
        && (c == '_' || c == '-' || !is_safe(c))
        && !is_eol_char(c)
        && !is_space(c)
        && !matches!(c, '\\' | '/' | '|' | '>' | '<' | '%' | '`')
}

/// Whether an emoticon can start with `c` (most characters are turned away at once).
fn may_start_emoticon(c: char) -> bool {
    matches!(
        c,
        '<' | ':'
            | '='
            | '>'
            | '\''
            | 'O'
            | '0'
            | ';'
            | '*'
            | 'X'
            | 'B'
            | '8'
            | 'D'
            | '-'
            | '#'
            | '%'
            | '('
            | '\\'
    )
}

/// `EmojiChar`: the grammar's list, where any character beyond the basic plane counts (it is
/// a surrogate pair there).
fn is_emoji_char(c: char) -> bool {
    let cp = c as u32;
    cp > 0xFFFF
        || matches!(
            cp,
            0x2700..=0x27BF
                | 0xFE0E
                | 0xFE0F
                | 0x0300..=0x036F
                | 0xFE20..=0xFE23
                | 0x20D0..=0x20F0
                | 0x200D
                | 0x3299
                | 0x3297
                | 0x303D
                | 0x3030
                | 0x24C2
                | 0x203C
                | 0x2049
                | 0x25AA..=0x25AB
                | 0x25B6
                | 0x25C0
                | 0x25FB..=0x25FE
                | 0x00A9
                | 0x00AE
                | 0x2122
                | 0x2139
                | 0x2600..=0x26FF
                | 0x2B05..=0x2B07
                | 0x2B1B
                | 0x2B1C
                | 0x2B50
                | 0x2B55
                | 0x231A
                | 0x231B
                | 0x2328
                | 0x23CF
                | 0x23E9..=0x23F3
                | 0x23F8..=0x23FA
                | 0x2935
                | 0x2934
                | 0x2190..=0x21FF
        )
}

fn is_alnum(c: char) -> bool {
    is_alpha(c) || is_decimal(c)
}

fn is_alnum_or_mark(c: char) -> bool {
    is_alpha(c) || is_emoji_char(c) || is_mark(c) || is_decimal(c)
}

fn is_local_special(c: char) -> bool {
    matches!(
        c,
        '!' | '#'
            | '$'
            | '%'
            | '&'
            | '\''
            | '*'
            | '+'
            | '/'
            | '='
            | '?'
            | '^'
            | '_'
            | '`'
            | '{'
            | '|'
            | '}'
            | '~'
            | '-'
    )
}

fn is_name_char(c: char) -> bool {
    matches!(c, '-' | '_' | '.') || is_alnum(c)
}

fn is_variation_selector(c: char) -> bool {
    ('\u{FE00}'..='\u{FE0F}').contains(&c)
}

/// Upstream's emoticons, in the order its grammar tries them, with the shortcode each means.
const EMOTICONS: &[(&str, &str)] = &[
    ("<3", "heart"),
    ("</3", "broken_heart"),
    (":D", "smiley"),
    (":-D", "smiley"),
    ("=D", "smiley"),
    (">:)", "laughing"),
    (">;)", "laughing"),
    (">:-)", "laughing"),
    (">=)", "laughing"),
    ("':)", "sweat_smile"),
    ("':-)", "sweat_smile"),
    ("'=)", "sweat_smile"),
    ("':D", "sweat_smile"),
    ("':-D", "sweat_smile"),
    ("'=D", "sweat_smile"),
    (":')", "joy"),
    (":'-)", "joy"),
    ("O:-)", "innocent"),
    ("0:-3", "innocent"),
    ("0:3", "innocent"),
    ("0:-)", "innocent"),
    ("0:)", "innocent"),
    ("0;^)", "innocent"),
    ("O:)", "innocent"),
    ("O;-)", "innocent"),
    ("O=)", "innocent"),
    ("0;-)", "innocent"),
    ("O:-3", "innocent"),
    ("O:3", "innocent"),
    (":)", "slight_smile"),
    (":-)", "slight_smile"),
    ("=]", "slight_smile"),
    ("=)", "slight_smile"),
    (":]", "slight_smile"),
    (";)", "wink"),
    (";-)", "wink"),
    ("*-)", "wink"),
    ("*)", "wink"),
    (";-]", "wink"),
    (";]", "wink"),
    (";D", "wink"),
    (";^)", "wink"),
    (":*", "kissing_heart"),
    (":-*", "kissing_heart"),
    ("=*", "kissing_heart"),
    (":^*", "kissing_heart"),
    (":P", "stuck_out_tongue"),
    (":-P", "stuck_out_tongue"),
    ("=P", "stuck_out_tongue"),
    (":-\u{00de}", "stuck_out_tongue"),
    (":\u{00de}", "stuck_out_tongue"),
    (":-b", "stuck_out_tongue"),
    (":b", "stuck_out_tongue"),
    (">:P", "stuck_out_tongue_winking_eye"),
    ("X-P", "stuck_out_tongue_winking_eye"),
    ("B-)", "sunglasses"),
    ("B)", "sunglasses"),
    ("8)", "sunglasses"),
    ("8-)", "sunglasses"),
    ("B-D", "sunglasses"),
    ("8-D", "sunglasses"),
    (">:[", "disappointed"),
    (":-(", "disappointed"),
    (":(", "disappointed"),
    (":-[", "disappointed"),
    (":[", "disappointed"),
    ("=(", "disappointed"),
    (">:\\", "confused"),
    (">:/", "confused"),
    (":-/", "confused"),
    (":-.", "confused"),
    (":/", "confused"),
    (":\\", "confused"),
    ("=/", "confused"),
    ("=\\", "confused"),
    (":L", "confused"),
    ("=L", "confused"),
    (">.<", "persevere"),
    (":'(", "cry"),
    (":'-(", "cry"),
    (";(", "cry"),
    (";-(", "cry"),
    (">:(", "angry"),
    (">:-(", "angry"),
    (":@", "angry"),
    (":$", "flushed"),
    ("=$", "flushed"),
    ("D:", "fearful"),
    ("':(", "sweat"),
    ("':-(", "sweat"),
    ("'=(", "sweat"),
    (":-X", "no_mouth"),
    (":X", "no_mouth"),
    (":-#", "no_mouth"),
    (":#", "no_mouth"),
    ("=X", "no_mouth"),
    ("=#", "no_mouth"),
    ("-_-", "expressionless"),
    ("-__-", "expressionless"),
    ("-___-", "expressionless"),
    (":-O", "open_mouth"),
    (":O", "open_mouth"),
    ("O_O", "open_mouth"),
    (">:O", "open_mouth"),
    ("#-)", "dizzy_face"),
    ("#)", "dizzy_face"),
    ("%-)", "dizzy_face"),
    ("%)", "dizzy_face"),
    ("X)", "dizzy_face"),
    ("X-)", "dizzy_face"),
    ("(y)", "thumbsup"),
    ("*\\0/*", "person_gesturing_ok"),
    ("\\0/", "person_gesturing_ok"),
    ("*\\O/*", "person_gesturing_ok"),
    ("\\O/", "person_gesturing_ok"),
];

struct Parser<'o> {
    s: Vec<char>,
    o: &'o Options,
    skip_bold: bool,
    skip_italic: bool,
    skip_strike: bool,
    skip_references: bool,
    skip_bold_emoji: bool,
    skip_italic_emoji: bool,
    skip_inline_emoji: bool,
    steps: u64,
    budget: u64,
    depth: usize,
    domain_end: Vec<usize>,
    local_end: Vec<usize>,
    scheme_end: Vec<usize>,
    word_end: Vec<usize>,
}

type Found<T> = Option<(T, usize)>;

impl Parser<'_> {
    // Plumbing.

    /// Counts one step; `false` once the budget is spent (every rule then fails, and the
    /// caller falls back to the plain tree).
    fn tick(&mut self) -> bool {
        self.steps += 1;
        self.steps <= self.budget
    }

    fn exhausted(&self) -> bool {
        self.steps > self.budget
    }

    fn at(&self, i: usize) -> Option<char> {
        self.s.get(i).copied()
    }

    fn is(&self, i: usize, c: char) -> bool {
        self.at(i) == Some(c)
    }

    fn lit(&self, i: usize, text: &str) -> Option<usize> {
        let mut j = i;
        for c in text.chars() {
            if self.at(j)? != c {
                return None;
            }
            j += 1;
        }
        Some(j)
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.s[from..to].iter().collect()
    }

    /// Runs `rule` one level deeper, failing it past the depth limit.
    fn nested<T>(&mut self, rule: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        if self.depth >= MAX_DEPTH || !self.tick() {
            return None;
        }
        self.depth += 1;
        let found = rule(self);
        self.depth -= 1;
        found
    }

    /// `EndOfLine`.
    fn eol(&self, i: usize) -> Option<usize> {
        match self.at(i)? {
            '\r' if self.is(i + 1, '\n') => Some(i + 2),
            '\r' | '\n' => Some(i + 1),
            _ => None,
        }
    }

    /// The end of a run of characters of a class starting at `i` (maybe `i` itself).
    fn run(&mut self, i: usize, class: impl Fn(char) -> bool) -> usize {
        let mut j = i;
        while let Some(c) = self.at(j) {
            if !class(c) || !self.tick() {
                break;
            }
            j += 1;
        }
        j
    }

    fn run1(&mut self, i: usize, class: impl Fn(char) -> bool) -> Option<usize> {
        let end = self.run(i, class);
        (end > i).then_some(end)
    }

    // Document.

    /// `Start`: a big emoji message, or blocks and paragraphs to the end.
    fn start(&mut self) -> Option<Vec<Block>> {
        let n = self.s.len();
        if let Some((emoji, end)) = self.big_emoji(0)
            && end == n
        {
            return Some(vec![Block::BigEmoji(emoji)]);
        }
        let mut blocks = Vec::new();
        let mut i = 0;
        while i < n {
            if let Some((block, end)) = self.block(i) {
                blocks.push(block);
                i = end;
            } else if let Some((inlines, end)) = self.inline(i) {
                blocks.push(Block::Paragraph(inlines));
                i = end;
            } else if let Some(end) = self.eol(i) {
                blocks.push(Block::Paragraph(vec![Inline::Plain(String::new())]));
                i = end;
            } else {
                return None;
            }
            if self.exhausted() {
                return None;
            }
        }
        Some(blocks)
    }

    /// `BigEmoji`: one to three emoji (or emoticons) among spaces and line ends.
    fn big_emoji(&mut self, i: usize) -> Found<Vec<Inline>> {
        let gap = |p: &mut Self, mut j: usize| {
            loop {
                if let Some(end) = p.eol(j) {
                    j = end;
                } else if p.at(j).is_some_and(is_space) {
                    j += 1;
                } else {
                    return j;
                }
            }
        };
        let mut j = gap(self, i);
        let mut emoji = Vec::new();
        while emoji.len() < 3 {
            let Some((found, end)) = self.emoji(j).or_else(|| self.emoticon(j)) else {
                break;
            };
            emoji.push(found);
            j = gap(self, end);
        }
        (!emoji.is_empty()).then_some((emoji, j))
    }

    /// `Blocks`.
    fn block(&mut self, i: usize) -> Found<Block> {
        if !self.tick() {
            return None;
        }
        self.blockquote(i)
            .or_else(|| self.code(i))
            .or_else(|| self.heading(i))
            .or_else(|| self.tasks(i))
            .or_else(|| self.ordered_list(i))
            .or_else(|| self.unordered_list(i))
            .or_else(|| self.katex(i))
            .or_else(|| self.line_break(i))
    }

    /// `Blockquote`: `>` lines, each a paragraph.
    fn blockquote(&mut self, i: usize) -> Found<Block> {
        let mut paragraphs = Vec::new();
        let mut j = i;
        while self.is(j, '>') {
            let start = self.run(j + 1, is_space);
            let Some((inlines, end)) = self.inline(start) else {
                break;
            };
            paragraphs.push(inlines);
            j = end;
        }
        (!paragraphs.is_empty()).then_some((Block::Quote(paragraphs), j))
    }

    /// `Code`: a fence, an optional language, lines, a closing fence.
    fn code(&mut self, i: usize) -> Found<Block> {
        let mut j = self.lit(i, "```")?;
        let language_end = self.run(j, |c| {
            c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.')
        });
        let language = (language_end > j).then(|| self.text(j, language_end));
        j = self.eol(language_end)?;
        let mut lines = Vec::new();
        loop {
            if let Some(end) = self.code_chunk(j) {
                lines.push(self.text(j, end));
                j = end;
            } else if self.is(j, '\n')
                && let Some(end) = self.code_chunk(j + 1)
            {
                lines.push(self.text(j + 1, end));
                j = end;
            } else if self.is(j, '\n') && self.lit(j + 1, "```").is_none() {
                lines.push(String::new());
                j += 1;
            } else {
                break;
            }
        }
        if lines.is_empty() {
            return None;
        }
        j = self.eol(j)?;
        let end = self.lit(j, "```")?;
        Some((
            Block::Code {
                language: language.unwrap_or_else(|| "none".to_owned()),
                lines,
            },
            end,
        ))
    }

    /// `CodeChunk`: characters up to a line end or a fence.
    fn code_chunk(&mut self, i: usize) -> Option<usize> {
        let mut j = i;
        while let Some(c) = self.at(j) {
            if is_eol_char(c) || self.lit(j, "```").is_some() || !self.tick() {
                break;
            }
            j += 1;
        }
        (j > i).then_some(j)
    }

    /// `Heading`: one to four `#`, spaces, the rest of the line as plain text.
    fn heading(&mut self, i: usize) -> Found<Block> {
        let mut j = i;
        while j - i < 4 && self.is(j, '#') {
            j += 1;
        }
        let level = j - i;
        if level == 0 {
            return None;
        }
        let text_start = self.run1(j, is_space)?;
        let end = self.run1(text_start, |c| !is_eol_char(c))?;
        Some((
            Block::Heading {
                level: level as u8,
                value: vec![Inline::Plain(self.text(text_start, end))],
            },
            end,
        ))
    }

    /// `Tasks`: `- [x] ` or `- [ ] ` lines.
    fn tasks(&mut self, i: usize) -> Found<Block> {
        let mut tasks = Vec::new();
        let mut j = i;
        while let Some(after) = self.lit(j, "- [") {
            let status = match self.at(after) {
                Some('x') => true,
                Some(' ') => false,
                _ => break,
            };
            if !self.is(after + 1, ']') {
                break;
            }
            let Some(text_start) = self.run1(after + 2, is_space) else {
                break;
            };
            let Some((inlines, end)) = self.inline(text_start) else {
                break;
            };
            tasks.push((status, inlines));
            j = end;
        }
        (!tasks.is_empty()).then_some((Block::Tasks(tasks), j))
    }

    /// `OrderedList`: `1. ` lines.
    fn ordered_list(&mut self, i: usize) -> Found<Block> {
        let mut items = Vec::new();
        let mut j = i;
        while let Some(digits_end) = self.run1(j, |c| c.is_ascii_digit()) {
            if !self.is(digits_end, '.') {
                break;
            }
            let Some(text_start) = self.run1(digits_end + 1, is_space) else {
                break;
            };
            let Some((inlines, end)) = self.inline(text_start) else {
                break;
            };
            let number = self.text(j, digits_end).parse::<f64>().unwrap_or(0.0);
            items.push((number, inlines));
            j = end;
        }
        (!items.is_empty()).then_some((Block::OrderedList(items), j))
    }

    /// `UnorderedList`: `- ` lines, or `* ` lines (whose items are read a little differently).
    fn unordered_list(&mut self, i: usize) -> Found<Block> {
        let mut items = Vec::new();
        let mut j = i;
        while self.is(j, '-') {
            let Some(text_start) = self.run1(j + 1, is_space) else {
                break;
            };
            let Some((inlines, end)) = self.inline(text_start) else {
                break;
            };
            items.push(inlines);
            j = end;
        }
        if items.is_empty() {
            while self.is(j, '*') {
                let Some(text_start) = self.run1(j + 1, is_space) else {
                    break;
                };
                let Some((inlines, end)) = self.asterisk_item(text_start) else {
                    break;
                };
                items.push(inlines);
                j = end;
            }
        }
        (!items.is_empty()).then_some((Block::UnorderedList(items), j))
    }

    /// `UnorderedListItemContent`.
    fn asterisk_item(&mut self, i: usize) -> Found<Vec<Inline>> {
        let mut items = Vec::new();
        let mut j = i;
        loop {
            self.skip_inline_emoji = false;
            let found = match self.inline_item_pattern(j) {
                Some(found) => Some(found),
                None if !self.is(j, '*') => self.any(j).map(|(p, end)| (Item::One(p), end)),
                None => None,
            };
            let Some((item, end)) = found else {
                break;
            };
            self.skip_inline_emoji = false;
            items.push(item);
            j = end;
        }
        if items.is_empty() || self.is(j, '*') {
            return None;
        }
        let end = self.eol(j).unwrap_or(j);
        Some((reduce(items), end))
    }

    fn katex_open(&self, i: usize, parenthesis: &str, dollar: &str) -> Option<usize> {
        let by_parenthesis = if self.o.katex_parenthesis {
            self.lit(i, parenthesis)
        } else {
            None
        };
        by_parenthesis.or_else(|| {
            if self.o.katex_dollar {
                self.lit(i, dollar)
            } else {
                None
            }
        })
    }

    /// KaTeX content from `i` to the first closing delimiter: (content end, after delimiter).
    fn katex_body(&mut self, i: usize, parenthesis: &str, dollar: &str) -> Option<(usize, usize)> {
        let mut j = i;
        loop {
            if let Some(end) = self.katex_open(j, parenthesis, dollar) {
                return Some((j, end));
            }
            if self.at(j).is_none() || !self.tick() {
                return None;
            }
            j += 1;
        }
    }

    /// `Katex`: `\[...\]` or `$$...$$`, as the options allow.
    fn katex(&mut self, i: usize) -> Found<Block> {
        let start = self.katex_open(i, "\\[", "$$")?;
        let (content_end, end) = self.katex_body(start, "\\]", "$$")?;
        Some((Block::Katex(self.text(start, content_end)), end))
    }

    /// `LineBreak`: an empty (or blank) line.
    fn line_break(&mut self, i: usize) -> Found<Block> {
        let j = self.run(i, is_space);
        let end = self.eol(j)?;
        Some((Block::LineBreak, end))
    }

    /// `Inline`: a line's items, and its line end.
    fn inline(&mut self, i: usize) -> Found<Vec<Inline>> {
        self.skip_inline_emoji = false;
        let mut items = Vec::new();
        let mut j = i;
        loop {
            if let Some((item, end)) = self.inline_item_pattern(j) {
                self.skip_inline_emoji = false;
                items.push(item);
                j = end;
            } else if let Some((plain, end)) = self.any(j) {
                self.skip_inline_emoji = true;
                items.push(Item::One(plain));
                j = end;
            } else {
                break;
            }
        }
        if items.is_empty() {
            return None;
        }
        let end = self.eol(j).unwrap_or(j);
        self.skip_inline_emoji = false;
        Some((reduce(items), end))
    }

    /// `InlineItemPattern`.
    fn inline_item_pattern(&mut self, i: usize) -> Found<Item> {
        self.at(i)?;
        self.nested(|p| {
            let one = |found: Found<Inline>| found.map(|(inline, end)| (Item::One(inline), end));
            if let Some(found) = one(p.whitespace(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.timestamp(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.maybe_references(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.autolinked_phone(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.autolinked_email(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.autolinked_url(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.emphasis_with_whitespace(i)) {
                return Some(found);
            }
            if let Some(found) = p.emphasis(i) {
                return Some(found);
            }
            if let Some(found) = one(p.user_mention(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.channel_mention(i)) {
                return Some(found);
            }
            if !p.skip_inline_emoji
                && let Some(found) = one(p.emoji(i))
            {
                return Some(found);
            }
            if let Some(found) = one(p.inline_code(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.image(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.inline_emoticon(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.color(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.katex_inline(i)) {
                return Some(found);
            }
            one(p.escaped(i))
        })
    }

    /// `InlineEmoticon`: an emoticon followed by a space, a line end, `*`, the end, or another
    /// inline item.
    fn inline_emoticon(&mut self, i: usize) -> Found<Inline> {
        if self.skip_inline_emoji {
            return None;
        }
        let (emoticon, end) = self.emoticon(i)?;
        let followed =
            self.emoticon_neighbor(end) || self.nested(|p| p.inline_item_pattern(end)).is_some();
        if !followed {
            return None;
        }
        self.skip_inline_emoji = false;
        Some((emoticon, end))
    }

    /// `EmoticonNeighbor`.
    fn emoticon_neighbor(&self, i: usize) -> bool {
        match self.at(i) {
            None => true,
            Some(c) => is_eol_char(c) || is_space(c) || c == '*',
        }
    }

    /// `Any`: one character that is not a line end, with a phone number or URL right after it
    /// (kept as plain text, so `x.com` in `_x.com` is not a link).
    fn any(&mut self, i: usize) -> Found<Inline> {
        let c = self.at(i)?;
        if is_eol_char(c) || !self.tick() {
            return None;
        }
        let mut end = i + 1;
        if let Some((_, phone_end)) = self.autolinked_phone(end) {
            end = phone_end;
        }
        if let Some(url_end) = self.url(end) {
            end = url_end;
        }
        Some((Inline::Plain(self.text(i, end)), end))
    }

    /// `Whitespace`.
    fn whitespace(&mut self, i: usize) -> Found<Inline> {
        let end = self.run1(i, is_space)?;
        Some((Inline::Plain(self.text(i, end)), end))
    }

    /// `Timestamp`: `<t:` ten digits, an optional `:format`, `>`.
    fn timestamp(&mut self, i: usize) -> Found<Inline> {
        let start = self.lit(i, "<t:")?;
        let digits_end = start + 10;
        if digits_end > self.s.len() || !self.s[start..digits_end].iter().all(char::is_ascii_digit)
        {
            return None;
        }
        let timestamp = self.text(start, digits_end);
        if self.is(digits_end, ':')
            && let Some(format) = self
                .at(digits_end + 1)
                .filter(|c| matches!(c, 't' | 'T' | 'd' | 'D' | 'f' | 'F' | 'R'))
            && self.is(digits_end + 2, '>')
        {
            return Some((Inline::Timestamp { timestamp, format }, digits_end + 3));
        }
        if self.is(digits_end, '>') {
            return Some((
                Inline::Timestamp {
                    timestamp,
                    format: 't',
                },
                digits_end + 1,
            ));
        }
        None
    }

    /// `MaybeReferences`: a link, unless inside one already.
    fn maybe_references(&mut self, i: usize) -> Found<Inline> {
        if self.skip_references || !matches!(self.at(i), Some('[' | '<')) {
            return None;
        }
        self.skip_references = true;
        let found = self.nested(|p| p.references(i));
        self.skip_references = false;
        found
    }

    /// `References`: `[label](target)` or `<target|label>`.
    fn references(&mut self, i: usize) -> Found<Inline> {
        if self.is(i, '[') {
            let mut titles = Vec::new();
            let mut j = i + 1;
            while let Some((item, end)) = self.link_title(j) {
                titles.push(item);
                j = end;
            }
            if let Some(after) = self.lit(j, "](")
                && let Some((src, ref_end)) = self.link_ref(after)
                && self.is(ref_end, ')')
            {
                let label = if titles.is_empty() {
                    vec![Inline::Plain(src.clone())]
                } else {
                    reduce(titles)
                };
                return Some((Inline::Link { src, label }, ref_end + 1));
            }
        }
        if self.is(i, '<')
            && let Some((src, ref_end)) = self.link_ref(i + 1)
            && self.is(ref_end, '|')
        {
            let title_end = self.run1(ref_end + 1, |c| {
                matches!(c, '\x20'..='\x3B' | '\x3D' | '\x3F'..='\x7B' | '\x7D'..='\u{FF}')
                    || c as u32 >= 0x80
            })?;
            if self.is(title_end, '>') {
                let label = vec![Inline::Plain(self.text(ref_end + 1, title_end))];
                return Some((Inline::Link { src, label }, title_end + 1));
            }
        }
        None
    }

    /// `LinkTitle`: spaces, emphasis, or any character but a `]` opening the target.
    fn link_title(&mut self, i: usize) -> Found<Item> {
        if let Some((plain, end)) = self.whitespace(i) {
            return Some((Item::One(plain), end));
        }
        if let Some(found) = self.emphasis(i) {
            return Some(found);
        }
        if self.lit(i, "](").is_some() && self.at(i + 2).is_some() {
            return None;
        }
        self.at(i)?;
        if !self.tick() {
            return None;
        }
        Some((Item::One(Inline::Plain(self.text(i, i + 1))), i + 1))
    }

    /// `LinkRef`: a URL, a path with a scheme, or a phone number (`tel:`).
    fn link_ref(&mut self, i: usize) -> Found<String> {
        if let Some(end) = self.url(i) {
            return Some((self.text(i, end), end));
        }
        if let Some(scheme_end) = self.url_scheme(i)
            && let Some(end) = self.url_body(scheme_end)
        {
            return Some((self.text(i, end), end));
        }
        let (_, number, end) = self.phone(i)?;
        Some((format!("tel:{number}"), end))
    }

    /// `URL`.
    fn url(&mut self, i: usize) -> Option<usize> {
        if let Some(scheme_end) = self.url_scheme(i)
            && let Some(authority_end) = self.url_authority(scheme_end)
        {
            return Some(self.url_body(authority_end).unwrap_or(authority_end));
        }
        let host_end = self.url_host(i)?;
        Some(self.url_body(host_end).unwrap_or(host_end))
    }

    /// `URLBody`: characters of a URL, stopping before spaces and before punctuation that ends
    /// a line or precedes a space.
    fn url_body(&mut self, i: usize) -> Option<usize> {
        let mut j = i;
        while let Some(c) = self.at(j) {
            if !self.tick() || is_space(c) || self.extras_then_break(j, true) {
                break;
            }
            if !(is_any_text(c)
                || matches!(
                    c,
                    '*' | '[' | '/' | ']' | '^' | '_' | '`' | '{' | '}' | '~' | '('
                ))
            {
                break;
            }
            j += 1;
        }
        (j > i).then_some(j)
    }

    /// Whether `Extra` characters from `i` run into a space or line end (`at_least_one`: `+`
    /// rather than `*`).
    fn extras_then_break(&mut self, i: usize, at_least_one: bool) -> bool {
        let end = self.run(i, is_extra);
        if at_least_one && end == i {
            return false;
        }
        match self.at(end) {
            Some(c) => is_space(c) || is_eol_char(c),
            None => false,
        }
    }

    /// `URLScheme`: up to 32 scheme characters and `:`.
    fn url_scheme(&mut self, i: usize) -> Option<usize> {
        let j = self.scheme_end.get(i).copied()?.min(i + 32);
        (j > i && self.is(j, ':')).then_some(j + 1)
    }

    /// `URLAuthority`: `//`, optional user information, the host.
    fn url_authority(&mut self, i: usize) -> Option<usize> {
        let j = self.lit(i, "//")?;
        let host_start = self.url_user_info(j).unwrap_or(j);
        self.url_host(host_start)
    }

    fn url_user_info(&mut self, i: usize) -> Option<usize> {
        let user_char = |c: char| c.is_ascii_alphanumeric() || (is_safe(c) && c != '@');
        let mut j = self.run1(i, user_char)?;
        if self.is(j, ':')
            && let Some(end) = self.run1(j + 1, user_char)
        {
            j = end;
        }
        self.is(j, '@').then_some(j + 1)
    }

    /// `URLAuthorityHost`: a domain name or four dotted numbers, and an optional port.
    fn url_host(&mut self, i: usize) -> Option<usize> {
        let mut end = match self.domain_name(i) {
            Some(end) => end,
            None => self.dotted_numbers(i)?,
        };
        if self.is(end, ':')
            && let Some(port_end) = self.run1(end + 1, |c| c.is_ascii_digit())
        {
            end = port_end;
        }
        Some(end)
    }

    fn dotted_numbers(&mut self, i: usize) -> Option<usize> {
        let mut j = self.run1(i, |c| c.is_ascii_digit())?;
        for _ in 0..3 {
            if !self.is(j, '.') {
                return None;
            }
            j = self.run1(j + 1, |c| c.is_ascii_digit())?;
        }
        Some(j)
    }

    /// `DomainName`: `localhost`, or labels joined by dots (at least two), not starting with
    /// `_` (so that `_3.14_` stays italic, as upstream's later grammar has it).
    fn domain_name(&mut self, i: usize) -> Option<usize> {
        if let Some(end) = self.lit(i, "localhost") {
            return Some(end);
        }
        if self.is(i, '_') {
            return None;
        }
        let mut j = self.domain_end[i];
        if j == i || !self.tick() {
            return None;
        }
        let mut dots = 0;
        while self.is(j, '.') && self.at(j + 1).is_some_and(domain_char) {
            j = self.domain_end[j + 1];
            dots += 1;
        }
        (dots > 0).then_some(j)
    }

    /// `Phone`: `+`, then digits with an optional `(area)` prefix and one `-`: (text, number,
    /// end).
    fn phone(&mut self, i: usize) -> Option<(String, String, usize)> {
        if !self.is(i, '+') {
            return None;
        }
        let digits = |p: &mut Self, j: usize| p.run1(j, |c| c.is_ascii_digit());
        let start = i + 1;
        // PhonePrefix: digits, or "(digits)".
        let prefix = |p: &mut Self, j: usize| -> Option<(String, String, usize)> {
            if let Some(end) = digits(p, j) {
                let d = p.text(j, end);
                return Some((d.clone(), d, end));
            }
            if p.is(j, '(')
                && let Some(end) = digits(p, j + 1)
                && p.is(end, ')')
            {
                let d = p.text(j + 1, end);
                return Some((format!("({d})"), d, end + 1));
            }
            None
        };
        let found = (|| {
            if let Some((text, number, end)) = prefix(self, start) {
                if self.is(end, '-')
                    && let Some(d_end) = digits(self, end + 1)
                {
                    let d = self.text(end + 1, d_end);
                    return Some((format!("{text}-{d}"), format!("{number}{d}"), d_end));
                }
                if let Some(d1_end) = digits(self, end)
                    && self.is(d1_end, '-')
                    && let Some(d2_end) = digits(self, d1_end + 1)
                {
                    let d1 = self.text(end, d1_end);
                    let d2 = self.text(d1_end + 1, d2_end);
                    return Some((
                        format!("{text}{d1}-{d2}"),
                        format!("{number}{d1}{d2}"),
                        d2_end,
                    ));
                }
                if let Some(d_end) = digits(self, end) {
                    let d = self.text(end, d_end);
                    return Some((format!("{text}{d}"), format!("{number}{d}"), d_end));
                }
            }
            let end = digits(self, start)?;
            let d = self.text(start, end);
            Some((d.clone(), d, end))
        })()?;
        let (text, number, end) = found;
        Some((format!("+{text}"), number, end))
    }

    /// `AutolinkedPhone`: a `tel:` link when the number has five digits or more.
    fn autolinked_phone(&mut self, i: usize) -> Found<Inline> {
        let (text, number, end) = self.phone(i)?;
        if number.len() < 5 {
            return Some((Inline::Plain(text), end));
        }
        Some((
            Inline::Link {
                src: format!("tel:{number}"),
                label: vec![Inline::Plain(text)],
            },
            end,
        ))
    }

    /// `AutolinkedEmail`: an optional `mailto:`, a local part, `@`, a domain name.
    fn autolinked_email(&mut self, i: usize) -> Found<Inline> {
        let start = self.lit(i, "mailto:").unwrap_or(i);
        let local_end = self.local_part(start)?;
        if !self.is(local_end, '@') {
            return None;
        }
        let end = self.domain_name(local_end + 1)?;
        Some((auto_email(&self.text(start, end)), end))
    }

    /// `LocalPart`: runs of letters, digits and marks (each maybe followed by the specials
    /// addresses allow) joined by dots.
    fn local_part(&mut self, i: usize) -> Option<usize> {
        let chunk = |p: &mut Self, j: usize| -> Option<usize> {
            if !p.at(j).is_some_and(is_alnum_or_mark) || !p.tick() {
                return None;
            }
            Some(p.local_end[j])
        };
        let mut j = chunk(self, i)?;
        while self.is(j, '.')
            && let Some(end) = chunk(self, j + 1)
        {
            j = end;
        }
        Some(j)
    }

    /// `AutolinkedURL`.
    fn autolinked_url(&mut self, i: usize) -> Found<Inline> {
        let head_end = match self
            .url_scheme(i)
            .and_then(|scheme_end| self.url_authority(scheme_end))
        {
            Some(end) => end,
            None => self.url_host(i)?,
        };
        // AutoLinkURLBody: anything up to punctuation that runs into a space or line end.
        let mut end = head_end;
        while self.at(end).is_some() && self.tick() && !self.extras_then_break(end, false) {
            end += 1;
        }
        let text = self.text(i, end);
        Some((auto_link(&text, &self.o.custom_domains), end))
    }

    /// `EmphasisWithWhitespace`: `* *`, `__ __`, `~ ~`... are plain text.
    fn emphasis_with_whitespace(&mut self, i: usize) -> Found<Inline> {
        let mark = self.at(i).filter(|c| matches!(c, '*' | '_' | '~'))?;
        let first = self.run(i, |c| c == mark);
        let spaces = self.run1(first, is_space)?;
        let end = self.run1(spaces, |c| c == mark)?;
        Some((Inline::Plain(self.text(i, end)), end))
    }

    /// `Emphasis`: bold, italic or strike, each unless already inside one of its kind.
    fn emphasis(&mut self, i: usize) -> Found<Item> {
        if let Some((bold, end)) = self.maybe_bold(i) {
            return Some((Item::One(bold), end));
        }
        if let Some(found) = self.maybe_italic(i) {
            return Some(found);
        }
        self.maybe_strike(i)
            .map(|(strike, end)| (Item::One(strike), end))
    }

    fn maybe_bold(&mut self, i: usize) -> Found<Inline> {
        if self.skip_bold || !self.is(i, '*') {
            return None;
        }
        self.skip_bold = true;
        let found = self.nested(|p| p.bold(i));
        self.skip_bold = false;
        found
    }

    fn maybe_italic(&mut self, i: usize) -> Found<Item> {
        if self.skip_italic {
            return None;
        }
        let c = self.at(i)?;
        if !(c == '_' || c.is_ascii_alphanumeric()) {
            return None;
        }
        self.skip_italic = true;
        let found = self.nested(|p| p.italic(i));
        self.skip_italic = false;
        found
    }

    fn maybe_strike(&mut self, i: usize) -> Found<Inline> {
        if self.skip_strike || !self.is(i, '~') {
            return None;
        }
        self.skip_strike = true;
        let found = self.nested(|p| p.strike(i));
        self.skip_strike = false;
        found
    }

    /// `Bold`: `**...**` or `*...*`.
    fn bold(&mut self, i: usize) -> Found<Inline> {
        for mark in ["**", "*"] {
            if let Some(start) = self.lit(i, mark)
                && let Some((items, content_end)) = self.bold_content(start)
                && let Some(end) = self.lit(content_end, mark)
            {
                return Some((Inline::Bold(items), end));
            }
        }
        None
    }

    /// `BoldContent`.
    fn bold_content(&mut self, i: usize) -> Found<Vec<Inline>> {
        self.skip_bold_emoji = false;
        let mut items = Vec::new();
        let mut j = i;
        loop {
            if let Some((item, end)) = self.bold_preferred(j) {
                self.skip_bold_emoji = false;
                items.push(item);
                j = end;
            } else if let Some((plain, end)) = self.single_or_line(j, '*') {
                self.skip_bold_emoji = true;
                items.push(Item::One(plain));
                j = end;
            } else {
                break;
            }
        }
        if items.is_empty() {
            return None;
        }
        self.skip_bold_emoji = false;
        Some((reduce(items), j))
    }

    /// `BoldContentPreferentialItemPattern`.
    fn bold_preferred(&mut self, i: usize) -> Found<Item> {
        self.at(i)?;
        self.nested(|p| {
            let one = |found: Found<Inline>| found.map(|(inline, end)| (Item::One(inline), end));
            if let Some(found) = one(p.whitespace(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.inline_code(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.maybe_references(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.user_mention(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.channel_mention(i)) {
                return Some(found);
            }
            if let Some(found) = p.maybe_italic(i) {
                return Some(found);
            }
            if let Some(found) = one(p.maybe_strike(i)) {
                return Some(found);
            }
            if !p.skip_bold_emoji
                && let Some(found) = one(p.emoji(i))
            {
                return Some(found);
            }
            if p.skip_bold_emoji {
                return None;
            }
            let (emoticon, end) = p.emoticon(i)?;
            let followed = p.emoticon_neighbor(end)
                || match p.bold_preferred(end) {
                    Some(_) => {
                        p.skip_bold_emoji = false;
                        true
                    }
                    None => false,
                };
            if !followed {
                return None;
            }
            p.skip_bold_emoji = false;
            Some((Item::One(emoticon), end))
        })
    }

    /// `AnyBold` / `AnyItalic` / `AnyStrike` (one character but a line end, a space or the
    /// mark), else `Line`.
    fn single_or_line(&mut self, i: usize, mark: char) -> Found<Inline> {
        let c = self.at(i)?;
        if !self.tick() {
            return None;
        }
        if c != '\n' && c != ' ' && c != mark {
            return Some((Inline::Plain(c.to_string()), i + 1));
        }
        self.line(i)
    }

    /// `Line`: spaces, text characters, spaces.
    fn line(&mut self, i: usize) -> Found<Inline> {
        let head = self.run(i, is_space);
        let text_end = self.run1(head, is_any_text)?;
        let end = self.run(text_end, is_space);
        Some((Inline::Plain(self.text(i, end)), end))
    }

    /// `Italic`: a word ending in `_` (plain: snake_case), `__x__word` and `_x_word` (plain
    /// around the content), `__...__`, `_..._`.
    fn italic(&mut self, i: usize) -> Found<Item> {
        let word_end = self.word_end.get(i).copied().unwrap_or(i);
        if word_end > i && self.is(word_end, '_') {
            let end = if self.is(word_end + 1, '_') {
                word_end + 2
            } else {
                word_end + 1
            };
            return Some((Item::One(Inline::Plain(self.text(i, end))), end));
        }
        if let Some(start) = self.lit(i, "__")
            && let Some((items, content_end)) = self.italic_items(start)
            && let Some(close) = self.lit(content_end, "__")
            && let Some(end) = self.run1(close, |c| c.is_ascii_alphanumeric())
        {
            let word = self.text(close, end);
            let mut parts = vec![Item::One(Inline::Plain("__".into()))];
            parts.extend(items.into_iter().map(Item::One));
            parts.push(Item::One(Inline::Plain("__".into())));
            parts.push(Item::One(Inline::Plain(word)));
            return Some((Item::Many(reduce(parts)), end));
        }
        if let Some(start) = self.lit(i, "_")
            && let Some((items, content_end)) = self.italic_items(start)
            && self.is(content_end, '_')
            && let Some(end) = self.run1(content_end + 1, |c| c.is_ascii_alphabetic())
        {
            let word = self.text(content_end + 1, end);
            let mut parts = vec![Item::One(Inline::Plain("_".into()))];
            parts.extend(items.into_iter().map(Item::One));
            parts.push(Item::One(Inline::Plain("_".into())));
            parts.push(Item::One(Inline::Plain(word)));
            return Some((Item::Many(reduce(parts)), end));
        }
        for mark in ["__", "_"] {
            if let Some(start) = self.lit(i, mark) {
                self.skip_italic_emoji = false;
                if let Some((items, content_end)) = self.italic_items(start) {
                    self.skip_italic_emoji = false;
                    if let Some(end) = self.lit(content_end, mark) {
                        return Some((Item::One(Inline::Italic(items)), end));
                    }
                }
            }
        }
        None
    }

    /// `ItalicContentItems`.
    fn italic_items(&mut self, i: usize) -> Found<Vec<Inline>> {
        let mut items = Vec::new();
        let mut j = i;
        loop {
            if let Some((item, end)) = self.italic_preferred(j) {
                self.skip_italic_emoji = false;
                items.push(item);
                j = end;
            } else if let Some((plain, end)) = self.single_or_line(j, '_') {
                self.skip_italic_emoji = true;
                items.push(Item::One(plain));
                j = end;
            } else {
                break;
            }
        }
        (!items.is_empty()).then(|| (reduce(items), j))
    }

    /// `ItalicContentPreferentialItemPattern`.
    fn italic_preferred(&mut self, i: usize) -> Found<Item> {
        self.at(i)?;
        self.nested(|p| {
            let one = |found: Found<Inline>| found.map(|(inline, end)| (Item::One(inline), end));
            if let Some(found) = one(p.whitespace(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.inline_code(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.maybe_references(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.user_mention(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.channel_mention(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.maybe_bold(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.maybe_strike(i)) {
                return Some(found);
            }
            if !p.skip_italic_emoji
                && let Some(found) = one(p.emoji(i))
            {
                return Some(found);
            }
            if p.skip_italic_emoji {
                return None;
            }
            let (emoticon, end) = p.emoticon(i)?;
            let followed = p.emoticon_neighbor(end)
                || match p.italic_preferred(end) {
                    Some(_) => {
                        p.skip_italic_emoji = false;
                        true
                    }
                    None => p.is(end, '_'),
                };
            if !followed {
                return None;
            }
            p.skip_italic_emoji = false;
            Some((Item::One(emoticon), end))
        })
    }

    /// `Strikethrough`: `~~...~~` or `~...~`.
    fn strike(&mut self, i: usize) -> Found<Inline> {
        for mark in ["~~", "~"] {
            if let Some(start) = self.lit(i, mark)
                && let Some((items, content_end)) = self.strike_content(start)
                && let Some(end) = self.lit(content_end, mark)
            {
                return Some((Inline::Strike(items), end));
            }
        }
        None
    }

    /// `StrikethroughContent`.
    fn strike_content(&mut self, i: usize) -> Found<Vec<Inline>> {
        let mut items = Vec::new();
        let mut j = i;
        while let Some((item, end)) = self.strike_item(j) {
            items.push(item);
            j = end;
        }
        (!items.is_empty()).then(|| (reduce(items), j))
    }

    fn strike_item(&mut self, i: usize) -> Found<Item> {
        self.at(i)?;
        self.nested(|p| {
            let one = |found: Found<Inline>| found.map(|(inline, end)| (Item::One(inline), end));
            if let Some(found) = one(p.timestamp(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.whitespace(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.inline_code(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.maybe_references(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.user_mention(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.channel_mention(i)) {
                return Some(found);
            }
            if let Some(found) = p.maybe_italic(i) {
                return Some(found);
            }
            if let Some(found) = one(p.maybe_bold(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.emoji(i)) {
                return Some(found);
            }
            if let Some(found) = one(p.emoticon(i)) {
                return Some(found);
            }
            one(p.single_or_line(i, '~'))
        })
    }

    /// `UserMention`: `x@y` inside a word is plain text; `@name` (or `@name@server`) is a
    /// mention.
    fn user_mention(&mut self, i: usize) -> Found<Inline> {
        let first = self.at(i)?;
        if is_any_text(first) && self.is(i + 1, '@') {
            let ats = self.run(i + 1, |c| c == '@');
            if let Some(c) = self.at(ats).filter(|&c| is_alnum(c)) {
                return Some((
                    merge_plain(&[&first.to_string(), "@", &c.to_string()]),
                    ats + 1,
                ));
            }
        }
        if first != '@' {
            return None;
        }
        let start = self.run(i, |c| c == '@');
        let mut end = self.run1(start, is_name_char)?;
        if matches!(self.at(end), Some(':' | '@'))
            && let Some(more) = self.run1(end + 1, is_name_char)
        {
            end = more;
        }
        Some((Inline::MentionUser(self.text(start, end)), end))
    }

    /// `ChannelMention`: `x#y` inside a word is plain text; `#name` is a mention.
    fn channel_mention(&mut self, i: usize) -> Found<Inline> {
        let first = self.at(i)?;
        if is_any_text(first)
            && self.is(i + 1, '#')
            && let Some(c) = self.at(i + 2).filter(|&c| is_alnum(c))
        {
            return Some((
                merge_plain(&[&first.to_string(), "#", &c.to_string()]),
                i + 3,
            ));
        }
        if first != '#' {
            return None;
        }
        let end = self.run1(i + 1, is_name_char)?;
        Some((Inline::MentionChannel(self.text(i + 1, end)), end))
    }

    /// `Emoji`: `:shortcode:` or a Unicode emoji.
    fn emoji(&mut self, i: usize) -> Found<Inline> {
        if !self.tick() {
            return None;
        }
        if self.is(i, ':')
            && let Some(end) = self.run1(i + 1, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '.')
            })
            && self.is(end, ':')
        {
            let code = self.text(i + 1, end);
            return Some((
                Inline::Emoji {
                    value: code.clone(),
                    short_code: code,
                },
                end + 1,
            ));
        }
        let end = self.unicode_emoji(i)?;
        Some((Inline::EmojiUnicode(self.text(i, end)), end))
    }

    /// `UnicodeEmoji`: the blocks of emoji upstream recognises, with their joiners, skin tones
    /// and variation selectors.
    fn unicode_emoji(&self, i: usize) -> Option<usize> {
        let c = self.at(i)?;
        let cp = c as u32;
        let pictograph = |j: usize| -> Option<usize> {
            let cp = self.at(j)? as u32;
            if !(0x1F300..=0x1F5FF).contains(&cp) {
                return None;
            }
            Some(if self.at(j + 1).is_some_and(is_variation_selector) {
                j + 2
            } else {
                j + 1
            })
        };
        let skin_tone = |j: usize| -> usize {
            if self
                .at(j)
                .is_some_and(|c| (0x1F3FB..=0x1F3FF).contains(&(c as u32)))
            {
                j + 1
            } else {
                j
            }
        };
        if (0x1F600..=0x1F64F).contains(&cp) {
            return Some(i + 1);
        }
        if (0x1F900..=0x1F9FF).contains(&cp) {
            let mut j = i + 1;
            if let Some(end) = pictograph(j) {
                j = end;
                while self.is(j, '\u{200D}')
                    && let Some(end) = pictograph(j + 1)
                {
                    j = end;
                }
            }
            return Some(j);
        }
        if pictograph(i).is_some() {
            let mut j = i;
            while let Some(end) = pictograph(j) {
                let end = skin_tone(end);
                if self.is(end, '\u{200D}') && pictograph(end + 1).is_some() {
                    j = end + 1;
                } else {
                    return Some(end);
                }
            }
            return Some(j);
        }
        if (0x1F680..=0x1F6FA).contains(&cp) {
            return Some(i + 1);
        }
        if (0x2300..=0x23FF).contains(&cp)
            || (0x2600..=0x26FF).contains(&cp)
            || (0x2700..=0x27BF).contains(&cp)
        {
            return Some(if self.at(i + 1).is_some_and(is_variation_selector) {
                i + 2
            } else {
                i + 1
            });
        }
        let flag = |c: Option<char>| c.is_some_and(|c| (0x1F100..=0x1F1FF).contains(&(c as u32)));
        if flag(Some(c)) && flag(self.at(i + 1)) {
            return Some(i + 2);
        }
        None
    }

    /// `Emoticon`, when the options turn emoticons on.
    fn emoticon(&mut self, i: usize) -> Found<Inline> {
        if !self.o.emoticons || !self.at(i).is_some_and(may_start_emoticon) || !self.tick() {
            return None;
        }
        EMOTICONS.iter().find_map(|(text, name)| {
            let end = self.lit(i, text)?;
            Some((
                Inline::Emoji {
                    value: (*text).to_owned(),
                    short_code: (*name).to_owned(),
                },
                end,
            ))
        })
    }

    /// `InlineCode`: `` `code` `` on one line.
    fn inline_code(&mut self, i: usize) -> Found<Inline> {
        if !self.is(i, '`') {
            return None;
        }
        let end = self.run1(i + 1, |c| c != '`' && c != '\n')?;
        if !self.is(end, '`') {
            return None;
        }
        Some((Inline::InlineCode(self.text(i + 1, end)), end + 1))
    }

    /// `Image`: `![label](target)`.
    fn image(&mut self, i: usize) -> Found<Inline> {
        let start = self.lit(i, "![")?;
        let (label, label_end) = match self.line(start) {
            Some((Inline::Plain(text), end)) => (Some(text), end),
            _ => (None, start),
        };
        let after = self.lit(label_end, "](")?;
        let (src, ref_end) = self.link_ref(after)?;
        if !self.is(ref_end, ')') {
            return None;
        }
        let label = label.unwrap_or_else(|| src.clone());
        Some((Inline::Image { src, label }, ref_end + 1))
    }

    /// `Color`: `color:#rgb`, `#rgba`, `#rrggbb` or `#rrggbbaa`, when the options allow.
    fn color(&mut self, i: usize) -> Found<Inline> {
        if !self.o.colors {
            return None;
        }
        let start = self.lit(i, "color:#")?;
        let hex = |p: &Self, j: usize| p.at(j).and_then(|c| c.to_digit(16)).map(|d| d as u8);
        let mut bytes = Vec::new();
        let mut j = start;
        while bytes.len() < 4
            && let (Some(high), Some(low)) = (hex(self, j), hex(self, j + 1))
        {
            bytes.push(high * 16 + low);
            j += 2;
        }
        if bytes.len() < 3 {
            bytes.clear();
            j = start;
            while bytes.len() < 4
                && let Some(d) = hex(self, j)
            {
                bytes.push(d * 17);
                j += 1;
            }
            if bytes.len() < 3 {
                return None;
            }
        }
        if self.at(j).is_some_and(is_any_text) {
            return None;
        }
        let a = bytes.get(3).copied().unwrap_or(255);
        Some((
            Inline::Color {
                r: bytes[0],
                g: bytes[1],
                b: bytes[2],
                a,
            },
            j,
        ))
    }

    /// `KatexInline`: `\(...\)` or `$...$`, as the options allow.
    fn katex_inline(&mut self, i: usize) -> Found<Inline> {
        let start = self.katex_open(i, "\\(", "$")?;
        let (content_end, end) = self.katex_body(start, "\\)", "$")?;
        Some((Inline::InlineKatex(self.text(start, content_end)), end))
    }

    /// `Escaped`: `\*`, `\_`, `` \` ``... as the character alone.
    fn escaped(&mut self, i: usize) -> Found<Inline> {
        if !self.is(i, '\\') {
            return None;
        }
        let c = self
            .at(i + 1)
            .filter(|c| matches!(c, '*' | '_' | '~' | '`' | '#' | '.'))?;
        Some((Inline::Plain(c.to_string()), i + 2))
    }
}
