//! Every row of the Java/Python-derived compatibility vectors must agree.

use serde_json::Value;
use sluice_schema_registry::avro::{check, check_level, AvroSchema, Level};

fn rows(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/compat/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("row is JSON"))
        .collect()
}

fn schema(json: &Value) -> AvroSchema {
    AvroSchema::parse(&json.to_string(), &[], false)
        .unwrap_or_else(|e| panic!("cannot parse {json}: {e}"))
}

/// Two rows record Java's raw location token list ([""]) rather than
/// `getLocation()`, which renders that same root location as "/".
fn expected_location(raw: &str) -> &str {
    if raw.is_empty() {
        "/"
    } else {
        raw
    }
}

#[test]
fn reader_writer_pairs() {
    let rows = rows("avro-pairs.jsonl");
    assert_eq!(rows.len(), 384);
    let mut failures = Vec::new();
    for row in &rows {
        let id = row["id"].as_str().unwrap_or("?");
        let found = check(&schema(&row["reader"]), &schema(&row["writer"]));
        let expected_compatible = row["compatible"].as_bool().expect("compatible flag");
        if found.is_empty() != expected_compatible {
            failures.push(format!(
                "{id}: expected compatible={expected_compatible}, got {found:?}"
            ));
            continue;
        }
        let Some(expected) = row.get("incompatibilities").and_then(Value::as_array) else {
            continue;
        };
        if expected.len() != found.len() {
            failures.push(format!("{id}: expected {expected:?}, got {found:?}"));
            continue;
        }
        for (want, got) in expected.iter().zip(&found) {
            let kind_ok = want["type"].as_str() == Some(got.kind.as_str());
            let location_ok =
                expected_location(want["location"].as_str().unwrap_or("")) == got.location;
            let message_ok = want
                .get("message")
                .and_then(Value::as_str)
                .is_none_or(|m| m == got.message);
            if !(kind_ok && location_ok && message_ok) {
                failures.push(format!("{id}: expected {want}, got {got:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn level_histories() {
    let rows = rows("avro-levels.jsonl");
    assert_eq!(rows.len(), 14);
    let mut failures = Vec::new();
    for row in &rows {
        let id = row["id"].as_str().unwrap_or("?");
        let level: Level = row["level"]
            .as_str()
            .expect("level")
            .parse()
            .expect("known level");
        let previous: Vec<AvroSchema> = row["previous"]
            .as_array()
            .expect("previous list")
            .iter()
            .map(schema)
            .collect();
        let history: Vec<(Option<u32>, &AvroSchema)> = previous
            .iter()
            .enumerate()
            .map(|(i, s)| (Some(i as u32 + 1), s))
            .collect();
        let messages = check_level(level, &schema(&row["new"]), &history);
        let expected_compatible = row["compatible"].as_bool().expect("compatible flag");
        if messages.is_empty() != expected_compatible {
            failures.push(format!(
                "{id}: expected compatible={expected_compatible}, got {messages:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
