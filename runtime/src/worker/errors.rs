//! What a task does with a record that fails: retry what is worth retrying
//! (`errors.retry.timeout`, exponential backoff with jitter up to `errors.retry.delay.max.ms`),
//! then report it (`errors.log.enable`, the dead letter queue with Kafka's `__connect.errors.*`
//! headers) and either skip it (`errors.tolerance=all`) or fail the task. Every step is counted
//! for the task's status.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use serde_json::{json, Value as Json};
use sluice_connect_api::{ConnectError, Props};

use super::topic_writer::{Outgoing, TopicWriter};
use super::{trace, Stage, WorkerError};

/// Kafka's first retry delay (`RetryWithToleranceOperator.RETRIES_DELAY_MIN_MS`).
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(300);
/// Most bytes of a key or value written to the log with `errors.log.include.messages`.
const LOGGED_BYTES: usize = 1024;

/// The `errors.*` keys of a connector.
#[derive(Debug, Clone)]
pub struct ErrorSettings {
    pub tolerate_all: bool,
    /// `errors.retry.timeout`: `None` retries for ever (-1).
    pub retry_timeout: Option<Duration>,
    pub retry_delay_max: Duration,
    pub log: bool,
    pub log_messages: bool,
    pub dlq_topic: Option<String>,
    pub dlq_replication_factor: i16,
    pub dlq_context_headers: bool,
}

impl Default for ErrorSettings {
    fn default() -> Self {
        Self {
            tolerate_all: false,
            retry_timeout: Some(Duration::ZERO),
            retry_delay_max: Duration::from_secs(60),
            log: false,
            log_messages: false,
            dlq_topic: None,
            dlq_replication_factor: 3,
            dlq_context_headers: false,
        }
    }
}

impl ErrorSettings {
    /// Reads the keys (already validated by the connector's config definition).
    pub fn from_config(props: &Props) -> Self {
        let text = |k: &str| props.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let flag = |k: &str| text(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let number = |k: &str| text(k).and_then(|v| v.parse::<i64>().ok());
        let defaults = Self::default();
        Self {
            tolerate_all: text("errors.tolerance").is_some_and(|v| v.eq_ignore_ascii_case("all")),
            retry_timeout: match number("errors.retry.timeout") {
                Some(ms) if ms < 0 => None,
                Some(ms) => Some(Duration::from_millis(ms as u64)),
                None => defaults.retry_timeout,
            },
            retry_delay_max: number("errors.retry.delay.max.ms")
                .map(|ms| Duration::from_millis(ms.max(0) as u64))
                .unwrap_or(defaults.retry_delay_max),
            log: flag("errors.log.enable"),
            log_messages: flag("errors.log.include.messages"),
            dlq_topic: text("errors.deadletterqueue.topic.name").map(str::to_string),
            dlq_replication_factor: number("errors.deadletterqueue.topic.replication.factor")
                .and_then(|n| i16::try_from(n).ok())
                .unwrap_or(defaults.dlq_replication_factor),
            dlq_context_headers: flag("errors.deadletterqueue.context.headers.enable"),
        }
    }
}

/// What happened to one task's failing records, for its status.
#[derive(Debug, Default)]
pub struct ErrorCounters {
    failures: AtomicU64,
    skipped: AtomicU64,
    retries: AtomicU64,
    dlq_requests: AtomicU64,
    dlq_failures: AtomicU64,
    last: Mutex<Option<Json>>,
}

impl ErrorCounters {
    /// The counters under Kafka's metric names, and the last error; `None` while nothing failed.
    pub fn json(&self) -> Option<Json> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if get(&self.failures) == 0 && get(&self.retries) == 0 {
            return None;
        }
        Some(json!({
            "total-record-failures": get(&self.failures),
            "total-records-skipped": get(&self.skipped),
            "total-retries": get(&self.retries),
            "deadletterqueue-produce-requests": get(&self.dlq_requests),
            "deadletterqueue-produce-failures": get(&self.dlq_failures),
            "last-error": last,
        }))
    }

    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

/// A record as it was when it failed: a sink's consumed bytes, or what a source task made.
pub struct RawRecord<'a> {
    pub topic: &'a str,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
    /// A source record's partition and offset, as JSON.
    pub source_position: Option<(Json, Json)>,
}

impl<'a> RawRecord<'a> {
    /// A record known only by its topic.
    pub fn bare(topic: &'a str) -> Self {
        Self {
            topic,
            partition: None,
            offset: None,
            key: None,
            value: None,
            headers: Vec::new(),
            source_position: None,
        }
    }
}

