//! The model directory: one `<src>-<trg>/` directory per installed pair, each holding the
//! Marian model (`model.<pair>.intgemm.alphas.bin` in Firefox Translations' naming), its
//! SentencePiece vocabulary (`vocab.<pair>.spm`, or `srcvocab.<pair>.spm` and
//! `trgvocab.<pair>.spm` where the two sides differ) and, when present, the lexical shortlist
//! (`lex.50.50.<pair>.s2t.bin`).

use std::path::{Path, PathBuf};

use fxtranslate::engine::Engine;
use fxtranslate::shortlist::Shortlist;

use super::route::Pair;
use crate::TranslateError;

/// The files of one installed pair.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub pair: Pair,
    pub model: PathBuf,
    pub source_vocabulary: PathBuf,
    pub target_vocabulary: PathBuf,
    pub shortlist: Option<PathBuf>,
}

/// Finds the installed pairs under `models_dir`. Entries that are not `<src>-<trg>`
/// directories are ignored; a pair directory missing its model or vocabulary is an error, so
/// a broken installation shows when the engine starts rather than at the first message.
pub fn discover(models_dir: &Path) -> Result<Vec<ModelFiles>, TranslateError> {
    let entries = std::fs::read_dir(models_dir).map_err(|error| {
        TranslateError::Configuration(format!(
            "cannot read the translation models directory {}: {error}",
            models_dir.display()
        ))
    })?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| {
            TranslateError::Configuration(format!("cannot list {}: {error}", models_dir.display()))
        })?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let name = entry.file_name();
        let Some(pair) = name.to_str().and_then(pair_of_directory_name) else {
            continue;
        };
        match model_files(pair, &path) {
            Ok(files) => found.push(files),
            // Without a dash the name may be anything that happens to be four letters
            // (`docs`): only a directory holding a model counts as a pair then.
            Err(_) if !name.to_string_lossy().contains('-') => continue,
            Err(error) => return Err(error),
        }
    }
    found.sort_by(|left, right| left.pair.cmp(&right.pair));
    Ok(found)
}

/// `en-pt` → en→pt; language codes are letters, lowercased (a variant such as `zh_hant`
/// stays whole: `en-zh_hant`). Firefox Translations' own directory names (`enpt`) are read as
/// two two-letter codes, so its model tree can be copied as it is.
fn pair_of_directory_name(name: &str) -> Option<Pair> {
    let (source, target) = match name.split_once('-') {
        Some(split) => split,
        None if name.len() == 4 && name.is_ascii() => name.split_at(2),
        None => return None,
    };
    let is_code = |code: &str| {
        !code.is_empty()
            && code.len() <= 12
            && code.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
    };
    (is_code(source) && is_code(target))
        .then(|| Pair::new(&source.to_ascii_lowercase(), &target.to_ascii_lowercase()))
}

fn model_files(pair: Pair, directory: &Path) -> Result<ModelFiles, TranslateError> {
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .map_err(|error| {
            TranslateError::Configuration(format!("cannot read {}: {error}", directory.display()))
        })?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    let problem = |what: &str| {
        TranslateError::Configuration(format!(
            "translation model directory {} {what}",
            directory.display()
        ))
    };
    if names.iter().any(|name| name.ends_with(".gz"))
        && !names.iter().any(|name| name.ends_with(".bin"))
    {
        return Err(problem(
            "holds compressed files: decompress them (gunzip) first",
        ));
    }

    let is_shortlist = |name: &str| name.starts_with("lex.") && name.ends_with(".bin");
    let models: Vec<&String> = names
        .iter()
        .filter(|name| name.ends_with(".bin") && !is_shortlist(name))
        .collect();
    let model = models
        .iter()
        .find(|name| name.starts_with("model."))
        .or(models.first())
        .ok_or_else(|| problem("has no model (.bin) file"))?;

    let spm = |prefix: &str| {
        names
            .iter()
            .find(|name| name.starts_with(prefix) && name.ends_with(".spm"))
    };
    let (source_vocabulary, target_vocabulary) = match (spm("srcvocab"), spm("trgvocab")) {
        (Some(source), Some(target)) => (source, target),
        _ => {
            let shared = spm("vocab")
                .or_else(|| {
                    let all: Vec<&String> =
                        names.iter().filter(|name| name.ends_with(".spm")).collect();
                    (all.len() == 1).then(|| all[0])
                })
                .ok_or_else(|| {
                    problem("has no vocabulary (vocab.*.spm, or srcvocab.*.spm and trgvocab.*.spm)")
                })?;
            (shared, shared)
        }
    };
    let shortlist = names
        .iter()
        .find(|name| is_shortlist(name) && name.contains("s2t"))
        .or_else(|| names.iter().find(|name| is_shortlist(name)));

    Ok(ModelFiles {
        pair,
        model: directory.join(model),
        source_vocabulary: directory.join(source_vocabulary),
        target_vocabulary: directory.join(target_vocabulary),
        shortlist: shortlist.map(|name| directory.join(name)),
    })
}

