//! Memory of compatibility work. Clients check and register the same schemas over and over
//! (every producer start with `auto.register.schemas`, every CI run of a schema repository), so
//! the registry keeps submitted schema texts it has parsed, and check results by everything they
//! depend on: the new schema's canonical form, the level, and which versions (with their ids)
//! it was checked against. A repeated check then costs two lookups; a version added or deleted,
//! or a level changed, makes a different key, so nothing stale is ever answered.
//!
//! Both maps are bounded by the bytes they hold and emptied when full: a simple bound that
//! keeps memory flat whatever clients send.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::avro::{AvroSchema, Level};

/// How many bytes of keys and values each map may hold before it is emptied.
const MAX_BYTES: usize = 32 * 1024 * 1024;

/// A submitted schema text, parsed, with its canonical form.
#[derive(Clone)]
pub struct Parsed {
    pub schema: Arc<AvroSchema>,
    pub canonical: Arc<str>,
}

/// What a check's result depends on.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CheckKey {
    pub canonical: Arc<str>,
    pub level: Level,
    /// (version, id) of each version checked against, oldest first.
    pub against: Vec<(u32, u32)>,
}

#[derive(Default)]
pub struct CheckCache {
    /// By text, one map for lenient parses and one for strict ones.
    parsed: [Mutex<Bounded<String, Parsed>>; 2],
    results: Mutex<Bounded<CheckKey, Arc<Vec<String>>>>,
}

impl CheckCache {
    /// The parse of `text` (with no references; `strict` as asked), made once.
    pub fn parsed<E>(
        &self,
        text: &str,
        strict: bool,
        parse: impl FnOnce() -> Result<Parsed, E>,
    ) -> Result<Parsed, E> {
        let map = &self.parsed[usize::from(strict)];
        if let Some(hit) = lock(map).get(text) {
            return Ok(hit.clone());
        }
        let parsed = parse()?;
        let size = text.len() + parsed.canonical.len();
        lock(map).insert(text.to_string(), parsed.clone(), size);
        Ok(parsed)
    }

    /// The messages of the check `key` describes, computed once.
    pub fn result(&self, key: CheckKey, check: impl FnOnce() -> Vec<String>) -> Arc<Vec<String>> {
        if let Some(hit) = lock(&self.results).get(&key) {
            return Arc::clone(hit);
        }
        let messages = Arc::new(check());
        let size = key.canonical.len()
            + key.against.len() * 8
            + messages.iter().map(String::len).sum::<usize>();
        lock(&self.results).insert(key, Arc::clone(&messages), size);
        messages
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A map emptied whenever what it holds would pass `MAX_BYTES`.
struct Bounded<K, V> {
    map: HashMap<K, V>,
    bytes: usize,
}

impl<K, V> Default for Bounded<K, V> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            bytes: 0,
        }
    }
}

impl<K: Hash + Eq, V> Bounded<K, V> {
    fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key)
    }

    fn insert(&mut self, key: K, value: V, size: usize) {
        if size > MAX_BYTES {
            return;
        }
        if self.bytes + size > MAX_BYTES {
            self.map.clear();
            self.bytes = 0;
        }
        if self.map.insert(key, value).is_none() {
            self.bytes += size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_is_emptied_rather_than_grown() {
        let mut map = Bounded::default();
        map.insert(1, "a", MAX_BYTES / 2);
        map.insert(2, "b", MAX_BYTES / 2);
        assert_eq!(map.map.len(), 2);
        map.insert(3, "c", 1);
        assert_eq!(map.map.len(), 1);
        assert_eq!(map.get(&3), Some(&"c"));
        map.insert(4, "too big", MAX_BYTES + 1);
        assert!(map.get(&4).is_none());
    }

    #[test]
    fn a_result_is_computed_once_per_key() {
        let cache = CheckCache::default();
        let key = |against: Vec<(u32, u32)>| CheckKey {
            canonical: Arc::from("\"string\""),
            level: Level::Full,
            against,
        };
        let mut calls = 0;
        for _ in 0..3 {
            cache.result(key(vec![(1, 1)]), || {
                calls += 1;
                vec!["no".into()]
            });
        }
        assert_eq!(calls, 1);
        // Another history is another check.
        let other = cache.result(key(vec![(1, 1), (2, 5)]), Vec::new);
        assert!(other.is_empty());
    }
}
