//! Guessing a text's language when the caller does not know it, among the languages the
//! installed models read (and the target, so a text already in it is left alone).

use whatlang::{Detector, Lang};

/// ISO 639-1 codes (what model directories and upstream use) of the languages the detector
/// knows.
const LANGUAGES: &[(&str, Lang)] = &[
    ("af", Lang::Afr),
    ("ak", Lang::Aka),
    ("am", Lang::Amh),
    ("ar", Lang::Ara),
    ("az", Lang::Aze),
    ("be", Lang::Bel),
    ("bg", Lang::Bul),
    ("bn", Lang::Ben),
    ("ca", Lang::Cat),
    ("cs", Lang::Ces),
    ("da", Lang::Dan),
    ("de", Lang::Deu),
    ("el", Lang::Ell),
    ("en", Lang::Eng),
    ("eo", Lang::Epo),
    ("es", Lang::Spa),
    ("et", Lang::Est),
    ("fa", Lang::Pes),
    ("fi", Lang::Fin),
    ("fr", Lang::Fra),
    ("gu", Lang::Guj),
    ("he", Lang::Heb),
    ("hi", Lang::Hin),
    ("hr", Lang::Hrv),
    ("hu", Lang::Hun),
    ("hy", Lang::Hye),
    ("id", Lang::Ind),
    ("it", Lang::Ita),
    ("ja", Lang::Jpn),
    ("jv", Lang::Jav),
    ("ka", Lang::Kat),
    ("km", Lang::Khm),
    ("kn", Lang::Kan),
    ("ko", Lang::Kor),
    ("la", Lang::Lat),
    ("lt", Lang::Lit),
    ("lv", Lang::Lav),
    ("mk", Lang::Mkd),
    ("ml", Lang::Mal),
    ("mr", Lang::Mar),
    ("my", Lang::Mya),
    ("nb", Lang::Nob),
    ("no", Lang::Nob),
    ("ne", Lang::Nep),
    ("nl", Lang::Nld),
    ("or", Lang::Ori),
    ("pa", Lang::Pan),
    ("pl", Lang::Pol),
    ("pt", Lang::Por),
    ("ro", Lang::Ron),
    ("ru", Lang::Rus),
    ("si", Lang::Sin),
    ("sk", Lang::Slk),
    ("sl", Lang::Slv),
    ("sn", Lang::Sna),
    ("sr", Lang::Srp),
    ("sv", Lang::Swe),
    ("ta", Lang::Tam),
    ("te", Lang::Tel),
    ("th", Lang::Tha),
    ("tk", Lang::Tuk),
    ("tl", Lang::Tgl),
    ("tr", Lang::Tur),
    ("uk", Lang::Ukr),
    ("ur", Lang::Urd),
    ("uz", Lang::Uzb),
    ("vi", Lang::Vie),
    ("zh", Lang::Cmn),
    ("zu", Lang::Zul),
];

fn lang_of(code: &str) -> Option<Lang> {
    let primary = code.split(['-', '_']).next().unwrap_or_default();
    LANGUAGES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(primary))
        .map(|(_, lang)| *lang)
}

/// The language of `text` among `candidates` (model codes such as `pt` or `zh_hant`),
/// answered as the candidate's own code; `None` when the text has nothing to go by (digits,
/// emoji, links) or no candidate is a language the detector knows. With one known candidate
/// it is the answer for any text with letters.
pub fn detect<'a>(text: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    if !text.chars().any(char::is_alphabetic) {
        return None;
    }
    let known: Vec<(&str, Lang)> = candidates
        .into_iter()
        .filter_map(|code| lang_of(code).map(|lang| (code, lang)))
        .collect();
    match known.as_slice() {
        [] => None,
        [(code, _)] => Some((*code).to_owned()),
        _ => {
            let allowed = known.iter().map(|(_, lang)| *lang).collect();
            let detected = Detector::with_allowlist(allowed).detect_lang(text)?;
            known
                .iter()
                .find(|(_, lang)| *lang == detected)
                .map(|(code, _)| (*code).to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_english_from_portuguese() {
        let candidates = ["en", "pt"];
        assert_eq!(
            detect(
                "The weather is nice today and we are going to the beach.",
                candidates
            )
            .as_deref(),
            Some("en")
        );
        assert_eq!(
            detect("O tempo está bom hoje e nós vamos à praia.", candidates).as_deref(),
            Some("pt")
        );
    }

    #[test]
    fn a_text_without_letters_has_no_language() {
        assert_eq!(detect("12:30 🎉 :-)", ["en", "pt"]), None);
    }

    #[test]
    fn only_candidates_are_answered() {
        assert_eq!(
            detect("Guten Morgen, wie geht es dir heute?", ["en", "pt"])
                .as_deref()
                .map(|code| ["en", "pt"].contains(&code)),
            Some(true)
        );
        assert_eq!(detect("anything at all", ["xx"]), None);
    }
}
