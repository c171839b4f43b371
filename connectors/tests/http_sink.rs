//! The HTTP sink against a real HTTP server started by the test (axum on 127.0.0.1): bodies,
//! batching, headers, basic and OAuth2 authentication, retries on 429/503, and what a permanent
//! 400 does.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use sluice_connect_api::{
    ConnectError, Headers, Schema, SchemaBuilder, SinkRecord, SinkTask, Struct, TimestampType,
    Value,
};
use sluice_connectors::http::HttpSinkTask;

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HeaderMap,
    body: String,
}

#[derive(Default)]
struct Server {
    seen: Mutex<Vec<Seen>>,
    /// Statuses to answer, in order; 200 once they run out.
    script: Mutex<VecDeque<u16>>,
    tokens_issued: Mutex<u32>,
    /// Refuse the first token with a 401, as an API that revoked it would.
    revoke_first_token: bool,
}

async fn api(
    State(server): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    if uri.path() == "/token" {
        let mut issued = server.tokens_issued.lock().expect("lock");
        *issued += 1;
        let body = format!(
            r#"{{"access_token":"token-{}","token_type":"bearer","expires_in":3600}}"#,
            *issued
        );
        return (StatusCode::OK, body);
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    server.seen.lock().expect("lock").push(Seen {
        method: method.to_string(),
        path: uri.to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if server.revoke_first_token && bearer == "Bearer token-1" {
        return (StatusCode::UNAUTHORIZED, "token revoked".to_string());
    }
    let status = server
        .script
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or(200);
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        format!("status {status}"),
    )
}

async fn serve(server: Server) -> (String, Arc<Server>) {
    let server = Arc::new(server);
    let app = axum::Router::new()
        .fallback(api)
        .with_state(Arc::clone(&server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}"), server)
}

fn record(
    topic: &str,
    key: &str,
    value: Value,
    schema: Option<sluice_connect_api::SchemaRef>,
) -> SinkRecord {
    SinkRecord {
        topic: topic.into(),
        kafka_partition: 0,
        kafka_offset: 0,
        key_schema: Some(Schema::string()),
        key: Value::String(key.into()),
        value_schema: schema,
        value,
        timestamp: None,
        timestamp_type: TimestampType::CreateTime,
        headers: Headers::new(),
    }
}

fn text(topic: &str, value: &str) -> SinkRecord {
    record(
        topic,
        "k",
        Value::String(value.into()),
        Some(Schema::string()),
    )
}

fn started(pairs: &[(&str, &str)]) -> HttpSinkTask {
    let props: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut task = HttpSinkTask::default();
    task.start(&props).expect("start");
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_batched_per_url_with_the_configured_text_around_them() {
    let (base, server) = serve(Server::default()).await;
    let url = format!("{base}/in/${{topic}}");
    let mut task = started(&[
        ("http.api.url", &url),
        ("batch.max.size", "3"),
        ("batch.prefix", "["),
        ("batch.suffix", "]"),
        ("batch.separator", ";"),
        ("headers", "X-Source:sluice|Content-Type:text/csv"),
    ]);
    let records = vec![
        text("a", "1"),
        text("a", "2"),
        text("a", "3"),
        text("a", "4"),
        text("b", "5"),
        text("a", "6"),
    ];
    task.put(records).await.expect("put");
    let seen = server.seen.lock().expect("lock").clone();
    let bodies: Vec<(String, String)> = seen
        .iter()
        .map(|s| (s.path.clone(), s.body.clone()))
        .collect();
    assert_eq!(
        bodies,
        [
            ("/in/a".to_string(), "[1;2;3]".to_string()),
            ("/in/a".to_string(), "[4]".to_string()),
            ("/in/b".to_string(), "[5]".to_string()),
            ("/in/a".to_string(), "[6]".to_string()),
        ],
        "batches of at most three, never across URLs, in order"
    );
    assert!(seen.iter().all(|s| s.method == "POST"));
    assert_eq!(seen[0].headers["x-source"], "sluice");
    assert_eq!(seen[0].headers["content-type"], "text/csv");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structs_go_as_a_json_array_with_basic_auth_and_the_key_in_the_url() {
    let (base, server) = serve(Server::default()).await;
    let schema = SchemaBuilder::struct_()
        .field("id", Schema::int64())
        .and_then(|b| b.field("name", Schema::optional_string()))
        .expect("schema")
        .build();
    let row = |id: i64, name: Option<&str>| {
        Value::Struct(
            Struct::from_values(
                Arc::clone(&schema),
                vec![
                    Value::Int64(id),
                    name.map_or(Value::Null, |n| Value::String(n.into())),
                ],
            )
            .expect("struct"),
        )
    };
    let url = format!("{base}/users/${{key}}");
    let mut task = started(&[
        ("http.api.url", &url),
        ("request.method", "PUT"),
        ("request.body.format", "json"),
        ("batch.json.as.array", "true"),
        ("batch.max.size", "10"),
        ("auth.type", "BASIC"),
        ("connection.user", "fred"),
        ("connection.password", "s3cret"),
    ]);
    task.put(vec![
        record("users", "7", row(7, Some("Ada")), Some(Arc::clone(&schema))),
        record("users", "7", row(8, None), Some(Arc::clone(&schema))),
    ])
    .await
    .expect("put");
    let seen = server.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "PUT");
    assert_eq!(seen[0].path, "/users/7");
    assert_eq!(
        seen[0].body,
        r#"[{"id":7,"name":"Ada"},{"id":8,"name":null}]"#
    );
    assert_eq!(seen[0].headers["content-type"], "application/json");
    // fred:s3cret
    assert_eq!(seen[0].headers["authorization"], "Basic ZnJlZDpzM2NyZXQ=");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_server_is_retried_with_backoff_and_a_permanent_400_follows_behavior_on_error() {
    let server = Server::default();
    server.script.lock().expect("lock").extend([503, 429, 200]);
    let (base, server) = serve(server).await;
    let mut task = started(&[
        ("http.api.url", &base),
        ("retry.on.status.codes", "429,500-"),
        ("retry.backoff.ms", "20"),
        ("max.retries", "5"),
    ]);
    task.put(vec![text("t", "payload")])
        .await
        .expect("accepted on the third try");
    assert_eq!(
        server.seen.lock().expect("lock").len(),
        3,
        "503, 429, then 200"
    );

    server.seen.lock().expect("lock").clear();
    server.script.lock().expect("lock").extend([400]);
    let err = task
        .put(vec![text("t", "bad")])
        .await
        .expect_err("a 400 is not retried");
    assert!(
        matches!(&err, ConnectError::Data(m) if m.contains("answered 400")),
        "{err}"
    );
    assert_eq!(
        server.seen.lock().expect("lock").len(),
        1,
        "no retry of a 400 here"
    );

    server.script.lock().expect("lock").extend([503, 503, 503]);
    let mut few = started(&[
        ("http.api.url", &base),
        ("retry.backoff.ms", "10"),
        ("max.retries", "2"),
        ("retry.backoff.policy", "CONSTANT_VALUE"),
    ]);
    let err = few
        .put(vec![text("t", "x")])
        .await
        .expect_err("still 503 after two retries");
    assert!(err.to_string().contains("after 2 retries"), "{err}");

    server.script.lock().expect("lock").extend([400]);
    let mut lenient = started(&[
        ("http.api.url", &base),
        ("behavior.on.error", "log"),
        ("max.retries", "0"),
    ]);
    lenient
        .put(vec![text("t", "logged")])
        .await
        .expect("behavior.on.error=log skips the record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_tokens_are_fetched_once_reused_and_renewed_after_a_401() {
    let (base, server) = serve(Server {
        revoke_first_token: true,
        ..Server::default()
    })
    .await;
    let token_url = format!("{base}/token");
    let mut task = started(&[
        ("http.api.url", &format!("{base}/events")),
        ("auth.type", "OAUTH2"),
        ("oauth2.token.url", &token_url),
        ("oauth2.client.id", "sluice"),
        ("oauth2.client.secret", "secret"),
    ]);
    task.put(vec![text("t", "1")])
        .await
        .expect("put after renewing the token");
    task.put(vec![text("t", "2")]).await.expect("put");
    task.put(vec![text("t", "3")]).await.expect("put");
    assert_eq!(
        *server.tokens_issued.lock().expect("lock"),
        2,
        "one token refused, one reused"
    );
    let seen = server.seen.lock().expect("lock").clone();
    let auth: Vec<&str> = seen
        .iter()
        .map(|s| s.headers["authorization"].to_str().unwrap_or_default())
        .collect();
    assert_eq!(
        auth,
        [
            "Bearer token-1",
            "Bearer token-2",
            "Bearer token-2",
            "Bearer token-2"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tombstones_are_ignored_deleted_or_fail_as_configured() {
    let (base, server) = serve(Server::default()).await;
    let url = format!("{base}/items/${{key}}");
    let tombstone = || record("items", "42", Value::Null, None);
    started(&[("http.api.url", &url)])
        .put(vec![tombstone()])
        .await
        .expect("ignored");
    assert!(server.seen.lock().expect("lock").is_empty());
    started(&[
        ("http.api.url", &url),
        ("behavior.on.null.values", "delete"),
    ])
    .put(vec![tombstone()])
    .await
    .expect("deleted");
    let seen = server.seen.lock().expect("lock").clone();
    assert_eq!(
        (
            seen[0].method.as_str(),
            seen[0].path.as_str(),
            seen[0].body.as_str()
        ),
        ("DELETE", "/items/42", "")
    );
    let err = started(&[("http.api.url", &url), ("behavior.on.null.values", "fail")])
        .put(vec![tombstone()])
        .await
        .expect_err("fails");
    assert!(
        err.to_string().contains("behavior.on.null.values=fail"),
        "{err}"
    );
}
