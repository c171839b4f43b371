//! Where a source record with neither key nor partition goes. librdkafka's sticky partitioner
//! reads the clock and checks the partition for every such record, which costs a large share
//! of a fast source's time; the sending half instead keeps one partition per polled batch, as
//! Kafka's sticky partitioner keeps one per producer batch. The partition count comes from
//! topic metadata, fetched in the background and refreshed as often as a producer refreshes
//! its own. Until a topic's count is known, its records are left to librdkafka.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::Producer;

use super::deliveries::TrackedProducer;

/// As librdkafka's `topic.metadata.refresh.interval.ms` and Kafka's `metadata.max.age.ms`.
const REFRESH: Duration = Duration::from_secs(300);
/// While a topic is being created its metadata is asked for again this often, as librdkafka's
/// `topic.metadata.refresh.fast.interval.ms` does, so batches soon stay together.
const RETRY: Duration = Duration::from_millis(100);
/// How long one fetch keeps asking before it gives up until the next batch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What a background fetch left in its slot.
const PENDING: i32 = -1;
const FAILED: i32 = 0;

struct Topic {
    /// The partition count, once known.
    partitions: Option<i32>,
    /// The partition of this batch's keyless records.
    sticky: i32,
    /// A fetch under way: PENDING until it ends.
    fetch: Option<Arc<AtomicI32>>,
    next_fetch: Instant,
}

pub struct KeylessPartitions {
    producer: Arc<TrackedProducer>,
    topics: HashMap<String, Topic>,
    random: RandomState,
    /// The topic last asked about in this batch and its partition (None: not asked yet):
    /// records of a batch nearly always go to one topic, which then costs a comparison rather
    /// than a hash lookup.
    last_topic: String,
    last_partition: Option<i32>,
}

impl KeylessPartitions {
    pub fn new(producer: Arc<TrackedProducer>) -> Self {
        Self {
            producer,
            topics: HashMap::new(),
            random: RandomState::new(),
            last_topic: String::new(),
            last_partition: None,
        }
    }

    /// The partition for a keyless record of `topic` in the current batch, or None to let
    /// librdkafka choose (the count is not known yet).
    pub fn partition(&mut self, topic: &str) -> Option<i32> {
        if self.last_partition.is_some() && self.last_topic == topic {
            return self.last_partition;
        }
        if let Some(t) = self.topics.get(topic) {
            let sticky = t.partitions.map(|_| t.sticky)?;
            self.last_topic.clear();
            self.last_topic.push_str(topic);
            self.last_partition = Some(sticky);
            return Some(sticky);
        }
        let mut entry = Topic {
            partitions: None,
            sticky: 0,
            fetch: None,
            next_fetch: Instant::now(),
        };
        start_fetch(&self.producer, topic, &mut entry);
        self.topics.insert(topic.to_string(), entry);
        None
    }

    /// A new batch begins: keyless records move on to the next partition, finished fetches
    /// take effect and due ones start. The clock is read here, once per batch.
    pub fn next_batch(&mut self) {
        if self.topics.is_empty() {
            return;
        }
        self.last_partition = None;
        let now = Instant::now();
        for (name, topic) in &mut self.topics {
            if let Some(fetch) = &topic.fetch {
                match fetch.load(Ordering::Acquire) {
                    PENDING => {}
                    FAILED => {
                        topic.fetch = None;
                        topic.next_fetch = now + RETRY;
                    }
                    partitions => {
                        topic.fetch = None;
                        topic.next_fetch = now + REFRESH;
                        if topic.partitions.is_none() {
                            // A random start, so tasks writing to one topic do not move in step.
                            let start = self.random.hash_one(name) % partitions as u64;
                            topic.sticky = start as i32;
                        }
                        topic.partitions = Some(partitions);
                    }
                }
            } else if now >= topic.next_fetch {
                start_fetch(&self.producer, name, topic);
            }
            if let Some(partitions) = topic.partitions {
                topic.sticky = (topic.sticky + 1) % partitions.max(1);
            }
        }
    }
}

/// Fetches `name`'s partition count on the blocking pool; a known count keeps serving
/// meanwhile.
fn start_fetch(producer: &Arc<TrackedProducer>, name: &str, topic: &mut Topic) {
    let slot = Arc::new(AtomicI32::new(PENDING));
    topic.fetch = Some(Arc::clone(&slot));
    let producer = Arc::clone(producer);
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + FETCH_TIMEOUT;
        let count = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match partition_count(&producer, &name, left) {
                Some(count) => break count,
                None if left > RETRY => std::thread::sleep(RETRY),
                None => break FAILED,
            }
        };
        slot.store(count, Ordering::Release);
    });
}

/// The topic's partition count, None while it has none (not created yet, say).
fn partition_count(producer: &TrackedProducer, topic: &str, timeout: Duration) -> Option<i32> {
    let metadata = producer
        .client()
        .fetch_metadata(Some(topic), timeout)
        .ok()?;
    let found = metadata.topics().iter().find(|t| t.name() == topic)?;
    if found.error().is_some() {
        return None;
    }
    i32::try_from(found.partitions().len())
        .ok()
        .filter(|n| *n > 0)
}