/// A record that failed for good, and where.
pub struct Failure<'a> {
    pub stage: Stage,
    /// The class that failed: the converter, the transform, the connector's task.
    pub class: &'a str,
    /// `topic=t partition=p offset=o`, for logs and traces.
    pub coordinates: String,
    pub record: RawRecord<'a>,
}

/// One task's error handling.
pub struct ErrorHandler {
    settings: ErrorSettings,
    connector: String,
    task: usize,
    counters: Arc<ErrorCounters>,
    dlq: Option<DeadLetterQueue>,
    /// Transform aliases to their classes, for the `class.name` header.
    transform_classes: HashMap<String, String>,
}

impl ErrorHandler {
    /// `client` configures the dead letter queue's producer (the worker's producer settings with
    /// the connector's overrides).
    pub fn new(
        settings: ErrorSettings,
        connector: &str,
        task: usize,
        props: &Props,
        client: &ClientConfig,
        counters: Arc<ErrorCounters>,
    ) -> Self {
        let transform_classes = props
            .iter()
            .filter_map(|(k, v)| {
                let alias = k.strip_prefix("transforms.")?.strip_suffix(".type")?;
                Some((alias.to_string(), v.trim().to_string()))
            })
            .collect();
        let dlq = settings.dlq_topic.clone().map(|topic| DeadLetterQueue {
            topic,
            writer: TopicWriter::new(client, settings.dlq_replication_factor),
        });
        Self {
            settings,
            connector: connector.to_string(),
            task,
            counters,
            dlq,
            transform_classes,
        }
    }

    /// With defaults: fail on the first error, no retries, no dead letter queue.
    pub fn failing(connector: &str, task: usize) -> Self {
        Self::new(
            ErrorSettings::default(),
            connector,
            task,
            &Props::new(),
            &ClientConfig::new(),
            Arc::default(),
        )
    }

    pub fn counters(&self) -> &Arc<ErrorCounters> {
        &self.counters
    }

    /// Whether records are skipped rather than failing the task.
    pub fn tolerates(&self) -> bool {
        self.settings.tolerate_all
    }

    pub fn transform_class<'a>(&'a self, alias: &'a str) -> &'a str {
        self.transform_classes
            .get(alias)
            .map(String::as_str)
            .unwrap_or(alias)
    }

    /// Whether a failed batch may be put again (retries, or record by record): its records
    /// are copied before each put only then.
    pub fn may_redeliver(&self) -> bool {
        self.settings.tolerate_all || self.settings.retry_timeout != Some(Duration::ZERO)
    }

    /// Whether a failure report shows the record's key and value (the log with
    /// `errors.log.include.messages`, or a dead letter queue).
    pub fn reports_record_data(&self) -> bool {
        self.settings.log_messages || self.dlq.is_some()
    }

    /// Whether failing records' raw bytes must be kept through `put`, for the dead letter queue.
    pub fn keeps_raw(&self) -> bool {
        self.settings.tolerate_all && self.dlq.is_some()
    }

    /// After a first failure `error`, runs `attempt` again while the failure is retriable and
    /// the retry time (`errors.retry.timeout`) lasts, waiting between attempts with exponential
    /// backoff and jitter. The outcome of the last attempt, or an error that stops the task.
    pub async fn retry_after<T, E, F>(
        &self,
        mut error: E,
        mut attempt: impl FnMut() -> F,
    ) -> Result<Result<T, E>, WorkerError>
    where
        E: MaybeRetriable,
        F: std::future::Future<Output = Result<Result<T, E>, WorkerError>>,
    {
        let started = tokio::time::Instant::now();
        let mut tries: u32 = 0;
        while error.is_retriable() {
            tries += 1;
            let Some(delay) = self.next_delay(started, tries) else {
                break;
            };
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(connector = %self.connector, task = self.task, attempt = tries, delay_ms = delay.as_millis() as u64, "retrying after a retriable failure");
            tokio::time::sleep(delay).await;
            match attempt().await? {
                Ok(value) => return Ok(Ok(value)),
                Err(e) => error = e,
            }
        }
        Ok(Err(error))
    }

    /// The wait before retry number `tries`, or `None` when the retry time is spent.
    fn next_delay(&self, started: tokio::time::Instant, tries: u32) -> Option<Duration> {
        let backoff = FIRST_RETRY_DELAY
            .saturating_mul(1u32 << (tries - 1).min(20))
            .min(self.settings.retry_delay_max);
        // Up to a quarter less, so tasks failing together do not retry in step.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter = backoff.mul_f64(f64::from(nanos % 1000) / 4000.0);
        let delay = backoff.saturating_sub(jitter);
        match self.settings.retry_timeout {
            None => Some(delay),
            Some(timeout) => {
                let left = timeout.checked_sub(started.elapsed())?;
                (!left.is_zero()).then(|| delay.min(left))
            }
        }
    }

