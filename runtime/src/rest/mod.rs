//! The Kafka Connect REST API (reference §1): the same paths, status codes, JSON shapes and error
//! bodies (`{"error_code","message"}`) as Apache Kafka Connect, so existing scripts and tools work.
//! Beyond Kafka: malformed JSON is a 400 naming the line and column.

pub mod loggers;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json as AxumJson, Router};
use serde_json::{json, Value as Json};
use sluice_connect_api::Props;
use tokio_util::sync::CancellationToken;

use crate::herder::{Herder, HerderError, InitialState};
use loggers::{LoggerError, Loggers};

/// The Kafka Connect version whose REST API this one follows; tools check it for features.
pub const CONNECT_API_VERSION: &str = "3.9.0";

#[derive(Clone)]
struct AppState {
    herder: Arc<Herder>,
    loggers: Arc<Loggers>,
}

/// An error answer: `{"error_code": <status>, "message": "..."}`.
#[derive(Debug)]
pub struct RestError {
    status: StatusCode,
    message: String,
}

impl RestError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = json!({"error_code": self.status.as_u16(), "message": self.message});
        (self.status, AxumJson(body)).into_response()
    }
}

impl From<HerderError> for RestError {
    fn from(e: HerderError) -> Self {
        let status = match &e {
            HerderError::NotFound(_) => StatusCode::NOT_FOUND,
            HerderError::Conflict(_) => StatusCode::CONFLICT,
            HerderError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HerderError::Forbidden(_) => StatusCode::FORBIDDEN,
            HerderError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

type Reply = Result<Response, RestError>;

fn ok(body: Json) -> Reply {
    Ok((StatusCode::OK, AxumJson(body)).into_response())
}

fn empty(status: StatusCode) -> Reply {
    Ok(status.into_response())
}

/// Parses a request body; syntax errors name the line and column.
fn parse_body(body: &Bytes) -> Result<Json, RestError> {
    if body.is_empty() {
        return Err(RestError::bad_request("Request body is missing"));
    }
    serde_json::from_slice(body).map_err(|e| {
        RestError::bad_request(format!(
            "Malformed JSON at line {} column {}: {}",
            e.line(),
            e.column(),
            json_error_text(&e)
        ))
    })
}

/// serde's message without its own " at line X column Y" suffix.
fn json_error_text(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// A JSON object of config values as strings: numbers and booleans become their text, as
/// Jackson does; null is refused.
fn config_map(value: &Json) -> Result<Props, RestError> {
    let Json::Object(map) = value else {
        return Err(RestError::bad_request(
            "The connector configuration must be a JSON object",
        ));
    };
    let mut props = Props::new();
    for (k, v) in map {
        let text = match v {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            Json::Null => {
                return Err(RestError::bad_request(
                    "Null value can not be supplied as the configuration value.",
                ))
            }
            _ => {
                return Err(RestError::bad_request(format!(
                    "The value of configuration '{k}' must be a string, number or boolean"
                )))
            }
        };
        props.insert(k.clone(), text);
    }
    Ok(props)
}

fn check_name(name: &str) -> Result<String, RestError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(RestError::bad_request("Connector name cannot be empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(RestError::bad_request(
            "Connector name cannot contain ISO control characters",
        ));
    }
    if name.contains('/') {
        return Err(RestError::bad_request(
            "connector name should not contain '/'",
        ));
    }
    Ok(name.to_string())
}

/// Query parameters, repeated ones kept.
fn query_params(query: &Option<String>) -> Vec<(String, String)> {
    query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}

fn query_flag(params: &[(String, String)], name: &str, default: bool) -> bool {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map_or(default, |(_, v)| v.eq_ignore_ascii_case("true"))
}

/// The REST API, served on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    herder: Arc<Herder>,
    loggers: Arc<Loggers>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(herder, loggers))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

pub fn router(herder: Arc<Herder>, loggers: Arc<Loggers>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/health", get(health))
        .route("/connectors", get(list_connectors).post(create_connector))
        .route(
            "/connectors/{name}",
            get(connector_info).delete(delete_connector),
        )
        .route(
            "/connectors/{name}/config",
            get(connector_config).put(put_config).patch(patch_config),
        )
        .route("/connectors/{name}/status", get(connector_status))
        .route("/connectors/{name}/tasks", get(connector_tasks))
        .route(
            "/connectors/{name}/tasks-config",
            get(connector_tasks_config),
        )
        .route("/connectors/{name}/tasks/{task}/status", get(task_status))
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(restart_task),
        )
        .route("/connectors/{name}/restart", post(restart_connector))
        .route("/connectors/{name}/pause", put(pause))
        .route("/connectors/{name}/resume", put(resume))
        .route("/connectors/{name}/stop", put(stop))
        .route("/connectors/{name}/topics", get(topics))
        .route("/connectors/{name}/topics/reset", put(reset_topics))
        .route(
            "/connectors/{name}/offsets",
            get(offsets).patch(alter_offsets).delete(reset_offsets),
        )
        .route("/connector-plugins", get(plugins))
        .route("/connector-plugins/{plugin}/config", get(plugin_config))
        .route("/connector-plugins/{plugin}/config/validate", put(validate))
        .route("/admin/loggers", get(all_loggers))
        .route("/admin/loggers/{name}", get(get_logger).put(set_logger))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(AppState { herder, loggers })
}

