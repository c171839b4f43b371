//! A partition as the request handlers see it: its log behind a lock, and the durability
//! bookkeeping that lets acks=all producers wait for an fsync shared with everyone else's.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::log::compaction::{self, CompactionPolicy};
use crate::log::recovery_point::RecoveryPoint;
use crate::log::{PartitionLog, SyncTarget};

/// How far the log is known to be on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Durability {
    /// Every offset below this has been fsynced.
    synced_to: i64,
    /// The log end the last failed fsync tried to cover, or -1.
    failed_to: i64,
    /// Where in the active segment the last successful fsync reached; none before the first.
    point: Option<RecoveryPoint>,
}

impl Durability {
    /// Takes note of an fsync that covered every offset below `end`, up to `point`. Neither
    /// ever moves back.
    fn synced(&mut self, end: i64, point: RecoveryPoint) {
        if end >= self.synced_to {
            self.point = Some(point);
        }
        self.synced_to = self.synced_to.max(end);
    }
}

/// The fsync that would have made a write durable failed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the log could not be flushed to disk")]
pub struct FlushFailed;

#[derive(Debug)]
pub struct Partition {
    pub topic: String,
    pub index: i32,
    log: Mutex<PartitionLog>,
    durable: watch::Sender<Durability>,
    /// Queued for a flusher or being fsynced by one: a partition has one fsync at a time, and
    /// what is appended meanwhile waits for the next, which covers all of it (group commit).
    flush_queued: AtomicBool,
    /// An fsync was asked for since the current one began.
    flush_wanted: AtomicBool,
    unflushed_messages: AtomicU64,
    /// Wall-clock time of the last fsync, for `flush.ms`.
    last_flush_ms: AtomicI64,
    /// The recovery point last written to disk.
    checkpointed: Mutex<Option<RecoveryPoint>>,
}

/// Queue of partitions that want an fsync; drained by the threads [`start_flushers`] starts.
pub type FlushQueue = mpsc::Sender<Arc<Partition>>;

impl Partition {
    pub fn new(topic: &str, index: i32, log: PartitionLog) -> Self {
        let end = log.log_end_offset();
        Self {
            topic: topic.to_string(),
            index,
            log: Mutex::new(log),
            durable: watch::Sender::new(Durability {
                synced_to: end,
                failed_to: -1,
                point: None,
            }),
            flush_queued: AtomicBool::new(false),
            flush_wanted: AtomicBool::new(false),
            unflushed_messages: AtomicU64::new(0),
            last_flush_ms: AtomicI64::new(crate::log::segment::now_ms()),
            checkpointed: Mutex::new(None),
        }
    }

    /// Writes the point the last fsync reached to the partition's recovery-point checkpoint, if
    /// it moved since the last write, so a restart after a crash re-reads only what follows it.
    pub fn checkpoint_recovery_point(&self) -> std::io::Result<()> {
        let Some(point) = self.durable.borrow().point else {
            return Ok(());
        };
        let mut written = self
            .checkpointed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *written != Some(point) {
            let dir = self.log().dir().to_path_buf();
            point.save(&dir)?;
            *written = Some(point);
        }
        Ok(())
    }

    /// Locks the log. A panic elsewhere while holding the lock cannot leave the log half-updated
    /// (appends cut back on failure), so a poisoned lock is still usable.
    pub fn log(&self) -> MutexGuard<'_, PartitionLog> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts appended messages and returns how many are now unflushed.
    pub fn note_appended(&self, messages: u64) -> u64 {
        self.unflushed_messages
            .fetch_add(messages, Ordering::Relaxed)
            + messages
    }

    /// Whether data has waited longer than `flush_ms` for an fsync.
    pub fn flush_overdue(&self, flush_ms: i64, now_ms: i64) -> bool {
        self.unflushed_messages.load(Ordering::Relaxed) > 0
            && now_ms.saturating_sub(self.last_flush_ms.load(Ordering::Relaxed)) >= flush_ms
    }

    /// Asks the flushers for an fsync that starts after this call: queues the partition, or,
    /// when it is queued or being fsynced already, asks for one more round after that.
    pub fn request_flush(self: &Arc<Self>, queue: &FlushQueue) {
        self.flush_wanted.store(true, Ordering::SeqCst);
        if !self.flush_queued.swap(true, Ordering::SeqCst) {
            // The flusher only stops at shutdown, when nothing waits for it any more.
            let _ = queue.send(Arc::clone(self));
        }
    }

    /// Waits until every offset below `end` is on disk, once [`request_flush`](Self::request_flush)
    /// has been called after those offsets were appended. Asking again here would cost another
    /// fsync round whenever a flusher had already begun the one asked for.
    pub async fn wait_durable(&self, end: i64) -> Result<(), FlushFailed> {
        let mut rx = self.durable.subscribe();
        if rx.borrow().synced_to >= end {
            return Ok(());
        }
        let state = rx
            .wait_for(|d| d.synced_to >= end || d.failed_to >= end)
            .await
            .map_err(|_| FlushFailed)?;
        if state.synced_to >= end {
            Ok(())
        } else {
            Err(FlushFailed)
        }
    }
}

impl Partition {
    /// Compacts the partition's sealed segments if they are dirty enough. The rewrite runs
    /// without the lock; only the swap takes it. Returns bytes before and after, if it ran.
    pub fn compact(
        &self,
        policy: &CompactionPolicy,
        now_ms: i64,
    ) -> std::io::Result<Option<(u64, u64)>> {
        let Some(plan) = self.log().clean_plan(policy, now_ms) else {
            return Ok(None);
        };
        let cleaned = compaction::clean(&plan, policy, now_ms)?;
        let before = cleaned.iter().map(|c| c.bytes_before).sum();
        let after = cleaned.iter().map(|c| c.bytes_after).sum();
        self.log().install_cleaned(cleaned, plan.clean_to)?;
        Ok(Some((before, after)))
    }
}

