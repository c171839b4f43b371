//! Parsing (lenient and strict) and Java-compatible canonical text.

use sluice_schema_registry::avro::{AvroSchema, SchemaError};

fn lenient(text: &str) -> AvroSchema {
    AvroSchema::parse(text, &[], false).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn strict_err(text: &str) -> String {
    match AvroSchema::parse(text, &[], true) {
        Ok(_) => panic!("strict parse accepted {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn canonical_orders_attributes_and_elides_namespaces_like_java() {
    let text = r#"{
      "aliases": ["Old", "other.Older"], "custom": 1, "doc": "d",
      "namespace": "com.x", "name": "R", "type": "record",
      "fields": [
        {"name": "a", "type": {"type": "string"}},
        {"name": "b", "type": {"symbols": ["A"], "name": "E", "type": "enum"}},
        {"name": "c", "type": "E"},
        {"name": "d", "type": {"type": "record", "name": "Other", "namespace": "org.y",
                               "fields": [{"name": "e", "type": "com.x.E"}]}},
        {"name": "f", "type": {"type": "fixed", "name": "F", "namespace": "", "size": 4}}
      ]}"#;
    assert_eq!(
        lenient(text).canonical(),
        concat!(
            r#"{"type":"record","name":"R","namespace":"com.x","doc":"d","fields":["#,
            r#"{"name":"a","type":"string"},"#,
            r#"{"name":"b","type":{"type":"enum","name":"E","symbols":["A"]}},"#,
            r#"{"name":"c","type":"E"},"#,
            r#"{"name":"d","type":{"type":"record","name":"Other","namespace":"org.y","fields":[{"name":"e","type":"com.x.E"}]}},"#,
            r#"{"name":"f","type":{"type":"fixed","name":"F","namespace":"","size":4}}"#,
            r#"],"custom":1,"aliases":["Old","other.Older"]}"#
        )
    );
}

#[test]
fn canonical_field_attributes_and_logical_types() {
    let text = r#"{"type":"record","name":"R","fields":[
        {"p":"q","aliases":["y","y"],"order":"DESCENDING","default":1,"doc":"dd","type":"int","name":"x"},
        {"name":"d","type":{"type":"int","logicalType":"date"}},
        {"name":"m","type":{"logicalType":"decimal","type":"bytes","precision":4,"scale":2}},
        {"name":"o","type":"string","order":"ascending","default":"a\"b"}]}"#;
    assert_eq!(
        lenient(text).canonical(),
        concat!(
            r#"{"type":"record","name":"R","fields":["#,
            r#"{"name":"x","type":"int","doc":"dd","default":1,"order":"descending","aliases":["y"],"p":"q"},"#,
            r#"{"name":"d","type":{"type":"int","logicalType":"date"}},"#,
            r#"{"name":"m","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}},"#,
            r#"{"name":"o","type":"string","default":"a\"b"}]}"#
        )
    );
}

#[test]
fn canonical_enum_default_props_and_containers() {
    let text = r#"{"type":"array","items":{"type":"map","values":
        {"type":"enum","name":"E","namespace":"n","symbols":["A","B"],"default":"A","x":true,"aliases":["n.Old"]},
        "m":"v"}}"#;
    assert_eq!(
        lenient(text).canonical(),
        r#"{"type":"array","items":{"type":"map","values":{"type":"enum","name":"E","namespace":"n","symbols":["A","B"],"default":"A","x":true,"aliases":["Old"]},"m":"v"}}"#
    );
}

