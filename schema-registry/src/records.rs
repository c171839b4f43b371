//! The `_schemas` topic's keys and values, in the JSON Confluent's registry (and Karapace)
//! read and write, so a topic can be shared with them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

/// A schema reference: `name` is how the referring schema names the dependency (for Avro, the
/// full name of a named type) and `subject`/`version` where it is registered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: i64,
}

/// A SCHEMA record's value: one version of a subject.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaValue {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub schema_type: Option<String>,
    pub schema: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub deleted: bool,
}

/// One record of the topic, decoded.
#[derive(Debug, Clone)]
pub enum Record {
    Schema {
        subject: String,
        version: u32,
        value: Option<SchemaValue>,
    },
    /// `subject` None is the global config; `level` None deletes it.
    Config {
        subject: Option<String>,
        level: Option<String>,
    },
    Mode {
        subject: Option<String>,
        mode: Option<String>,
    },
    /// Soft-deletes every version up to `version`.
    DeleteSubject { subject: String, version: u32 },
    /// Anything else: written by newer servers, or NOOP.
    Ignored,
}

pub fn schema_key(subject: &str, version: u32) -> Vec<u8> {
    json!({"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1})
        .to_string()
        .into_bytes()
}

pub fn config_key(subject: Option<&str>) -> Vec<u8> {
    keyed("CONFIG", subject)
}

pub fn mode_key(subject: Option<&str>) -> Vec<u8> {
    keyed("MODE", subject)
}

pub fn delete_subject_key(subject: &str) -> Vec<u8> {
    keyed("DELETE_SUBJECT", Some(subject))
}

fn keyed(keytype: &str, subject: Option<&str>) -> Vec<u8> {
    let key = match subject {
        Some(s) => json!({"keytype": keytype, "subject": s, "magic": 0}),
        None => json!({"keytype": keytype, "magic": 0}),
    };
    key.to_string().into_bytes()
}

pub fn schema_value(value: &SchemaValue) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

pub fn config_value(subject: Option<&str>, level: &str) -> Vec<u8> {
    let mut value = json!({"compatibilityLevel": level});
    if let Some(s) = subject {
        value["subject"] = json!(s);
    }
    value.to_string().into_bytes()
}

pub fn mode_value(subject: Option<&str>, mode: &str) -> Vec<u8> {
    let mut value = json!({"mode": mode});
    if let Some(s) = subject {
        value["subject"] = json!(s);
    }
    value.to_string().into_bytes()
}

pub fn delete_subject_value(subject: &str, version: u32) -> Vec<u8> {
    json!({"subject": subject, "version": version})
        .to_string()
        .into_bytes()
}

/// Decodes a record; `None` for keys this registry cannot read (they are skipped, as
/// Confluent skips what it does not know).
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Option<Record> {
    let key: Json = serde_json::from_slice(key).ok()?;
    let subject = key
        .get("subject")
        .and_then(Json::as_str)
        .map(str::to_string);
    let value: Option<Json> = value.and_then(|v| serde_json::from_slice(v).ok());
    let text = |field: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(field))
            .and_then(Json::as_str)
            .map(str::to_string)
    };
    Some(match key.get("keytype").and_then(Json::as_str)? {
        "SCHEMA" => {
            let version = u32::try_from(key.get("version")?.as_u64()?).ok()?;
            let value: Option<SchemaValue> = match value {
                Some(v) => Some(serde_json::from_value(v).ok()?),
                None => None,
            };
            // Ids and versions are Java ints from 1: a record outside that (written by a broken
            // writer) is skipped rather than let an id wrap round onto one in use.
            let in_range = |n: u32| (1..=i32::MAX as u32).contains(&n);
            if !in_range(version) || value.as_ref().is_some_and(|v| !in_range(v.id)) {
                return None;
            }
            Record::Schema {
                subject: subject?,
                version,
                value,
            }
        }
        "CONFIG" => Record::Config {
            level: text("compatibilityLevel"),
            subject,
        },
        "MODE" => Record::Mode {
            mode: text("mode"),
            subject,
        },
        "DELETE_SUBJECT" => {
            let version = value.as_ref()?.get("version")?.as_u64()?;
            Record::DeleteSubject {
                subject: subject?,
                version: u32::try_from(version).ok()?,
            }
        }
        _ => Record::Ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_confluents_with_fields_in_its_order() {
        assert_eq!(
            String::from_utf8(schema_key("t-value", 2)).expect("utf8"),
            r#"{"keytype":"SCHEMA","subject":"t-value","version":2,"magic":1}"#
        );
        assert_eq!(
            String::from_utf8(config_key(None)).expect("utf8"),
            r#"{"keytype":"CONFIG","magic":0}"#
        );
    }

    #[test]
    fn a_schema_record_round_trips_and_tombstones_decode() {
        let value = SchemaValue {
            subject: "s".into(),
            version: 1,
            id: 7,
            schema_type: None,
            schema: "\"string\"".into(),
            references: vec![],
            deleted: false,
        };
        let bytes = schema_value(&value);
        assert_eq!(
            String::from_utf8(bytes.clone()).expect("utf8"),
            r#"{"subject":"s","version":1,"id":7,"schema":"\"string\"","deleted":false}"#
        );
        match decode(&schema_key("s", 1), Some(&bytes)) {
            Some(Record::Schema {
                value: Some(v),
                version: 1,
                ..
            }) => assert_eq!(v.id, 7),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            decode(&schema_key("s", 1), None),
            Some(Record::Schema { value: None, .. })
        ));
        assert!(decode(b"not json", None).is_none());
    }

    /// Ids and versions outside Java's int range are skipped: they would wrap round onto ids in
    /// use.
    #[test]
    fn out_of_range_ids_and_versions_are_skipped() {
        let value = |id: u64, version: u64| {
            format!(
                r#"{{"subject":"s","version":{version},"id":{id},"schema":"\"string\"","deleted":false}}"#
            )
        };
        assert!(decode(&schema_key("s", 1), Some(value(4294967295, 1).as_bytes())).is_none());
        assert!(decode(&schema_key("s", 1), Some(value(0, 1).as_bytes())).is_none());
        assert!(decode(
            &schema_key("s", 2147483647),
            Some(value(2147483647, 2147483647).as_bytes())
        )
        .is_some());
        let past = br#"{"keytype":"SCHEMA","subject":"s","version":2147483648,"magic":1}"#;
        assert!(decode(past, None).is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
        ))]

        /// Whatever the topic holds, decoding it never panics.
        #[test]
        fn arbitrary_schemas_records_never_panic(
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128),
            value in proptest::option::of(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)),
            keytype in proptest::sample::select(vec!["SCHEMA", "CONFIG", "MODE", "DELETE_SUBJECT", "NOOP"]),
            version in proptest::prelude::any::<i64>(),
            id in proptest::prelude::any::<i64>(),
        ) {
            let _ = decode(&key, value.as_deref());
            let key = format!(r#"{{"keytype":"{keytype}","subject":"s","version":{version},"magic":1}}"#);
            let value = format!(r#"{{"subject":"s","version":{version},"id":{id},"schema":"x","compatibilityLevel":"FULL","mode":"IMPORT"}}"#);
            let _ = decode(key.as_bytes(), Some(value.as_bytes()));
        }
    }
}
