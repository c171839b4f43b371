//! A partition as the request handlers see it: its log behind a lock, and the durability
//! bookkeeping that lets acks=all producers wait for an fsync shared with everyone else's.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, watch};

use crate::log::compaction::{self, CompactionPolicy};
use crate::log::PartitionLog;

/// How far the log is known to be on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Durability {
    /// Every offset below this has been fsynced.
    synced_to: i64,
    /// The log end the last failed fsync tried to cover, or -1.
    failed_to: i64,
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
}

/// Queue of partitions that want an fsync; drained by [`run_flusher`].
pub type FlushQueue = mpsc::UnboundedSender<Arc<Partition>>;

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
            }),
            flush_queued: AtomicBool::new(false),
            unflushed_messages: AtomicU64::new(0),
            last_flush_ms: AtomicI64::new(crate::log::segment::now_ms()),
        }
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

/// Drains the flush queue: each round takes every partition queued so far and fsyncs them
/// together, so concurrent producers share fsyncs (group commit).
pub async fn run_flusher(mut rx: mpsc::UnboundedReceiver<Arc<Partition>>) {
    while let Some(first) = rx.recv().await {
        let mut round = vec![first];
        while let Ok(more) = rx.try_recv() {
            round.push(more);
        }
        let targets: Vec<_> = round
            .into_iter()
            .map(|p| {
                p.flush_queued.store(false, Ordering::Release);
                p.unflushed_messages.store(0, Ordering::Relaxed);
                let (file, end) = p.log().sync_target();
                (p, file, end)
            })
            .collect();
        let synced = tokio::task::spawn_blocking(move || {
            targets
                .into_iter()
                .map(|(p, file, end)| {
                    let result = file.sync_data();
                    (p, end, result)
                })
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(synced) = synced else {
            tracing::error!("flush task failed");
            continue;
        };
        for (p, end, result) in synced {
            match result {
                Ok(()) => {
                    p.last_flush_ms
                        .store(crate::log::segment::now_ms(), Ordering::Relaxed);
                    p.durable
                        .send_modify(|d| d.synced_to = d.synced_to.max(end));
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
