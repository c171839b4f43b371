//! The ceiling for spooldir's line-delimited throughput: a plain rdkafka producer, configured as
//! the worker's source producer (acks=all, idempotence, librdkafka's other defaults), sending the
//! lines of the given files with the headers spooldir adds to each (`file.name`, ...,
//! `file.offset`), as the worker's SimpleHeaderConverter writes them, to one partition. No
//! connector, no converter, no offsets.
//!
//!     cargo run --release --example producer_ceiling -- <bootstrap> <topic> <file>...
//!
//! Prints `<records> <seconds>`: from the first send until every record is acknowledged.

use std::io::BufRead;
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use std::sync::atomic::{AtomicU64, Ordering};

use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext};

// The allocator the sluice binary uses (librdkafka's allocations included), so the comparison is
// of the pipeline, not of malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, topic, files @ ..] = args.as_slice() else {
        return Err("usage: producer_ceiling <bootstrap> <topic> <file>...".into());
    };
    let producer: ThreadedProducer<Failures> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create_with_context(Failures::default())?;
    let start = Instant::now();
    let mut count = 0u64;
    for path in files {
        let path = std::path::Path::new(path);
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
        let shared = [
            ("file.name", name.clone()),
            ("file.name.without.extension", stem),
            ("file.path", path.display().to_string()),
            ("file.parent.dir.name", parent),
            ("file.length", meta.len().to_string()),
            ("file.last.modified", "2026-01-01T00:00:00.000Z".to_string()),
            ("file.relative.path", name),
        ];
        let reader = std::io::BufReader::with_capacity(131_072, std::fs::File::open(path)?);
        for (n, line) in reader.split(b'\n').enumerate() {
            let line = line?;
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
            let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
                .partition(0)
                .payload(line.as_slice())
                .headers(headers);
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
    println!("{count} {:.3}", start.elapsed().as_secs_f64());
    Ok(())
}
