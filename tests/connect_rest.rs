//! The Kafka Connect REST API contract: every endpoint's status code and JSON shape on success,
//! and its status code and `{"error_code","message"}` body on failure, as Kafka Connect answers.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value as Json};

mod common;
use common::{Standalone, WAIT};

struct Api {
    http: Client,
    sluice: Standalone,
}

impl Api {
    fn start(dir: &Path) -> Self {
        Self {
            http: Client::new(),
            sluice: Standalone::spawn(dir),
        }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.sluice.url(path))
    }

    /// Sends and returns the status, the body (Null when empty) and the Location header.
    fn call(&self, request: RequestBuilder) -> (StatusCode, Json, Option<String>) {
        let response = request.send().expect("request");
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let text = response.text().expect("body");
        let body = if text.is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (status, body, location)
    }

    fn get(&self, path: &str) -> (StatusCode, Json) {
        let (s, b, _) = self.call(self.request(Method::GET, path));
        (s, b)
    }

    fn send(&self, method: Method, path: &str, body: Option<Json>) -> (StatusCode, Json) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (s, b, _) = self.call(request);
        (s, b)
    }

    fn raw(&self, method: Method, path: &str, body: &str) -> (StatusCode, Json) {
        let request = self
            .request(method, path)
            .header("content-type", "application/json")
            .body(body.to_string());
        let (s, b, _) = self.call(request);
        (s, b)
    }

    fn wait_for(&self, path: &str, what: &str, check: impl Fn(&Json) -> bool) -> Json {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, body) = self.get(path);
            if status == StatusCode::OK && check(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn error(code: u16, message: &str) -> Json {
    json!({"error_code": code, "message": message})
}

fn sink_config(dir: &Path) -> Json {
    json!({
        "connector.class": "FileStreamSink",
        "file": dir.join("out.txt").display().to_string(),
        "topics": "t1",
        "tasks.max": 1,
    })
}

fn source_config(dir: &Path) -> Json {
    json!({
        "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "file": dir.join("in.txt").display().to_string(),
        "topic": "t1",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    })
}

#[test]
fn every_endpoint_answers_with_kafka_connects_codes_and_shapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("in.txt"), "a\nb\nc\n").expect("input");
    let api = Api::start(dir.path());
    let worker_id = api.sluice.rest.trim_start_matches("http://").to_string();

    let (status, root) = api.get("/");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(root["version"], "3.9.0");
    assert!(
        root["kafka_cluster_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{root}"
    );
    assert_eq!(
        api.get("/health"),
        (
            StatusCode::OK,
            json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."})
        )
    );
    assert_eq!(api.get("/connectors"), (StatusCode::OK, json!([])));

    // POST: 201, Location, ConnectorInfo with the config as strings and the name added.
    let (status, info, location) = api.call(
        api.request(Method::POST, "/connectors")
            .json(&json!({"name": "src", "config": source_config(dir.path())})),
    );
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(location.as_deref(), Some("/connectors/src"));
    assert_eq!(info["name"], "src");
    assert_eq!(info["type"], "source");
    assert_eq!(info["config"]["name"], "src");
    assert_eq!(info["tasks"], json!([{"connector": "src", "task": 0}]));
    let (status, info) = api.get("/connectors/src");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["tasks"], json!([{"connector": "src", "task": 0}]));

    // PUT config creates (201) then updates (200); numbers come back as strings.
    let (status, _, location) = api.call(
        api.request(Method::PUT, "/connectors/sink/config")
            .json(&sink_config(dir.path())),
    );
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(location.as_deref(), Some("/connectors/sink"));
    let mut updated = sink_config(dir.path());
    updated["tasks.max"] = json!(2);
    let (status, info) = api.send(Method::PUT, "/connectors/sink/config", Some(updated));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["type"], "sink");
    assert_eq!(info["tasks"].as_array().map(Vec::len), Some(2));
    let (status, config) = api.get("/connectors/sink/config");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["tasks.max"], "2");
    assert_eq!(config["name"], "sink");

    // PATCH merges; null removes a key.
    let (status, info) = api.send(
        Method::PATCH,
        "/connectors/sink/config",
        Some(json!({"tasks.max": 1, "errors.log.enable": true})),
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["config"]["errors.log.enable"], "true");
    assert_eq!(info["config"]["tasks.max"], "1");
    let (_, info) = api.send(
        Method::PATCH,
        "/connectors/sink/config",
        Some(json!({"errors.log.enable": null})),
    );
    assert!(info["config"].get("errors.log.enable").is_none(), "{info}");

    // GET /connectors with expand (repeatable).
    let (status, expanded) = api.get("/connectors?expand=status&expand=info");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(expanded["src"]["info"]["name"], "src");
    assert_eq!(expanded["sink"]["status"]["type"], "sink");
    assert_eq!(
        api.get("/connectors?expand=nonsense").1,
        json!(["sink", "src"])
    );

    // Status, tasks, task status.
    let status_body = api.wait_for("/connectors/src/status", "src running", |b| {
        b["tasks"][0]["state"] == "RUNNING"
    });
    assert_eq!(
        status_body,
        json!({"name": "src", "connector": {"state": "RUNNING", "worker_id": worker_id},
               "tasks": [{"id": 0, "state": "RUNNING", "worker_id": worker_id}], "type": "source"})
    );
    let (status, tasks) = api.get("/connectors/src/tasks");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tasks[0]["id"], json!({"connector": "src", "task": 0}));
    assert_eq!(
        tasks[0]["config"]["task.class"],
        "org.apache.kafka.connect.file.FileStreamSourceTask"
    );
    let (status, tasks_config) = api.get("/connectors/src/tasks-config");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tasks_config["src-0"]["topic"], "t1");
    assert_eq!(
        api.get("/connectors/src/tasks/0/status"),
        (
            StatusCode::OK,
            json!({"id": 0, "state": "RUNNING", "worker_id": worker_id})
        )
    );

    // Restarts: 204 plain, 202 with the plan, 204 for one task.
    assert_eq!(
        api.send(Method::POST, "/connectors/src/restart", None),
        (StatusCode::NO_CONTENT, Json::Null)
    );
    let (status, plan) = api.send(
        Method::POST,
        "/connectors/src/restart?includeTasks=true&onlyFailed=false",
        None,
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(plan["connector"]["state"], "RESTARTING");
    assert_eq!(plan["tasks"][0]["state"], "RESTARTING");
    let (status, plan) = api.send(
        Method::POST,
        "/connectors/src/restart?includeTasks=true&onlyFailed=true",
        None,
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_ne!(
        plan["tasks"][0]["state"], "RESTARTING",
        "nothing failed, nothing restarts"
    );
    assert_eq!(
        api.send(Method::POST, "/connectors/src/tasks/0/restart", None),
        (StatusCode::NO_CONTENT, Json::Null)
    );

    // Topics: tracked once records flowed; reset is 202.
    api.wait_for("/connectors/src/topics", "active topics", |b| {
        b == &json!({"src": {"topics": ["t1"]}})
    });
    assert_eq!(
        api.send(Method::PUT, "/connectors/src/topics/reset", None),
        (StatusCode::ACCEPTED, Json::Null)
    );
    assert_eq!(
        api.get("/connectors/src/topics"),
        (StatusCode::OK, json!({"src": {"topics": []}}))
    );

    // Pause 202, resume 202, stop 204 (and an empty task list).
    assert_eq!(
        api.send(Method::PUT, "/connectors/src/pause", None),
        (StatusCode::ACCEPTED, Json::Null)
    );
    api.wait_for("/connectors/src/status", "paused", |b| {
        b["connector"]["state"] == "PAUSED"
    });
    assert_eq!(
        api.send(Method::PUT, "/connectors/src/resume", None),
        (StatusCode::ACCEPTED, Json::Null)
    );
    api.wait_for("/connectors/src/status", "resumed", |b| {
        b["connector"]["state"] == "RUNNING"
    });
    assert_eq!(
        api.send(Method::PUT, "/connectors/src/stop", None),
        (StatusCode::NO_CONTENT, Json::Null)
    );
    let stopped = api.wait_for("/connectors/src/status", "stopped", |b| {
        b["connector"]["state"] == "STOPPED"
    });
    assert_eq!(stopped["tasks"], json!([]));
    assert_eq!(api.get("/connectors/src").1["tasks"], json!([]));

    // Offsets: read, alter, reset (the connector is stopped).
    let file = dir.path().join("in.txt").display().to_string();
    let (status, offsets) = api.get("/connectors/src/offsets");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        offsets,
        json!({"offsets": [{"partition": {"filename": file}, "offset": {"position": 6}}]})
    );
    let (status, body) = api.send(
        Method::PATCH,
        "/connectors/src/offsets",
        Some(json!({"offsets": [{"partition": {"filename": file}, "offset": {"position": 2}}]})),
    );
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"message": "The offsets for this connector have been altered successfully"})
        )
    );
    assert_eq!(
        api.get("/connectors/src/offsets").1["offsets"][0]["offset"],
        json!({"position": 2})
    );
    let (status, body) = api.send(Method::DELETE, "/connectors/src/offsets", None);
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"message": "The offsets for this connector have been reset successfully"})
        )
    );
    assert_eq!(api.get("/connectors/src/offsets").1, json!({"offsets": []}));

    // Plugins: connectors only by default; everything with connectorsOnly=false.
    let (status, plugins) = api.get("/connector-plugins");
    assert_eq!(status, StatusCode::OK);
    let v = env!("CARGO_PKG_VERSION");
    let spooldir = |class: &str| json!({"class": format!("com.github.jcustenborder.kafka.connect.spooldir.{class}"), "type": "source", "version": v});
    assert_eq!(
        plugins,
        json!([
            spooldir("SpoolDirAvroSourceConnector"),
            spooldir("SpoolDirBinaryFileSourceConnector"),
            spooldir("SpoolDirCsvSourceConnector"),
            spooldir("SpoolDirJsonSourceConnector"),
            spooldir("SpoolDirLineDelimitedSourceConnector"),
            spooldir("SpoolDirSchemaLessJsonSourceConnector"),
            spooldir("elf.SpoolDirELFSourceConnector"),
            {"class": "io.confluent.connect.http.HttpSinkConnector", "type": "sink", "version": v},
            {"class": "io.confluent.connect.jdbc.JdbcSinkConnector", "type": "sink", "version": v},
            {"class": "io.confluent.connect.jdbc.JdbcSourceConnector", "type": "source", "version": v},
            {"class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "type": "sink", "version": v},
            {"class": "org.apache.kafka.connect.file.FileStreamSourceConnector", "type": "source", "version": v},
        ])
    );
    let (_, all) = api.get("/connector-plugins?connectorsOnly=false");
    let types: Vec<&str> = all
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["type"].as_str())
        .collect();
    for kind in [
        "source",
        "sink",
        "converter",
        "header_converter",
        "transformation",
        "predicate",
    ] {
        assert!(types.contains(&kind), "{kind} missing from {all}");
    }
    let (status, definitions) = api.get("/connector-plugins/FileStreamSource/config");
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = definitions
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, ["file", "topic", "batch.size"]);

    // Validate: 200 even with errors; unknown keys get a did-you-mean.
    let (status, result) = api.send(
        Method::PUT,
        "/connector-plugins/FileStreamSinkConnector/config/validate",
        Some(json!({"connector.class": "FileStreamSink", "name": "v", "topics": "t", "task.max": "2"})),
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result["name"], "FileStreamSink");
    assert_eq!(result["error_count"], 1);
    assert_eq!(result["groups"][0], "Common");
    let typo = result["configs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["value"]["name"] == "task.max")
        .expect("the unknown key is reported");
    assert_eq!(typo["definition"], Json::Null);
    assert_eq!(
        typo["value"]["errors"],
        json!(["Unknown configuration 'task.max'. Did you mean 'tasks.max'?"])
    );
    let tasks_max = result["configs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["definition"]["name"] == "tasks.max")
        .expect("tasks.max");
    assert_eq!(
        tasks_max["definition"],
        json!({"name": "tasks.max", "type": "INT", "required": false, "default_value": "1", "importance": "HIGH",
               "documentation": "Maximum number of tasks to use for this connector.", "group": "Common", "width": "SHORT",
               "display_name": "Tasks max", "dependents": [], "order": 3})
    );

    // Loggers.
    assert_eq!(
        api.get("/admin/loggers"),
        (
            StatusCode::OK,
            json!({"root": {"level": "INFO", "last_modified": null}})
        )
    );
    let (status, changed) = api.send(
        Method::PUT,
        "/admin/loggers/sluice_runtime",
        Some(json!({"level": "DEBUG"})),
    );
    assert_eq!(
        (status, changed),
        (StatusCode::OK, json!(["sluice_runtime"]))
    );
    let (status, level) = api.get("/admin/loggers/sluice_runtime");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(level["level"], "DEBUG");
    assert!(level["last_modified"].is_i64(), "{level}");
    assert_eq!(
        api.send(
            Method::PUT,
            "/admin/loggers/sluice_runtime?scope=cluster",
            Some(json!({"level": "INFO"}))
        ),
        (StatusCode::NO_CONTENT, Json::Null)
    );

    // Delete: 204.
    assert_eq!(
        api.send(Method::DELETE, "/connectors/sink", None),
        (StatusCode::NO_CONTENT, Json::Null)
    );
    assert_eq!(api.get("/connectors"), (StatusCode::OK, json!(["src"])));
    api.sluice.stop();
}

#[test]
fn errors_carry_kafka_connects_status_codes_and_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Api::start(dir.path());
    let (status, _) = api.send(
        Method::POST,
        "/connectors",
        Some(json!({"name": "s", "config": sink_config(dir.path())})),
    );
    assert_eq!(status, StatusCode::CREATED);

    // 404s, worded per endpoint as Kafka words them.
    let not_found = [
        (Method::GET, "/connectors/x", "Connector x not found"),
        (Method::GET, "/connectors/x/config", "Connector x not found"),
        (Method::DELETE, "/connectors/x", "Connector x not found"),
        (
            Method::GET,
            "/connectors/x/status",
            "No status found for connector x",
        ),
        (Method::GET, "/connectors/x/tasks", "Connector x not found"),
        (
            Method::GET,
            "/connectors/s/tasks/9/status",
            "No status found for task s-9",
        ),
        (Method::PUT, "/connectors/x/pause", "Unknown connector x"),
        (Method::PUT, "/connectors/x/resume", "Unknown connector x"),
        (Method::PUT, "/connectors/x/stop", "Connector x not found"),
        (
            Method::POST,
            "/connectors/x/restart",
            "Unknown connector: x",
        ),
        (
            Method::POST,
            "/connectors/s/tasks/3/restart",
            "Unknown task: s-3",
        ),
        (
            Method::GET,
            "/connectors/x/offsets",
            "Connector x not found",
        ),
        (Method::GET, "/connectors/x/topics", "Connector x not found"),
        (
            Method::GET,
            "/connector-plugins/Nope/config",
            "Unknown plugin Nope.",
        ),
        (Method::GET, "/admin/loggers/nope", "Logger nope not found."),
        (Method::GET, "/no/such/path", "HTTP 404 Not Found"),
    ];
    for (method, path, message) in not_found {
        assert_eq!(
            api.send(method.clone(), path, None),
            (StatusCode::NOT_FOUND, error(404, message)),
            "{method} {path}"
        );
    }
    assert_eq!(
        api.send(
            Method::PATCH,
            "/connectors/x/config",
            Some(json!({"a": "b"}))
        ),
        (StatusCode::NOT_FOUND, error(404, "Connector x not found"))
    );
    assert_eq!(
        api.send(Method::DELETE, "/connectors", None),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            error(405, "HTTP 405 Method Not Allowed")
        )
    );

    // 409 for a duplicate.
    assert_eq!(
        api.send(
            Method::POST,
            "/connectors",
            Some(json!({"name": "s", "config": sink_config(dir.path())}))
        ),
        (
            StatusCode::CONFLICT,
            error(409, "Connector s already exists")
        )
    );

    // 400s: malformed JSON names the line and column.
    let (status, body) = api.raw(
        Method::POST,
        "/connectors",
        "{\"name\": \"a\",\n \"config\": {\"topics\": }}",
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Malformed JSON at line 2 column 23")),
        "{body}"
    );
    let (status, body) = api.raw(Method::PUT, "/connectors/s/config", "[1,");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        api.send(Method::POST, "/connectors", Some(json!({"name": "n", "config": {"connector.class": "FileStreamSink", "topics": null}}))),
        (StatusCode::BAD_REQUEST, error(400, "Null value can not be supplied as the configuration value."))
    );
    assert_eq!(
        api.send(
            Method::PUT,
            "/connectors/a/config",
            Some(json!({"name": "b", "connector.class": "FileStreamSink", "topics": "t"}))
        ),
        (
            StatusCode::BAD_REQUEST,
            error(
                400,
                "Connector name configuration (b) doesn't match connector name in the URL (a)"
            )
        )
    );
    assert_eq!(
        api.send(
            Method::POST,
            "/connectors",
            Some(json!({"name": "n", "config": {"topics": "t"}}))
        ),
        (
            StatusCode::BAD_REQUEST,
            error(
                400,
                "Connector config {name=n, topics=t} contains no connector type"
            )
        )
    );
    let (status, body) = api.send(
        Method::POST,
        "/connectors",
        Some(
            json!({"name": "n", "config": {"connector.class": "FileStreamSink", "tasks.max": "0"}}),
        ),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "Connector configuration is invalid and contains the following 2 error(s):\n\
         Invalid value 0 for configuration tasks.max: Value must be at least 1\n\
         Must configure one of topics or topics.regex\n\
         You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"
    );
    let (status, body) = api.send(
        Method::POST,
        "/connectors",
        Some(json!({"name": "n", "config": {"connector.class": "FileStreamSnk", "topics": "t"}})),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("Did you mean 'FileStreamSink'?")),
        "{body}"
    );
    assert_eq!(
        api.send(Method::POST, "/connectors", Some(json!({"name": "n", "config": {"connector.class": "FileStreamSink", "topics": "t"}, "initial_state": "SLEEPING"}))).0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.send(Method::PUT, "/connector-plugins/FileStreamSource/config/validate", Some(json!({"connector.class": "FileStreamSink"}))),
        (StatusCode::BAD_REQUEST, error(400, "Included connector type FileStreamSink does not match request type FileStreamSource"))
    );

    // Offsets can only change while STOPPED.
    assert_eq!(
        api.send(Method::DELETE, "/connectors/s/offsets", None),
        (StatusCode::BAD_REQUEST, error(400, "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/s/stop' endpoint"))
    );
    api.send(Method::PUT, "/connectors/s/stop", None);
    assert_eq!(
        api.send(
            Method::PATCH,
            "/connectors/s/offsets",
            Some(json!({"offsets": []}))
        ),
        (
            StatusCode::BAD_REQUEST,
            error(
                400,
                "Partitions / offsets need to be provided for an alter offsets request"
            )
        )
    );

    // Loggers: a bad level is 404, a missing one 400.
    assert_eq!(
        api.send(
            Method::PUT,
            "/admin/loggers/x",
            Some(json!({"level": "LOUD"}))
        ),
        (
            StatusCode::NOT_FOUND,
            error(404, "invalid log level 'LOUD'.")
        )
    );
    assert_eq!(
        api.send(Method::PUT, "/admin/loggers/x", Some(json!({}))),
        (
            StatusCode::BAD_REQUEST,
            error(
                400,
                "Desired 'level' parameter was not specified in request."
            )
        )
    );
    api.sluice.stop();
}

#[test]
fn topic_tracking_can_be_turned_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = Client::new();
    let sluice = Standalone::spawn_with(dir.path(), &["topic.tracking.enable=false"]);
    let response = http
        .post(sluice.url("/connectors"))
        .json(&json!({"name": "s", "config": sink_config(dir.path())}))
        .send()
        .expect("create");
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = http
        .get(sluice.url("/connectors/s/topics"))
        .send()
        .expect("topics");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.json::<Json>().expect("body"),
        error(403, "Topic tracking is disabled.")
    );
    sluice.stop();
}