    /// Reports a record that failed for good: counts it, logs it, writes it to the dead letter
    /// queue; then `Ok` when the record is to be skipped, or the task's failure.
    pub async fn fail(
        &self,
        failure: Failure<'_>,
        error: &(dyn std::error::Error + Send + Sync + 'static),
    ) -> Result<(), WorkerError> {
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        let connect = connect_error(error);
        let message = connect
            .map(|e| e.message().to_string())
            .unwrap_or_else(|| error.to_string());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        *self.counters.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(json!({
            "stage": failure.stage.name(),
            "class": failure.class,
            "message": message,
            "record": failure.coordinates,
            "timestamp": now,
        }));
        if self.settings.log {
            self.log(&failure, error);
        }
        if let Some(dlq) = &self.dlq {
            self.counters.dlq_requests.fetch_add(1, Ordering::Relaxed);
            let headers = self
                .settings
                .dlq_context_headers
                .then(|| self.context_headers(&failure, error, connect, &message));
            if let Err(e) = dlq.send(&failure.record, headers).await {
                self.counters.dlq_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(connector = %self.connector, task = self.task, topic = %dlq.topic, error = %e, "could not write a failed record to the dead letter queue");
            }
        }
        if !self.settings.tolerate_all {
            return Err(WorkerError::Record {
                stage: failure.stage,
                record: failure.coordinates,
                source: Box::new(ToleranceExceeded(trace(error))),
            });
        }
        self.counters.skipped.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn log(&self, failure: &Failure<'_>, error: &(dyn std::error::Error + 'static)) {
        let mut text = format!(
            "Error encountered in task {}-{}. Executing stage '{}' with class '{}', where {} record is {}.",
            self.connector,
            self.task,
            failure.stage.name(),
            failure.class,
            if failure.record.offset.is_some() { "consumed" } else { "source" },
            failure.coordinates
        );
        if self.settings.log_messages {
            let shown = |b: Option<&[u8]>| match b {
                None => "null".to_string(),
                Some(b) => String::from_utf8_lossy(&b[..b.len().min(LOGGED_BYTES)]).into_owned(),
            };
            text.push_str(&format!(
                " Key: {}, value: {}.",
                shown(failure.record.key),
                shown(failure.record.value)
            ));
        }
        tracing::error!(connector = %self.connector, task = self.task, error = %trace(error), "{text}");
    }

    fn context_headers(
        &self,
        failure: &Failure<'_>,
        error: &(dyn std::error::Error + 'static),
        connect: Option<&ConnectError>,
        message: &str,
    ) -> Vec<(&'static str, String)> {
        let record = &failure.record;
        let mut headers = vec![("__connect.errors.topic", record.topic.to_string())];
        if let Some(p) = record.partition {
            headers.push(("__connect.errors.partition", p.to_string()));
        }
        if let Some(o) = record.offset {
            headers.push(("__connect.errors.offset", o.to_string()));
        }
        if let Some((partition, offset)) = &record.source_position {
            headers.push(("__connect.errors.source.partition", partition.to_string()));
            headers.push(("__connect.errors.source.offset", offset.to_string()));
        }
        headers.extend([
            ("__connect.errors.connector.name", self.connector.clone()),
            ("__connect.errors.task.id", self.task.to_string()),
            ("__connect.errors.stage", failure.stage.name().to_string()),
            ("__connect.errors.class.name", failure.class.to_string()),
            (
                "__connect.errors.exception.class.name",
                java_exception_class(connect).to_string(),
            ),
            ("__connect.errors.exception.message", message.to_string()),
            ("__connect.errors.exception.stacktrace", trace(error)),
        ]);
        headers
    }
}

/// Errors that may say they are worth retrying.
pub trait MaybeRetriable {
    fn is_retriable(&self) -> bool;
}

impl MaybeRetriable for ConnectError {
    fn is_retriable(&self) -> bool {
        ConnectError::is_retriable(self)
    }
}

impl MaybeRetriable for Box<dyn std::error::Error + Send + Sync> {
    fn is_retriable(&self) -> bool {
        connect_error(&**self).is_some_and(ConnectError::is_retriable)
    }
}

/// The transform alias an error came from, if it came from a transform.
pub fn transform_alias<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a str> {
    error
        .downcast_ref::<crate::transforms::TransformError>()
        .map(|t| t.alias.as_str())
}

/// Kafka Connect's words when a failure is not tolerated.
#[derive(Debug, thiserror::Error)]
#[error("Tolerance exceeded in error handler\nCaused by: {0}")]
struct ToleranceExceeded(String);

/// The first `ConnectError` in an error's chain.
fn connect_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a ConnectError> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(c) = e.downcast_ref::<ConnectError>() {
            return Some(c);
        }
        if let Some(t) = e.downcast_ref::<crate::transforms::TransformError>() {
            return Some(&t.source);
        }
        current = e.source();
    }
    None
}

