//! Room names made from display names.
//!
//! With `UI_Allow_room_names_with_special_chars` on, upstream keeps what a user typed as the
//! room's display name (`fname`) and derives its `name` with limax, keeping case: apostrophes
//! inside words go, Chinese characters become pinyin with tone numbers, Japanese kana become
//! Hepburn romaji, every other letter is transliterated to ASCII, a few symbols become words
//! (`&` is "and"), and whatever is left that is neither a letter, a digit, `_` nor `-` separates
//! words, which are joined with `-`. The transliteration of single letters here comes from
//! `any_ascii` and can differ from upstream's tables for some letters (see
//! docs/compatibility.md).

use any_ascii::any_ascii_char;
use pinyin::ToPinyin;
use regex::Regex;
use std::sync::LazyLock;

/// The separator between words of a slug.
const SEPARATOR: char = '-';

/// Apostrophes removed from inside words ("User's" reads "Users").
const APOSTROPHES: &[char] = &[
    '\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}', '\u{2032}', '\u{2035}', '\u{0301}',
];

/// Symbols spoken as English words.
const SYMBOL_WORDS: &[(char, &str)] = &[
    ('&', "and"),
    ('|', "or"),
    ('<', "less"),
    ('>', "greater"),
    ('\u{2665}', "love"),
    ('\u{2206}', "delta"),
    ('\u{221E}', "infinity"),
    ('\u{2211}', "sum"),
    ('\u{00A4}', "currency"),
];

/// Letters upstream's table reads otherwise than `any_ascii` does (Arabic alef is a vowel there).
const LETTER_READINGS: &[(char, &str)] = &[('\u{0627}', "a")];

#[allow(
    clippy::unwrap_used,
    reason = "constant patterns checked by the unit tests"
)]
static SINGLE_LETTER_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("([^1-4]) ([A-Za-z]) ").unwrap());

#[allow(
    clippy::unwrap_used,
    reason = "constant patterns checked by the unit tests"
)]
static DIGIT_AFTER_SEPARATOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("([^0-9])-([0-9])").unwrap());

/// The `name` upstream gives a room whose display name is `display`, before the name is
/// validated and made unique.
pub fn room_slug(display: &str) -> String {
    let text = without_inner_apostrophes(display);
    if text.chars().any(is_kana) {
        let romaji: String = text
            .chars()
            .map(|c| {
                if is_kana(c) {
                    any_ascii_char(c).to_uppercase()
                } else {
                    c.to_string()
                }
            })
            .filter(|part| {
                part.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ')
            })
            .collect();
        return speaking(&romaji);
    }
    if text.chars().any(is_han) {
        let spaced = pinyin_words(&text);
        let kept: String = spaced
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
            .collect();
        let joined = SINGLE_LETTER_WORD.replace_all(&kept, "$1$2");
        let slug = speaking(&joined);
        return DIGIT_AFTER_SEPARATOR
            .replace_all(&slug, "$1$2")
            .into_owned();
    }
    speaking(&text)
}

fn is_kana(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}')
}

/// The range upstream treats as Chinese.
fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FA5}')
}

fn without_inner_apostrophes(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let inside_word = i > 0
            && chars.get(i + 1).is_some_and(|n| !n.is_whitespace())
            && !chars[i - 1].is_whitespace();
        if APOSTROPHES.contains(&c) && inside_word {
            continue;
        }
        out.push(c);
    }
    out
}

/// Each Chinese character as its pinyin with the tone's number (none for the neutral tone),
/// each run of other characters kept whole, the words separated by spaces.
fn pinyin_words(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut run = String::new();
    for c in text.chars() {
        match c.to_pinyin().filter(|_| is_han(c)) {
            Some(reading) => {
                if !run.is_empty() {
                    words.push(std::mem::take(&mut run));
                }
                words.push(reading.with_tone_num_end().to_owned());
            }
            None => run.push(c),
        }
    }
    if !run.is_empty() {
        words.push(run);
    }
    words.join(" ")
}

/// Words of ASCII letters and digits joined by the separator, case kept.
fn speaking(text: &str) -> String {
    let mut spoken = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == SEPARATOR {
            spoken.push(c);
        } else if c.is_whitespace() {
            spoken.push(' ');
        } else if let Some((_, word)) = SYMBOL_WORDS.iter().find(|(s, _)| *s == c) {
            spoken.push(' ');
            spoken.push_str(word);
            spoken.push(' ');
        } else if c.is_ascii() {
            spoken.push(SEPARATOR);
        } else {
            let latin = LETTER_READINGS
                .iter()
                .find(|(letter, _)| *letter == c)
                .map_or_else(|| any_ascii_char(c), |(_, reading)| reading);
            if latin.chars().any(|l| l.is_ascii_alphanumeric()) {
                spoken.extend(latin.chars().map(|l| {
                    if l.is_ascii_alphanumeric() {
                        l
                    } else {
                        SEPARATOR
                    }
                }));
            } else {
                spoken.push(SEPARATOR);
            }
        }
    }
    let mut slug = String::with_capacity(spoken.len());
    for c in spoken.chars() {
        let c = if c == ' ' { SEPARATOR } else { c };
        if c == SEPARATOR && (slug.is_empty() || slug.ends_with(SEPARATOR)) {
            continue;
        }
        slug.push(c);
    }
    while slug.ends_with(SEPARATOR) {
        slug.pop();
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::room_slug;

    #[test]
    fn latin_names_keep_their_case_and_lose_punctuation() {
        assert_eq!(room_slug("HelloWorld"), "HelloWorld");
        assert_eq!(room_slug("The User's Guide"), "The-Users-Guide");
        assert_eq!(room_slug("The User\u{2019}s Guide"), "The-Users-Guide");
        assert_eq!(
            room_slug("Pop brésilienne header"),
            "Pop-bresilienne-header"
        );
        assert_eq!(room_slug("channel.test.1700"), "channel-test-1700");
        assert_eq!(room_slug("  spaced   out  "), "spaced-out");
        assert_eq!(room_slug("snake_case-name"), "snake_case-name");
        assert_eq!(room_slug("one2three"), "one2three");
        assert_eq!(room_slug("!!!"), "");
    }

    #[test]
    fn symbols_become_words() {
        assert_eq!(room_slug("i \u{2665} latin"), "i-love-latin");
        assert_eq!(room_slug("salt&pepper"), "salt-and-pepper");
    }

    #[test]
    fn other_scripts_are_transliterated() {
        assert_eq!(room_slug("тест"), "test");
        assert_eq!(room_slug("Ελληνικά-test-1700"), "Ellinika-test-1700");
        assert_eq!(room_slug("test ГДΕληνικά-1700"), "test-GDElinika-1700");
        assert_eq!(room_slug("اختبار"), "akhtbar");
    }

    #[test]
    fn chinese_becomes_pinyin_with_tone_numbers() {
        assert_eq!(room_slug("测试"), "ce4-shi4");
        assert_eq!(room_slug("我爱官话"), "wo3-ai4-guan1-hua4");
        assert_eq!(room_slug("特殊天-1"), "te4-shu1-tian1-1");
        assert_eq!(room_slug("状态404页面"), "zhuang4-tai4-404-ye4-mian4");
    }
}