async fn not_found() -> Reply {
    Err(RestError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found"))
}

async fn method_not_allowed() -> Reply {
    Err(RestError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    ))
}

async fn root(State(s): State<AppState>) -> Reply {
    ok(json!({
        "version": CONNECT_API_VERSION,
        "commit": concat!("sluice-", env!("CARGO_PKG_VERSION")),
        "kafka_cluster_id": s.herder.cluster_id(),
    }))
}

async fn health() -> Reply {
    ok(
        json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."}),
    )
}

async fn list_connectors(State(s): State<AppState>, RawQuery(query): RawQuery) -> Reply {
    let params = query_params(&query);
    let expand = |what: &str| params.iter().any(|(k, v)| k == "expand" && v == what);
    let (status, info) = (expand("status"), expand("info"));
    if status || info {
        return ok(s.herder.expanded(status, info).await);
    }
    ok(json!(s.herder.connectors().await))
}

async fn create_connector(State(s): State<AppState>, body: Bytes) -> Reply {
    let request = parse_body(&body)?;
    let name = match request.get("name") {
        Some(Json::String(n)) => check_name(n)?,
        _ => return Err(RestError::bad_request("Connector name is required")),
    };
    let mut props = match request.get("config") {
        Some(config) => config_map(config)?,
        None => return Err(RestError::bad_request("Connector config is required")),
    };
    if let Some(given) = props.get("name") {
        if given.trim() != name {
            return Err(RestError::bad_request(format!(
                "Connector name configuration ({given}) doesn't match connector name in the URL ({name})"
            )));
        }
    }
    props.insert("name".into(), name.clone());
    let initial = match request.get("initial_state") {
        None | Some(Json::Null) => InitialState::Running,
        Some(Json::String(s)) => InitialState::parse(s).ok_or_else(|| {
            RestError::bad_request(format!(
                "Invalid initial_state '{s}': must be one of RUNNING, PAUSED, STOPPED"
            ))
        })?,
        Some(other) => {
            return Err(RestError::bad_request(format!(
                "Invalid initial_state {other}: must be one of RUNNING, PAUSED, STOPPED"
            )))
        }
    };
    let info = s.herder.create(&name, props, initial).await?;
    let location = format!("/connectors/{name}");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        AxumJson(info),
    )
        .into_response())
}

async fn connector_info(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    ok(s.herder.info(&name).await?)
}

async fn delete_connector(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    s.herder.delete(&name).await?;
    empty(StatusCode::NO_CONTENT)
}

async fn connector_config(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    ok(s.herder.connector_config(&name).await?)
}

async fn put_config(State(s): State<AppState>, Path(name): Path<String>, body: Bytes) -> Reply {
    let name = check_name(&name)?;
    let props = config_map(&parse_body(&body)?)?;
    let (created, info) = s.herder.put_config(&name, props).await?;
    if created {
        let location = format!("/connectors/{name}");
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            AxumJson(info),
        )
            .into_response())
    } else {
        ok(info)
    }
}

async fn patch_config(State(s): State<AppState>, Path(name): Path<String>, body: Bytes) -> Reply {
    let Json::Object(map) = parse_body(&body)? else {
        return Err(RestError::bad_request(
            "The connector configuration must be a JSON object",
        ));
    };
    let mut patch = BTreeMap::new();
    for (k, v) in map {
        let value = match v {
            Json::Null => None,
            other => Some(
                config_map(&json!({ &k: other }))?
                    .remove(&k)
                    .unwrap_or_default(),
            ),
        };
        patch.insert(k, value);
    }
    ok(s.herder.patch_config(&name, patch).await?)
}

async fn connector_status(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    ok(s.herder.status(&name).await?)
}

async fn connector_tasks(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    ok(s.herder.tasks(&name).await?)
}

async fn connector_tasks_config(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    ok(s.herder.tasks_config(&name).await?)
}

fn task_id(name: &str, task: &str, message: &str) -> Result<usize, RestError> {
    task.parse()
        .map_err(|_| RestError::new(StatusCode::NOT_FOUND, format!("{message}{name}-{task}")))
}