/// Threads that fsync partitions; a producer of several partitions waits for their fsyncs side by
/// side, not one after the other, and on a journaling file system fsyncs under way at once share
/// the journal's commit.
const FLUSH_THREADS: usize = 4;

/// Starts the flushers: threads of their own, so an fsync costs one wake-up of a flusher and one
/// of each waiting producer, with no hop through the runtime's blocking pool. They stop once
/// every sender of the returned queue is gone.
pub fn start_flushers() -> std::io::Result<FlushQueue> {
    let (queue, rx) = mpsc::channel();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..FLUSH_THREADS {
        let rx = Arc::clone(&rx);
        std::thread::Builder::new()
            .name(format!("broker-flusher-{i}"))
            .spawn(move || run_flusher(&rx))?;
    }
    Ok(queue)
}

/// Takes queued partitions one at a time and fsyncs each, again while more is asked for during
/// its fsync. An fsync covers everything appended until it starts, so producers that appended
/// meanwhile share it (group commit); its waiters are released as soon as it returns.
fn run_flusher(rx: &Mutex<mpsc::Receiver<Arc<Partition>>>) {
    loop {
        // Only the receiving is under the lock: the fsync is not.
        let next = rx
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv();
        let Ok(p) = next else { return };
        // SeqCst: a request stores `flush_wanted` then reads `flush_queued`, and a flusher the
        // other way round; at least one of the two must see the other's store.
        loop {
            p.flush_wanted.store(false, Ordering::SeqCst);
            sync(&p);
            p.flush_queued.store(false, Ordering::SeqCst);
            // A request during the fsync saw the partition still queued and sent nothing: this
            // flusher serves it, unless another request has queued the partition anew since.
            if !p.flush_wanted.load(Ordering::SeqCst) || p.flush_queued.swap(true, Ordering::SeqCst)
            {
                break;
            }
        }
    }
}

/// Fsyncs the partition's active segment as it stands and tells its waiters how far that went.
fn sync(p: &Partition) {
    p.unflushed_messages.store(0, Ordering::Relaxed);
    let SyncTarget { file, end, point } = p.log().sync_target();
    match file.sync_data() {
        Ok(()) => {
            p.last_flush_ms
                .store(crate::log::segment::now_ms(), Ordering::Relaxed);
            p.durable.send_modify(|d| d.synced(end, point));
        }
        Err(error) => {
            tracing::error!(topic = %p.topic, partition = p.index, %error, "fsync failed");
            p.durable
                .send_modify(|d| d.failed_to = d.failed_to.max(end));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::test_support::batch;
    use crate::log::batch::BatchHeader;
    use crate::log::LogPolicy;

    #[test]
    fn the_recovery_point_never_moves_back() {
        let mut d = Durability {
            synced_to: 0,
            failed_to: -1,
            point: None,
        };
        let near = RecoveryPoint {
            segment_base: 0,
            position: 100,
        };
        let far = RecoveryPoint {
            segment_base: 0,
            position: 900,
        };
        d.synced(9, far);
        d.synced(1, near);
        assert_eq!((d.synced_to, d.point), (9, Some(far)));
        // After a roll the furthest point lies in the new segment.
        let rolled = RecoveryPoint {
            segment_base: 10,
            position: 50,
        };
        d.synced(12, rolled);
        assert_eq!((d.synced_to, d.point), (12, Some(rolled)));
    }

    /// A producer at acks=all on several partitions waits for each of them; every wait ends once
    /// what it appended is on disk, and a reopened log holds all of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn producers_on_many_partitions_are_released_once_each_is_on_disk() {
        let dir = tempfile::tempdir().expect("temp dir");
        let policy = LogPolicy::default();
        let queue = start_flushers().expect("flushers");
        let partitions: Vec<Arc<Partition>> = (0..8)
            .map(|i| {
                let (log, _) =
                    PartitionLog::open(&dir.path().join(format!("t-{i}")), true, &policy)
                        .expect("open");
                Arc::new(Partition::new("t", i, log))
            })
            .collect();
        let mut waits = tokio::task::JoinSet::new();
        for round in 0..50i64 {
            for p in &partitions {
                let b = batch(3, b"value", round);
                let header = BatchHeader::parse(&b).expect("header");
                let end = {
                    let mut log = p.log();
                    log.append(&header, &b, &policy, 0).expect("append");
                    log.log_end_offset()
                };
                p.request_flush(&queue);
                let p = Arc::clone(p);
                waits.spawn(async move {
                    let waited = tokio::time::timeout(
                        std::time::Duration::from_secs(30),
                        p.wait_durable(end),
                    )
                    .await;
                    (end, waited)
                });
            }
        }
        while let Some(joined) = waits.join_next().await {
            let (end, waited) = joined.expect("wait task");
            assert!(
                matches!(waited, Ok(Ok(()))),
                "the wait for offset {end} ended with {waited:?}"
            );
        }
        for p in &partitions {
            assert_eq!(p.durable.borrow().synced_to, 150);
            assert!(p.durable.borrow().point.is_some());
        }
        let dirs: Vec<_> = partitions
            .iter()
            .map(|p| p.log().dir().to_path_buf())
            .collect();
        drop(partitions);
        for dir in dirs {
            let (log, _) = PartitionLog::open(&dir, false, &policy).expect("reopen");
            assert_eq!(log.log_end_offset(), 150);
        }
    }
}