#[test]
fn identity_ignores_formatting_but_not_doc() {
    let a = lenient(r#"{"type":"record","name":"R","fields":[{"name":"s","type":"string"}]}"#);
    let b = lenient(
        "{ \"fields\" : [ { \"type\" : { \"type\" : \"string\" } , \"name\" : \"s\" } ],\n \"name\" : \"R\", \"type\" : \"record\" }",
    );
    let c = lenient(
        r#"{"type":"record","name":"R","doc":"new","fields":[{"name":"s","type":"string"}]}"#,
    );
    let d = lenient(
        r#"{"type":"record","name":"R","fields":[{"name":"s","type":"string","doc":"x"}]}"#,
    );
    assert_eq!(a.canonical(), b.canonical());
    assert_ne!(a.canonical(), c.canonical());
    assert_ne!(a.canonical(), d.canonical());
    assert_eq!(lenient(r#"{"type":"string"}"#).canonical(), r#""string""#);
}

#[test]
fn canonical_text_reparses_to_itself() {
    let text = r#"{"type":"record","name":"Node","namespace":"a.b","fields":[
        {"name":"v","type":["null","int"],"default":null},
        {"name":"kids","type":{"type":"array","items":"Node"}},
        {"name":"next","type":["null","a.b.Node"],"default":null}]}"#;
    let once = lenient(text).canonical();
    assert_eq!(
        once,
        r#"{"type":"record","name":"Node","namespace":"a.b","fields":[{"name":"v","type":["null","int"],"default":null},{"name":"kids","type":{"type":"array","items":"Node"}},{"name":"next","type":["null","Node"],"default":null}]}"#
    );
    assert_eq!(lenient(&once).canonical(), once);
}

#[test]
fn type_named_like_a_keyword_is_always_qualified() {
    let text = r#"{"type":"record","name":"R","namespace":"n","fields":[
        {"name":"a","type":{"type":"fixed","name":"record","size":1}},
        {"name":"b","type":"n.record"}]}"#;
    assert_eq!(
        lenient(text).canonical(),
        r#"{"type":"record","name":"R","namespace":"n","fields":[{"name":"a","type":{"type":"fixed","name":"record","size":1}},{"name":"b","type":"n.record"}]}"#
    );
}

#[test]
fn floating_defaults_print_like_java() {
    let text = r#"{"type":"record","name":"R","fields":[
        {"name":"a","type":"double","default":1e20},
        {"name":"b","type":"float","default":"2.5"},
        {"name":"c","type":"double","default":0.5}]}"#;
    assert_eq!(
        lenient(text).canonical(),
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"double","default":1.0E20},{"name":"b","type":"float","default":2.5},{"name":"c","type":"double","default":0.5}]}"#
    );
}

#[test]
fn references_resolve_and_print_by_name() {
    let address = AvroSchema::parse(
        r#"{"type":"record","name":"Address","namespace":"com.x","fields":[{"name":"s","type":"string"}]}"#,
        &[],
        true,
    )
    .unwrap();
    let person_text = r#"{"type":"record","name":"Person","namespace":"com.x","fields":[
        {"name":"home","type":"Address"},{"name":"work","type":["null","com.x.Address"],"default":null}]}"#;
    let person = AvroSchema::parse(person_text, std::slice::from_ref(&address), true).unwrap();
    assert_eq!(
        person.canonical(),
        r#"{"type":"record","name":"Person","namespace":"com.x","fields":[{"name":"home","type":"Address"},{"name":"work","type":["null","Address"],"default":null}]}"#
    );
    assert_eq!(person.defined_names(), vec!["com.x.Person".to_string()]);
    assert_eq!(address.defined_names(), vec!["com.x.Address".to_string()]);
    assert_eq!(
        AvroSchema::parse(person_text, &[], true).unwrap_err(),
        SchemaError::UnknownType("Address".into())
    );
    // The same type reached through two references is not a redefinition...
    let twice = AvroSchema::parse(
        r#""com.x.Address""#,
        &[address.clone(), address.clone()],
        true,
    );
    assert_eq!(twice.unwrap().canonical(), r#""com.x.Address""#);
    // ...but defining it again here is.
    let err = AvroSchema::parse(
        r#"{"type":"record","name":"Address","namespace":"com.x","fields":[]}"#,
        &[address],
        false,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "Can't redefine: com.x.Address");
}

