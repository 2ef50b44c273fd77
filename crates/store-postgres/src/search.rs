//! Full-text search text: what a message's `search_vector` indexes, and queries against it.

use comet_store::encoding::{last_word_is_prefix, search_words};

/// The text search configuration the migrations create (`simple` after `unaccent`).
pub(crate) const CONFIG: &str = "comet_search";

/// What is indexed of a message's text: its words (as [`search_words`] splits them, like
/// SQLite's unicode61 tokenizer) lowercased by Rust, so that neither the database's locale nor
/// PostgreSQL's parser (which would keep `a.b.com` or `x@y.org` as one token) changes what a
/// search finds.
pub(crate) fn document(text: &str) -> String {
    search_words(text)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Turns user text into a `to_tsquery` expression with SQLite's meaning: every word required,
/// the last one also matching as a prefix unless it is one letter. Words hold only letters and digits, so they are
/// never tsquery syntax; they are quoted all the same.
pub(crate) fn tsquery_text(text: &str) -> Option<String> {
    let words = search_words(text);
    let (last, rest) = words.split_last()?;
    let term = |word: &str| {
        let quoted = word
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('\'', "''");
        format!("'{quoted}'")
    };
    let mut terms: Vec<String> = rest.iter().map(|w| term(w)).collect();
    terms.push(if last_word_is_prefix(last) {
        format!("{}:*", term(last))
    } else {
        term(last)
    });
    Some(terms.join(" & "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_documents_are_lowercased_words() {
        assert_eq!(
            document("Olá, a IMPLANTAÇÃO: deploy.example.com!"),
            "olá a implantação deploy example com"
        );
        assert_eq!(document("مرحبا بالعالم"), "مرحبا بالعالم");
    }

    #[test]
    fn tsqueries_require_every_word_and_the_last_as_a_prefix() {
        assert_eq!(
            tsquery_text("Hello wor").as_deref(),
            Some("'hello' & 'wor':*")
        );
        assert_eq!(
            tsquery_text("\"unbalanced OR (").as_deref(),
            Some("'unbalanced' & 'or':*")
        );
        assert_eq!(tsquery_text("a' & bc:*").as_deref(), Some("'a' & 'bc':*"));
        assert_eq!(
            tsquery_text("plan b").as_deref(),
            Some("'plan' & 'b'"),
            "one letter is a whole word"
        );
        assert_eq!(tsquery_text(" !? "), None);
    }
}
