//! Helpers shared by the integration tests: brokers in-process and as child processes, and
//! rdkafka clients pointed at them. Every wait is bounded.

#![allow(dead_code)]

pub mod raw;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::FutureProducer;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);

/// A broker running inside the test's runtime on an ephemeral port.
pub struct TestBroker {
    pub bootstrap: String,
    pub dir: PathBuf,
    shutdown: CancellationToken,
    handle: JoinHandle<Result<(), sluice_broker::BrokerError>>,
}

impl TestBroker {
    pub async fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[]).await
    }

    pub async fn start_with(dir: &Path, extra: &[(&str, &str)]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut props: BTreeMap<String, String> = BTreeMap::new();
        props.insert("log.dirs".into(), dir.display().to_string());
        props.insert("listeners".into(), format!("PLAINTEXT://127.0.0.1:{port}"));
        for (k, v) in extra {
            props.insert(k.to_string(), v.to_string());
        }
        let (config, warnings) =
            sluice_broker::BrokerConfig::from_properties(&props).expect("config");
        assert!(warnings.is_empty(), "{warnings:?}");
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(sluice_broker::run(config, vec![listener], shutdown.clone()));
        Self {
            bootstrap: format!("127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
            shutdown,
            handle,
        }
    }

    /// Shuts down cleanly and waits for the broker to finish.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(WAIT, self.handle)
            .await
            .expect("broker stops in time");
        result
            .expect("broker task")
            .expect("broker shut down cleanly");
    }
}

/// A `sluice broker` child process, for tests that kill it.
pub struct ChildBroker {
    pub bootstrap: String,
    child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl ChildBroker {
    pub fn spawn(dir: &Path) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
        command.arg("broker");
        Self::start(command, dir)
    }

    /// A broker whose files cannot grow past `kib` KiB (RLIMIT_FSIZE): writes beyond it fail as
    /// they would on a full disk.
    pub fn spawn_with_file_limit(dir: &Path, kib: u64) -> Self {
        let mut command = Command::new("bash");
        // Ignoring SIGXFSZ makes an oversized write fail with EFBIG instead of killing the process.
        command
            .arg("-c")
            .arg(format!(
                "ulimit -f {kib}; trap '' XFSZ; exec \"$0\" broker \"$@\""
            ))
            .arg(env!("CARGO_BIN_EXE_sluice"));
        Self::start(command, dir)
    }

    /// A broker whose process may open at most `files` files (RLIMIT_NOFILE, soft and hard).
    pub fn spawn_with_open_file_limit(dir: &Path, files: u64) -> Self {
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(format!("ulimit -n {files}; exec \"$0\" broker \"$@\""))
            .arg(env!("CARGO_BIN_EXE_sluice"));
        Self::start(command, dir)
    }

    /// With extra `--override key=value` settings.
    pub fn spawn_with(dir: &Path, overrides: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
        command.arg("broker");
        for o in overrides {
            command.args(["--override", o]);
        }
        Self::start(command, dir)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn start(mut command: Command, dir: &Path) -> Self {
        command
            .arg("--override")
            .arg(format!("log.dirs={}", dir.display()))
            .args(["--override", "listeners=PLAINTEXT://127.0.0.1:0"]);
        let (mut child, log) = spawn_logged(command);
        let bootstrap = wait_for_address(&mut child, &log, "broker listening");
        Self {
            bootstrap,
            child,
            log,
        }
    }

    /// SIGKILL: no flush, no clean shutdown.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    pub fn log_contains(&self, needle: &str) -> bool {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .any(|l| l.contains(needle))
    }
}

impl Drop for ChildBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a `sluice` process whose stderr (info logs) is collected line by line.
pub fn spawn_logged(mut command: Command) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut child = command
        .env("RUST_LOG", "info")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sluice");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().expect("log lock").push(line);
        }
    });
    (child, log)
}

