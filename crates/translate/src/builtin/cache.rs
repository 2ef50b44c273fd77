//! Recently made translations, so a text posted again (or translated for a second member
//! with the same language) costs no model time.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub text: String,
    pub source_language: String,
    pub target_language: String,
}

/// Bounded by entries, approximately least-recently-used: two generations, the newer taking
/// inserts and hits; when it fills, the older is dropped and the newer takes its place. An
/// entry used since the last turnover survives it. Every operation is O(1).
#[derive(Debug)]
pub struct TranslationCache {
    capacity: usize,
    current: HashMap<CacheKey, String>,
    previous: HashMap<CacheKey, String>,
}

impl TranslationCache {
    /// `capacity` 0 disables caching.
    pub fn new(capacity: usize) -> TranslationCache {
        TranslationCache {
            capacity,
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    fn generation_size(&self) -> usize {
        self.capacity.div_ceil(2)
    }

    pub fn get(&mut self, key: &CacheKey) -> Option<String> {
        if let Some(found) = self.current.get(key) {
            return Some(found.clone());
        }
        let found = self.previous.remove(key)?;
        self.insert(key.clone(), found.clone());
        Some(found)
    }

    pub fn insert(&mut self, key: CacheKey, translation: String) {
        if self.capacity == 0 {
            return;
        }
        if self.current.len() >= self.generation_size() && !self.current.contains_key(&key) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.previous.remove(&key);
        self.current.insert(key, translation);
    }

    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> CacheKey {
        CacheKey {
            text: text.to_owned(),
            source_language: "en".to_owned(),
            target_language: "pt".to_owned(),
        }
    }

    #[test]
    fn stays_within_its_bound() {
        let mut cache = TranslationCache::new(10);
        for index in 0..1000 {
            cache.insert(key(&index.to_string()), index.to_string());
            assert!(cache.len() <= 10);
        }
        assert_eq!(cache.get(&key("999")).as_deref(), Some("999"));
        assert_eq!(cache.get(&key("0")), None);
    }

    #[test]
    fn a_recently_used_entry_outlives_newer_unused_ones() {
        let mut cache = TranslationCache::new(4);
        cache.insert(key("kept"), "mantido".to_owned());
        cache.insert(key("a"), "a".to_owned());
        for filler in ["b", "c", "d"] {
            assert!(cache.get(&key("kept")).is_some());
            cache.insert(key(filler), filler.to_owned());
        }
        assert_eq!(cache.get(&key("kept")).as_deref(), Some("mantido"));
        assert_eq!(cache.get(&key("a")), None);
    }

    #[test]
    fn the_pair_is_part_of_the_key() {
        let mut cache = TranslationCache::new(4);
        cache.insert(key("hello"), "olá".to_owned());
        let other_target = CacheKey {
            target_language: "es".to_owned(),
            ..key("hello")
        };
        assert_eq!(cache.get(&other_target), None);
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let mut cache = TranslationCache::new(0);
        cache.insert(key("hello"), "olá".to_owned());
        assert_eq!(cache.get(&key("hello")), None);
    }
}
