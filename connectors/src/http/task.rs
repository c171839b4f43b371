//! The HTTP sink task: records become requests, in order. Consecutive records bound for the same
//! URL (after `${topic}` and `${key}`) with the same Kafka headers share a request, up to
//! `batch.max.size`. A request is retried on a network error or a status in
//! `retry.on.status.codes`, up to `max.retries` times with backoff; one that still fails follows
//! `behavior.on.error`. Each record of a request is reported to the result or error topic
//! (`reporter.*`) once the request's fate is known, before `put` returns.

use std::sync::Arc;
use std::time::Duration;

use sluice_connect_api::{
    BoxFuture, ConnectError, Header, Props, Report, Reporter, Result, SinkRecord, SinkTask,
};

use super::auth::Authenticator;
use super::body::{batch_body, record_text};
use super::config::{BodyFormat, HttpSinkConfig, OnError, OnNull};

/// Most bytes of a response body quoted in an error.
const QUOTED_BODY: usize = 500;

#[derive(Default)]
pub struct HttpSinkTask {
    state: Option<State>,
    reporter: Option<Arc<dyn Reporter>>,
}

struct State {
    config: HttpSinkConfig,
    client: reqwest::Client,
    auth: Authenticator,
    reporter: Option<Arc<dyn Reporter>>,
}

/// Records waiting to be sent together.
struct Batch {
    url: String,
    headers: Vec<Header>,
    texts: Vec<String>,
    origins: Vec<Origin>,
}

/// Where a record came from, for the `input_record_*` headers of its report.
struct Origin {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<String>,
}

impl Origin {
    fn of(record: &SinkRecord) -> Self {
        Self {
            topic: record.topic.clone(),
            partition: record.kafka_partition,
            offset: record.kafka_offset,
            timestamp: record.timestamp,
            key: record.key.to_java_string(),
        }
    }
}

/// How a request ended for good.
struct Answer {
    status: Option<u16>,
    body: Option<String>,
}

struct RequestFailure {
    error: ConnectError,
    answer: Answer,
}

impl SinkTask for HttpSinkTask {
    fn set_reporter(&mut self, reporter: Arc<dyn Reporter>) {
        self.reporter = Some(reporter);
    }

    fn start(&mut self, props: &Props) -> Result<()> {
        let config = HttpSinkConfig::parse(props)?;
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| ConnectError::Fatal(format!("building the HTTP client: {e}")))?;
        let auth = Authenticator::new(config.auth.clone());
        let reports = &config.reports;
        if (reports.result_topic.is_some() || reports.error_topic.is_some())
            && self.reporter.is_none()
        {
            return Err(ConnectError::Config {
                key: "reporter.result.topic.name".into(),
                message: "this worker gives the task no way to write to Kafka".into(),
            });
        }
        self.state = Some(State {
            config,
            client,
            auth,
            reporter: self.reporter.clone(),
        });
        Ok(())
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let state = self
                .state
                .as_mut()
                .ok_or_else(|| ConnectError::Fatal("task used before start".into()))?;
            state.put(records).await
        })
    }

    fn stop(&mut self) -> Result<()> {
        self.state = None;
        Ok(())
    }
}

