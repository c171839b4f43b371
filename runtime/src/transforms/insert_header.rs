//! `org.apache.kafka.connect.transforms.InsertHeader`: adds a header whose value is a literal,
//! typed as Kafka's `Values.parseString` types it (`42` an INT8, `true` a BOOLEAN).

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectRecord, Importance, Props, Result, SchemaRef, Transformation,
    Value, Verdict,
};

use super::support::Settings;
use crate::converters::header::parse_string;

pub struct InsertHeader {
    header: String,
    schema: Option<SchemaRef>,
    value: Value,
}

impl Default for InsertHeader {
    fn default() -> Self {
        Self {
            header: String::new(),
            schema: None,
            value: Value::Null,
        }
    }
}

impl<R: ConnectRecord> Transformation<R> for InsertHeader {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                "header",
                ConfigType::String,
                None,
                Importance::High,
                "The name of the header.",
            )
            .define(
                "value.literal",
                ConfigType::String,
                None,
                Importance::High,
                "The literal value that is to be set as the header value on all records.",
            )
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Transformation::<R>::config_def(self), props)?;
        self.header = settings.string("header");
        let (schema, value) = parse_string(&settings.string("value.literal"));
        self.schema = schema;
        self.value = value;
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        record
            .headers_mut()
            .add(self.header.clone(), self.schema.clone(), self.value.clone());
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::Applied;
    use sluice_connect_api::{props_of, Schema, SourceMap, SourceRecord};

    fn insert(literal: &str) -> SourceRecord {
        let mut t = InsertHeader::default();
        Transformation::<SourceRecord>::configure(
            &mut t,
            &props_of(&[("header", "inserted"), ("value.literal", literal)]),
        )
        .expect("configured");
        let mut r = SourceRecord::new(SourceMap::new(), SourceMap::new(), "t", None, Value::Null);
        r.headers.add(
            "inserted",
            Some(Schema::string()),
            Value::String("existing".into()),
        );
        t.applied(r).expect("inserted").expect("kept")
    }

    #[test]
    fn literals_are_typed_and_appended() {
        let out = insert("inserted-value");
        let values: Vec<&Value> = out
            .headers
            .all_with_name("inserted")
            .map(|h| &h.value)
            .collect();
        assert_eq!(
            values,
            [
                &Value::String("existing".into()),
                &Value::String("inserted-value".into())
            ]
        );
        let last = |r: &SourceRecord| {
            r.headers
                .last_with_name("inserted")
                .cloned()
                .expect("header")
        };
        let one = last(&insert(" 1 "));
        assert_eq!(
            (one.schema.map(|s| s.schema_type), one.value),
            (Some(sluice_connect_api::SchemaType::Int8), Value::Int8(1))
        );
        assert_eq!(last(&insert("true")).value, Value::Boolean(true));
        let e = Transformation::<SourceRecord>::configure(
            &mut InsertHeader::default(),
            &props_of(&[("header", "h")]),
        )
        .expect_err("no literal");
        assert_eq!(
            e.message(),
            "Missing required configuration \"value.literal\" which has no default value."
        );
    }
}
