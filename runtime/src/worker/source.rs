//! One source task's pipeline, in two halves that run at once: this one drives the task (on the
//! task's own thread, see `task_thread`) and polls it, while the sending half (`sending.rs`) converts and produces the previous batch.
//! Records come back from the sending half once acknowledged, for the task's `commit_record`,
//! and the task's `commit` follows each write of their offsets. Nothing acknowledged is lost;
//! after a clean stop nothing is sent twice (batches polled but not yet sent are dropped, and
//! their offsets were never stored).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use sluice_connect_api::{OffsetReader, Props, SourceMap, SourceRecord, SourceTask};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::sending::{PolledBatch, RecordSender, Settled};
use super::task_thread::TaskThread;
use super::{Converters, OffsetStore, Stage, TopicCreation, TopicObserver, WorkerError};
use crate::transforms::TransformChain;

/// Batches polled ahead of the one being sent.
const BATCHES_AHEAD: usize = 2;

/// How a source task is run.
#[derive(Clone)]
pub struct SourceSettings {
    pub connector: String,
    pub task: usize,
    pub offsets_topic: String,
    pub offset_flush_interval: Duration,
    /// Pause between polls that returned nothing.
    pub idle_backoff: Duration,
    pub errors: Arc<super::errors::ErrorHandler>,
    pub topic_creation: Option<TopicCreation>,
    pub topic_observer: Option<TopicObserver>,
    /// Told of what the task wants shown in its status (see `SourceTask::take_status_note`).
    pub status_observer: Option<StatusObserver>,
}

/// Receives a running task's status notes.
pub type StatusObserver = Arc<dyn Fn(String) + Send + Sync>;

pub struct SourceRunner {
    settings: SourceSettings,
    task: TaskThread<Box<dyn SourceTask>>,
    transforms: TransformChain<SourceRecord>,
    start: Option<(Props, Arc<dyn OffsetReader>)>,
    sender: RecordSender,
    settled: mpsc::UnboundedReceiver<Settled>,
}

impl SourceRunner {
    /// A runner for `task`, which is moved onto a thread of its own and started there with
    /// `props` when the runner runs.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: SourceSettings,
        task: Box<dyn SourceTask>,
        props: Props,
        offsets_reader: Arc<dyn OffsetReader>,
        converters: Converters,
        transforms: TransformChain<SourceRecord>,
        client: &ClientConfig,
        offsets: Arc<OffsetStore>,
    ) -> Result<Self, WorkerError> {
        let (settled_tx, settled) = mpsc::unbounded_channel();
        let task_name = format!("{}-{}", settings.connector, settings.task);
        let task = TaskThread::spawn(&task_name, task)?;
        let sender = RecordSender::new(settings.clone(), settled_tx, converters, client, offsets)?;
        Ok(Self {
            settings,
            task,
            transforms,
            start: Some((props, offsets_reader)),
            sender,
            settled,
        })
    }

    /// Starts the task, polls until `shutdown` (or an error), then lets the sending half settle
    /// what is in flight and store its offsets, and stops the task.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let Self {
            settings,
            task,
            transforms,
            start,
            sender,
            settled,
        } = self;
        if let Some((props, offsets)) = start {
            task.call(move |t, _| t.start(&props, offsets)).await??;
        }
        let mut poller = Poller {
            settings,
            task,
            transforms: (!transforms.is_empty()).then_some(transforms),
            settled,
        };
        let (batches, batches_rx) = mpsc::channel(BATCHES_AHEAD);
        let sending = tokio::spawn(sender.run(batches_rx, shutdown.child_token()));
        // Dropping `batches` tells the sending half that polling is over.
        let polled = poller.poll_loop(&shutdown, batches).await;
        let mut applied = Ok(());
        while let Some(settled) = poller.settled.recv().await {
            if applied.is_ok() {
                applied = poller.apply(settled).await;
            }
        }
        let sent = match sending.await {
            Ok(result) => result,
            Err(e) => Err(WorkerError::Timeout(format!("the sending half ended: {e}"))),
        };
        let stopped = match poller.task.call(|t, _| t.stop()).await {
            Ok(stopped) => stopped.map_err(WorkerError::from),
            Err(e) => Err(e.into()),
        };
        polled.and(sent).and(applied).and(stopped)
    }
}

