//! Record headers (`ConnectHeaders`): an ordered multi-map from key to a value and its schema.
//! Duplicate keys are allowed, as in Kafka. Keys known when the code is written (a connector's
//! own header names) are borrowed, so copying headers from record to record copies no key.
//!
//! Headers that many records carry alike (a source file's name and path) can be shared: a
//! record's headers are then the shared ones followed by its own, and copying them copies a
//! pointer. Changing a record's headers gives it its own copy first.

use std::borrow::Cow;
use std::sync::Arc;

use crate::schema::SchemaRef;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: Cow<'static, str>,
    pub schema: Option<SchemaRef>,
    pub value: Value,
}

#[derive(Debug, Clone, Default)]
pub struct Headers {
    shared: Option<Arc<[Header]>>,
    own: Vec<Header>,
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Headers starting with `shared`, which other records may hold too.
    pub fn with_shared(shared: Arc<[Header]>) -> Self {
        Self {
            shared: Some(shared),
            own: Vec::new(),
        }
    }

    /// The shared headers these start with, if any: records holding the same pointer carry the
    /// same ones.
    pub fn shared(&self) -> Option<&Arc<[Header]>> {
        self.shared.as_ref()
    }

    pub fn add(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        schema: Option<SchemaRef>,
        value: Value,
    ) -> &mut Self {
        self.own.push(Header {
            key: key.into(),
            schema,
            value,
        });
        self
    }

    /// The last header with this key.
    pub fn last_with_name(&self, key: &str) -> Option<&Header> {
        self.iter().filter(|h| h.key == key).last()
    }

    pub fn all_with_name<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Header> + 'a {
        self.iter().filter(move |h| h.key == key)
    }

    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.unshare();
        self.own.retain(|h| h.key != key);
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.shared
            .iter()
            .flat_map(|s| s.iter())
            .chain(self.own.iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Header> {
        self.unshare();
        self.own.iter_mut()
    }

    pub fn len(&self) -> usize {
        self.shared.as_ref().map_or(0, |s| s.len()) + self.own.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the shared headers into this record's own, before changing them.
    fn unshare(&mut self) {
        if let Some(shared) = self.shared.take() {
            let mut own = shared.to_vec();
            own.append(&mut self.own);
            self.own = own;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_keep_their_order() {
        let mut h = Headers::new();
        h.add("a", None, Value::Int32(1))
            .add("b", None, Value::Null)
            .add("a", None, Value::Int32(2));
        assert_eq!(h.all_with_name("a").count(), 2);
        assert_eq!(
            h.last_with_name("a").map(|x| &x.value),
            Some(&Value::Int32(2))
        );
        h.remove("a");
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn shared_headers_come_first_and_are_copied_before_a_change() {
        let base: Arc<[Header]> = Arc::from(vec![Header {
            key: "file".into(),
            schema: None,
            value: Value::String("a.txt".into()),
        }]);
        let mut first = Headers::with_shared(Arc::clone(&base));
        first.add("offset", None, Value::Int64(1));
        let second = first.clone();
        assert!(second.shared().is_some_and(|s| Arc::ptr_eq(s, &base)));
        let keys: Vec<&str> = second.iter().map(|h| h.key.as_ref()).collect();
        assert_eq!(keys, ["file", "offset"]);

        let mut changed = second.clone();
        for h in changed.iter_mut().filter(|h| h.key == "file") {
            h.value = Value::String("b.txt".into());
        }
        assert!(changed.shared().is_none());
        assert_eq!(
            changed.last_with_name("file").map(|h| &h.value),
            Some(&Value::String("b.txt".into()))
        );
        // The others still see the shared value.
        assert_eq!(
            second.last_with_name("file").map(|h| &h.value),
            Some(&Value::String("a.txt".into()))
        );
        assert_ne!(changed, second);
        let mut same = Headers::new();
        same.add("file", None, Value::String("a.txt".into()))
            .add("offset", None, Value::Int64(1));
        assert_eq!(same, second);
    }
}
