//! Record headers (`ConnectHeaders`): an ordered multi-map from key to a value and its schema.
//! Duplicate keys are allowed, as in Kafka. Keys known when the code is written (a connector's
//! own header names) are borrowed, so copying headers from record to record copies no key.

use std::borrow::Cow;

use crate::schema::SchemaRef;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: Cow<'static, str>,
    pub schema: Option<SchemaRef>,
    pub value: Value,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Headers {
    headers: Vec<Header>,
}

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        schema: Option<SchemaRef>,
        value: Value,
    ) -> &mut Self {
        self.headers.push(Header {
            key: key.into(),
            schema,
            value,
        });
        self
    }

    /// The last header with this key.
    pub fn last_with_name(&self, key: &str) -> Option<&Header> {
        self.headers.iter().rev().find(|h| h.key == key)
    }

    pub fn all_with_name<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Header> + 'a {
        self.headers.iter().filter(move |h| h.key == key)
    }

    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.headers.retain(|h| h.key != key);
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.headers.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Header> {
        self.headers.iter_mut()
    }

    pub fn len(&self) -> usize {
        self.headers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
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
}