/// Waits for the log line containing `marker` and returns its `address=` field.
pub fn wait_for_address(child: &mut Child, log: &Arc<Mutex<Vec<String>>>, marker: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let found = log
            .lock()
            .expect("log lock")
            .iter()
            .find(|l| l.contains(marker))
            .and_then(|l| {
                l.split("address=")
                    .nth(1)
                    .map(|a| a.split_whitespace().next().unwrap_or("").to_string())
            });
        if let Some(address) = found {
            return address;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "sluice exited with {status}: {:?}",
                log.lock().expect("log lock")
            );
        }
        assert!(
            Instant::now() < deadline,
            "no '{marker}' in time: {:?}",
            log.lock().expect("log lock")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn client(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

pub fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    let mut config = client(bootstrap);
    config.set("acks", "all").set("linger.ms", "5");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config.create().expect("producer")
}

/// Reads `partitions` of `topic` from `start` until `count` messages arrived (or the wait ends).
pub fn consume(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    start: Offset,
    count: usize,
) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", "tests")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, start)
            .expect("partition");
    }
    consumer.assign(&assignment).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + WAIT;
    while out.len() < count && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(m.detach()),
            Some(Err(e)) => panic!("consume error: {e}"),
            None => {}
        }
    }
    // Anything beyond `count` would be a duplicate: give it a moment to show up.
    if let Some(Ok(m)) = consumer.poll(Duration::from_millis(300)) {
        out.push(m.detach());
    }
    out
}

pub fn payloads(messages: &[OwnedMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned())
        .collect()
}

/// Reads one partition of `topic` from the beginning to its current end.
pub fn consume_to_end(bootstrap: &str, topic: &str, partition: i32) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", "tests")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, Offset::Beginning)
        .expect("partition");
    consumer.assign(&assignment).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(m.detach()),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => return out,
            Some(Err(e)) => panic!("consume error: {e}"),
            None => {}
        }
    }
    panic!("never reached the end of {topic}-{partition}");
}

/// Like [`consume_to_end`], but a topic that does not exist yet reads as empty.
pub fn consume_if_exists(bootstrap: &str, topic: &str, partition: i32) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = client(bootstrap).create().expect("consumer");
    let exists = consumer
        .fetch_metadata(Some(topic), WAIT)
        .map(|m| {
            m.topics()
                .iter()
                .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        })
        .unwrap_or(false);
    if exists {
        consume_to_end(bootstrap, topic, partition)
    } else {
        Vec::new()
    }
}

/// Whether this test process runs as root (uid 0).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Polls `check` until it returns `Some`, or fails the test naming `what`: for state that
/// other processes change (topics, files, connector statuses).
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT * 2;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `sluice standalone` as a child process: broker and worker on ephemeral ports, data under
/// `dir`, offsets flushed every 200 ms.
pub struct Standalone {
    pub bootstrap: String,
    /// `http://host:port` of the Connect REST API.
    pub rest: String,
    /// `http://host:port` of the schema registry.
    pub registry: String,
    child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Standalone {
    pub fn spawn(dir: &Path) -> Self {
        Self::spawn_with(dir, &[])
    }

    /// With extra `--worker-override key=value` settings.
    pub fn spawn_with(dir: &Path, worker: &[&str]) -> Self {
        Self::spawn_command(Command::new(env!("CARGO_BIN_EXE_sluice")), dir, worker)
    }

    /// As an unprivileged user, so file permissions apply (root ignores them): under root the
    /// process runs as `nobody` through `setpriv`, and `dir` is opened up for it.
    pub fn spawn_unprivileged(dir: &Path, worker: &[&str]) -> Self {
        if !running_as_root() {
            return Self::spawn_with(dir, worker);
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_sluice"));
        Self::spawn_command(command, dir, worker)
    }

    fn spawn_command(mut command: Command, dir: &Path, worker: &[&str]) -> Self {
        command
            .current_dir(dir)
            .arg("standalone")
            .arg("--override")
            .arg(format!("log.dirs={}", dir.join("broker").display()))
            .args(["--override", "listeners=PLAINTEXT://127.0.0.1:0"])
            .args(["--worker-override", "listeners=http://127.0.0.1:0"])
            .args(["--worker-override", "offset.flush.interval.ms=200"])
            .args(["--registry-override", "listeners=http://127.0.0.1:0"]);
        for setting in worker {
            command.args(["--worker-override", setting]);
        }
        let (mut child, log) = spawn_logged(command);
        let bootstrap = wait_for_address(&mut child, &log, "broker listening");
        let rest = wait_for_address(&mut child, &log, "Connect REST API listening");
        let registry = wait_for_address(&mut child, &log, "schema registry listening");
        Self {
            bootstrap,
            rest: format!("http://{rest}"),
            registry: format!("http://{registry}"),
            child,
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.rest)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every log line so far.
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + WAIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(
                        status.success(),
                        "unclean exit {status}: {:?}",
                        self.log.lock().expect("log lock")
                    );
                    return;
                }
                _ if Instant::now() > deadline => panic!("sluice did not stop on SIGTERM"),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// SIGKILL: nothing flushed, nothing committed.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process, in MiB (from `/proc/<pid>/status`).
pub fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
