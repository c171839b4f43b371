//! The ceiling for the worker's throughput with its Kafka client: a plain rdkafka producer or
//! consumer moving the same lines, configured as the worker's own (the worker's client defaults;
//! a source task's producer settings for the producer, the sink's prefetch for the consumer;
//! librdkafka's other defaults). No connector, no converter, no offsets.
//!
//!     cargo run --release --example client_ceiling -- produce <bootstrap> <topic> <file>...
//!     cargo run --release --example client_ceiling -- produce-spooldir <bootstrap> <topic> <file>...
//!     cargo run --release --example client_ceiling -- consume <bootstrap> <topic> <count> <out-file>
//!
//! `produce` sends each line of the files as a record with no key, as FileStreamSource does;
//! `produce-spooldir` adds the headers spooldir puts on each (`file.name`, ..., `file.offset`), as
//! the worker's SimpleHeaderConverter writes them. Both write to partition 0. `consume` reads
//! `count` records of partition 0 from the beginning and writes each value and a newline to the
//! file, as FileStreamSink does. Prints `<records> <seconds>`: for producers from the first send
//! until every record is acknowledged, after one record to `<topic>-warm-up` (see `warm_up`); for
//! the consumer from subscribing until the file is written.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use sluice_runtime::config::java_client;
use sluice_runtime::worker::sink::SINK_PREFETCH;
use sluice_runtime::worker::source_producer_config;

// The allocator the sluice binary uses (librdkafka's allocations included), so the comparison is
// of the pipeline, not of malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error>;

/// Counts records that failed, so a broken run is not reported as fast.
#[derive(Default)]
struct Failures {
    failed: AtomicU64,
}

impl ClientContext for Failures {}

impl ProducerContext for Failures {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (count, seconds) = match args.as_slice() {
        [mode, bootstrap, topic, files @ ..] if mode == "produce" && !files.is_empty() => {
            produce(bootstrap, topic, files, false)?
        }
        [mode, bootstrap, topic, files @ ..] if mode == "produce-spooldir" && !files.is_empty() => {
            produce(bootstrap, topic, files, true)?
        }
        [mode, bootstrap, topic, count, out] if mode == "consume" => {
            consume(bootstrap, topic, count.parse()?, out)?
        }
        _ => return Err("usage: client_ceiling produce|produce-spooldir <bootstrap> <topic> <file>...\n       client_ceiling consume <bootstrap> <topic> <count> <out-file>".into()),
    };
    println!("{count} {seconds:.3}");
    Ok(())
}

/// The headers spooldir puts on every record of a file, but `file.offset`.
fn spooldir_headers(path: &std::path::Path) -> Result<Vec<(&'static str, String)>, Error> {
    let meta = std::fs::metadata(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .rsplit_once('.')
        .map_or(name.clone(), |(s, _)| s.to_string());
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(vec![
        ("file.name", name.clone()),
        ("file.name.without.extension", stem),
        ("file.path", path.display().to_string()),
        ("file.parent.dir.name", parent),
        ("file.length", meta.len().to_string()),
        ("file.last.modified", "2026-01-01T00:00:00.000Z".to_string()),
        ("file.relative.path", name),
    ])
}

fn produce(
    bootstrap: &str,
    topic: &str,
    files: &[String],
    with_headers: bool,
) -> Result<(u64, f64), Error> {
    let (mut config, _) = source_producer_config(&java_client());
    let producer: ThreadedProducer<Failures> = config
        .set("bootstrap.servers", bootstrap)
        .create_with_context(Failures::default())?;
    warm_up(&producer, topic)?;
    let start = Instant::now();
    let mut count = 0u64;
    for path in files {
        let path = std::path::Path::new(path);
        let shared = if with_headers {
            spooldir_headers(path)?
        } else {
            Vec::new()
        };
        let reader = std::io::BufReader::with_capacity(131_072, std::fs::File::open(path)?);
        for (n, line) in reader.split(b'\n').enumerate() {
            let line = line?;
            let mut record: BaseRecord<'_, [u8], [u8]> =
                BaseRecord::to(topic).partition(0).payload(line.as_slice());
            if with_headers {
                let offset = (n + 1).to_string();
                let headers = shared
                    .iter()
                    .fold(OwnedHeaders::new_with_capacity(8), |h, (k, v)| {
                        h.insert(Header {
                            key: k,
                            value: Some(v.as_bytes()),
                        })
                    })
                    .insert(Header {
                        key: "file.offset",
                        value: Some(offset.as_bytes()),
                    });
                record = record.headers(headers);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    Err((e, _)) => return Err(e.into()),
                }
            }
            count += 1;
        }
    }
    producer.flush(Duration::from_secs(300))?;
    if producer.in_flight_count() > 0 {
        return Err("records left unacknowledged".into());
    }
    let failed = producer.context().failed.load(Ordering::Relaxed);
    if failed > 0 {
        return Err(format!("{failed} records failed").into());
    }
    Ok((count, start.elapsed().as_secs_f64()))
}

/// Sends one record to a topic of its own and waits for it, so the timed run starts with a
/// connected producer that holds its producer id, as a connector's producer does by the time its
/// records flow. librdkafka asks for an idempotent producer's id when a metadata response comes
/// from a broker that is up, or else on a 500 ms timer; the bootstrap connection's answer comes
/// before the broker it names is up, so a producer that starts sending at once waits for that
/// timer with its first records queued.
fn warm_up(producer: &ThreadedProducer<Failures>, topic: &str) -> Result<(), Error> {
    let warm_up_topic = format!("{topic}-warm-up");
    producer
        .send(BaseRecord::<'_, [u8], [u8]>::to(&warm_up_topic).payload(b"warm-up".as_slice()))
        .map_err(|(e, _)| e)?;
    producer.flush(Duration::from_secs(60))?;
    if producer.context().failed.load(Ordering::Relaxed) > 0 {
        return Err("the warm-up record failed".into());
    }
    Ok(())
}

fn consume(bootstrap: &str, topic: &str, count: u64, out: &str) -> Result<(u64, f64), Error> {
    let mut config = java_client();
    // The prefetch the worker's sink consumer uses: with librdkafka's defaults a consumer that
    // drains its queue quickly waits a second for more.
    for (key, value) in SINK_PREFETCH {
        config.set(key, value);
    }
    let consumer: BaseConsumer = config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "client-ceiling")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let start = Instant::now();
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&assignment)?;
    let mut file = std::io::BufWriter::with_capacity(131_072, std::fs::File::create(out)?);
    let deadline = start + Duration::from_secs(300);
    let mut seen = 0u64;
    while seen < count {
        if Instant::now() > deadline {
            return Err(format!("consumed {seen} of {count} records in 300 s").into());
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message?;
        file.write_all(message.payload().unwrap_or_default())?;
        file.write_all(b"\n")?;
        seen += 1;
    }
    file.flush()?;
    Ok((seen, start.elapsed().as_secs_f64()))
}
