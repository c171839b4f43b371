//! Failures that must lose nothing already accepted: a SIGKILL in the middle of a produce stream
//! (with a torn tail on disk), and a disk that fills up.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{consume, payloads, ChildBroker, WAIT};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message, Offset};

#[derive(Default)]
struct Acks {
    acked: Mutex<Vec<String>>,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Ok(message) = result {
            let payload =
                String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
            self.acked.lock().expect("lock").push(payload);
        }
    }
}

#[test]
fn kill_9_mid_produce_keeps_every_acknowledged_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recovery = kill_9_mid_produce(dir.path(), &[]);
    assert!(
        recovery.contains("trusted_bytes=0 "),
        "without a recovery point the whole active segment is checked: {recovery}"
    );
}

/// The same crash with the recovery point written every 50 ms: the restart trusts the fsynced
/// start of the active segment and CRC-checks only the rest, and still loses nothing.
#[test]
fn kill_9_after_a_recovery_point_keeps_every_acknowledged_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recovery = kill_9_mid_produce(dir.path(), &["log.flush.offset.checkpoint.interval.ms=50"]);
    assert!(
        !recovery.contains("trusted_bytes=0 "),
        "the fsynced start of the segment is trusted: {recovery}"
    );
    let point = std::fs::read_to_string(recovery_point_file(dir.path())).expect("recovery point");
    assert!(
        point.trim().starts_with("0 ") && point.trim() != "0 0",
        "a recovery point inside the first segment: {point:?}"
    );
}

/// The broker's report of how it read the active segment of `crash-0` back after the crash.
fn crash_recovery_line(broker: &ChildBroker) -> String {
    let log = broker.log.lock().expect("lock");
    log.iter()
        .find(|l| l.contains("segment recovered") && l.contains("crash-0"))
        .cloned()
        .unwrap_or_else(|| panic!("no recovery of crash-0 in {log:?}"))
}

fn recovery_point_file(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("crash-0").join("recovery-point.checkpoint")
}

/// Produces at acks=all, kills the broker with SIGKILL after 5,000 acknowledgements, tears the
/// log's tail, restarts it, and checks that every acknowledged record is stored once. Returns the
/// restarted broker's report of how it read the partition back.
fn kill_9_mid_produce(dir: &std::path::Path, overrides: &[&str]) -> String {
    let broker = ChildBroker::spawn_with(dir, overrides);
    let producer: ThreadedProducer<Acks> = common::client(&broker.bootstrap)
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "3000")
        .set("retries", "0")
        .create_with_context(Acks::default())
        .expect("producer");
    let deadline = Instant::now() + WAIT;
    let mut sent = 0u64;
    let mut killed_at = None;
    let mut broker = Some(broker);
    while Instant::now() < deadline {
        let payload = format!("record-{sent:08}");
        if producer
            .send(BaseRecord::<(), _>::to("crash").payload(&payload))
            .is_ok()
        {
            sent += 1;
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
        let acked = producer.context().acked.lock().expect("lock").len();
        // With a recovery point configured, the crash comes after one has been written.
        let point_written = overrides.is_empty() || recovery_point_file(dir).exists();
        if killed_at.is_none() && acked >= 5000 && point_written {
            broker.take().expect("running").kill();
            killed_at = Some(sent);
        }
        if killed_at.is_some_and(|k| sent >= k + 2000) {
            break;
        }
    }
    assert!(
        killed_at.is_some(),
        "the broker was never killed: only {sent} sent"
    );
    let _ = producer.flush(Duration::from_secs(5));
    let acked: Vec<String> = producer.context().acked.lock().expect("lock").clone();
    drop(producer);

    // Simulate a write torn by the crash: half a batch header at the end of the log.
    let log = std::fs::read_dir(dir.join("crash-0"))
        .expect("partition dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max()
        .expect("segment");
    OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open")
        .write_all(&[0u8; 30])
        .expect("write");

    let broker = ChildBroker::spawn_with(dir, overrides);
    assert!(
        broker.log_contains("clean_shutdown=false"),
        "{:?}",
        broker.log.lock().expect("lock")
    );
    assert!(
        broker.log_contains("cut off a torn or corrupt tail"),
        "{:?}",
        broker.log.lock().expect("lock")
    );
    let (_, end) = {
        let consumer: BaseConsumer = common::client(&broker.bootstrap)
            .create()
            .expect("consumer");
        consumer
            .fetch_watermarks("crash", 0, WAIT)
            .expect("watermarks")
    };
    let stored = payloads(&consume(
        &broker.bootstrap,
        "crash",
        1,
        Offset::Beginning,
        end as usize,
    ));
    let stored_set: std::collections::HashSet<&String> = stored.iter().collect();
    let lost: Vec<&String> = acked.iter().filter(|a| !stored_set.contains(a)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged records lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    assert!(acked.len() >= 5000);
    // With retries off, nothing may be stored twice.
    let mut sorted = stored.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), stored.len(), "no record is stored twice");
    crash_recovery_line(&broker)
}

#[test]
fn a_full_disk_refuses_writes_cleanly_and_keeps_what_was_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Segment files may not grow beyond 1 MiB.
    let broker = ChildBroker::spawn_with_file_limit(dir.path(), 1024);
    let producer: ThreadedProducer<Acks> = common::client(&broker.bootstrap)
        .set("acks", "all")
        .set("linger.ms", "0")
        .set("message.timeout.ms", "2000")
        .set("retries", "0")
        .create_with_context(Acks::default())
        .expect("producer");
    let value = vec![b'v'; 10_000];
    for i in 0..200u32 {
        // 200 x 10 KB is about 2 MiB: the second half cannot fit.
        let payload = format!("{i:05}{}", String::from_utf8_lossy(&value));
        producer
            .send(BaseRecord::<(), _>::to("full").payload(&payload))
            .expect("enqueue");
        let _ = producer.flush(Duration::from_secs(5));
    }
    let acked: Vec<String> = producer.context().acked.lock().expect("lock").clone();
    drop(producer);
    assert!(
        acked.len() > 50,
        "only {} acknowledged before the disk filled",
        acked.len()
    );
    assert!(
        acked.len() < 200,
        "every write succeeded: the limit did not bite"
    );
    assert!(
        broker.log_contains("append failed"),
        "{:?}",
        broker.log.lock().expect("lock")
    );
    // The broker still answers.
    let consumer: BaseConsumer = common::client(&broker.bootstrap)
        .create()
        .expect("consumer");
    let (_, end) = consumer
        .fetch_watermarks("full", 0, WAIT)
        .expect("watermarks");
    assert_eq!(
        end as usize,
        acked.len(),
        "the log holds exactly what was acknowledged"
    );
    drop(consumer);
    broker.kill();

    // With room again, nothing needs repair and everything acknowledged is there.
    let broker = ChildBroker::spawn(dir.path());
    assert!(
        !broker.log_contains("cut off a torn or corrupt tail"),
        "a failed write left a partial batch"
    );
    let stored = payloads(&consume(
        &broker.bootstrap,
        "full",
        1,
        Offset::Beginning,
        acked.len(),
    ));
    assert_eq!(stored, acked);
}
