//! A source record's offset: the map the worker stores in the offsets topic once the record is
//! acknowledged.
//!
//! Most records of a file differ only in one number (the line), so a source can share one map
//! between them and give each record its position: no map is built or freed per record, and
//! the full map is put together only when an offset is stored.

use std::sync::Arc;

use serde_json::Value as Json;

use crate::record::SourceMap;

#[derive(Debug, Clone, Default)]
pub struct SourceOffset {
    fields: Arc<SourceMap>,
    /// Replaces (or adds) the field of that name.
    position: Option<(&'static str, i64)>,
}

impl SourceOffset {
    /// The shared `fields` with `key` set to `position`.
    pub fn at(fields: Arc<SourceMap>, key: &'static str, position: i64) -> Self {
        Self {
            fields,
            position: Some((key, position)),
        }
    }

    /// The shared `fields` as they are, with no position.
    pub fn shared(fields: Arc<SourceMap>) -> Self {
        Self {
            fields,
            position: None,
        }
    }

    /// The position given to `at`, if the offset was made that way.
    pub fn position(&self) -> Option<i64> {
        self.position.map(|(_, p)| p)
    }

    /// The shared fields, without the position.
    pub fn fields(&self) -> &Arc<SourceMap> {
        &self.fields
    }

    /// One field of the offset.
    pub fn get(&self, key: &str) -> Option<Json> {
        match self.position {
            Some((k, p)) if k == key => Some(Json::from(p)),
            _ => self.fields.get(key).cloned(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.position.is_none() && self.fields.is_empty()
    }

    /// The offset as stored: the fields in their order, with the position in its place.
    pub fn to_map(&self) -> SourceMap {
        let mut map = (*self.fields).clone();
        if let Some((key, position)) = self.position {
            map.insert(key.to_string(), Json::from(position));
        }
        map
    }
}

impl From<SourceMap> for SourceOffset {
    fn from(fields: SourceMap) -> Self {
        Self::shared(Arc::new(fields))
    }
}

/// Offsets are equal when they store the same map, however each was made.
impl PartialEq for SourceOffset {
    fn eq(&self, other: &Self) -> bool {
        if Arc::ptr_eq(&self.fields, &other.fields) {
            return self.position == other.position;
        }
        self.to_map() == other.to_map()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Json) -> SourceMap {
        match value {
            Json::Object(m) => m,
            _ => SourceMap::new(),
        }
    }

    #[test]
    fn a_position_replaces_its_field_in_place() {
        let fields = Arc::new(map(json!({"offset": 0, "length": 10})));
        let offset = SourceOffset::at(fields, "offset", 7);
        assert_eq!(
            serde_json::to_string(&offset.to_map()).ok(),
            Some(r#"{"offset":7,"length":10}"#.to_string())
        );
        assert_eq!(offset.get("offset"), Some(json!(7)));
        assert_eq!(offset.get("length"), Some(json!(10)));
        assert_eq!(offset.position(), Some(7));
    }

    #[test]
    fn offsets_made_either_way_compare_by_what_they_store() {
        let shared = SourceOffset::at(Arc::new(map(json!({"position": 0}))), "position", 3);
        assert_eq!(shared, SourceOffset::from(map(json!({"position": 3}))));
        assert_ne!(shared, SourceOffset::from(map(json!({"position": 4}))));
        assert!(SourceOffset::default().is_empty());
        assert!(!shared.is_empty());
    }
}
