//! `sluice produce`: like kafka-console-producer. One record per line of stdin.

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use super::{client_config, DEFAULT_BOOTSTRAP};

#[derive(Debug, Args)]
pub struct ProduceArgs {
    #[arg(long, default_value = DEFAULT_BOOTSTRAP)]
    bootstrap_server: String,
    #[arg(long)]
    topic: String,
    /// Split each line into key and value at the first occurrence of this separator.
    #[arg(long)]
    key_separator: Option<String>,
    /// none, gzip, snappy, lz4 or zstd.
    #[arg(
        long = "compression-codec",
        alias = "compression-type",
        default_value = "none"
    )]
    compression: String,
    /// 0, 1 or all (-1).
    #[arg(long = "request-required-acks", alias = "acks", default_value = "all")]
    acks: String,
    /// Send every record to this partition.
    #[arg(long)]
    partition: Option<i32>,
    /// Extra producer settings, key=value; repeatable.
    #[arg(long = "producer-property")]
    producer_property: Vec<String>,
}

/// Counts failed deliveries and reports the first few.
#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            if self.failed.fetch_add(1, Ordering::Relaxed) < 10 {
                eprintln!("delivery failed: {error}");
            }
        }
    }
}

pub fn run(args: ProduceArgs) -> Result<()> {
    if !["none", "gzip", "snappy", "lz4", "zstd"].contains(&args.compression.as_str()) {
        bail!(
            "--compression-codec '{}': expected none, gzip, snappy, lz4 or zstd",
            args.compression
        );
    }
    let mut config = client_config(&args.bootstrap_server, &[], "")?;
    config
        .set("compression.codec", &args.compression)
        .set("acks", &args.acks)
        .set("linger.ms", "5");
    for (k, v) in
        crate::properties::parse_overrides(&args.producer_property, "--producer-property")?
    {
        config.set(k, v);
    }
    let producer: ThreadedProducer<Deliveries> = config
        .create_with_context(Deliveries::default())
        .context("creating the producer")?;
    let stdin = std::io::stdin();
    let mut sent = 0u64;
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin")?;
        let (key, value) = match &args.key_separator {
            Some(sep) => match line.split_once(sep.as_str()) {
                Some((k, v)) => (Some(k.to_string()), v.to_string()),
                None => bail!("line {} has no key separator '{sep}': {line}", sent + 1),
            },
            None => (None, line),
        };
        let mut record: BaseRecord<'_, String, String> =
            BaseRecord::to(&args.topic).payload(&value);
        if let Some(key) = &key {
            record = record.key(key);
        }
        if let Some(p) = args.partition {
            record = record.partition(p);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => bail!("could not send record {}: {e}", sent + 1),
            }
        }
        sent += 1;
    }
    producer
        .flush(Duration::from_secs(60))
        .context("flushing the producer")?;
    let failed = producer.context().failed.load(Ordering::Relaxed);
    if failed > 0 {
        bail!("{failed} of {sent} records were not delivered");
    }
    Ok(())
}
