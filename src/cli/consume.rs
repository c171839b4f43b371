//! `sluice consume`: like kafka-console-consumer, reading assigned partitions directly.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, Timestamp, TopicPartitionList};

use super::{client_config, DEFAULT_BOOTSTRAP, TIMEOUT};

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    #[arg(long, default_value = DEFAULT_BOOTSTRAP)]
    bootstrap_server: String,
    #[arg(long)]
    topic: String,
    /// Start at the earliest offset instead of the end.
    #[arg(long)]
    from_beginning: bool,
    /// Read only this partition.
    #[arg(long)]
    partition: Option<i32>,
    /// Start offset: a number, `earliest` or `latest` (needs --partition).
    #[arg(long)]
    offset: Option<String>,
    /// Stop after this many messages.
    #[arg(long)]
    max_messages: Option<u64>,
    /// Stop when no message arrives for this long.
    #[arg(long)]
    timeout_ms: Option<u64>,
    #[arg(long)]
    print_key: bool,
    #[arg(long)]
    print_headers: bool,
    #[arg(long)]
    print_timestamp: bool,
    #[arg(long)]
    print_offset: bool,
    /// Printed between key and value.
    #[arg(long, default_value = "\t")]
    key_separator: String,
    /// Kafka-style formatter properties (print.key=true, key.separator=...); repeatable.
    #[arg(long = "property")]
    property: Vec<String>,
    /// Extra consumer settings, key=value; repeatable.
    #[arg(long = "consumer-property")]
    consumer_property: Vec<String>,
}

/// The topic's partitions, waiting for it to be created as kafka-console-consumer does (a
/// connector or producer often creates it a moment later); `None` if `limit` passed first.
fn partitions_once_created(
    consumer: &BaseConsumer,
    topic: &str,
    limit: Option<Duration>,
) -> Result<Option<Vec<i32>>> {
    let started = Instant::now();
    let mut said = false;
    loop {
        let metadata = consumer
            .fetch_metadata(Some(topic), TIMEOUT)
            .context("fetching metadata")?;
        let found = metadata
            .topics()
            .first()
            .context("no metadata for the topic")?;
        match found.error().map(rdkafka::types::RDKafkaErrorCode::from) {
            None => return Ok(Some(found.partitions().iter().map(|p| p.id()).collect())),
            Some(rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition) => {
                if !said {
                    eprintln!("topic {topic} does not exist yet; waiting for it");
                    said = true;
                }
            }
            Some(error) => bail!("topic {topic}: {error}"),
        }
        if limit.is_some_and(|limit| started.elapsed() >= limit) {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn run(mut args: ConsumeArgs) -> Result<()> {
    for (k, v) in crate::properties::parse_overrides(&args.property, "--property")? {
        let on = v.eq_ignore_ascii_case("true");
        match k.as_str() {
            "print.key" => args.print_key = on,
            "print.headers" => args.print_headers = on,
            "print.timestamp" => args.print_timestamp = on,
            "print.offset" => args.print_offset = on,
            "key.separator" => args.key_separator = v,
            other => bail!("unknown --property '{other}'"),
        }
    }
    let start = match (&args.offset, args.partition) {
        (Some(_), None) => bail!("--offset needs --partition"),
        (Some(o), Some(_)) => match o.as_str() {
            "earliest" => Offset::Beginning,
            "latest" => Offset::End,
            n => Offset::Offset(
                n.parse()
                    .with_context(|| format!("--offset '{n}' is not a number"))?,
            ),
        },
        (None, _) if args.from_beginning => Offset::Beginning,
        (None, _) => Offset::End,
    };
    let mut config = client_config(
        &args.bootstrap_server,
        &args.consumer_property,
        "--consumer-property",
    )?;
    config
        .set("enable.auto.commit", "false")
        .set("group.id", "sluice-console-consumer");
    let consumer: BaseConsumer = config.create().context("creating the consumer")?;
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let partitions = match args.partition {
        Some(p) => vec![p],
        None => match partitions_once_created(&consumer, &args.topic, idle_limit)? {
            Some(partitions) => partitions,
            // Like kafka-console-consumer: the timeout passed with nothing to read.
            None => return Ok(()),
        },
    };
    let mut assignment = TopicPartitionList::new();
    for p in partitions {
        assignment.add_partition_offset(&args.topic, p, start)?;
    }
    consumer
        .assign(&assignment)
        .context("assigning partitions")?;

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut last = Instant::now();
    let mut count = 0u64;
    while args.max_messages.is_none_or(|max| count < max) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                print_message(&mut out, &args, &message)?;
                count += 1;
                last = Instant::now();
            }
            Some(Err(e)) => {
                if e.rdkafka_error_code()
                    == Some(rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition)
                {
                    bail!("topic {}: {e}", args.topic);
                }
                eprintln!("consume error: {e}");
            }
            None => {
                out.flush()?;
                if idle_limit.is_some_and(|limit| last.elapsed() >= limit) {
                    break;
                }
            }
        }
    }
    out.flush()?;
    eprintln!("Processed a total of {count} messages");
    Ok(())
}

fn print_message(out: &mut impl Write, args: &ConsumeArgs, message: &impl Message) -> Result<()> {
    let sep = args.key_separator.as_bytes();
    if args.print_timestamp {
        match message.timestamp() {
            Timestamp::CreateTime(t) => write!(out, "CreateTime:{t}")?,
            Timestamp::LogAppendTime(t) => write!(out, "LogAppendTime:{t}")?,
            Timestamp::NotAvailable => write!(out, "NO_TIMESTAMP")?,
        }
        out.write_all(sep)?;
    }
    if args.print_offset {
        write!(
            out,
            "Partition:{}{}Offset:{}",
            message.partition(),
            args.key_separator,
            message.offset()
        )?;
        out.write_all(sep)?;
    }
    if args.print_headers {
        match message.headers() {
            Some(headers) if headers.count() > 0 => {
                let rendered: Vec<String> = headers
                    .iter()
                    .map(|h| {
                        format!(
                            "{}:{}",
                            h.key,
                            h.value.map_or("NULL".into(), String::from_utf8_lossy)
                        )
                    })
                    .collect();
                write!(out, "{}", rendered.join(","))?;
            }
            _ => write!(out, "NO_HEADERS")?,
        }
        out.write_all(sep)?;
    }
    if args.print_key {
        out.write_all(message.key().unwrap_or(b"null"))?;
        out.write_all(sep)?;
    }
    out.write_all(message.payload().unwrap_or(b"null"))?;
    out.write_all(b"\n")?;
    Ok(())
}
