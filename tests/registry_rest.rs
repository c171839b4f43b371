//! The schema registry's REST contract, through `sluice standalone` (broker and registry as a
//! user runs them): every endpoint's success shape, and the error code and status of each
//! refusal, as Confluent's registry answers them.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{spawn_logged, wait_for_address, Standalone};
use serde_json::{json, Value};

struct Registry {
    base: String,
    http: reqwest::blocking::Client,
}

impl Registry {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            http: reqwest::blocking::Client::new(),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .http
            .request(method, url)
            .header("Content-Type", "application/vnd.schemaregistry.v1+json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().expect("request");
        let status = response.status().as_u16();
        let text = response.text().expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None)
    }

    fn register(&self, subject: &str, schema: &Value) -> (u16, Value) {
        self.call(
            "POST",
            &format!("/subjects/{subject}/versions"),
            Some(json!({"schema": schema.to_string()})),
        )
    }

    /// Asserts a refusal's HTTP status and Confluent error code.
    fn refused(&self, (status, body): (u16, Value), code: u64) -> String {
        assert_eq!(body["error_code"], json!(code), "body {body}");
        assert_eq!(u64::from(status), code / 100, "status for {body}");
        body["message"].as_str().unwrap_or_default().to_string()
    }
}

fn record(fields: Value) -> Value {
    json!({"type": "record", "name": "Reading", "namespace": "com.example", "fields": fields})
}

