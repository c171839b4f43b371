//! A broker in the test's runtime, on an ephemeral port.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use sluice_connect_api::{ConnectError, ConnectorContext};
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);

/// A consumer that reports the end of each assigned partition, to read a topic back whole.
pub fn eof_consumer(bootstrap: &str) -> rdkafka::consumer::BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "check")
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer")
}

pub struct Broker {
    pub bootstrap: String,
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<Result<(), sluice_broker::BrokerError>>,
}

impl Broker {
    pub async fn start(dir: &std::path::Path) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let props: BTreeMap<String, String> = [
            (
                "log.dirs".to_string(),
                dir.join("data").display().to_string(),
            ),
            (
                "listeners".to_string(),
                format!("PLAINTEXT://127.0.0.1:{port}"),
            ),
            (
                "group.initial.rebalance.delay.ms".to_string(),
                "0".to_string(),
            ),
        ]
        .into();
        let (config, _) = sluice_broker::BrokerConfig::from_properties(&props).expect("config");
        let stop = CancellationToken::new();
        let handle = tokio::spawn(sluice_broker::run(config, vec![listener], stop.clone()));
        Self {
            bootstrap: format!("127.0.0.1:{port}"),
            stop,
            handle,
        }
    }

    pub fn client(&self) -> ClientConfig {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", &self.bootstrap);
        client
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(WAIT, self.handle).await;
    }
}

/// A connector context for tests that start connectors by hand.
pub struct NoContext;

impl ConnectorContext for NoContext {
    fn request_task_reconfiguration(&self) {}
    fn raise_error(&self, _error: ConnectError) {}
}

/// Stops a runner's task and checks it stopped cleanly and in time.
pub async fn stop_cleanly<E: std::fmt::Debug>(
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), E>>,
) {
    stop.cancel();
    tokio::time::timeout(WAIT, task)
        .await
        .expect("stops in time")
        .expect("join")
        .expect("clean stop");
}
