//! Languages' names for `autotranslate.getSupportedLanguages`, in the language the caller
//! asks for (`targetLanguage`): English, Portuguese or Spanish, and English for any other
//! (upstream asks the provider, which answers in whatever language it knows).

/// `(code, English, Portuguese, Spanish)`.
const NAMES: &[(&str, &str, &str, &str)] = &[
    ("af", "Afrikaans", "Africâner", "Afrikáans"),
    ("ar", "Arabic", "Árabe", "Árabe"),
    ("bg", "Bulgarian", "Búlgaro", "Búlgaro"),
    ("bn", "Bengali", "Bengali", "Bengalí"),
    ("ca", "Catalan", "Catalão", "Catalán"),
    ("cs", "Czech", "Tcheco", "Checo"),
    ("da", "Danish", "Dinamarquês", "Danés"),
    ("de", "German", "Alemão", "Alemán"),
    ("el", "Greek", "Grego", "Griego"),
    ("en", "English", "Inglês", "Inglés"),
    ("es", "Spanish", "Espanhol", "Español"),
    ("et", "Estonian", "Estoniano", "Estonio"),
    ("fa", "Persian", "Persa", "Persa"),
    ("fi", "Finnish", "Finlandês", "Finés"),
    ("fr", "French", "Francês", "Francés"),
    ("he", "Hebrew", "Hebraico", "Hebreo"),
    ("hi", "Hindi", "Híndi", "Hindi"),
    ("hr", "Croatian", "Croata", "Croata"),
    ("hu", "Hungarian", "Húngaro", "Húngaro"),
    ("id", "Indonesian", "Indonésio", "Indonesio"),
    ("is", "Icelandic", "Islandês", "Islandés"),
    ("it", "Italian", "Italiano", "Italiano"),
    ("ja", "Japanese", "Japonês", "Japonés"),
    ("ko", "Korean", "Coreano", "Coreano"),
    ("lt", "Lithuanian", "Lituano", "Lituano"),
    ("lv", "Latvian", "Letão", "Letón"),
    ("ms", "Malay", "Malaio", "Malayo"),
    (
        "nb",
        "Norwegian Bokmål",
        "Bokmål norueguês",
        "Noruego bokmal",
    ),
    ("nl", "Dutch", "Holandês", "Neerlandés"),
    ("pl", "Polish", "Polonês", "Polaco"),
    ("pt", "Portuguese", "Português", "Portugués"),
    (
        "pt-br",
        "Portuguese (Brazil)",
        "Português (Brasil)",
        "Portugués (Brasil)",
    ),
    (
        "pt-pt",
        "Portuguese (Portugal)",
        "Português (Portugal)",
        "Portugués (Portugal)",
    ),
    ("ro", "Romanian", "Romeno", "Rumano"),
    ("ru", "Russian", "Russo", "Ruso"),
    ("sk", "Slovak", "Eslovaco", "Eslovaco"),
    ("sl", "Slovenian", "Esloveno", "Esloveno"),
    ("sq", "Albanian", "Albanês", "Albanés"),
    ("sr", "Serbian", "Sérvio", "Serbio"),
    ("sv", "Swedish", "Sueco", "Sueco"),
    ("sw", "Swahili", "Suaíli", "Suajili"),
    ("ta", "Tamil", "Tâmil", "Tamil"),
    ("th", "Thai", "Tailandês", "Tailandés"),
    ("tr", "Turkish", "Turco", "Turco"),
    ("uk", "Ukrainian", "Ucraniano", "Ucraniano"),
    ("ur", "Urdu", "Urdu", "Urdu"),
    ("vi", "Vietnamese", "Vietnamita", "Vietnamita"),
    ("zh", "Chinese", "Chinês", "Chino"),
    (
        "zh-cn",
        "Chinese (Simplified)",
        "Chinês (simplificado)",
        "Chino (simplificado)",
    ),
    (
        "zh-tw",
        "Chinese (Traditional)",
        "Chinês (tradicional)",
        "Chino (tradicional)",
    ),
];

/// The name of `code` in `in_language`; the code itself for a language not in the table.
pub fn language_name(code: &str, in_language: &str) -> String {
    let code_key = code.to_ascii_lowercase().replace('_', "-");
    let Some((_, english, portuguese, spanish)) = NAMES
        .iter()
        .find(|(known, ..)| *known == code_key)
        .or_else(|| {
            let primary = code_key.split('-').next().unwrap_or_default();
            NAMES.iter().find(|(known, ..)| *known == primary)
        })
    else {
        return code.to_owned();
    };
    let asked = in_language.to_ascii_lowercase();
    let name = match asked.split(['-', '_']).next().unwrap_or_default() {
        "pt" => portuguese,
        "es" => spanish,
        _ => english,
    };
    (*name).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_in_the_asked_language() {
        assert_eq!(language_name("pt", "en"), "Portuguese");
        assert_eq!(language_name("pt", "pt-BR"), "Português");
        assert_eq!(language_name("en", "es"), "Inglés");
        assert_eq!(language_name("de", "ja"), "German");
        assert_eq!(language_name("zh-TW", "en"), "Chinese (Traditional)");
        assert_eq!(language_name("en-GB", "en"), "English");
        assert_eq!(language_name("xx", "en"), "xx");
    }
}