#[test]
fn registry_rest_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sluice = Standalone::spawn(dir.path());
    let r = Registry::new(&sluice.registry);

    // Discovery and content type.
    let response = reqwest::blocking::get(format!("{}/schemas/types", r.base)).expect("get");
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.schemaregistry.v1+json"
    );
    assert_eq!(response.json::<Value>().expect("json"), json!(["AVRO"]));
    assert_eq!(r.get("/subjects"), (200, json!([])));
    assert_eq!(r.get("/"), (200, json!({})));

    // Ids are global and follow the canonical form: spacing and {"type": ...} do not matter.
    let (status, first) = r.register("plain", &json!("string"));
    assert_eq!((status, first["id"].as_u64().is_some()), (200, true));
    let (_, again) = r.call(
        "POST",
        "/subjects/other/versions",
        Some(json!({"schema": "{ \"type\" :  \"string\" }"})),
    );
    assert_eq!(again["id"], first["id"]);
    assert_eq!(
        r.get("/subjects/other/versions/latest").1["version"],
        json!(1)
    );
    let mut subjects = r.get(&format!("/schemas/ids/{}/subjects", first["id"])).1;
    subjects
        .as_array_mut()
        .expect("array")
        .sort_by_key(|s| s.to_string());
    assert_eq!(subjects, json!(["other", "plain"]));
    assert_eq!(
        r.get(&format!("/schemas/ids/{}", first["id"])).1,
        json!({"schema": "\"string\""})
    );

    // A record subject evolving under BACKWARD.
    let v1 = record(json!([{"name": "sensor", "type": "string"}]));
    let v2 = record(json!([{"name": "sensor", "type": "string"},
                           {"name": "unit", "type": "string", "default": "C"}]));
    let bad = record(json!([{"name": "sensor", "type": "string"},
                            {"name": "site", "type": "string"}]));
    let id1 = r.register("readings", &v1).1["id"].clone();
    let id2 = r.register("readings", &v2).1["id"].clone();
    assert_ne!(id1, id2);
    // Registering a live schema again returns its id without a new version.
    assert_eq!(r.register("readings", &v1).1["id"], id1);
    assert_eq!(r.get("/subjects/readings/versions"), (200, json!([1, 2])));
    let message = r.refused(r.register("readings", &bad), 40901);
    assert!(
        message.contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
        "{message}"
    );
    assert!(message.contains("readings"), "{message}");

    // Versions and lookups.
    let (_, latest) = r.get("/subjects/readings/versions/latest");
    assert_eq!(latest["version"], json!(2));
    assert_eq!(latest["id"], id2);
    assert_eq!(latest["subject"], json!("readings"));
    let (_, raw) = r.get("/subjects/readings/versions/1/schema");
    assert_eq!(raw["name"], json!("Reading"));
    r.refused(r.get("/subjects/readings/versions/9"), 40402);
    r.refused(r.get("/subjects/readings/versions/abc"), 42202);
    r.refused(r.get("/subjects/readings/versions/0"), 42202);
    r.refused(r.get("/subjects/nobody/versions"), 40401);
    r.refused(r.get("/schemas/ids/999999"), 40403);
    let (_, found) = r.call(
        "POST",
        "/subjects/readings?normalize=False",
        Some(json!({"schema": v1.to_string()})),
    );
    assert_eq!(
        (found["version"].clone(), found["id"].clone()),
        (json!(1), id1.clone())
    );
    r.refused(
        r.call(
            "POST",
            "/subjects/readings",
            Some(json!({"schema": bad.to_string()})),
        ),
        40403,
    );
    r.refused(
        r.call(
            "POST",
            "/subjects/nobody",
            Some(json!({"schema": v1.to_string()})),
        ),
        40401,
    );
    let versions = r.get(&format!("/schemas/ids/{id2}/versions")).1;
    assert_eq!(versions, json!([{"subject": "readings", "version": 2}]));

    // Compatibility checks, with the Python client's capitalised booleans.
    let (_, verdict) = r.call(
        "POST",
        "/compatibility/subjects/readings/versions/latest?verbose=True",
        Some(json!({"schema": bad.to_string()})),
    );
    assert_eq!(verdict["is_compatible"], json!(false));
    let messages = verdict["messages"].as_array().expect("messages");
    assert!(messages.iter().any(|m| m
        .as_str()
        .is_some_and(|m| m.contains("errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'"))));
    let (_, verdict) = r.call(
        "POST",
        "/compatibility/subjects/readings/versions",
        Some(json!({"schema": v2.to_string()})),
    );
    assert_eq!(verdict, json!({"is_compatible": true}));
    let (_, verdict) = r.call(
        "POST",
        "/compatibility/subjects/brand-new/versions/latest",
        Some(json!({"schema": bad.to_string()})),
    );
    assert_eq!(verdict, json!({"is_compatible": true}));

    // Config: `compatibilityLevel` to read, `compatibility` to write.
    assert_eq!(
        r.get("/config"),
        (200, json!({"compatibilityLevel": "BACKWARD"}))
    );
    assert_eq!(
        r.call(
            "PUT",
            "/config/readings",
            Some(json!({"compatibility": "none"}))
        ),
        (200, json!({"compatibility": "NONE"}))
    );
    assert_eq!(
        r.get("/config/readings").1,
        json!({"compatibilityLevel": "NONE"})
    );
    r.refused(r.get("/config/plain"), 40408);
    assert_eq!(
        r.get("/config/plain?defaultToGlobal=true").1,
        json!({"compatibilityLevel": "BACKWARD"})
    );
    r.refused(
        r.call("PUT", "/config", Some(json!({"compatibility": "SIDEWAYS"}))),
        42203,
    );
    // Under NONE the incompatible schema is accepted.
    assert_eq!(r.register("readings", &bad).0, 200);
    assert_eq!(
        r.call("DELETE", "/config/readings", None).1,
        json!({"compatibilityLevel": "NONE"})
    );
    r.refused(r.call("DELETE", "/config/readings", None), 40401);

    // Modes.
    assert_eq!(r.get("/mode").1, json!({"mode": "READWRITE"}));
    assert_eq!(
        r.call("PUT", "/mode/plain", Some(json!({"mode": "READONLY"})))
            .1,
        json!({"mode": "READONLY"})
    );
    let message = r.refused(r.register("plain", &json!("long")), 42205);
    assert!(message.contains("read-only"), "{message}");
    r.refused(
        r.call("PUT", "/mode/plain", Some(json!({"mode": "SLEEPY"}))),
        42204,
    );
    r.refused(r.get("/mode/other"), 40409);
    r.refused(
        r.call("PUT", "/mode", Some(json!({"mode": "IMPORT"}))),
        42205,
    );
    assert_eq!(
        r.call("DELETE", "/mode/plain", None).1,
        json!({"mode": "READONLY"})
    );

    // Soft, then permanent deletes.
    assert_eq!(
        r.call("DELETE", "/subjects/readings/versions/1", None),
        (200, json!(1))
    );
    r.refused(
        r.call("DELETE", "/subjects/readings/versions/1", None),
        40406,
    );
    r.refused(
        r.call(
            "DELETE",
            "/subjects/readings/versions/2?permanent=true",
            None,
        ),
        40407,
    );
    assert_eq!(r.get("/subjects/readings/versions").1, json!([2, 3]));
    assert_eq!(
        r.get("/subjects/readings/versions?deleted=true").1,
        json!([1, 2, 3])
    );
    // A soft-deleted version's id still resolves, for deserializers.
    assert_eq!(r.get(&format!("/schemas/ids/{id1}")).0, 200);
    assert_eq!(
        r.call("DELETE", "/subjects/readings", None),
        (200, json!([2, 3]))
    );
    r.refused(r.call("DELETE", "/subjects/readings", None), 40404);
    assert!(!r
        .get("/subjects")
        .1
        .as_array()
        .expect("array")
        .contains(&json!("readings")));
    assert!(r
        .get("/subjects?deleted=true")
        .1
        .as_array()
        .expect("array")
        .contains(&json!("readings")));
    r.refused(
        r.call("DELETE", "/subjects/plain?permanent=true", None),
        40405,
    );
    assert_eq!(
        r.call("DELETE", "/subjects/readings?permanent=true", None),
        (200, json!([1, 2, 3]))
    );
    r.refused(r.get(&format!("/schemas/ids/{id1}")), 40403);
    // The version numbers of a permanently deleted subject start again.
    assert_eq!(r.register("readings", &v1).0, 200);
    assert_eq!(r.get("/subjects/readings/versions").1, json!([1]));

    // References between subjects, and deleting what is referenced.
    let inner = json!({"type": "record", "name": "Inner", "namespace": "com.example",
                       "fields": [{"name": "x", "type": "int"}]});
    assert_eq!(r.register("inner", &inner).0, 200);
    let outer = json!({"type": "record", "name": "Outer", "namespace": "com.example",
                       "fields": [{"name": "inner", "type": "com.example.Inner"}]});
    let (status, outer_id) = r.call(
        "POST",
        "/subjects/outer/versions",
        Some(json!({"schema": outer.to_string(),
                    "references": [{"name": "com.example.Inner", "subject": "inner", "version": 1}]})),
    );
    assert_eq!(status, 200, "{outer_id}");
    assert_eq!(
        r.get("/subjects/inner/versions/1/referencedby").1,
        json!([outer_id["id"]])
    );
    assert_eq!(
        r.get("/subjects/outer/versions/1").1["references"],
        json!([{"name": "com.example.Inner", "subject": "inner", "version": 1}])
    );
    // By id: the schema and its references, and no schemaType for Avro.
    let by_id = r.get(&format!("/schemas/ids/{}", outer_id["id"])).1;
    assert_eq!(
        by_id
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["schema".to_string(), "references".to_string()])
    );
    assert_eq!(
        by_id["references"],
        json!([{"name": "com.example.Inner", "subject": "inner", "version": 1}])
    );
    r.refused(r.call("DELETE", "/subjects/inner/versions/1", None), 42206);
    // Without the reference the named type is unknown.
    r.refused(r.register("outer2", &outer), 42201);

    // Listing with prefixes, and only what was deleted.
    assert_eq!(r.get("/subjects?subjectPrefix=inn").1, json!(["inner"]));
    assert_eq!(r.get("/subjects?deletedOnly=true").1, json!([]));
    let listed = r.get("/schemas?subjectPrefix=out").1;
    assert_eq!(listed[0]["subject"], json!("outer"));
    assert_eq!(listed.as_array().map(Vec::len), Some(1));

    // A changed doc is another schema (another id); spacing is not.
    let documented = |doc: &str| json!({"type": "fixed", "name": "Hash", "size": 16, "doc": doc});
    let first_doc = r.register("docs-a", &documented("one")).1["id"].clone();
    let second_doc = r.register("docs-b", &documented("two")).1["id"].clone();
    assert_ne!(first_doc, second_doc);

    // IMPORT mode keeps the ids and versions it is given.
    assert_eq!(
        r.call("PUT", "/mode/imported", Some(json!({"mode": "IMPORT"})))
            .0,
        200
    );
    let (status, body) = r.call(
        "POST",
        "/subjects/imported/versions",
        Some(json!({"schema": "\"bytes\"", "id": 500, "version": 3})),
    );
    assert_eq!((status, body), (200, json!({"id": 500})));
    assert_eq!(r.get("/subjects/imported/versions").1, json!([3]));
    assert_eq!(r.get("/schemas/ids/500").1, json!({"schema": "\"bytes\""}));
    let message = r.refused(r.register("imported", &json!("float")), 42205);
    assert!(message.contains("read-write"), "{message}");
    // The same schema as an existing id cannot be imported under another id.
    r.refused(
        r.call(
            "POST",
            "/subjects/imported/versions",
            Some(json!({"schema": "\"string\"", "id": 600})),
        ),
        42207,
    );
    // An id outside IMPORT mode is refused.
    let message = r.refused(
        r.call(
            "POST",
            "/subjects/plain/versions",
            Some(json!({"schema": "\"string\"", "id": 7})),
        ),
        42205,
    );
    assert!(message.contains("import mode"), "{message}");
    assert_eq!(r.call("DELETE", "/mode/imported", None).0, 200);
    // New ids continue above the imported one.
    let (_, next) = r.register("after-import", &json!({"type": "array", "items": "long"}));
    assert_eq!(next["id"], json!(501));
    r.refused(r.register("%01bad", &json!("int")), 42208);

    // Metadata and contexts.
    assert_eq!(r.get("/contexts").1, json!([":.:"]));
    r.refused(r.call("DELETE", "/contexts/:.:", None), 42211);
    let (_, scope) = r.get("/v1/metadata/id");
    assert!(
        scope["scope"]["clusters"]["kafka-cluster"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{scope}"
    );
    assert_eq!(r.get("/subjects/inner/metadata").1["version"], json!(1));
    r.refused(r.get("/subjects/inner/metadata?key=owner&value=me"), 40403);

    // Bad input: a clear error, never a crash.
    let message = r.refused(r.register("bad", &json!({"type": "nothing"})), 42201);
    assert!(message.contains("nothing"), "{message}");
    let message = r.refused(
        r.call(
            "POST",
            "/subjects/bad/versions",
            Some(json!({"schema": "{}", "schemaType": "PROTOBUF"})),
        ),
        42201,
    );
    assert!(message.contains("not supported"), "{message}");
    let (status, body) = r.call("POST", "/subjects/bad/versions", None);
    assert_eq!((status, body["error_code"].clone()), (400, json!(400)));
    let deep = format!(
        "{}\"int\"{}",
        "{\"type\":\"array\",\"items\":".repeat(5000),
        "}".repeat(5000)
    );
    r.refused(
        r.call(
            "POST",
            "/subjects/deep/versions",
            Some(json!({"schema": deep})),
        ),
        42201,
    );
    let fields: Vec<Value> = (0..20_000)
        .map(|i| json!({"name": format!("field_with_a_long_name_{i}"), "type": "string"}))
        .collect();
    r.refused(r.register("huge", &record(json!(fields))), 42209);
    let (status, body) = r.get("/no/such/path");
    assert_eq!((status, body["error_code"].clone()), (404, json!(404)));
    // The registry still serves after all of that.
    assert_eq!(r.get("/schemas/types").0, 200);
    sluice.stop();
}