/// Memory-maps the model and reads its vocabularies and shortlist. The engine's parser
/// trusts its input, so a damaged file may panic inside it: that becomes an error here.
pub fn load(files: &ModelFiles) -> Result<Engine, TranslateError> {
    let failed = |what: String| {
        TranslateError::Configuration(format!(
            "cannot load the {} translation model: {what}",
            files.pair
        ))
    };
    let shortlist = match &files.shortlist {
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|error| failed(format!("{}: {error}", path.display())))?;
            if !shortlist_is_whole(&bytes) {
                return Err(failed(format!(
                    "{} is truncated or not a shortlist",
                    path.display()
                )));
            }
            Some(bytes)
        }
        None => None,
    };
    let loaded = std::panic::catch_unwind(|| {
        let engine = Engine::load_mmapped(
            &files.model,
            &files.source_vocabulary,
            &files.target_vocabulary,
        )?;
        Ok::<Engine, String>(match &shortlist {
            Some(bytes) => engine.with_shortlist(Shortlist::from_bytes(bytes)),
            None => engine,
        })
    });
    match loaded {
        Ok(Ok(engine)) => Ok(engine),
        Ok(Err(error)) => Err(failed(error)),
        Err(_) => Err(failed("the model files are damaged".to_owned())),
    }
}

/// Whether a shortlist's header and the tables it announces fit in the file (the reader
/// indexes them without checking).
fn shortlist_is_whole(bytes: &[u8]) -> bool {
    const HEADER_BYTES: usize = 6 * 8;
    let field = |index: usize| -> Option<usize> {
        let start = index * 8;
        let raw: [u8; 8] = bytes.get(start..start + 8)?.try_into().ok()?;
        usize::try_from(u64::from_le_bytes(raw)).ok()
    };
    let (Some(offsets), Some(lists)) = (field(4), field(5)) else {
        return false;
    };
    offsets
        .checked_mul(8)
        .zip(lists.checked_mul(4))
        .and_then(|(offsets, lists)| offsets.checked_add(lists))
        .and_then(|tables| tables.checked_add(HEADER_BYTES))
        .is_some_and(|needed| needed <= bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory_with(files: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("temporary directory");
        let pair = root.path().join("en-ja");
        std::fs::create_dir(&pair).expect("pair directory");
        for file in files {
            std::fs::write(pair.join(file), b"x").expect("file");
        }
        std::fs::write(root.path().join("README"), b"not a pair").expect("file");
        std::fs::create_dir(root.path().join("downloads")).expect("directory");
        std::fs::create_dir(root.path().join("docs")).expect("directory");
        root
    }

    #[test]
    fn separate_source_and_target_vocabularies_are_recognised() {
        let root = directory_with(&[
            "model.enja.intgemm.alphas.bin",
            "lex.50.50.enja.s2t.bin",
            "srcvocab.enja.spm",
            "trgvocab.enja.spm",
        ]);
        let found = discover(root.path()).expect("discover");
        assert_eq!(found.len(), 1);
        let files = &found[0];
        assert_eq!(files.pair, Pair::new("en", "ja"));
        assert!(files.model.ends_with("en-ja/model.enja.intgemm.alphas.bin"));
        assert!(files.source_vocabulary.ends_with("srcvocab.enja.spm"));
        assert!(files.target_vocabulary.ends_with("trgvocab.enja.spm"));
        assert!(
            files
                .shortlist
                .as_ref()
                .is_some_and(|path| path.ends_with("lex.50.50.enja.s2t.bin"))
        );
    }

    #[test]
    fn pair_directories_are_named_with_or_without_a_dash() {
        assert_eq!(pair_of_directory_name("en-pt"), Some(Pair::new("en", "pt")));
        assert_eq!(pair_of_directory_name("PTEN"), Some(Pair::new("pt", "en")));
        assert_eq!(
            pair_of_directory_name("en-zh_hant"),
            Some(Pair::new("en", "zh_hant"))
        );
        for ignored in ["downloads", "en-", "-pt", "en-p1", "e\u{301}n"] {
            assert_eq!(pair_of_directory_name(ignored), None, "{ignored}");
        }
    }

    #[test]
    fn a_shared_vocabulary_serves_both_sides_and_the_shortlist_is_optional() {
        let root = directory_with(&["model.enja.intgemm.alphas.bin", "vocab.enja.spm"]);
        let found = discover(root.path()).expect("discover");
        assert_eq!(found[0].source_vocabulary, found[0].target_vocabulary);
        assert!(found[0].shortlist.is_none());
    }

    #[test]
    fn a_pair_without_a_model_or_vocabulary_is_a_configuration_error() {
        let root = directory_with(&["vocab.enja.spm"]);
        assert!(matches!(
            discover(root.path()),
            Err(TranslateError::Configuration(_))
        ));
        let root = directory_with(&["model.enja.intgemm.alphas.bin"]);
        assert!(matches!(
            discover(root.path()),
            Err(TranslateError::Configuration(_))
        ));
        let root = directory_with(&["model.enja.intgemm.alphas.bin.gz", "vocab.enja.spm.gz"]);
        let error = discover(root.path()).expect_err("compressed files");
        assert!(error.to_string().contains("decompress"), "{error}");
    }

    #[test]
    fn a_missing_models_directory_is_a_configuration_error() {
        let root = tempfile::tempdir().expect("temporary directory");
        assert!(matches!(
            discover(&root.path().join("absent")),
            Err(TranslateError::Configuration(_))
        ));
    }

    #[test]
    fn a_truncated_shortlist_is_refused_before_the_reader_sees_it() {
        assert!(!shortlist_is_whole(&[0; 20]));
        let mut header = vec![0u8; 48];
        header[32..40].copy_from_slice(&2u64.to_le_bytes());
        header[40..48].copy_from_slice(&3u64.to_le_bytes());
        assert!(!shortlist_is_whole(&header));
        header.extend_from_slice(&[0; 2 * 8 + 3 * 4]);
        assert!(shortlist_is_whole(&header));
    }
}
