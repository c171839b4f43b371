//! The HTTP sink task: records become requests, in order. Consecutive records bound for the same
//! URL (after `${topic}` and `${key}`) with the same Kafka headers share a request, up to
//! `batch.max.size`. A request is retried on a network error or a status in
//! `retry.on.status.codes`, up to `max.retries` times with backoff; one that still fails follows
//! `behavior.on.error`.

use std::time::Duration;

use sluice_connect_api::{BoxFuture, ConnectError, Header, Props, Result, SinkRecord, SinkTask};

use super::auth::Authenticator;
use super::body::{batch_body, record_text};
use super::config::{BodyFormat, HttpSinkConfig, OnError, OnNull};

/// Most bytes of a response body quoted in an error.
const QUOTED_BODY: usize = 500;

#[derive(Default)]
pub struct HttpSinkTask {
    state: Option<State>,
}

struct State {
    config: HttpSinkConfig,
    client: reqwest::Client,
    auth: Authenticator,
}

/// Records waiting to be sent together.
struct Batch {
    url: String,
    headers: Vec<Header>,
    texts: Vec<String>,
}

impl SinkTask for HttpSinkTask {
    fn start(&mut self, props: &Props) -> Result<()> {
        let config = HttpSinkConfig::parse(props)?;
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| ConnectError::Fatal(format!("building the HTTP client: {e}")))?;
        let auth = Authenticator::new(config.auth.clone());
        self.state = Some(State {
            config,
            client,
            auth,
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
                        self.send("DELETE", &url, &[], None).await?;
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
            batch
                .get_or_insert_with(|| Batch {
                    url,
                    headers,
                    texts: Vec::new(),
                })
                .texts
                .push(text);
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
        self.send(&method, &batch.url, &batch.headers, Some(body))
            .await
    }

    /// Sends one request with retries; what a request that fails for good does is
    /// `behavior.on.error`'s.
    async fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[Header],
        body: Option<String>,
    ) -> Result<()> {
        let Err(failure) = self.send_with_retries(method, url, headers, body).await else {
            return Ok(());
        };
        match self.config.on_error {
            OnError::Fail => Err(failure),
            OnError::Log => {
                tracing::warn!(url, error = %failure, "a request failed (behavior.on.error=log)");
                Ok(())
            }
            OnError::Ignore => Ok(()),
        }
    }

    async fn send_with_retries(
        &mut self,
        method: &str,
        url: &str,
        headers: &[Header],
        body: Option<String>,
    ) -> Result<()> {
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| ConnectError::Config {
                key: "request.method".into(),
                message: e.to_string(),
            })?;
        let mut attempt: u32 = 0;
        let mut refreshed_token = false;
        loop {
            let mut request = self.state_request(&method, url, headers, body.as_deref());
            request = self.auth.apply(&self.client, request).await?;
            let outcome = request.send().await;
            let failure = match outcome {
                Ok(response) => {
                    let status = response.status().as_u16();
                    if (200..300).contains(&status) {
                        return Ok(());
                    }
                    if status == 401 && !refreshed_token && self.auth.forget_token() {
                        // An expired or revoked token: fetch a new one and try again at once.
                        refreshed_token = true;
                        continue;
                    }
                    let text = response.text().await.unwrap_or_default();
                    let quoted: String = text.chars().take(QUOTED_BODY).collect();
                    let message = format!("HTTP {method} {url} answered {status}: {quoted}");
                    if !self.config.retry_on.contains(status) {
                        return Err(ConnectError::data(message));
                    }
                    message
                }
                Err(e) => format!("HTTP {method} {url} failed: {e}"),
            };
            if attempt >= self.config.max_retries {
                return Err(ConnectError::data(format!(
                    "{failure} (after {} retries, max.retries)",
                    attempt
                )));
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
