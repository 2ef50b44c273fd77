//! Which installed models take a text from one language to another.

use std::collections::BTreeSet;

/// The language every Firefox Translations model translates to or from, and so the one a
/// pair without a direct model goes through.
pub const PIVOT_LANGUAGE: &str = "en";

/// An installed model's direction, e.g. `en` → `pt` for the directory `en-pt/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pair {
    pub source: String,
    pub target: String,
}

impl Pair {
    pub fn new(source: &str, target: &str) -> Pair {
        Pair {
            source: source.to_owned(),
            target: target.to_owned(),
        }
    }
}

impl std::fmt::Display for Pair {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}-{}", self.source, self.target)
    }
}

/// The models a text goes through in order: none when source and target are the same
/// language, one for a direct pair, two when pivoting through English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub legs: Vec<Pair>,
}

/// Plans routes over the set of installed pairs.
#[derive(Debug, Clone, Default)]
pub struct RoutePlanner {
    pairs: BTreeSet<Pair>,
}

impl RoutePlanner {
    pub fn new(pairs: impl IntoIterator<Item = Pair>) -> RoutePlanner {
        RoutePlanner {
            pairs: pairs.into_iter().collect(),
        }
    }

    pub fn pairs(&self) -> impl Iterator<Item = &Pair> {
        self.pairs.iter()
    }

    /// Languages some installed model reads.
    pub fn source_languages(&self) -> BTreeSet<String> {
        self.pairs.iter().map(|pair| pair.source.clone()).collect()
    }

    /// Languages a text can be translated into from some other language: a route always ends
    /// with a direct model, so these are the installed models' targets.
    pub fn target_languages(&self) -> BTreeSet<String> {
        self.pairs.iter().map(|pair| pair.target.clone()).collect()
    }

    /// Whether some route ends in `target` (matched like [`RoutePlanner::plan`] does).
    pub fn translates_into(&self, target: &str) -> bool {
        self.installed_code(target)
            .is_some_and(|code| self.pairs.iter().any(|pair| pair.target == code))
    }

    /// The route from `source` to `target`: the direct model when installed, otherwise
    /// `source`→English→`target` when both legs are; `None` when neither exists. Codes are
    /// matched exactly first, then by their primary subtag (`pt-BR` uses `pt` models).
    pub fn plan(&self, source: &str, target: &str) -> Option<Route> {
        let source = self.installed_code(source)?;
        let target = self.installed_code(target)?;
        if source == target {
            return Some(Route { legs: Vec::new() });
        }
        let direct = Pair::new(&source, &target);
        if self.pairs.contains(&direct) {
            return Some(Route { legs: vec![direct] });
        }
        let first = Pair::new(&source, PIVOT_LANGUAGE);
        let second = Pair::new(PIVOT_LANGUAGE, &target);
        if self.pairs.contains(&first) && self.pairs.contains(&second) {
            return Some(Route {
                legs: vec![first, second],
            });
        }
        None
    }

    /// The route through each of `languages` in turn, each step a direct installed model.
    pub fn chain(&self, languages: &[&str]) -> Option<Route> {
        let mut legs = Vec::new();
        for step in languages.windows(2) {
            let pair = Pair::new(
                &self.installed_code(step[0])?,
                &self.installed_code(step[1])?,
            );
            if !self.pairs.contains(&pair) {
                return None;
            }
            legs.push(pair);
        }
        Some(Route { legs })
    }

    /// The code an installed model uses for `language`: itself (lowercased) when some model
    /// names it, else its primary subtag when a model names that.
    fn installed_code(&self, language: &str) -> Option<String> {
        let language = language.trim().to_ascii_lowercase();
        let known = |code: &str| {
            self.pairs
                .iter()
                .any(|pair| pair.source == code || pair.target == code)
        };
        if known(&language) {
            return Some(language);
        }
        let primary = language.split(['-', '_']).next().unwrap_or_default();
        known(primary).then(|| primary.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planner(pairs: &[(&str, &str)]) -> RoutePlanner {
        RoutePlanner::new(
            pairs
                .iter()
                .map(|(source, target)| Pair::new(source, target)),
        )
    }

    fn legs(route: Option<Route>) -> Option<Vec<String>> {
        route.map(|route| route.legs.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_direct_pair_is_one_leg() {
        let planner = planner(&[("en", "pt"), ("pt", "en")]);
        assert_eq!(
            legs(planner.plan("en", "pt")),
            Some(vec!["en-pt".to_owned()])
        );
        assert_eq!(
            legs(planner.plan("pt", "en")),
            Some(vec!["pt-en".to_owned()])
        );
    }

    #[test]
    fn a_pair_without_a_model_pivots_through_english() {
        let planner = planner(&[("pt", "en"), ("en", "de"), ("en", "pt"), ("de", "en")]);
        assert_eq!(
            legs(planner.plan("pt", "de")),
            Some(vec!["pt-en".to_owned(), "en-de".to_owned()])
        );
        assert_eq!(
            legs(planner.plan("de", "pt")),
            Some(vec!["de-en".to_owned(), "en-pt".to_owned()])
        );
    }

    #[test]
    fn a_direct_pair_wins_over_the_pivot() {
        let planner = planner(&[("pt", "en"), ("en", "es"), ("pt", "es")]);
        assert_eq!(
            legs(planner.plan("pt", "es")),
            Some(vec!["pt-es".to_owned()])
        );
    }

    #[test]
    fn a_missing_leg_leaves_no_route() {
        let planner = planner(&[("pt", "en"), ("de", "en")]);
        assert_eq!(planner.plan("pt", "de"), None);
        assert_eq!(planner.plan("en", "pt"), None);
        assert_eq!(planner.plan("pt", "xx"), None);
    }

    #[test]
    fn the_same_language_needs_no_model() {
        let planner = planner(&[("en", "pt")]);
        assert_eq!(legs(planner.plan("pt", "pt")), Some(Vec::new()));
    }

    #[test]
    fn regional_codes_use_the_primary_language_models() {
        let planner = planner(&[("en", "pt")]);
        assert_eq!(
            legs(planner.plan("EN", "pt-BR")),
            Some(vec!["en-pt".to_owned()])
        );
    }

    #[test]
    fn supported_languages_are_the_targets_of_installed_models() {
        let planner = planner(&[("pt", "en"), ("en", "de"), ("fr", "en")]);
        assert_eq!(
            planner.target_languages().into_iter().collect::<Vec<_>>(),
            vec!["de".to_owned(), "en".to_owned()]
        );
    }

    #[test]
    fn an_explicit_chain_needs_every_step_installed() {
        let planner = planner(&[("pt", "en"), ("en", "pt")]);
        assert_eq!(
            legs(planner.chain(&["pt", "en", "pt"])),
            Some(vec!["pt-en".to_owned(), "en-pt".to_owned()])
        );
        assert_eq!(planner.chain(&["pt", "de"]), None);
    }
}
