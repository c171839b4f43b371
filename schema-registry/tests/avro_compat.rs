//! Compatibility behaviours beyond the vectors: logical types, recursion,
//! aliases, nesting, rendered messages and level semantics.

use sluice_schema_registry::avro::{
    check, check_counting, check_level, AvroSchema, Incompatibility, IncompatibilityType, Level,
};

fn parse(text: &str) -> AvroSchema {
    AvroSchema::parse(text, &[], false).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn found(reader: &str, writer: &str) -> Vec<(IncompatibilityType, String, String)> {
    check(&parse(reader), &parse(writer))
        .into_iter()
        .map(|i| (i.kind, i.location, i.message))
        .collect()
}

fn compatible(reader: &str, writer: &str) -> bool {
    found(reader, writer).is_empty()
}

#[test]
fn logical_types_are_ignored() {
    let decimal =
        |p: u32| format!(r#"{{"type":"bytes","logicalType":"decimal","precision":{p},"scale":2}}"#);
    assert!(compatible(&decimal(10), &decimal(4)));
    assert!(compatible(&decimal(4), &decimal(10)));
    let ts = r#"{"type":"long","logicalType":"timestamp-millis"}"#;
    assert!(compatible(ts, "\"long\""));
    assert!(compatible("\"long\"", ts));
    assert!(compatible(
        r#"{"type":"int","logicalType":"date"}"#,
        "\"int\""
    ));
    // The underlying type still decides.
    assert_eq!(
        found(r#"{"type":"int","logicalType":"date"}"#, ts),
        vec![(
            IncompatibilityType::TypeMismatch,
            "/".to_string(),
            "reader type: INT not compatible with writer type: LONG".to_string()
        )]
    );
}

const LINKED_LIST: &str = r#"{"type":"record","name":"List","fields":[
    {"name":"item","type":{"type":"record","name":"Item","fields":[{"name":"id","type":"int"}]}},
    {"name":"next","type":["null","List"],"default":null}]}"#;

#[test]
fn recursive_record_reads_itself() {
    assert!(compatible(LINKED_LIST, LINKED_LIST));
    let tree = r#"{"type":"record","name":"Tree","fields":[
        {"name":"kids","type":{"type":"array","items":"Tree"}},
        {"name":"attrs","type":{"type":"map","values":["null","Tree"]}}]}"#;
    assert!(compatible(tree, tree));
}