/// The Java exception class Kafka Connect would name for an error of this kind.
fn java_exception_class(error: Option<&ConnectError>) -> &'static str {
    match error {
        Some(ConnectError::Data(_)) => "org.apache.kafka.connect.errors.DataException",
        Some(ConnectError::Retriable(_)) => "org.apache.kafka.connect.errors.RetriableException",
        Some(ConnectError::Config { .. }) => "org.apache.kafka.common.config.ConfigException",
        Some(ConnectError::Fatal(_)) | None => "org.apache.kafka.connect.errors.ConnectException",
    }
}

/// A connector's dead letter queue topic and what writes it.
struct DeadLetterQueue {
    topic: String,
    writer: TopicWriter,
}

impl DeadLetterQueue {
    async fn send(
        &self,
        record: &RawRecord<'_>,
        context: Option<Vec<(&'static str, String)>>,
    ) -> Result<(), WorkerError> {
        let mut headers = record.headers.clone();
        for (key, value) in context.iter().flatten() {
            headers.push((key, Some(value.as_bytes())));
        }
        self.writer
            .send(Outgoing {
                topic: &self.topic,
                key: record.key,
                value: record.value,
                headers,
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(props: &[(&str, &str)]) -> ErrorHandler {
        let props: Props = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ErrorHandler::new(
            ErrorSettings::from_config(&props),
            "c",
            0,
            &props,
            &ClientConfig::new(),
            Arc::default(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn retriable_errors_are_retried_with_growing_delays_until_the_timeout() {
        let errors = handler(&[
            ("errors.retry.timeout", "5000"),
            ("errors.retry.delay.max.ms", "1000"),
        ]);
        let started = tokio::time::Instant::now();
        let mut calls = 1;
        let result: Result<(), _> = errors
            .retry_after(ConnectError::Retriable("registry down".into()), || {
                calls += 1;
                std::future::ready(Ok(Err(ConnectError::Retriable("registry down".into()))))
            })
            .await
            .expect("no worker error");
        assert!(result.is_err());
        // 300 ms, 600, then 1000 (the cap) until 5 s are spent.
        assert!((6..=10).contains(&calls), "{calls} attempts");
        assert!(
            started.elapsed() >= Duration::from_millis(4000),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            errors.counters().json().expect("counted")["total-retries"],
            json!(calls - 1)
        );

        let mut calls = 1;
        let data: Result<(), _> = errors
            .retry_after(ConnectError::data("bad bytes"), || {
                calls += 1;
                std::future::ready(Ok(Err(ConnectError::data("bad bytes"))))
            })
            .await
            .expect("no worker error");
        assert!(data.is_err());
        assert_eq!(calls, 1, "a data error is not retried");

        let mut calls = 1;
        let recovered = errors
            .retry_after(ConnectError::Retriable("down".into()), || {
                calls += 1;
                std::future::ready(Ok(if calls < 3 {
                    Err(ConnectError::Retriable("down".into()))
                } else {
                    Ok(calls)
                }))
            })
            .await
            .expect("no worker error");
        assert_eq!(recovered.ok(), Some(3), "the registry came back");
    }

    #[tokio::test]
    async fn without_tolerance_a_failure_fails_the_task_and_with_it_the_record_is_skipped() {
        let record = || RawRecord {
            topic: "t",
            partition: Some(0),
            offset: Some(7),
            key: None,
            value: Some(b"x"),
            headers: Vec::new(),
            source_position: None,
        };
        let failure = || Failure {
            stage: Stage::ValueConverter,
            class: "org.apache.kafka.connect.json.JsonConverter",
            coordinates: "topic=t partition=0 offset=7".into(),
            record: record(),
        };
        let error = ConnectError::data("Unknown magic byte!");
        let strict = handler(&[]);
        let err = strict
            .fail(failure(), &error)
            .await
            .expect_err("fails the task");
        assert!(
            trace(&err).contains("Tolerance exceeded in error handler"),
            "{}",
            trace(&err)
        );
        let tolerant = handler(&[("errors.tolerance", "all")]);
        tolerant.fail(failure(), &error).await.expect("skipped");
        let counters = tolerant.counters().json().expect("counted");
        assert_eq!(counters["total-records-skipped"], 1);
        assert_eq!(counters["last-error"]["stage"], "VALUE_CONVERTER");
        assert_eq!(counters["last-error"]["message"], "Unknown magic byte!");
    }
}
