//! The HTTP sink's keys (Confluent's names and defaults) and their parsed form.

use std::time::Duration;

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, Importance, Props, Result, Validator,
};

pub fn config_def() -> ConfigDef {
    let one_of = |values: &[&str]| Validator::OneOf(values.iter().map(|v| v.to_string()).collect());
    ConfigDef::new()
        .define("http.api.url", ConfigType::String, None, Importance::High, "HTTP API URL; may contain ${topic} and ${key}.")
        .validator(Validator::NonEmptyString)
        .define("request.method", ConfigType::String, Some("POST"), Importance::High, "HTTP request method: POST, PUT or PATCH.")
        .validator(one_of(&["POST", "PUT", "PATCH"]))
        .define("headers", ConfigType::String, Some(""), Importance::Low, "HTTP headers to send with each request, separated by header.separator.")
        .define("header.separator", ConfigType::String, Some("|"), Importance::Low, "Separator between the headers in headers.")
        .define("request.body.format", ConfigType::String, Some("string"), Importance::Medium, "How record values are sent: string or json.")
        .validator(one_of(&["string", "json"]))
        .define("batch.max.size", ConfigType::Int, Some("1"), Importance::High, "The most records sent in one request.")
        .validator(Validator::AtLeast(1.0))
        .define("batch.prefix", ConfigType::String, Some(""), Importance::High, "Text before the records of a batch.")
        .define("batch.suffix", ConfigType::String, Some(""), Importance::High, "Text after the records of a batch.")
        .define("batch.separator", ConfigType::String, Some(","), Importance::High, "Text between the records of a batch.")
        .define("batch.json.as.array", ConfigType::Boolean, Some("false"), Importance::High, "Send a batch of JSON values as a JSON array.")
        .define("batch.key.pattern", ConfigType::String, Some("someKey"), Importance::High, "Pattern naming the batch a record belongs to; records are batched by the URL they go to.")
        .define("auth.type", ConfigType::String, Some("NONE"), Importance::High, "Authentication: NONE, BASIC or OAUTH2.")
        .validator(one_of(&["NONE", "BASIC", "OAUTH2", "THIRD_PARTY"]))
        .define("connection.user", ConfigType::String, Some(""), Importance::High, "User for BASIC authentication.")
        .define("connection.password", ConfigType::Password, Some(""), Importance::High, "Password for BASIC authentication.")
        .define("oauth2.token.url", ConfigType::String, Some(""), Importance::High, "Where OAUTH2 access tokens are requested (client credentials grant).")
        .define("oauth2.client.id", ConfigType::String, Some(""), Importance::High, "The OAUTH2 client id.")
        .define("oauth2.client.secret", ConfigType::Password, Some(""), Importance::High, "The OAUTH2 client secret.")
        .define("oauth2.client.scope", ConfigType::String, Some("any"), Importance::Low, "The scope asked for with the token.")
        .define("oauth2.token.property", ConfigType::String, Some("access_token"), Importance::Low, "The property of the token response holding the token.")
        .define("oauth2.client.auth.mode", ConfigType::String, Some("header"), Importance::Low, "How the client authenticates to the token URL: header (basic) or url (form fields).")
        .validator(one_of(&["header", "url"]))
        .define("max.retries", ConfigType::Int, Some("10"), Importance::Medium, "How many times a failed request is retried.")
        .validator(Validator::AtLeast(0.0))
        .define("retry.backoff.ms", ConfigType::Int, Some("3000"), Importance::Medium, "The wait before the first retry.")
        .validator(Validator::AtLeast(0.0))
        .define("retry.backoff.policy", ConfigType::String, Some("EXPONENTIAL_WITH_JITTER"), Importance::Low, "CONSTANT_VALUE or EXPONENTIAL_WITH_JITTER.")
        .validator(one_of(&["CONSTANT_VALUE", "EXPONENTIAL_WITH_JITTER"]))
        .define("retry.on.status.codes", ConfigType::String, Some("400-"), Importance::Medium, "Status codes retried: codes and ranges such as 408,429,500-599 or 400-.")
        .define("behavior.on.error", ConfigType::String, Some("fail"), Importance::Medium, "What a request that fails for good does: fail the task, log it, or ignore it.")
        .validator(one_of(&["fail", "log", "ignore"]))
        .define("behavior.on.null.values", ConfigType::String, Some("ignore"), Importance::Low, "What a tombstone does: ignore, delete (a DELETE request), log or fail.")
        .validator(one_of(&["ignore", "delete", "log", "fail"]))
        .define("http.connect.timeout.ms", ConfigType::Int, Some("30000"), Importance::Low, "Connect timeout.")
        .validator(Validator::AtLeast(1.0))
        .define("http.request.timeout.ms", ConfigType::Int, Some("30000"), Importance::Low, "Request timeout.")
        .validator(Validator::AtLeast(1.0))
        .define("regex.patterns", ConfigType::String, Some(""), Importance::Low, "Patterns replaced in each record's text, separated by regex.separator.")
        .define("regex.replacements", ConfigType::String, Some(""), Importance::Low, "Their replacements.")
        .define("regex.separator", ConfigType::String, Some("~"), Importance::Low, "Separator of regex.patterns and regex.replacements.")
        .define("reporter.bootstrap.servers", ConfigType::String, Some(""), Importance::Medium, "The Kafka cluster result and error records are written to; empty: the worker's. When set, the result and error topics are on by default, as in Confluent's connector.")
        .define("reporter.result.topic.name", ConfigType::String, Some("${connector}-success"), Importance::Medium, "The topic each record sent successfully is reported to, with the response body; ${connector} is the connector's name. Written when set, or when reporter.bootstrap.servers is.")
        .define("reporter.error.topic.name", ConfigType::String, Some("${connector}-error"), Importance::Medium, "The topic each record that failed for good is reported to; ${connector} is the connector's name. Written when set, or when reporter.bootstrap.servers is.")
        .define("reporter.result.topic.replication.factor", ConfigType::Int, Some("3"), Importance::Low, "Sluice creates report topics with one partition and the broker's default replication.")
        .define("reporter.result.topic.partitions", ConfigType::Int, Some("1"), Importance::Low, "Sluice creates report topics with one partition.")
        .define("reporter.error.topic.replication.factor", ConfigType::Int, Some("3"), Importance::Low, "Sluice creates report topics with one partition and the broker's default replication.")
        .define("reporter.error.topic.partitions", ConfigType::Int, Some("1"), Importance::Low, "Sluice creates report topics with one partition.")
        .define("report.errors.as", ConfigType::String, Some("error_string"), Importance::Low, "The value of an error record: error_string (the error) or http_response (the response body).")
        .validator(one_of(&["error_string", "http_response"]))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    String,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Fail,
    Log,
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnNull {
    Ignore,
    Delete,
    Log,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic { user: String, password: String },
    OAuth2(OAuth2),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2 {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub scope: String,
    pub token_property: String,
    /// Client credentials in a basic auth header (`header`) or in the form (`url`).
    pub credentials_in_header: bool,
}

/// Which status codes are retried: single codes and ranges, open-ended or closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCodes(Vec<(u16, u16)>);

impl StatusCodes {
    pub fn parse(spec: &str) -> std::result::Result<Self, String> {
        let mut ranges = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let code = |s: &str| {
                s.trim()
                    .parse::<u16>()
                    .map_err(|_| format!("'{part}' is not a status code or range"))
            };
            ranges.push(match part.split_once('-') {
                Some((low, "")) => (code(low)?, u16::MAX),
                Some((low, high)) => (code(low)?, code(high)?),
                None => (code(part)?, code(part)?),
            });
        }
        Ok(Self(ranges))
    }

    pub fn contains(&self, status: u16) -> bool {
        self.0
            .iter()
            .any(|(low, high)| (*low..=*high).contains(&status))
    }
}

/// Where results and errors are reported (`reporter.*`); `None`: not reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reports {
    pub result_topic: Option<String>,
    pub error_topic: Option<String>,
    /// `report.errors.as=http_response`: an error record's value is the response body.
    pub errors_as_response: bool,
}