async fn task_status(
    State(s): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> Reply {
    let id = task_id(&name, &task, "No status found for task ")?;
    ok(s.herder.task_status(&name, id).await?)
}

async fn restart_task(
    State(s): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> Reply {
    let id = task_id(&name, &task, "Unknown task: ")?;
    s.herder.restart_task(&name, id).await?;
    empty(StatusCode::NO_CONTENT)
}

async fn restart_connector(
    State(s): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Reply {
    let params = query_params(&query);
    let include_tasks = query_flag(&params, "includeTasks", false);
    let only_failed = query_flag(&params, "onlyFailed", false);
    match s.herder.restart(&name, include_tasks, only_failed).await? {
        None => empty(StatusCode::NO_CONTENT),
        Some(plan) => Ok((StatusCode::ACCEPTED, AxumJson(plan)).into_response()),
    }
}

async fn pause(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    s.herder.pause(&name).await?;
    empty(StatusCode::ACCEPTED)
}

async fn resume(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    s.herder.resume(&name).await?;
    empty(StatusCode::ACCEPTED)
}

async fn stop(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    s.herder.stop(&name).await?;
    empty(StatusCode::NO_CONTENT)
}

async fn topics(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    ok(s.herder.active_topics(&name).await?)
}

async fn reset_topics(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    s.herder.reset_topics(&name).await?;
    empty(StatusCode::ACCEPTED)
}

async fn offsets(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    ok(s.herder.offsets(&name).await?)
}

async fn alter_offsets(State(s): State<AppState>, Path(name): Path<String>, body: Bytes) -> Reply {
    let request = parse_body(&body)?;
    let missing = || {
        RestError::bad_request(
            "Partitions / offsets need to be provided for an alter offsets request",
        )
    };
    let entries = request
        .get("offsets")
        .and_then(Json::as_array)
        .ok_or_else(missing)?;
    let mut changes = Vec::new();
    for entry in entries {
        let Some(partition) = entry.get("partition").and_then(Json::as_object) else {
            return Err(RestError::bad_request(
                "Each entry needs a 'partition' object",
            ));
        };
        let offset = match entry.get("offset") {
            None | Some(Json::Null) => None,
            Some(Json::Object(o)) => Some(o.clone()),
            Some(_) => {
                return Err(RestError::bad_request(
                    "An 'offset' must be an object or null",
                ))
            }
        };
        changes.push((partition.clone(), offset));
    }
    ok(s.herder.alter_offsets(&name, changes).await?)
}

async fn reset_offsets(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    ok(s.herder.reset_offsets(&name).await?)
}

async fn plugins(State(s): State<AppState>, RawQuery(query): RawQuery) -> Reply {
    let params = query_params(&query);
    let connectors_only = query_flag(&params, "connectorsOnly", true);
    ok(s.herder.plugins().list(connectors_only))
}

async fn plugin_config(State(s): State<AppState>, Path(plugin): Path<String>) -> Reply {
    let def = s.herder.plugins().any_config_def(&plugin).ok_or_else(|| {
        RestError::new(StatusCode::NOT_FOUND, format!("Unknown plugin {plugin}."))
    })?;
    ok(Json::Array(
        def.keys().iter().map(|k| k.to_json()).collect(),
    ))
}

async fn validate(State(s): State<AppState>, Path(plugin): Path<String>, body: Bytes) -> Reply {
    let props = config_map(&parse_body(&body)?)?;
    ok(s.herder.validate_for_plugin(&plugin, &props)?)
}

async fn all_loggers(State(s): State<AppState>) -> Reply {
    ok(s.loggers.all())
}

fn logger_error(e: LoggerError) -> RestError {
    match e {
        LoggerError::InvalidLevel(_) | LoggerError::NotFound(_) => {
            RestError::new(StatusCode::NOT_FOUND, e.to_string())
        }
        LoggerError::Rejected(_) => RestError::bad_request(e.to_string()),
    }
}

async fn get_logger(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    ok(s.loggers.get(&name).map_err(logger_error)?)
}

async fn set_logger(
    State(s): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Reply {
    let request = parse_body(&body)?;
    let Some(level) = request.get("level").and_then(Json::as_str) else {
        return Err(RestError::bad_request(
            "Desired 'level' parameter was not specified in request.",
        ));
    };
    let params = query_params(&query);
    let scope = params
        .iter()
        .rev()
        .find(|(k, _)| k == "scope")
        .map_or("worker", |(_, v)| v.as_str());
    let changed = s.loggers.set(&name, level).map_err(logger_error)?;
    if scope.eq_ignore_ascii_case("cluster") {
        // One worker per group: the cluster is this worker.
        return empty(StatusCode::NO_CONTENT);
    }
    ok(json!(changed))
}
