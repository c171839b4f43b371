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
    flush_queued: AtomicBool,
    unflushed_messages: AtomicU64,
    /// Wall-clock time of the last fsync, for `flush.ms`.
    last_flush_ms: AtomicI64,
    /// The recovery point last written to disk.
    checkpointed: Mutex<Option<RecoveryPoint>>,
}

/// Queue of partitions that want an fsync; drained by the thread [`start_flusher`] starts.
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

    /// Asks the flusher for an fsync, unless one is already queued.
    pub fn request_flush(self: &Arc<Self>, queue: &FlushQueue) {
        if !self.flush_queued.swap(true, Ordering::AcqRel) {
            // The flusher only stops at shutdown, when nothing waits for it any more.
            let _ = queue.send(Arc::clone(self));
        }
    }

    /// Waits until every offset below `end` is on disk.
    pub async fn wait_durable(
        self: &Arc<Self>,
        end: i64,
        queue: &FlushQueue,
    ) -> Result<(), FlushFailed> {
        let mut rx = self.durable.subscribe();
        if rx.borrow().synced_to >= end {
            return Ok(());
        }
        self.request_flush(queue);
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

/// Starts the flusher: a thread of its own, so an fsync round costs one wake-up of it and one of
/// each waiting producer, with no hop through the runtime's blocking pool. It stops once every
/// sender of the returned queue is gone.
pub fn start_flusher() -> std::io::Result<FlushQueue> {
    let (queue, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("broker-flusher".into())
        .spawn(move || run_flusher(rx))?;
    Ok(queue)
}

/// Drains the flush queue: each round takes every partition queued so far and fsyncs them
/// together, so concurrent producers share fsyncs (group commit). A partition's waiters are
/// released as soon as its own fsync returns.
fn run_flusher(rx: mpsc::Receiver<Arc<Partition>>) {
    while let Ok(first) = rx.recv() {
        let targets: Vec<_> = std::iter::once(first)
            .chain(rx.try_iter())
            .map(|p| {
                p.flush_queued.store(false, Ordering::Release);
                p.unflushed_messages.store(0, Ordering::Relaxed);
                let target = p.log().sync_target();
                (p, target)
            })
            .collect();
        for (p, SyncTarget { file, end, point }) in targets {
            match file.sync_data() {
                Ok(()) => {
                    p.last_flush_ms
                        .store(crate::log::segment::now_ms(), Ordering::Relaxed);
                    p.durable.send_modify(|d| {
                        d.synced_to = d.synced_to.max(end);
                        d.point = Some(point);
                    });
                }
                Err(error) => {
                    tracing::error!(topic = %p.topic, partition = p.index, %error, "fsync failed");
                    p.durable
                        .send_modify(|d| d.failed_to = d.failed_to.max(end));
                }
            }
        }
    }
}
