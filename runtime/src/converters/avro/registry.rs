//! A Schema Registry client for the converter: registers schemas, looks ids up and fetches
//! schemas by id over the registry's REST API, trying each `schema.registry.url` in turn.
//!
//! Converters are called synchronously from the worker's pipelines, which run on an async
//! runtime; a registry call leaves the runtime's thread (`block_in_place`) so it never stalls
//! other tasks, and the embedded registry on the same runtime keeps answering.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value as Json};
use sluice_connect_api::ConnectError;

use crate::blocking::off_runtime;

/// How long one registry request may take before it counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the registry said, or that it could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No URL answered (connection refused, timeout): worth retrying.
    #[error("the schema registry at {urls} could not be reached: {reason}")]
    Unreachable { urls: String, reason: String },
    /// The registry answered with an error body.
    #[error("{message}; error code: {error_code}")]
    Rest {
        status: u16,
        error_code: i64,
        message: String,
    },
}

impl RegistryError {
    pub fn error_code(&self) -> Option<i64> {
        match self {
            RegistryError::Rest { error_code, .. } => Some(*error_code),
            RegistryError::Unreachable { .. } => None,
        }
    }

    /// As the task sees it: unreachable or a server error is retriable, anything the registry
    /// refused (an incompatible schema, an unknown id) is a data error.
    pub fn into_connect(self, context: &str) -> ConnectError {
        match &self {
            RegistryError::Unreachable { .. } => {
                ConnectError::Retriable(format!("{context}: {self}"))
            }
            RegistryError::Rest { status, .. } if *status >= 500 => {
                ConnectError::Retriable(format!("{context}: {self}"))
            }
            RegistryError::Rest { .. } => ConnectError::data(format!("{context}: {self}")),
        }
    }
}

/// One registry (a list of equivalent URLs) with optional basic authentication.
pub struct RegistryClient {
    urls: Vec<String>,
    /// `user:password` for basic authentication.
    user_info: Option<String>,
    /// Built on first use, off the async runtime (the blocking client owns a runtime of its own).
    http: OnceLock<Result<reqwest::blocking::Client, String>>,
    /// The URL that answered last, tried first next time.
    preferred: AtomicUsize,
    /// Requests sent, for the benchmark and the tests: one per new schema, not per record.
    requests: AtomicU64,
}