#[test]
fn not_a_schema_is_rejected_in_both_modes() {
    let cases = [
        ("not json", "Invalid JSON"),
        ("{", "Invalid JSON"),
        (r#""int" "int""#, "Invalid JSON"),
        ("42", "Schema not yet supported"),
        ("null", "Schema not yet supported"),
        ("{}", "No type"),
        (r#"{"type":7}"#, "No type"),
        (r#"{"type":"Foo"}"#, "Unknown type: Foo"),
        (r#""Foo""#, "Unknown type: Foo"),
        (r#"{"type":"record","name":"R"}"#, "Record has no fields"),
        (r#"{"type":"record","fields":[]}"#, "No name in schema"),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a"}]}"#,
            "No field type",
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"type":"int"}]}"#,
            "No field name",
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","order":"up"}]}"#,
            "Invalid field order",
        ),
        (r#"{"type":"enum","name":"E"}"#, "Enum has no symbols"),
        (
            r#"{"type":"enum","name":"E","symbols":[1]}"#,
            "Enum symbol is not a string",
        ),
        (r#"{"type":"fixed","name":"F"}"#, "Invalid or no size"),
        (
            r#"{"type":"fixed","name":"F","size":-1}"#,
            "Invalid or no size",
        ),
        (
            r#"{"type":"fixed","name":"F","size":1.5}"#,
            "Invalid or no size",
        ),
        (r#"{"type":"array"}"#, "Array has no items type"),
        (r#"{"type":"map"}"#, "Map has no values type"),
        (r#"["int","int"]"#, "Duplicate in union: int"),
        (
            r#"[{"type":"array","items":"int"},{"type":"array","items":"long"}]"#,
            "Duplicate in union: array",
        ),
        (r#"["null",["int"]]"#, "Nested union"),
        (
            r#"{"type":"fixed","name":"int","size":1}"#,
            "Schemas may not be named after primitives: int",
        ),
        (
            r#"{"type":"record","name":"R","fields":[],"aliases":"x"}"#,
            "aliases not an array",
        ),
        (
            r#"{"type":"record","name":"R","namespace":"ns","fields":[{"name":"a","type":{"type":"enum","name":"R","symbols":["A"]}}]}"#,
            "Can't redefine: ns.R",
        ),
    ];
    for (text, expected) in cases {
        for strict in [false, true] {
            match AvroSchema::parse(text, &[], strict) {
                Ok(s) => panic!("accepted {text} (strict={strict}): {}", s.canonical()),
                Err(e) => assert!(
                    e.to_string().contains(expected),
                    "{text} (strict={strict}): {e} lacks {expected:?}"
                ),
            }
        }
    }
}

#[test]
fn strict_mode_validates_what_lenient_mode_tolerates() {
    let cases = [
        (
            r#"{"type":"record","name":"R","fields":[{"name":"f","type":"int","default":"x"}]}"#,
            r#"Invalid default for field f: expected int, got "x""#,
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"f","type":["null","string"],"default":"null"}]}"#,
            r#"Invalid default for field f: expected null (first union branch), got "null""#,
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"f","type":"int","default":3000000000}]}"#,
            "Invalid default for field f: expected int, got 3000000000",
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"f","type":{"type":"array","items":"long"},"default":[1,"2"]}]}"#,
            "Invalid default for field f",
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"f","type":"double","default":"abc"}]}"#,
            "Invalid default for field f",
        ),
        (
            r#"{"type":"record","name":"a-b","fields":[]}"#,
            "Illegal character in: a-b",
        ),
        (
            r#"{"type":"record","name":"R","namespace":"x.1y","fields":[]}"#,
            "Illegal character in: x.1y",
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"1f","type":"int"}]}"#,
            "Illegal initial character: 1f",
        ),
        (
            r#"{"type":"enum","name":"E","symbols":["A","B"],"default":"Z"}"#,
            "Enum default not in symbols: Z",
        ),
        (
            r#"{"type":"enum","name":"E","symbols":["A","A"]}"#,
            "Duplicate enum symbol: A",
        ),
        (
            r#"{"type":"enum","name":"E","symbols":["A-1"]}"#,
            "Illegal character in: A-1",
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"f","type":"int"},{"name":"f","type":"long"}]}"#,
            "Duplicate field f in record R",
        ),
    ];
    for (text, expected) in cases {
        assert!(
            strict_err(text).contains(expected),
            "{text}: {} lacks {expected:?}",
            strict_err(text)
        );
        // Stored schemas may contain these, so lenient parsing keeps them as written.
        let kept = lenient(text).canonical();
        assert!(!kept.is_empty());
    }
    let kept = lenient(
        r#"{"type":"record","name":"R","fields":[{"name":"f","type":["null","string"],"default":"null"}]}"#,
    );
    assert_eq!(
        kept.canonical(),
        r#"{"type":"record","name":"R","fields":[{"name":"f","type":["null","string"],"default":"null"}]}"#
    );
}

