//! The broker: its state, its accept loop, its background tasks, and clean shutdown.

use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::BrokerConfig;
use crate::group::{GroupCoordinator, GroupSettings};
use crate::log::segment::now_ms;
use crate::partition::start_flushers;
use crate::protocol::connection::serve_connection;
use crate::protocol::connections::Connections;
use crate::topics::{TopicError, Topics};

const CLEAN_SHUTDOWN_MARKER: &str = ".sluice-clean-shutdown";
const LOCK_FILE: &str = ".lock";

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("log directory {dir}: {source}")]
    LogDir { dir: PathBuf, source: io::Error },
    #[error("log directory {0} is in use by another broker")]
    Locked(PathBuf),
    #[error("{listeners} bound listeners for {endpoints} configured ones")]
    Listeners { endpoints: usize, listeners: usize },
    #[error(transparent)]
    Topics(#[from] TopicError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Accept failures (out of file descriptors, say), logged once a minute with their count rather
/// than once per attempt.
#[derive(Default)]
struct AcceptErrors {
    count: u64,
    last_logged: Option<std::time::Instant>,
}

impl AcceptErrors {
    fn note(&mut self, error: &io::Error) {
        self.count += 1;
        if self
            .last_logged
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(60))
        {
            tracing::warn!(error = %error, failures = self.count, "accepting connections fails");
            self.count = 0;
            self.last_logged = Some(std::time::Instant::now());
        }
    }
}

#[derive(Debug)]
pub struct Broker {
    pub config: Arc<BrokerConfig>,
    pub topics: Topics,
    pub groups: GroupCoordinator,
    pub cluster_id: String,
    /// Next producer id InitProducerId hands out.
    pub next_producer_id: AtomicI64,
    lock: fs::File,
}

