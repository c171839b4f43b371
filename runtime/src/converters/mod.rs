//! Converters between Connect data and bytes, found by Kafka's class names or their short
//! aliases, configured through the `key.converter.*` / `value.converter.*` prefixes.

pub mod header;
pub mod json;
pub mod simple;

use sluice_connect_api::config::{class_not_found, with_prefix};
use sluice_connect_api::{Converter, HeaderConverter, Props, Result, SchemaType};

pub use header::SimpleHeaderConverter;
pub use json::JsonConverter;
pub use simple::{ByteArrayConverter, NumberConverter, StringConverter};

/// Every converter class Sluice provides, by its Java name.
pub const CONVERTER_CLASSES: &[&str] = &[
    "org.apache.kafka.connect.storage.StringConverter",
    "org.apache.kafka.connect.converters.ByteArrayConverter",
    "org.apache.kafka.connect.json.JsonConverter",
    "org.apache.kafka.connect.converters.BooleanConverter",
    "org.apache.kafka.connect.converters.ShortConverter",
    "org.apache.kafka.connect.converters.IntegerConverter",
    "org.apache.kafka.connect.converters.LongConverter",
    "org.apache.kafka.connect.converters.FloatConverter",
    "org.apache.kafka.connect.converters.DoubleConverter",
];

/// Creates the converter named by `class` (fully qualified or the simple name) and configures it
/// with the keys under `prefix` (`value.converter.`) in `props`.
pub fn create(
    class: &str,
    props: &Props,
    prefix: &str,
    is_key: bool,
) -> Result<Box<dyn Converter>> {
    let simple = class.rsplit('.').next().unwrap_or(class);
    let known = CONVERTER_CLASSES
        .iter()
        .any(|c| *c == class || c.rsplit('.').next() == Some(class));
    if !known {
        return Err(class_not_found(
            prefix.trim_end_matches('.'),
            class,
            CONVERTER_CLASSES,
        ));
    }
    let mut converter: Box<dyn Converter> = match simple {
        "StringConverter" => Box::new(StringConverter),
        "ByteArrayConverter" => Box::new(ByteArrayConverter),
        "JsonConverter" => Box::new(JsonConverter::default()),
        "BooleanConverter" => Box::new(NumberConverter::new(SchemaType::Boolean)),
        "ShortConverter" => Box::new(NumberConverter::new(SchemaType::Int16)),
        "IntegerConverter" => Box::new(NumberConverter::new(SchemaType::Int32)),
        "LongConverter" => Box::new(NumberConverter::new(SchemaType::Int64)),
        "FloatConverter" => Box::new(NumberConverter::new(SchemaType::Float32)),
        _ => Box::new(NumberConverter::new(SchemaType::Float64)),
    };
    converter.configure(&with_prefix(props, prefix), is_key)?;
    Ok(converter)
}

/// Header converter classes Sluice provides.
pub const HEADER_CONVERTER_CLASSES: &[&str] = &[
    "org.apache.kafka.connect.storage.SimpleHeaderConverter",
    "org.apache.kafka.connect.storage.StringConverter",
];

/// Creates the header converter named by `class` and configures it with the keys under `prefix`.
pub fn create_header(class: &str, props: &Props, prefix: &str) -> Result<Box<dyn HeaderConverter>> {
    let simple = class.rsplit('.').next().unwrap_or(class);
    let mut converter: Box<dyn HeaderConverter> = match simple {
        "SimpleHeaderConverter" if HEADER_CONVERTER_CLASSES[0].ends_with(class) => {
            Box::new(SimpleHeaderConverter)
        }
        "StringConverter" if HEADER_CONVERTER_CLASSES[1].ends_with(class) => {
            Box::new(StringConverter)
        }
        _ => {
            return Err(class_not_found(
                prefix.trim_end_matches('.'),
                class,
                HEADER_CONVERTER_CLASSES,
            ))
        }
    };
    converter.configure(&with_prefix(props, prefix))?;
    Ok(converter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_connect_api::Value;

    #[test]
    fn converters_are_found_by_class_or_alias_and_configured_by_prefix() {
        let props: Props = [(
            "value.converter.schemas.enable".to_string(),
            "false".to_string(),
        )]
        .into();
        let c = create(
            "org.apache.kafka.connect.json.JsonConverter",
            &props,
            "value.converter.",
            false,
        )
        .expect("json");
        let out = c
            .from_connect_data("t", None, &Value::Int64(1))
            .expect("write");
        assert_eq!(
            out,
            Some(b"1".to_vec()),
            "schemas.enable=false reached the converter"
        );
        assert!(create("StringConverter", &props, "value.converter.", false).is_ok());
        let err = create(
            "org.apache.kafka.connect.storage.StringConvertor",
            &props,
            "value.converter.",
            false,
        )
        .err()
        .expect("unknown class");
        assert!(
            err.to_string().contains("Did you mean 'StringConverter'?"),
            "{err}"
        );
    }
}
