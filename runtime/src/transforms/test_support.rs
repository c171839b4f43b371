//! What the transforms' tests share: schemaless maps from pairs, and a transform configured and
//! applied to a source record's value.

use sluice_connect_api::{
    props_of, Result, SchemaRef, SourceMap, SourceRecord, Transformation, Value, Verdict,
};

/// A transform applied as Kafka's tests apply one: the record in, the record out (`None` when
/// it was discarded).
pub trait Applied<R> {
    fn applied(&mut self, record: R) -> Result<Option<R>>;
}

impl<R, T: Transformation<R> + ?Sized> Applied<R> for T {
    fn applied(&mut self, mut record: R) -> Result<Option<R>> {
        Ok(match self.apply(&mut record)? {
            Verdict::Keep => Some(record),
            Verdict::Discard => None,
        })
    }
}

/// A schemaless map with string keys.
pub fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::String(k.into()), v))
            .collect(),
    )
}

/// Configures `transform` with `pairs`, applies it to a source record of topic `t` holding
/// `value` (of `schema`), and returns the value's schema and value after it.
pub fn on_value<T: Transformation<SourceRecord>>(
    mut transform: T,
    pairs: &[(&str, &str)],
    schema: Option<SchemaRef>,
    value: Value,
) -> Result<(Option<SchemaRef>, Value)> {
    transform.configure(&props_of(pairs))?;
    apply_to_value(&mut transform, schema, value)
}

/// Applies a configured transform to a source record of topic `t` holding `value`.
pub fn apply_to_value<T: Transformation<SourceRecord>>(
    transform: &mut T,
    schema: Option<SchemaRef>,
    value: Value,
) -> Result<(Option<SchemaRef>, Value)> {
    let record = SourceRecord::new(SourceMap::new(), SourceMap::new(), "t", schema, value);
    let out = transform.applied(record)?.expect("the record is kept");
    Ok((out.value_schema, out.value))
}