impl Broker {
    /// Opens the log directory: takes its lock, reads `meta.properties`, and recovers every
    /// partition (fully after a crash, cheaply after a clean shutdown). Also starts the flusher's
    /// thread.
    pub fn open(config: BrokerConfig) -> Result<Arc<Self>, BrokerError> {
        let dir = config.log_dir.clone();
        let dir_err = |source| BrokerError::LogDir {
            dir: dir.clone(),
            source,
        };
        fs::create_dir_all(&dir).map_err(dir_err)?;
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))
            .map_err(dir_err)?;
        if lock.try_lock().is_err() {
            return Err(BrokerError::Locked(dir));
        }
        let cluster_id = read_or_create_meta(&dir, config.node_id).map_err(dir_err)?;
        let marker = dir.join(CLEAN_SHUTDOWN_MARKER);
        let clean = marker.exists();
        let started = std::time::Instant::now();
        let topics = Topics::open(Arc::new(config.clone()), clean, start_flushers()?)?;
        let groups = GroupCoordinator::load(&topics, GroupSettings::from_config(&config))?;
        if clean {
            // From here on a crash must trigger full recovery again.
            fs::remove_file(&marker).map_err(dir_err)?;
            fs::File::open(&dir)?.sync_all()?;
        }
        tracing::info!(
            log_dir = %dir.display(),
            topics = topics.list().len(),
            clean_shutdown = clean,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "log loaded"
        );
        Ok(Arc::new(Self {
            config: Arc::new(config),
            topics,
            groups,
            cluster_id,
            next_producer_id: AtomicI64::new(now_ms().saturating_mul(1000)),
            lock,
        }))
    }

    /// Accepts Kafka clients on `listeners` (one per endpoint, in the config's order) until
    /// `shutdown`, then drains connections, flushes every log and records a clean shutdown.
    pub async fn serve(
        self: Arc<Self>,
        listeners: Vec<TcpListener>,
        shutdown: CancellationToken,
    ) -> Result<(), BrokerError> {
        for (listener, endpoint) in listeners.iter().zip(&self.config.endpoints) {
            tracing::info!(
                address = %listener.local_addr()?,
                advertised = %endpoint.advertised,
                "broker listening"
            );
        }
        let mut background = self.spawn_background(shutdown.clone());
        let mut connections = JoinSet::new();
        let open_files = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let table = Arc::new(Connections::new(
            self.config.max_connections,
            self.config.max_connections_per_ip,
            open_files,
            self.topics.partition_total(),
        ));
        tracing::debug!(max_connections = table.max(), "connection limits");
        let mut accept_errors = AcceptErrors::default();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                (endpoint, accepted) = accept_any(&listeners) => match accepted {
                    Ok((stream, peer)) => match table.admit(peer.ip()) {
                        Ok(admitted) => {
                            connections.spawn(serve_connection(stream, endpoint, Arc::clone(&self), shutdown.clone(), admitted));
                        }
                        // Closed at once: a refused client learns now rather than waiting.
                        Err(_) => drop(stream),
                    },
                    Err(e) => {
                        accept_errors.note(&e);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listeners);
        let drained = tokio::time::timeout(Duration::from_secs(5), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("some connections did not finish within 5 s; closing them");
            connections.abort_all();
            while connections.join_next().await.is_some() {}
        }
        // Aborted tasks are dropped only when joined: until then they hold the broker, and with
        // it the log directory's lock that a restarted broker needs.
        background.abort_all();
        while background.join_next().await.is_some() {}
        self.close()
    }

    /// Flushes and closes every log and leaves the clean-shutdown marker.
    pub fn close(&self) -> Result<(), BrokerError> {
        self.topics.close()?;
        let marker = self.config.log_dir.join(CLEAN_SHUTDOWN_MARKER);
        fs::File::create(&marker)?.sync_all()?;
        fs::File::open(&self.config.log_dir)?.sync_all()?;
        // Released now, not when the last holder of the broker goes: a broker started on the same
        // directory right after this one stopped must find it free.
        self.lock.unlock()?;
        tracing::info!("broker stopped cleanly");
        Ok(())
    }

    fn spawn_background(self: &Arc<Self>, shutdown: CancellationToken) -> JoinSet<()> {
        let mut tasks = JoinSet::new();
        let broker = Arc::clone(self);
        let every = Duration::from_millis(self.config.retention_check_interval_ms);
        tasks.spawn(periodically(every, shutdown.clone(), move || {
            broker.enforce_retention()
        }));
        let broker = Arc::clone(self);
        let every = Duration::from_millis(self.config.flush_scheduler_interval_ms);
        tasks.spawn(periodically(every, shutdown.clone(), move || {
            broker.flush_aged()
        }));
        let broker = Arc::clone(self);
        tasks.spawn(periodically(
            Duration::from_millis(100),
            shutdown.clone(),
            move || broker.groups.tick(&broker.topics),
        ));
        let broker = Arc::clone(self);
        let every = Duration::from_millis(self.config.recovery_point_checkpoint_interval_ms);
        tasks.spawn(periodically_blocking(every, shutdown.clone(), move || {
            broker.checkpoint_recovery_points()
        }));
        if self.config.cleaner_enable {
            let broker = Arc::clone(self);
            let every = Duration::from_millis(self.config.cleaner_backoff_ms);
            tasks.spawn(periodically_blocking(every, shutdown, move || {
                broker.compact_logs()
            }));
        }
        tasks
    }

    /// Writes down how far each partition's fsyncs have reached (see [`RecoveryPoint`]).
    ///
    /// [`RecoveryPoint`]: crate::log::recovery_point::RecoveryPoint
    pub fn checkpoint_recovery_points(&self) {
        for topic in self.topics.list() {
            for partition in topic.partitions() {
                if let Err(error) = partition.checkpoint_recovery_point() {
                    tracing::warn!(topic = %topic.name, partition = partition.index, %error, "could not write the recovery point");
                }
            }
        }
    }

    /// Applies each topic's retention policy.
    pub fn enforce_retention(&self) {
        let now = now_ms();
        for topic in self.topics.list() {
            let policy = topic.settings().policy;
            for partition in topic.partitions() {
                if let Err(error) = partition.log().enforce_retention(&policy, now) {
                    tracing::error!(topic = %topic.name, partition = partition.index, %error, "retention failed");
                }
            }
        }
    }

    /// Compacts every partition of every compacted topic that is dirty enough.
    pub fn compact_logs(&self) {
        let now = now_ms();
        for topic in self.topics.list() {
            let settings = topic.settings();
            if !settings.compact {
                continue;
            }
            for partition in topic.partitions() {
                match partition.compact(&settings.compaction, now) {
                    Ok(Some((before, after))) => tracing::info!(
                        topic = %topic.name, partition = partition.index, bytes_before = before, bytes_after = after,
                        "compacted"
                    ),
                    Ok(None) => {}
                    Err(error) => {
                        tracing::error!(topic = %topic.name, partition = partition.index, %error, "compaction failed")
                    }
                }
            }
        }
    }

    /// Requests an fsync for partitions whose unflushed data is older than their `flush.ms`.
    fn flush_aged(&self) {
        let now = now_ms();
        for topic in self.topics.list() {
            let flush_ms = topic.settings().flush_ms;
            if flush_ms == i64::MAX {
                continue;
            }
            for partition in topic.partitions() {
                if partition.flush_overdue(flush_ms, now) {
                    partition.request_flush(&self.topics.flush_queue);
                }
            }
        }
    }
}