/// The polling half: drives the task on its thread, and runs the transforms there too.
struct Poller {
    settings: SourceSettings,
    task: TaskThread<Box<dyn SourceTask>>,
    /// The connector's transforms, if it has any; lent to the task's thread for each poll.
    transforms: Option<TransformChain<SourceRecord>>,
    settled: mpsc::UnboundedReceiver<Settled>,
}

impl Poller {
    fn task_name(&self) -> String {
        format!("{}-{}", self.settings.connector, self.settings.task)
    }

    /// Tells the task what the sending half settled: one call on its thread per batch.
    async fn apply(&mut self, settled: Settled) -> Result<(), WorkerError> {
        let applied = match settled {
            Settled::Records(records) => {
                self.task
                    .call(move |t, _| records.iter().try_for_each(|r| t.commit_record(r)))
                    .await?
            }
            Settled::OffsetsWritten => self.task.call(|t, _| t.commit()).await?,
        };
        Ok(applied?)
    }

    /// Polls and hands each batch over (an empty one when the task had nothing), meanwhile
    /// applying what comes back. Returns at `shutdown`, on an error, or when the sending half
    /// is gone. A poll that never returns holds up only the task's own thread: at `shutdown`
    /// this returns without it.
    async fn poll_loop(
        &mut self,
        shutdown: &CancellationToken,
        batches: mpsc::Sender<PolledBatch>,
    ) -> Result<(), WorkerError> {
        loop {
            while let Ok(settled) = self.settled.try_recv() {
                self.apply(settled).await?;
            }
            // The chain runs on the task's thread, which has time while the sending half converts
            // and sends. What is kept of each record as polled, for `commit_record` and for
            // failure reports, is a whole copy only when one of them reads the key and value.
            let reports_data = self.settings.errors.reports_record_data();
            let mut chain = self.transforms.take();
            let polled = self.task.call(move |t, runtime| {
                let records = runtime.block_on(t.poll());
                let whole = reports_data || t.commit_record_reads_data();
                let (records, transformed) = match (records, chain.as_mut()) {
                    (Ok(records), Some(chain)) if whole => {
                        let transformed = records.iter().map(|r| chain.apply(r.clone())).collect();
                        (Ok(records), Some(transformed))
                    }
                    (Ok(records), Some(chain)) => {
                        // One per batch: the sending half frees it when it is done with the
                        // batch, while this thread fills the next batch's.
                        let placeholder = Arc::new(SourceMap::new());
                        let (kept, transformed) = records
                            .into_iter()
                            .map(|mut r| (r.take_position(&placeholder), chain.apply(r)))
                            .unzip();
                        (Ok(kept), Some(transformed))
                    }
                    (records, _) => (records, None),
                };
                (records, transformed, t.take_status_note(), chain)
            });
            let (records, transformed, note, chain) = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                polled = polled => polled?,
            };
            self.transforms = chain;
            let records = match records {
                Ok(r) => r,
                Err(e) if e.is_retriable() => {
                    tracing::warn!(connector = %self.settings.connector, error = %e, "poll failed; retrying");
                    Vec::new()
                }
                Err(e) => return Err(WorkerError::record(Stage::TaskPoll, self.task_name(), e)),
            };
            if let Some(note) = note {
                tracing::warn!(connector = %self.settings.connector, task = self.settings.task, "{note}");
                if let Some(observer) = &self.settings.status_observer {
                    observer(note);
                }
            }
            let idle = records.is_empty();
            let Some(Ok(permit)) = self.serving(shutdown, batches.reserve()).await? else {
                return Ok(());
            };
            permit.send(PolledBatch {
                records,
                transformed,
            });
            if idle
                && self
                    .serving(shutdown, tokio::time::sleep(self.settings.idle_backoff))
                    .await?
                    .is_none()
            {
                return Ok(());
            }
        }
    }

    /// Waits for `until` while applying what the sending half settles; None when `shutdown`
    /// came first or the sending half is gone.
    async fn serving<T>(
        &mut self,
        shutdown: &CancellationToken,
        until: impl std::future::Future<Output = T>,
    ) -> Result<Option<T>, WorkerError> {
        tokio::pin!(until);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                done = &mut until => return Ok(Some(done)),
                settled = self.settled.recv() => match settled {
                    Some(settled) => self.apply(settled).await?,
                    None => return Ok(None),
                },
            }
        }
    }
}
