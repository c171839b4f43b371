//! The simple converters: `StringConverter`, `ByteArrayConverter` and the fixed-width number
//! converters (`BooleanConverter`, `ShortConverter`, `IntegerConverter`, `LongConverter`,
//! `FloatConverter`, `DoubleConverter`).

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, Converter, Importance, Props, Result, Schema,
    SchemaBuilder, SchemaRef, SchemaType, Value,
};

/// `org.apache.kafka.connect.storage.StringConverter`: any value as its string form; reads as
/// an optional string.
#[derive(Debug, Default, Clone)]
pub struct StringConverter;

impl Converter for StringConverter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(
            "converter.encoding",
            ConfigType::String,
            Some("UTF-8"),
            Importance::High,
            "The name of the Java character set to use for encoding strings as byte arrays.",
        )
    }

    fn configure(&mut self, props: &Props, _is_key: bool) -> Result<()> {
        match props
            .get("converter.encoding")
            .map(|e| e.to_ascii_uppercase())
        {
            None => Ok(()),
            Some(e) if e == "UTF-8" || e == "UTF8" => Ok(()),
            Some(e) => Err(ConnectError::Config {
                key: "converter.encoding".into(),
                message: format!("{e} is not supported; only UTF-8 is"),
            }),
        }
    }

    fn from_connect_data(
        &self,
        _topic: &str,
        _schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>> {
        Ok(value.to_java_string().map(String::into_bytes))
    }

    fn lend_bytes<'v>(&self, _schema: Option<&SchemaRef>, value: &'v Value) -> Option<&'v [u8]> {
        match value {
            Value::String(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    fn to_connect_data(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value)> {
        let value =
            match bytes {
                None => Value::Null,
                Some(b) => Value::String(String::from_utf8(b.to_vec()).map_err(|e| {
                    ConnectError::data(format!("Failed to deserialize string: {e}"))
                })?),
            };
        Ok((Some(Schema::optional_string()), value))
    }
}

/// StringConverter also converts headers, as in Kafka: any value as its string form.
impl sluice_connect_api::HeaderConverter for StringConverter {
    fn configure(&mut self, props: &Props) -> Result<()> {
        Converter::configure(self, props, false)
    }

    fn from_connect_header(
        &self,
        topic: &str,
        _key: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>> {
        self.from_connect_data(topic, schema, value)
    }

    fn to_connect_header(
        &self,
        topic: &str,
        _key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value)> {
        self.to_connect_data(topic, bytes)
    }
}

/// `org.apache.kafka.connect.converters.ByteArrayConverter`: bytes through unchanged.
#[derive(Debug, Default, Clone)]
pub struct ByteArrayConverter;

impl Converter for ByteArrayConverter {
    fn from_connect_data(
        &self,
        _topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>> {
        if let Some(s) = schema {
            if s.schema_type != SchemaType::Bytes {
                return Err(ConnectError::data(format!(
                    "Invalid schema type for ByteArrayConverter: {}",
                    s.schema_type
                )));
            }
        }
        match value {
            Value::Null => Ok(None),
            Value::Bytes(b) => Ok(Some(b.clone())),
            _ => Err(ConnectError::data(
                "ByteArrayConverter is not compatible with objects of this type",
            )),
        }
    }

    fn lend_bytes<'v>(&self, schema: Option<&SchemaRef>, value: &'v Value) -> Option<&'v [u8]> {
        match (schema, value) {
            (Some(s), _) if s.schema_type != SchemaType::Bytes => None,
            (_, Value::Bytes(b)) => Some(b),
            _ => None,
        }
    }

    fn to_connect_data(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value)> {
        Ok((
            Some(Schema::optional_bytes()),
            bytes.map_or(Value::Null, |b| Value::Bytes(b.to_vec())),
        ))
    }
}

/// The fixed-width converters: big-endian numbers as Kafka's serializers write them.
#[derive(Debug, Clone, Copy)]
pub struct NumberConverter {
    schema_type: SchemaType,
}

impl NumberConverter {
    pub fn new(schema_type: SchemaType) -> Self {
        Self { schema_type }
    }

    fn width(&self) -> usize {
        match self.schema_type {
            SchemaType::Boolean | SchemaType::Int8 => 1,
            SchemaType::Int16 => 2,
            SchemaType::Int32 | SchemaType::Float32 => 4,
            _ => 8,
        }
    }
}

impl Converter for NumberConverter {
    fn from_connect_data(
        &self,
        _topic: &str,
        _schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>> {
        Ok(Some(match (self.schema_type, value) {
            (_, Value::Null) => return Ok(None),
            (SchemaType::Boolean, Value::Boolean(b)) => vec![u8::from(*b)],
            (SchemaType::Int16, Value::Int16(n)) => n.to_be_bytes().to_vec(),
            (SchemaType::Int32, Value::Int32(n)) => n.to_be_bytes().to_vec(),
            (SchemaType::Int64, Value::Int64(n)) => n.to_be_bytes().to_vec(),
            (SchemaType::Float32, Value::Float32(n)) => n.to_be_bytes().to_vec(),
            (SchemaType::Float64, Value::Float64(n)) => n.to_be_bytes().to_vec(),
            (t, v) => {
                return Err(ConnectError::data(format!(
                    "Failed to serialize to {t} (was {v:?})"
                )))
            }
        }))
    }

    fn to_connect_data(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value)> {
        let schema = SchemaBuilder::new(self.schema_type).optional().build();
        let Some(bytes) = bytes else {
            return Ok((Some(schema), Value::Null));
        };
        if bytes.len() != self.width() {
            return Err(ConnectError::data(format!(
                "Size of data received by the {} deserializer is not {}",
                self.schema_type,
                self.width()
            )));
        }
        let mut eight = [0u8; 8];
        eight[8 - bytes.len()..].copy_from_slice(bytes);
        let value = match self.schema_type {
            SchemaType::Boolean => Value::Boolean(bytes[0] != 0),
            SchemaType::Int16 => Value::Int16(i16::from_be_bytes([bytes[0], bytes[1]])),
            SchemaType::Int32 => {
                Value::Int32(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
            }
            SchemaType::Float32 => {
                Value::Float32(f32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
            }
            SchemaType::Float64 => Value::Float64(f64::from_be_bytes(eight)),
            _ => Value::Int64(i64::from_be_bytes(eight)),
        };
        Ok((Some(schema), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_take_any_value() {
        let c = StringConverter;
        assert_eq!(
            c.from_connect_data("t", None, &Value::Int64(42))
                .expect("write"),
            Some(b"42".to_vec())
        );
        assert_eq!(
            c.from_connect_data("t", None, &Value::Null).expect("write"),
            None
        );
        let (schema, value) = c.to_connect_data("t", Some(b"hi")).expect("read");
        assert_eq!(
            (schema.map(|s| s.optional), value),
            (Some(true), Value::String("hi".into()))
        );
        assert!(c.to_connect_data("t", Some(&[0xff, 0xfe])).is_err());
        let mut c = StringConverter;
        let props: Props = [("converter.encoding".to_string(), "UTF-16".to_string())].into();
        assert!(
            c.configure(&props, false).is_err(),
            "an unsupported encoding is refused, not ignored"
        );
    }

    #[test]
    fn byte_arrays_pass_through_and_refuse_other_types() {
        let c = ByteArrayConverter;
        assert_eq!(
            c.from_connect_data("t", None, &Value::Bytes(vec![1, 2]))
                .expect("write"),
            Some(vec![1, 2])
        );
        assert!(c
            .from_connect_data("t", Some(&Schema::string()), &Value::String("x".into()))
            .is_err());
        assert_eq!(
            c.to_connect_data("t", Some(&[9])).expect("read").1,
            Value::Bytes(vec![9])
        );
    }

    /// What a converter lends must be what it would write, and it lends nothing it would
    /// refuse, so the worker's shortcut changes no record and hides no error.
    #[test]
    fn lent_bytes_are_the_written_bytes() {
        let cases: [(&dyn Converter, Option<SchemaRef>, Value); 8] = [
            (&StringConverter, None, Value::String("héllo".into())),
            (
                &StringConverter,
                Some(Schema::string()),
                Value::String(String::new()),
            ),
            (&StringConverter, None, Value::Int64(42)),
            (&StringConverter, None, Value::Null),
            (&ByteArrayConverter, None, Value::Bytes(vec![0, 0xff, 7])),
            (
                &ByteArrayConverter,
                Some(Schema::bytes()),
                Value::Bytes(vec![1]),
            ),
            (
                &ByteArrayConverter,
                Some(Schema::string()),
                Value::Bytes(vec![1]),
            ),
            (&ByteArrayConverter, None, Value::String("text".into())),
        ];
        let mut lent = 0;
        for (converter, schema, value) in &cases {
            let written = converter.from_connect_data("t", schema.as_ref(), value);
            // What is not lent is converted, or refused, by `from_connect_data`.
            if let Some(bytes) = converter.lend_bytes(schema.as_ref(), value) {
                lent += 1;
                let written = written.expect("what is lent is written");
                assert_eq!(written.as_deref(), Some(bytes), "{value:?}");
            }
        }
        assert_eq!(
            lent, 4,
            "strings for StringConverter, byte arrays for ByteArrayConverter"
        );
    }

    #[test]
    fn numbers_are_big_endian_and_sized() {
        let c = NumberConverter::new(SchemaType::Int32);
        assert_eq!(
            c.from_connect_data("t", None, &Value::Int32(258))
                .expect("write"),
            Some(vec![0, 0, 1, 2])
        );
        assert_eq!(
            c.to_connect_data("t", Some(&[0, 0, 1, 2])).expect("read").1,
            Value::Int32(258)
        );
        assert!(c.to_connect_data("t", Some(&[1, 2])).is_err());
        let d = NumberConverter::new(SchemaType::Float64);
        let bytes = d
            .from_connect_data("t", None, &Value::Float64(1.5))
            .expect("write")
            .expect("bytes");
        assert_eq!(
            d.to_connect_data("t", Some(&bytes)).expect("read").1,
            Value::Float64(1.5)
        );
    }
}