#[derive(Debug, Clone)]
pub struct HttpSinkConfig {
    pub reports: Reports,
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub format: BodyFormat,
    pub batch_max_size: usize,
    pub batch_prefix: String,
    pub batch_suffix: String,
    pub batch_separator: String,
    pub json_as_array: bool,
    pub auth: Auth,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub exponential_backoff: bool,
    pub retry_on: StatusCodes,
    pub on_error: OnError,
    pub on_null: OnNull,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Each pattern and its replacement, applied to every record's text in order.
    pub rewrites: Vec<(regex::Regex, String)>,
}

fn invalid(key: &str, message: impl Into<String>) -> ConnectError {
    ConnectError::Config {
        key: key.into(),
        message: message.into(),
    }
}

impl HttpSinkConfig {
    pub fn parse(props: &Props) -> Result<Self> {
        let values = config_def().parse_values(props)?;
        let text = |k: &str| values.text(k);
        let number = |k: &str| values.int(k).unwrap_or(0);
        let flag = |k: &str| values.flag(k);
        let connector = props.get("name").map_or("", String::as_str);
        let reporting_by_default = !text("reporter.bootstrap.servers").trim().is_empty();
        let report_topic = |key: &str| {
            let explicit = props.get(key).is_some_and(|v| !v.trim().is_empty());
            (explicit || reporting_by_default)
                .then(|| text(key).trim().replace("${connector}", connector))
                .filter(|t| !t.is_empty())
        };
        let reports = Reports {
            result_topic: report_topic("reporter.result.topic.name"),
            error_topic: report_topic("reporter.error.topic.name"),
            errors_as_response: text("report.errors.as") == "http_response",
        };
        let separator = text("header.separator");
        let mut headers = Vec::new();
        for header in text("headers")
            .split(separator.as_str())
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| invalid("headers", format!("'{header}' is not name:value")))?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        let auth = match text("auth.type").to_ascii_uppercase().as_str() {
            "BASIC" => Auth::Basic {
                user: text("connection.user"),
                password: text("connection.password"),
            },
            "OAUTH2" => {
                let token_url = text("oauth2.token.url");
                if token_url.is_empty() {
                    return Err(invalid("oauth2.token.url", "OAUTH2 needs oauth2.token.url"));
                }
                Auth::OAuth2(OAuth2 {
                    token_url,
                    client_id: text("oauth2.client.id"),
                    client_secret: text("oauth2.client.secret"),
                    scope: text("oauth2.client.scope"),
                    token_property: text("oauth2.token.property"),
                    credentials_in_header: text("oauth2.client.auth.mode")
                        .eq_ignore_ascii_case("header"),
                })
            }
            "THIRD_PARTY" => {
                return Err(invalid(
                    "auth.type",
                    "THIRD_PARTY authentication is not supported by Sluice",
                ))
            }
            _ => Auth::None,
        };
        let regex_separator = text("regex.separator");
        let patterns: Vec<String> = split_nonempty(&text("regex.patterns"), &regex_separator);
        let replacements: Vec<String> =
            split_nonempty(&text("regex.replacements"), &regex_separator);
        if patterns.len() != replacements.len() && !patterns.is_empty() {
            return Err(invalid(
                "regex.replacements",
                format!(
                    "{} patterns but {} replacements",
                    patterns.len(),
                    replacements.len()
                ),
            ));
        }
        let mut rewrites = Vec::new();
        for (pattern, replacement) in patterns.into_iter().zip(replacements) {
            let regex = regex::Regex::new(&pattern)
                .map_err(|e| invalid("regex.patterns", format!("Invalid regex {pattern}: {e}")))?;
            rewrites.push((regex, replacement));
        }
        let choice = |k: &str| text(k).to_ascii_lowercase();
        Ok(Self {
            reports,
            url: text("http.api.url"),
            method: text("request.method").to_ascii_uppercase(),
            headers,
            format: if choice("request.body.format") == "json" {
                BodyFormat::Json
            } else {
                BodyFormat::String
            },
            batch_max_size: number("batch.max.size").max(1) as usize,
            batch_prefix: text("batch.prefix"),
            batch_suffix: text("batch.suffix"),
            batch_separator: text("batch.separator"),
            json_as_array: flag("batch.json.as.array"),
            auth,
            max_retries: number("max.retries").clamp(0, i64::from(u32::MAX)) as u32,
            retry_backoff: Duration::from_millis(number("retry.backoff.ms").max(0) as u64),
            exponential_backoff: text("retry.backoff.policy")
                .eq_ignore_ascii_case("EXPONENTIAL_WITH_JITTER"),
            retry_on: StatusCodes::parse(&text("retry.on.status.codes"))
                .map_err(|e| invalid("retry.on.status.codes", e))?,
            on_error: match choice("behavior.on.error").as_str() {
                "log" => OnError::Log,
                "ignore" => OnError::Ignore,
                _ => OnError::Fail,
            },
            on_null: match choice("behavior.on.null.values").as_str() {
                "delete" => OnNull::Delete,
                "log" => OnNull::Log,
                "fail" => OnNull::Fail,
                _ => OnNull::Ignore,
            },
            connect_timeout: Duration::from_millis(number("http.connect.timeout.ms").max(1) as u64),
            request_timeout: Duration::from_millis(number("http.request.timeout.ms").max(1) as u64),
            rewrites,
        })
    }
}