impl State {
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let mut batch: Option<Batch> = None;
        for record in &records {
            let url = self.url_for(record);
            if record.value.is_null() {
                match self.config.on_null {
                    OnNull::Ignore => continue,
                    OnNull::Log => {
                        tracing::info!(topic = %record.topic, partition = record.kafka_partition, offset = record.kafka_offset, "ignoring a null value (behavior.on.null.values=log)");
                        continue;
                    }
                    OnNull::Fail => {
                        return Err(ConnectError::data(format!(
                            "null value at topic={} partition={} offset={} (behavior.on.null.values=fail)",
                            record.topic, record.kafka_partition, record.kafka_offset
                        )))
                    }
                    OnNull::Delete => {
                        if let Some(b) = batch.take() {
                            self.send_batch(b).await?;
                        }
                        self.send("DELETE", &url, &[], None, vec![Origin::of(record)])
                            .await?;
                        continue;
                    }
                }
            }
            let headers: Vec<Header> = record.headers.iter().cloned().collect();
            let text = record_text(&self.config, &record.value)?;
            let fits = batch.as_ref().is_some_and(|b| {
                b.url == url && b.headers == headers && b.texts.len() < self.config.batch_max_size
            });
            if !fits {
                if let Some(b) = batch.take() {
                    self.send_batch(b).await?;
                }
            }
            batch.get_or_insert_with(|| Batch {
                url,
                headers,
                texts: Vec::new(),
                origins: Vec::new(),
            });
            if let Some(b) = batch.as_mut() {
                b.texts.push(text);
                b.origins.push(Origin::of(record));
            }
        }
        if let Some(b) = batch {
            self.send_batch(b).await?;
        }
        Ok(())
    }

    fn url_for(&self, record: &SinkRecord) -> String {
        let mut url = self.config.url.replace("${topic}", &record.topic);
        if url.contains("${key}") {
            let key = record.key.to_java_string().unwrap_or_else(|| "null".into());
            url = url.replace("${key}", &key);
        }
        url
    }

    async fn send_batch(&mut self, batch: Batch) -> Result<()> {
        let body = batch_body(&self.config, &batch.texts);
        let method = self.config.method.clone();
        self.send(
            &method,
            &batch.url,
            &batch.headers,
            Some((body, batch.texts)),
            batch.origins,
        )
        .await
    }

    /// Sends one request with retries and reports its records; what a request that fails for
    /// good does next is `behavior.on.error`'s.
    async fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[Header],
        body: Option<(String, Vec<String>)>,
        origins: Vec<Origin>,
    ) -> Result<()> {
        let (body, texts) = match body {
            Some((body, texts)) => (Some(body), texts),
            None => (None, Vec::new()),
        };
        let outcome = self.send_with_retries(method, url, headers, body).await;
        self.report(&outcome, &texts, &origins).await?;
        let Err(failure) = outcome else {
            return Ok(());
        };
        match self.config.on_error {
            OnError::Fail => Err(failure.error),
            OnError::Log => {
                tracing::warn!(url, error = %failure.error, "a request failed (behavior.on.error=log)");
                Ok(())
            }
            OnError::Ignore => Ok(()),
        }
    }

    /// One record per origin to the result topic (the response body) or the error topic (the
    /// error, or the response body with `report.errors.as=http_response`), with Confluent's
    /// headers.
    async fn report(
        &self,
        outcome: &std::result::Result<Answer, RequestFailure>,
        texts: &[String],
        origins: &[Origin],
    ) -> Result<()> {
        let reports = &self.config.reports;
        let (topic, answer) = match outcome {
            Ok(answer) => (&reports.result_topic, answer),
            Err(failure) => (&reports.error_topic, &failure.answer),
        };
        let (Some(topic), Some(reporter)) = (topic, &self.reporter) else {
            return Ok(());
        };
        let body = answer.body.clone().unwrap_or_default();
        let records = origins
            .iter()
            .enumerate()
            .map(|(i, origin)| {
                let mut headers: Vec<(String, Vec<u8>)> = vec![
                    (
                        "input_record_topic".into(),
                        origin.topic.clone().into_bytes(),
                    ),
                    (
                        "input_record_partition".into(),
                        origin.partition.to_string().into_bytes(),
                    ),
                    (
                        "input_record_offset".into(),
                        origin.offset.to_string().into_bytes(),
                    ),
                ];
                if let Some(ts) = origin.timestamp {
                    headers.push(("input_record_timestamp".into(), ts.to_string().into_bytes()));
                }
                if let Some(status) = answer.status {
                    headers.push(("status_code".into(), status.to_string().into_bytes()));
                }
                let value = match outcome {
                    Ok(_) => body.clone(),
                    Err(failure) => {
                        headers.push((
                            "error_message".into(),
                            failure.error.to_string().into_bytes(),
                        ));
                        headers.push(("response_content".into(), body.clone().into_bytes()));
                        if let Some(text) = texts.get(i) {
                            headers.push(("payload".into(), text.clone().into_bytes()));
                        }
                        if reports.errors_as_response {
                            body.clone()
                        } else {
                            failure.error.to_string()
                        }
                    }
                };
                Report {
                    topic: topic.clone(),
                    key: origin.key.clone().map(String::into_bytes),
                    value: Some(value.into_bytes()),
                    headers,
                }
            })
            .collect();
        reporter.report(records).await
    }

    async fn send_with_retries(
        &mut self,
        method: &str,
        url: &str,
        headers: &[Header],
        body: Option<String>,
    ) -> std::result::Result<Answer, RequestFailure> {
        let refuse = |error: ConnectError| RequestFailure {
            error,
            answer: Answer {
                status: None,
                body: None,
            },
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| {
            refuse(ConnectError::Config {
                key: "request.method".into(),
                message: e.to_string(),
            })
        })?;
        let mut attempt: u32 = 0;
        let mut refreshed_token = false;
        loop {
            let mut request = self.state_request(&method, url, headers, body.as_deref());
            request = self
                .auth
                .apply(&self.client, request)
                .await
                .map_err(refuse)?;
            let outcome = request.send().await;
            let (failure, answer) = match outcome {
                Ok(response) => {
                    let status = response.status().as_u16();
                    if status == 401 && !refreshed_token && self.auth.forget_token() {
                        // An expired or revoked token: fetch a new one and try again at once.
                        refreshed_token = true;
                        continue;
                    }
                    let text = response.text().await.unwrap_or_default();
                    if (200..300).contains(&status) {
                        return Ok(Answer {
                            status: Some(status),
                            body: Some(text),
                        });
                    }
                    let quoted: String = text.chars().take(QUOTED_BODY).collect();
                    let message = format!("HTTP {method} {url} answered {status}: {quoted}");
                    let answer = Answer {
                        status: Some(status),
                        body: Some(text),
                    };
                    if !self.config.retry_on.contains(status) {
                        return Err(RequestFailure {
                            error: ConnectError::data(message),
                            answer,
                        });
                    }
                    (message, answer)
                }
                Err(e) => (
                    format!("HTTP {method} {url} failed: {e}"),
                    Answer {
                        status: None,
                        body: None,
                    },
                ),
            };
            if attempt >= self.config.max_retries {
                return Err(RequestFailure {
                    error: ConnectError::data(format!(
                        "{failure} (after {attempt} retries, max.retries)"
                    )),
                    answer,
                });
            }
            attempt += 1;
            tokio::time::sleep(self.backoff(attempt)).await;
        }
    }

    fn state_request(
        &self,
        method: &reqwest::Method,
        url: &str,
        headers: &[Header],
        body: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut request = self.client.request(method.clone(), url);
        let mut has_content_type = false;
        for (name, value) in &self.config.headers {
            has_content_type |= name.eq_ignore_ascii_case("content-type");
            request = request.header(name.as_str(), value.as_str());
        }
        // The record's Kafka headers travel with it.
        for header in headers {
            if let Some(value) = header.value.to_java_string() {
                request = request.header(header.key.as_ref(), value);
            }
        }
        if let Some(body) = body {
            if !has_content_type {
                let content_type = match self.config.format {
                    BodyFormat::Json => "application/json",
                    BodyFormat::String => "text/plain; charset=utf-8",
                };
                request = request.header("Content-Type", content_type);
            }
            request = request.body(body.to_string());
        }
        request
    }

    /// `retry.backoff.ms`, constant or doubling with each retry with up to a quarter taken off at
    /// random (`EXPONENTIAL_WITH_JITTER`), never above a minute past the base.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.config.retry_backoff;
        if !self.config.exponential_backoff {
            return base;
        }
        let grown = base.saturating_mul(1u32 << (attempt - 1).min(16));
        let capped = grown.min(base + Duration::from_secs(60));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        capped.saturating_sub(capped.mul_f64(f64::from(nanos % 1000) / 4000.0))
    }
}