impl RegistryClient {
    pub fn new(urls: Vec<String>, user_info: Option<String>) -> Self {
        Self {
            urls: urls
                .into_iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect(),
            user_info,
            http: OnceLock::new(),
            preferred: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
        }
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// `POST /subjects/{subject}/versions`: the schema's id, registering it if it is new.
    pub fn register(
        &self,
        subject: &str,
        schema: &str,
        normalize: bool,
    ) -> Result<i32, RegistryError> {
        let path = format!(
            "/subjects/{}/versions?normalize={normalize}",
            encode_path(subject)
        );
        let body = self.call(
            reqwest::Method::POST,
            &path,
            Some(json!({"schema": schema})),
        )?;
        id_of(&body)
    }

    /// `POST /subjects/{subject}`: the id and version of a schema already registered.
    pub fn lookup(
        &self,
        subject: &str,
        schema: &str,
        normalize: bool,
    ) -> Result<(i32, i32), RegistryError> {
        let path = format!("/subjects/{}?normalize={normalize}", encode_path(subject));
        let body = self.call(
            reqwest::Method::POST,
            &path,
            Some(json!({"schema": schema})),
        )?;
        Ok((id_of(&body)?, version_of(&body)?))
    }

    /// `GET /subjects/{subject}/versions/latest`: id, version and schema text.
    pub fn latest(&self, subject: &str) -> Result<(i32, i32, String), RegistryError> {
        let path = format!("/subjects/{}/versions/latest", encode_path(subject));
        let body = self.call(reqwest::Method::GET, &path, None)?;
        Ok((id_of(&body)?, version_of(&body)?, schema_of(&body)?))
    }

    /// `GET /schemas/ids/{id}`: the schema text.
    pub fn schema_by_id(&self, id: i32) -> Result<String, RegistryError> {
        let body = self.call(reqwest::Method::GET, &format!("/schemas/ids/{id}"), None)?;
        schema_of(&body)
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<Json, RegistryError> {
        off_runtime(|| self.call_blocking(method, path, body))
    }

    fn call_blocking(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<Json, RegistryError> {
        let unreachable = |reason: String| RegistryError::Unreachable {
            urls: self.urls.join(","),
            reason,
        };
        let http = self
            .http
            .get_or_init(|| {
                reqwest::blocking::Client::builder()
                    .timeout(REQUEST_TIMEOUT)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| unreachable(e.clone()))?;
        let first = self.preferred.load(Ordering::Relaxed);
        let mut last_failure = String::from("no schema.registry.url");
        for offset in 0..self.urls.len() {
            let index = (first + offset) % self.urls.len();
            let (base, url_auth) = split_user_info(&self.urls[index]);
            let mut request = http
                .request(method.clone(), format!("{base}{path}"))
                .header("Accept", "application/vnd.schemaregistry.v1+json")
                .header("Content-Type", "application/vnd.schemaregistry.v1+json");
            let auth = self.user_info.as_deref().or(url_auth.as_deref());
            if let Some((user, password)) = auth.and_then(|a| a.split_once(':')) {
                request = request.basic_auth(user, Some(password));
            }
            if let Some(body) = &body {
                request = request.body(body.to_string());
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let response = match request.send() {
                Ok(r) => r,
                Err(e) => {
                    last_failure = e.to_string();
                    continue;
                }
            };
            self.preferred.store(index, Ordering::Relaxed);
            let status = response.status().as_u16();
            let text = response.text().map_err(|e| unreachable(e.to_string()))?;
            let json: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
            if (200..300).contains(&status) {
                return Ok(json);
            }
            return Err(RegistryError::Rest {
                status,
                error_code: json["error_code"].as_i64().unwrap_or(i64::from(status)),
                message: json["message"].as_str().map(str::to_string).unwrap_or(text),
            });
        }
        Err(unreachable(last_failure))
    }
}

/// `http://user:pass@host:8081` → (`http://host:8081`, `user:pass`), for
/// `basic.auth.credentials.source=URL`.
fn split_user_info(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((user_info, host)) => (
            format!("{scheme}://{host}{}", &rest[authority_end..]),
            Some(user_info.to_string()),
        ),
        None => (url.to_string(), None),
    }
}

/// Percent-encodes a subject for a URL path.
fn encode_path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn malformed(what: &str, body: &Json) -> RegistryError {
    RegistryError::Rest {
        status: 200,
        error_code: 50001,
        message: format!("the registry's answer has no {what}: {body}"),
    }
}

fn id_of(body: &Json) -> Result<i32, RegistryError> {
    body["id"]
        .as_i64()
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| malformed("id", body))
}

fn version_of(body: &Json) -> Result<i32, RegistryError> {
    body["version"]
        .as_i64()
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| malformed("version", body))
}

fn schema_of(body: &Json) -> Result<String, RegistryError> {
    body["schema"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| malformed("schema", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_in_the_url_is_taken_out_for_basic_auth() {
        assert_eq!(
            split_user_info("http://fred:secret@registry:8081/base"),
            (
                "http://registry:8081/base".to_string(),
                Some("fred:secret".to_string())
            )
        );
        assert_eq!(
            split_user_info("http://registry:8081"),
            ("http://registry:8081".to_string(), None)
        );
        assert_eq!(encode_path("orders-value"), "orders-value");
        assert_eq!(encode_path("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn an_unreachable_registry_is_retriable_and_a_refusal_is_not() {
        // Port 9 on loopback: nothing listens there.
        let client = RegistryClient::new(vec!["http://127.0.0.1:9".into()], None);
        let err = client.schema_by_id(1).expect_err("nothing listens");
        assert!(err.into_connect("fetching").is_retriable());
        let refused = RegistryError::Rest {
            status: 409,
            error_code: 409,
            message: "Schema being registered is incompatible".into(),
        };
        assert!(matches!(
            refused.into_connect("registering"),
            ConnectError::Data(_)
        ));
    }
}