fn split_nonempty(text: &str, separator: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    text.split(separator).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn status_code_specs_take_codes_and_ranges() {
        let codes = StatusCodes::parse("408,429,500-599").expect("spec");
        assert!(
            codes.contains(429)
                && codes.contains(503)
                && !codes.contains(400)
                && !codes.contains(600)
        );
        let open = StatusCodes::parse("400-").expect("spec");
        assert!(open.contains(400) && open.contains(599) && !open.contains(399));
        assert!(StatusCodes::parse("4xx").is_err());
    }

    #[test]
    fn defaults_and_errors_name_their_key() {
        let config = HttpSinkConfig::parse(&props(&[("http.api.url", "http://h/${topic}")]))
            .expect("config");
        assert_eq!(config.method, "POST");
        assert_eq!(config.batch_max_size, 1);
        assert_eq!(config.max_retries, 10);
        assert_eq!(config.retry_backoff, Duration::from_millis(3000));
        assert_eq!(config.on_error, OnError::Fail);
        assert_eq!(config.on_null, OnNull::Ignore);
        let missing = HttpSinkConfig::parse(&Props::new()).expect_err("no url");
        assert!(
            matches!(&missing, ConnectError::Config { key, .. } if key == "http.api.url"),
            "{missing}"
        );
        // Reports: off unless a topic or Confluent's reporter.bootstrap.servers is set.
        assert_eq!(config.reports, Reports::default());
        let reports = |pairs: &[(&str, &str)]| {
            let mut all = vec![("http.api.url", "http://h"), ("name", "hooks")];
            all.extend_from_slice(pairs);
            HttpSinkConfig::parse(&props(&all))
                .expect("reports")
                .reports
        };
        assert_eq!(
            reports(&[("reporter.error.topic.name", "${connector}-failed")]),
            Reports {
                result_topic: None,
                error_topic: Some("hooks-failed".into()),
                errors_as_response: false
            }
        );
        assert_eq!(
            reports(&[
                ("reporter.bootstrap.servers", "kafka:9092"),
                ("report.errors.as", "http_response")
            ]),
            Reports {
                result_topic: Some("hooks-success".into()),
                error_topic: Some("hooks-error".into()),
                errors_as_response: true
            }
        );
        let headers = HttpSinkConfig::parse(&props(&[
            ("http.api.url", "http://h"),
            ("headers", "Content-Type:application/json|X-Trace: a:b"),
        ]))
        .expect("headers");
        assert_eq!(
            headers.headers,
            [
                ("Content-Type".into(), "application/json".into()),
                ("X-Trace".into(), "a:b".into())
            ]
        );
    }
}
