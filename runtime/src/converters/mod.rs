//! Converters between Connect data and bytes, found by Kafka's class names or their short
//! aliases, configured through the `key.converter.*` / `value.converter.*` prefixes.

pub mod avro;
pub mod header;
pub mod json;
pub mod simple;

use sluice_connect_api::config::{class_not_found, with_prefix};
use sluice_connect_api::{
    find_named, Converter, ConverterDesc, HeaderConverter, HeaderConverterDesc, Props, Result,
    SchemaType,
};

pub use avro::AvroConverter;
pub use header::SimpleHeaderConverter;
pub use json::JsonConverter;
pub use simple::{ByteArrayConverter, NumberConverter, StringConverter};

/// Every converter Sluice offers, by Kafka's class name, with the aliases Kafka Connect accepts:
/// the simple name and the simple name without `Converter`.
pub static CONVERTERS: &[ConverterDesc] = &[
    ConverterDesc {
        class: "org.apache.kafka.connect.storage.StringConverter",
        aliases: &["StringConverter", "String"],
        new: || Box::new(StringConverter),
    },
    ConverterDesc {
        class: "org.apache.kafka.connect.converters.ByteArrayConverter",
        aliases: &["ByteArrayConverter", "ByteArray"],
        new: || Box::new(ByteArrayConverter),
    },
    ConverterDesc {
        class: "org.apache.kafka.connect.json.JsonConverter",
        aliases: &["JsonConverter", "Json"],
        new: || Box::new(JsonConverter::default()),
    },
    ConverterDesc {
        class: "org.apache.kafka.connect.converters.BooleanConverter",
        aliases: &["BooleanConverter", "Boolean"],
        new: || Box::new(NumberConverter::new(SchemaType::Boolean)),
    },
    ConverterDesc {
        class: "org.apache.kafka.connect.converters.ShortConverter",
        aliases: &["ShortConverter", "Short"],
        new: || Box::new(NumberConverter::new(SchemaType::Int16)),
    },
    ConverterDesc {
        class: "org.apache.kafka.connect.converters.IntegerConverter",
        aliases: &["IntegerConverter", "Integer"],
        new: || Box::new(NumberConverter::new(SchemaType::Int32)),
    },
    ConverterDesc {
        class: "org.apache.kafka.connect.converters.LongConverter",
        aliases: &["LongConverter", "Long"],
        new: || Box::new(NumberConverter::new(SchemaType::Int64)),
    },
    ConverterDesc {
        class: "org.apache.kafka.connect.converters.FloatConverter",
        aliases: &["FloatConverter", "Float"],
        new: || Box::new(NumberConverter::new(SchemaType::Float32)),
    },
    ConverterDesc {
        class: "org.apache.kafka.connect.converters.DoubleConverter",
        aliases: &["DoubleConverter", "Double"],
        new: || Box::new(NumberConverter::new(SchemaType::Float64)),
    },
    ConverterDesc {
        class: "io.confluent.connect.avro.AvroConverter",
        aliases: &["AvroConverter", "Avro"],
        new: || Box::new(AvroConverter::default()),
    },
];

/// Every header converter Sluice offers.
pub static HEADER_CONVERTERS: &[HeaderConverterDesc] = &[
    HeaderConverterDesc {
        class: "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        aliases: &["SimpleHeaderConverter", "Simple"],
        new: || Box::new(SimpleHeaderConverter),
    },
    HeaderConverterDesc {
        class: "org.apache.kafka.connect.storage.StringConverter",
        aliases: &["StringConverter", "String"],
        new: || Box::new(StringConverter),
    },
];

/// The entry of `table` that `class` names, or Kafka's "could not be found" on `key`.
fn lookup<'a, D: sluice_connect_api::Named>(
    table: &'a [D],
    class: &str,
    key: &str,
) -> Result<&'a D> {
    find_named(table, class).ok_or_else(|| {
        let known: Vec<&str> = table.iter().map(|d| d.class()).collect();
        class_not_found(key, class, &known)
    })
}

/// Creates the converter named by `class` (its class name or an alias) and configures it with
/// the keys under `prefix` (`value.converter.`) in `props`.
pub fn create(
    class: &str,
    props: &Props,
    prefix: &str,
    is_key: bool,
) -> Result<Box<dyn Converter>> {
    let desc = lookup(CONVERTERS, class, prefix.trim_end_matches('.'))?;
    let mut converter = (desc.new)();
    converter.configure(&with_prefix(props, prefix), is_key)?;
    Ok(converter)
}

/// `props` with `<prefix>schema.registry.url` set to `registry` when it names none: how the
/// embedded registry of `sluice standalone` becomes every AvroConverter's default.
pub fn with_registry_default<'a>(
    props: &'a Props,
    prefix: &str,
    registry: Option<&str>,
) -> std::borrow::Cow<'a, Props> {
    let key = format!("{prefix}{}", avro::REGISTRY_URL);
    match registry {
        Some(url) if !props.contains_key(&key) => {
            let mut props = props.clone();
            props.insert(key, url.to_string());
            std::borrow::Cow::Owned(props)
        }
        _ => std::borrow::Cow::Borrowed(props),
    }
}

/// Creates the header converter named by `class` and configures it with the keys under `prefix`.
pub fn create_header(class: &str, props: &Props, prefix: &str) -> Result<Box<dyn HeaderConverter>> {
    let desc = lookup(HEADER_CONVERTERS, class, prefix.trim_end_matches('.'))?;
    let mut converter = (desc.new)();
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
        assert!(create("Json", &props, "value.converter.", false).is_ok());
        assert!(
            create("Stringg", &props, "value.converter.", false).is_err(),
            "an unknown class never falls through to some default"
        );
        assert!(create_header("SimpleHeaderConverter", &props, "header.converter.").is_ok());
        assert!(create_header("JsonConverter", &props, "header.converter.").is_err());
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