#[test]
fn registry_state_survives_restarts_and_is_shared_between_processes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sluice = Standalone::spawn(dir.path());
    let r = Registry::new(&sluice.registry);
    let schema = record(json!([{"name": "n", "type": "long"}]));

    // Many clients registering the same new schema at once: one id, one version.
    let ids: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                scope.spawn(|| {
                    let r = Registry::new(&sluice.registry);
                    let (status, body) = r.register("shared", &schema);
                    assert_eq!(status, 200, "{body}");
                    body["id"].clone()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(r.get("/subjects/shared/versions").1, json!([1]));
    assert_eq!(
        r.call(
            "PUT",
            "/config/shared",
            Some(json!({"compatibility": "FULL"}))
        )
        .0,
        200
    );

    // A second registry process on the same broker sees the same state, and its writes
    // reach the first.
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    command.args([
        "registry",
        "--override",
        &format!("kafkastore.bootstrap.servers={}", sluice.bootstrap),
        "--override",
        "listeners=http://127.0.0.1:0",
    ]);
    let (mut second, log) = spawn_logged(command);
    let address = wait_for_address(&mut second, &log, "schema registry listening");
    let other = Registry::new(&format!("http://{address}"));
    assert_eq!(other.get("/subjects").1, json!(["shared"]));
    assert_eq!(
        other.get("/config/shared").1,
        json!({"compatibilityLevel": "FULL"})
    );
    let (status, body) = other.register("from-second", &json!("int"));
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while r.get("/subjects").1 != json!(["from-second", "shared"]) {
        assert!(
            Instant::now() < deadline,
            "the first registry never saw the write"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = second.kill();
    let _ = second.wait();

    // After a restart nothing is lost.
    sluice.stop();
    let sluice = Standalone::spawn(dir.path());
    let r = Registry::new(&sluice.registry);
    assert_eq!(r.get("/subjects").1, json!(["from-second", "shared"]));
    assert_eq!(r.get("/subjects/shared/versions/1").1["id"], ids[0]);
    assert_eq!(
        r.get("/config/shared").1,
        json!({"compatibilityLevel": "FULL"})
    );
    // Ids keep counting from the highest stored.
    let (_, next) = r.register("after-restart", &json!("double"));
    assert!(next["id"].as_u64() > ids[0].as_u64(), "{next}");
    sluice.stop();
}

/// Check results are remembered (a repeated check is a lookup), so they must follow every change
/// they depend on: the level, a new version, a deleted one.
#[test]
fn a_repeated_compatibility_check_follows_level_and_version_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sluice = Standalone::spawn(dir.path());
    let r = Registry::new(&sluice.registry);
    let v1 = record(json!([{"name": "a", "type": "int"}]));
    let needs_b = record(json!([{"name": "a", "type": "int"}, {"name": "b", "type": "int"}]));
    let b_defaulted = record(json!([
        {"name": "a", "type": "int"}, {"name": "b", "type": "int", "default": 0}
    ]));
    assert_eq!(r.register("cached-value", &v1).0, 200);
    let check = |schema: &Value| {
        let (status, body) = r.call(
            "POST",
            "/compatibility/subjects/cached-value/versions?verbose=true",
            Some(json!({"schema": schema.to_string()})),
        );
        assert_eq!(status, 200, "{body}");
        body["is_compatible"].as_bool().expect("is_compatible")
    };
    let set_level = |level: &str| {
        let (status, body) = r.call(
            "PUT",
            "/config/cached-value",
            Some(json!({"compatibility": level})),
        );
        assert_eq!(status, 200, "{body}");
    };
    for _ in 0..2 {
        assert!(
            !check(&needs_b),
            "BACKWARD refuses a new field without a default"
        );
    }
    set_level("NONE");
    assert!(check(&needs_b));
    set_level("BACKWARD");
    assert!(!check(&needs_b));
    // A new version with b defaulted: b needs no default any more against the latest, and
    // BACKWARD checks only the latest.
    assert_eq!(r.register("cached-value", &b_defaulted).0, 200);
    assert!(check(&needs_b));
    // Under the transitive level version 1 counts again.
    set_level("BACKWARD_TRANSITIVE");
    assert!(!check(&needs_b));
    // Version 1 deleted: only version 2 is left to check against.
    assert_eq!(
        r.call("DELETE", "/subjects/cached-value/versions/1", None)
            .0,
        200
    );
    assert!(check(&needs_b));
}