#[test]
fn incompatible_change_deep_inside_a_recursive_record() {
    let changed = LINKED_LIST.replace(r#""id","type":"int""#, r#""id","type":"string""#);
    assert_eq!(
        found(LINKED_LIST, &changed),
        vec![(
            IncompatibilityType::TypeMismatch,
            "/fields/0/type/fields/0/type".to_string(),
            "reader type: INT not compatible with writer type: STRING".to_string()
        )]
    );
    // Promotion int -> long through the recursion is fine the other way round.
    let widened = LINKED_LIST.replace(r#""id","type":"int""#, r#""id","type":"long""#);
    assert!(compatible(&widened, LINKED_LIST));
}

#[test]
fn field_aliases_match_writer_fields() {
    let writer = r#"{"type":"record","name":"R","fields":[{"name":"old","type":"int"}]}"#;
    let aliased =
        r#"{"type":"record","name":"R","fields":[{"name":"new","aliases":["old"],"type":"long"}]}"#;
    let renamed = r#"{"type":"record","name":"R","fields":[{"name":"new","type":"long"}]}"#;
    assert!(compatible(aliased, writer));
    assert_eq!(
        found(renamed, writer),
        vec![(
            IncompatibilityType::ReaderFieldMissingDefaultValue,
            "/fields/0".to_string(),
            "new".to_string()
        )]
    );
}

#[test]
fn record_name_aliases_use_the_writer_full_name() {
    let writer = r#"{"type":"record","name":"Old","namespace":"ns","fields":[]}"#;
    let other_ns = r#"{"type":"record","name":"Old","namespace":"elsewhere","fields":[]}"#;
    let reader = r#"{"type":"record","name":"New","namespace":"ns","aliases":["Old"],"fields":[]}"#;
    let plain = r#"{"type":"record","name":"New","namespace":"ns","fields":[]}"#;
    assert!(compatible(reader, writer));
    assert_eq!(
        found(reader, other_ns),
        vec![(
            IncompatibilityType::NameMismatch,
            "/name".to_string(),
            "expected: elsewhere.Old".to_string()
        )]
    );
    assert!(!compatible(plain, writer));
    // Unqualified names are compared, so a namespace move alone is compatible.
    assert!(compatible(
        r#"{"type":"record","name":"Old","namespace":"moved","fields":[]}"#,
        writer
    ));
}

#[test]
fn nested_unions_arrays_and_maps_of_records() {
    let shape = |fields: &str| {
        format!(
            r#"{{"type":"map","values":{{"type":"array","items":["null",{{"type":"record","name":"Rec","fields":[{fields}]}}]}}}}"#
        )
    };
    let v1 = shape(r#"{"name":"a","type":"int"}"#);
    let v2_default =
        shape(r#"{"name":"a","type":"int"},{"name":"b","type":"string","default":""}"#);
    let v2_required = shape(r#"{"name":"a","type":"int"},{"name":"b","type":"string"}"#);
    assert!(compatible(&v2_default, &v1));
    assert!(compatible(&v1, &v2_default));
    assert_eq!(
        found(&v2_required, &v1),
        vec![(
            IncompatibilityType::MissingUnionBranch,
            "/values/items/1".to_string(),
            "reader union lacking writer type: RECORD".to_string()
        )]
    );
}

#[test]
fn writer_union_against_plain_reader_reports_each_branch() {
    assert_eq!(
        found(r#""string""#, r#"["null","int","string"]"#),
        vec![
            (
                IncompatibilityType::TypeMismatch,
                "/0".to_string(),
                "reader type: STRING not compatible with writer type: NULL".to_string()
            ),
            (
                IncompatibilityType::TypeMismatch,
                "/1".to_string(),
                "reader type: STRING not compatible with writer type: INT".to_string()
            ),
        ]
    );
}

#[test]
fn enum_default_absorbs_new_symbols_but_field_default_does_not() {
    let writer = r#"{"type":"enum","name":"E","symbols":["A","B","C","D"]}"#;
    let with_default = r#"{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}"#;
    let without = r#"{"type":"enum","name":"E","symbols":["B","A"]}"#;
    assert!(compatible(with_default, writer));
    assert_eq!(
        found(without, writer),
        vec![(
            IncompatibilityType::MissingEnumSymbols,
            "/symbols".to_string(),
            "[C, D]".to_string()
        )]
    );
}

#[test]
fn render_matches_confluent_wording() {
    let i = |kind, location: &str, message: &str| Incompatibility {
        kind,
        location: location.to_string(),
        message: message.to_string(),
    };
    assert_eq!(
        i(IncompatibilityType::TypeMismatch, "/fields/0/type", "reader type: INT not compatible with writer type: STRING").render(true),
        "{errorType:'TYPE_MISMATCH', description:'The type (path '/fields/0/type') of a field in the new schema does not match with the old schema', additionalInfo:'reader type: INT not compatible with writer type: STRING'}"
    );
    assert_eq!(
        i(IncompatibilityType::ReaderFieldMissingDefaultValue, "/fields/1", "f2").render(true),
        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'f2' at path '/fields/1' in the new schema has no default value and is missing in the old schema', additionalInfo:'f2'}"
    );
    assert_eq!(
        i(IncompatibilityType::MissingEnumSymbols, "/symbols", "[C]").render(false),
        "{errorType:'MISSING_ENUM_SYMBOLS', description:'The old schema is missing enum symbols '[C]' at path '/symbols' in the new schema', additionalInfo:'[C]'}"
    );
    assert_eq!(
        i(IncompatibilityType::MissingUnionBranch, "/1", "reader union lacking writer type: STRING").render(false),
        "{errorType:'MISSING_UNION_BRANCH', description:'The old schema is missing a type inside a union field at path '/1' in the new schema', additionalInfo:'reader union lacking writer type: STRING'}"
    );
    assert_eq!(
        i(IncompatibilityType::NameMismatch, "/name", "expected: Enum2").render(true),
        "{errorType:'NAME_MISMATCH', description:'The name of the schema has changed (path '/name')', additionalInfo:'expected: Enum2'}"
    );
    assert_eq!(
        i(IncompatibilityType::FixedSizeMismatch, "/size", "expected: 8, found: 4").render(true),
        "{errorType:'FIXED_SIZE_MISMATCH', description:'The size of FIXED type field at path '/size' in the new schema does not match with the old schema', additionalInfo:'expected: 8, found: 4'}"
    );
}

const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
const V2_ADD_REQUIRED: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#;

#[test]
fn backward_messages_list_errors_then_old_schema_then_level() {
    let (old, new) = (parse(V1), parse(V2_ADD_REQUIRED));
    assert_eq!(
        check_level(Level::Backward, &new, &[(Some(3), &old)]),
        vec![
            "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'b' at path '/fields/1' in the new schema has no default value and is missing in the old schema', additionalInfo:'b'}".to_string(),
            "{oldSchemaVersion: 3}".to_string(),
            format!("{{oldSchema: '{}'}}", old.canonical()),
            "{validateFields: 'false', compatibility: 'BACKWARD'}".to_string(),
        ]
    );
    // Unknown version: the version line is left out.
    let messages = check_level(Level::Backward, &new, &[(None, &old)]);
    assert_eq!(messages.len(), 3);
    assert!(messages[1].starts_with("{oldSchema: '"));
    // Adding a required field is forward compatible.
    assert!(check_level(Level::Forward, &new, &[(Some(1), &old)]).is_empty());
    assert!(check_level(Level::None, &new, &[(Some(1), &old)]).is_empty());
    assert!(check_level(Level::FullTransitive, &new, &[]).is_empty());
}

#[test]
fn full_lists_forward_half_first_without_schema_lines() {
    let old = parse(
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"c","type":"long"}]}"#,
    );
    let new = parse(
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}"#,
    );
    let messages = check_level(Level::Full, &new, &[(Some(7), &old)]);
    assert_eq!(
        messages,
        vec![
            // Forward: old reads new.
            "{errorType:'TYPE_MISMATCH', description:'The type (path '/fields/0/type') of a field in the old schema does not match with the new schema', additionalInfo:'reader type: INT not compatible with writer type: LONG'}".to_string(),
            "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'c' at path '/fields/1' in the old schema has no default value and is missing in the new schema', additionalInfo:'c'}".to_string(),
            // Backward: new reads old.
            "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'b' at path '/fields/1' in the new schema has no default value and is missing in the old schema', additionalInfo:'b'}".to_string(),
            "{oldSchemaVersion: 7}".to_string(),
            format!("{{oldSchema: '{}'}}", old.canonical()),
            "{validateFields: 'false', compatibility: 'FULL'}".to_string(),
        ]
    );
    // A failing forward half alone gets no schema lines.
    let widened = parse(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#);
    let narrow = parse(V1);
    assert_eq!(
        check_level(Level::Full, &widened, &[(Some(1), &narrow)]),
        vec![
            "{errorType:'TYPE_MISMATCH', description:'The type (path '/fields/0/type') of a field in the old schema does not match with the new schema', additionalInfo:'reader type: INT not compatible with writer type: LONG'}".to_string(),
            "{validateFields: 'false', compatibility: 'FULL'}".to_string(),
        ]
    );
}

#[test]
fn transitive_checks_newest_first_and_latest_only_otherwise() {
    let v1 = parse(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#);
    let v2 = parse(V1);
    let new = parse(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#);
    let history = [(Some(1), &v1), (Some(2), &v2)];
    assert!(check_level(Level::Backward, &new, &history).is_empty());
    let messages = check_level(Level::BackwardTransitive, &new, &history);
    assert!(
        messages.contains(&"{oldSchemaVersion: 1}".to_string()),
        "{messages:?}"
    );
    assert_eq!(
        messages.last().map(String::as_str),
        Some("{validateFields: 'false', compatibility: 'BACKWARD_TRANSITIVE'}")
    );
    // Both fail: only the newest failing version is reported.
    let both_bad =
        parse(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"boolean"}]}"#);
    let messages = check_level(Level::FullTransitive, &both_bad, &history);
    assert!(
        messages.contains(&"{oldSchemaVersion: 2}".to_string()),
        "{messages:?}"
    );
    assert!(
        !messages.contains(&"{oldSchemaVersion: 1}".to_string()),
        "{messages:?}"
    );
}

#[test]
fn huge_old_schema_is_truncated_in_messages() {
    let doc = "d".repeat(20_000);
    let old = parse(&format!(
        r#"{{"type":"record","name":"R","doc":"{doc}","fields":[]}}"#
    ));
    let new = parse(r#""int""#);
    let messages = check_level(Level::Backward, &new, &[(None, &old)]);
    let line = &messages[1];
    assert!(
        line.starts_with("{oldSchema: <truncated to 10240 characters> '{\"type\":\"record\""),
        "{line}"
    );
    assert_eq!(
        line.len(),
        "{oldSchema: <truncated to 10240 characters> ''}".len() + 10240
    );
}

/// Two mutually unrelated cycles of coprime lengths make the number of distinct
/// (reader, writer) pairs on one path large; the check must still finish.
#[test]
fn coprime_recursive_cycles_do_not_exhaust_the_stack() {
    let cycle = |len: usize| {
        let mut text = String::from("\"N0\"");
        for i in (0..len).rev() {
            text = format!(
                r#"{{"type":"record","name":"N{i}","fields":[{{"name":"x","type":"int"}},{{"name":"f","type":{text}}}]}}"#
            );
        }
        text
    };
    let reader = parse(&cycle(40));
    let writer = parse(&cycle(41));
    on_small_stack(move || {
        let found = check(&reader, &writer);
        assert!(!found.is_empty());
        assert!(found.len() <= 1000);
        assert!(check(&reader, &reader).is_empty());
    });
}

/// Runs `f` on a 1 MiB stack (half a default test/tokio thread) to show the
/// recursion limits leave headroom even in unoptimised builds.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("check panicked");
}

#[test]
fn deepest_accepted_schema_parses_prints_and_checks_on_a_small_stack() {
    let nested = |depth: usize| {
        let mut text = String::from(r#"{"type":"record","name":"Leaf","fields":[]}"#);
        for _ in 0..depth {
            text =
                format!(r#"{{"type":"map","values":["null",{{"type":"array","items":{text}}}]}}"#);
        }
        text
    };
    let deepest = (1..200)
        .take_while(|d| AvroSchema::parse(&nested(*d), &[], true).is_ok())
        .last()
        .expect("shallow schemas parse");
    assert!(deepest >= 30, "only {deepest} levels accepted");
    let text = nested(deepest);
    on_small_stack(move || {
        let schema = AvroSchema::parse(&text, &[], true).expect("parses");
        assert_eq!(schema.canonical(), text);
        assert!(check(&schema, &schema).is_empty());
    });
}

/// A union of `n` records, `R0`..: with `extra` a field more in each.
fn wide_union(n: usize, extra: bool) -> String {
    let branches: Vec<String> = (0..n)
        .map(|i| {
            let more = if extra {
                r#",{"name":"b","type":"int","default":0}"#
            } else {
                ""
            };
            format!(
                r#"{{"type":"record","name":"R{i}","fields":[{{"name":"a","type":"long"}}{more}]}}"#
            )
        })
        .collect();
    format!("[\"null\",\"string\",{}]", branches.join(","))
}

/// Union against union matches branches by kind and name, as Avro's resolution does, so the work
/// grows with the size of the schemas, not with its square: 4,000 branches (a request of about
/// 160 KB) used to compare sixteen million pairs and keep each in memory.
#[test]
fn wide_unions_compare_in_linear_work() {
    let n = 4_000;
    let (writer, reader) = (parse(&wide_union(n, false)), parse(&wide_union(n, true)));
    let (found, steps) = check_counting(&reader, &writer);
    assert!(found.is_empty(), "{found:?}");
    assert!(
        steps < 10 * n,
        "{steps} type pairs compared for {n} branches"
    );
    // Nothing in common: every branch missing, still linear.
    let other: String = wide_union(n, false).replace("\"R", "\"S");
    let (found, steps) = check_counting(&reader, &parse(&other));
    assert_eq!(found.len(), n.min(1000));
    assert!(
        steps < 10 * n,
        "{steps} type pairs compared for {n} branches"
    );
    // Promotions still find their branch: an int is read by the long branch of the reader.
    assert!(compatible(r#"["null","long"]"#, r#"["int","null"]"#));
    assert!(!compatible(r#"["null","int"]"#, r#"["long","null"]"#));
}
