//! The five-transform chain of `bench/spooldir.py` on its own: nanoseconds per record for the
//! chain and for each transform alone, on records shaped like the benchmark's CSV rows. Shows
//! what the chain itself costs, without the connector, the converter or the producer.
//!
//!     cargo run --release --example transform_chain [records [only the runs named so]]
//!     bash bench/transforms.sh     the same, its figures into the table of bench/all.sh

use std::sync::Arc;
use std::time::Instant;

use sluice_connect_api::{
    Props, Schema, SchemaBuilder, SchemaRef, SourceMap, SourceOffset, SourceRecord, Struct, Value,
};
use sluice_runtime::transforms::TransformChain;

// The allocator the sluice binary runs with, so allocation costs what it costs there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CHAIN: &[(&str, &str)] = &[
    (
        "insert.type",
        "org.apache.kafka.connect.transforms.InsertField$Value",
    ),
    ("insert.topic.field", "source_topic"),
    (
        "replace.type",
        "org.apache.kafka.connect.transforms.ReplaceField$Value",
    ),
    ("replace.exclude", "note"),
    ("replace.renames", "sensor:sensor_id"),
    (
        "cast.type",
        "org.apache.kafka.connect.transforms.Cast$Value",
    ),
    ("cast.spec", "value:float32,ok:int8"),
    (
        "timestamp.type",
        "org.apache.kafka.connect.transforms.TimestampConverter$Value",
    ),
    ("timestamp.field", "at"),
    ("timestamp.target.type", "string"),
    ("timestamp.format", "yyyy-MM-dd'T'HH:mm:ss.SSSZ"),
    (
        "route.type",
        "org.apache.kafka.connect.transforms.RegexRouter",
    ),
    ("route.regex", "(.*)"),
    ("route.replacement", "$1-routed"),
];

fn chain(aliases: &[&str]) -> TransformChain<SourceRecord> {
    let mut props = Props::new();
    props.insert("transforms".into(), aliases.join(","));
    for (key, value) in CHAIN {
        if aliases.iter().any(|a| key.starts_with(&format!("{a}."))) {
            props.insert(format!("transforms.{key}"), value.to_string());
        }
    }
    match TransformChain::from_config(&props) {
        Ok(chain) => chain,
        Err(e) => panic!("the benchmark's chain is refused: {e}"),
    }
}

fn schema() -> SchemaRef {
    let fields: [(&str, SchemaRef); 6] = [
        ("id", Schema::int64()),
        ("sensor", Schema::string()),
        ("value", Schema::float64()),
        ("ok", Schema::boolean()),
        ("at", Schema::timestamp()),
        ("note", Schema::optional_string()),
    ];
    let mut builder = SchemaBuilder::struct_().name("com.example.Reading");
    for (name, field) in fields {
        builder = builder.field(name, field).expect("distinct field names");
    }
    builder.build()
}

/// The records a spooldir CSV task polls: one shared source partition and schema, a topic
/// string and a struct of six fields each.
fn records(schema: &SchemaRef, first: usize, count: usize) -> Vec<SourceRecord> {
    let partition: Arc<SourceMap> = Arc::new(SourceMap::new());
    (first..first + count)
        .map(|i| {
            let values = vec![
                Value::Int64(i as i64),
                Value::String(format!("sensor-{:03}", i % 100)),
                Value::Float64(i as f64 * 0.25),
                Value::Boolean(i % 2 == 1),
                Value::Timestamp(1_704_067_200_000),
                Value::String("n".repeat(40)),
            ];
            let value = Struct::from_values(schema.clone(), values).expect("values fit the schema");
            SourceRecord::new(
                Arc::clone(&partition),
                SourceOffset::at(Arc::clone(&partition), "line", i as i64),
                "rows",
                Some(schema.clone()),
                Value::Struct(value),
            )
        })
        .collect()
}

/// Records per poll of a spooldir task (its `batch.size` default).
const BATCH: usize = 1000;

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let schema = schema();
    let runs: [(&str, &[&str]); 7] = [
        ("none (the records dropped)", &[]),
        (
            "five transforms",
            &["insert", "replace", "cast", "timestamp", "route"],
        ),
        ("InsertField$Value", &["insert"]),
        ("ReplaceField$Value", &["replace"]),
        ("Cast$Value", &["cast"]),
        ("TimestampConverter$Value", &["timestamp"]),
        ("RegexRouter", &["route"]),
    ];
    let only = std::env::args().nth(2).unwrap_or_default();
    println!("| chain | ns per record |\n|---|---:|");
    for (name, aliases) in runs.into_iter().filter(|(name, _)| name.contains(&only)) {
        let mut chain = chain(aliases);
        let mut best = f64::MAX;
        for _ in 0..3 {
            // Batches the size a spooldir task polls, so the records are in cache as they are
            // in the pipeline; only the chain (and dropping its output) is timed.
            let mut timed = std::time::Duration::ZERO;
            let mut kept = 0usize;
            for batch in 0..count / BATCH {
                let input = records(&schema, batch * BATCH, BATCH);
                let start = Instant::now();
                for record in input {
                    if let Ok(Some(out)) = chain.apply(record) {
                        kept += 1;
                        drop(out);
                    }
                }
                timed += start.elapsed();
            }
            assert_eq!(
                kept,
                count / BATCH * BATCH,
                "every record comes through the chain"
            );
            best = best.min(timed.as_nanos() as f64 / kept as f64);
        }
        println!("| {name} | {best:.0} |");
    }
}