async fn periodically(every: Duration, shutdown: CancellationToken, mut job: impl FnMut() + Send) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => job(),
        }
    }
}

/// Runs `job` every `every` on a blocking thread: jobs that write files or fsync must not hold
/// up the connections' threads.
async fn periodically_blocking(
    every: Duration,
    shutdown: CancellationToken,
    job: impl Fn() + Send + Sync + 'static,
) {
    let job = Arc::new(job);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let job = Arc::clone(&job);
        let _ = tokio::task::spawn_blocking(move || job()).await;
    }
}

/// Reads `cluster.id` from `meta.properties`, writing a new one on first start.
fn read_or_create_meta(dir: &Path, node_id: i32) -> io::Result<String> {
    let path = dir.join("meta.properties");
    if let Ok(text) = fs::read_to_string(&path) {
        if let Some(id) = text.lines().find_map(|l| l.strip_prefix("cluster.id=")) {
            return Ok(id.trim().to_string());
        }
    }
    let cluster_id = base64_url(uuid::Uuid::new_v4().as_bytes());
    let tmp = path.with_extension("properties.tmp");
    let mut file = fs::File::create(&tmp)?;
    writeln!(
        file,
        "version=1\ncluster.id={cluster_id}\nnode.id={node_id}"
    )?;
    file.sync_all()?;
    fs::rename(&tmp, &path)?;
    Ok(cluster_id)
}

/// Unpadded URL-safe base64, the form Kafka cluster ids take.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The next connection on any of `listeners`, with the index of the listener it came through.
fn accept_any(
    listeners: &[TcpListener],
) -> impl std::future::Future<Output = (usize, std::io::Result<(TcpStream, SocketAddr)>)> + '_ {
    std::future::poll_fn(move |cx| {
        for (i, listener) in listeners.iter().enumerate() {
            if let std::task::Poll::Ready(accepted) = listener.poll_accept(cx) {
                return std::task::Poll::Ready((i, accepted));
            }
        }
        std::task::Poll::Pending
    })
}

/// Binds nothing itself: runs a broker on already-bound listeners, one per endpoint of the
/// config, until `shutdown`. An advertised port of 0 becomes its listener's port, so tests can
/// bind port 0.
pub async fn run(
    mut config: BrokerConfig,
    listeners: Vec<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), BrokerError> {
    if listeners.len() != config.endpoints.len() {
        return Err(BrokerError::Listeners {
            endpoints: config.endpoints.len(),
            listeners: listeners.len(),
        });
    }
    for (endpoint, listener) in config.endpoints.iter_mut().zip(&listeners) {
        if endpoint.advertised.port == 0 {
            endpoint.advertised.port = listener.local_addr()?.port();
        }
    }
    Broker::open(config)?.serve(listeners, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::base64_url;

    #[test]
    fn cluster_ids_look_like_kafkas() {
        assert_eq!(base64_url(&[0u8; 16]).len(), 22);
        assert_eq!(base64_url(b"Man"), "TWFu");
    }
}