#[test]
fn strict_mode_accepts_good_defaults() {
    let text = r#"{"type":"record","name":"R","fields":[
        {"name":"a","type":["null","int"],"default":null},
        {"name":"b","type":"long","default":3000000000},
        {"name":"c","type":"float","default":1},
        {"name":"d","type":{"type":"map","values":"boolean"},"default":{"k":true}},
        {"name":"e","type":{"type":"record","name":"S","fields":[{"name":"x","type":"int","default":1},{"name":"y","type":"string"}]},"default":{"y":"s"}},
        {"name":"f","type":{"type":"enum","name":"E","symbols":["A"]},"default":"A"},
        {"name":"g","type":{"type":"fixed","name":"F","size":2},"default":"ab"},
        {"name":"h","type":"bytes","default":"\u00ff"}]}"#;
    assert!(AvroSchema::parse(text, &[], true).is_ok());
}

#[test]
fn self_referencing_default_does_not_loop() {
    // A record default that omits a field falls back to that field's default,
    // which here is the same empty object again.
    let text = r#"{"type":"record","name":"A","fields":[{"name":"x","type":{"type":"record","name":"B","fields":[{"name":"y","type":"B","default":{}}]},"default":{}}]}"#;
    assert!(AvroSchema::parse(text, &[], false).is_ok());
    let _ = AvroSchema::parse(text, &[], true);
}

#[test]
fn deep_nesting_is_refused_cleanly() {
    let nested = |depth: usize| {
        let mut text = String::from("\"int\"");
        for _ in 0..depth {
            text = format!("{{\"type\":\"array\",\"items\":{text}}}");
        }
        text
    };
    assert_eq!(
        AvroSchema::parse(&nested(10_000), &[], false).unwrap_err(),
        SchemaError::TooDeep
    );
    assert_eq!(
        AvroSchema::parse(&"[".repeat(100_000), &[], false).unwrap_err(),
        SchemaError::TooDeep
    );
    let fine = AvroSchema::parse(&nested(50), &[], true).unwrap();
    assert_eq!(fine.canonical(), nested(50));
}

#[test]
fn recursive_schema_parses_and_prints() {
    let text = r#"{"type":"record","name":"LongList","aliases":["LinkedLongs"],"fields":[{"name":"value","type":"long"},{"name":"next","type":["null","LongList"]}]}"#;
    let s = AvroSchema::parse(text, &[], true).unwrap();
    // Java writes aliases after the fields.
    assert_eq!(
        s.canonical(),
        r#"{"type":"record","name":"LongList","fields":[{"name":"value","type":"long"},{"name":"next","type":["null","LongList"]}],"aliases":["LinkedLongs"]}"#
    );
    assert_eq!(s.defined_names(), vec!["LongList".to_string()]);
}
