//! The Confluent Schema Registry REST API over [`Registry`]: routes, query parameters (booleans
//! case-insensitive, as the Python client sends `False`), bodies in any of the registry's JSON
//! content types, and responses as `application/vnd.schemaregistry.v1+json`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value as Json};

use crate::error::RegistryError;
use crate::records::Reference;
use crate::registry::{run_blocking, Registry, SchemaRequest, SubjectVersion, VersionSpec};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

type Shared = Arc<Registry>;
type Params = Query<HashMap<String, String>>;
type Reply = Result<Response, RegistryError>;

pub fn router(registry: Shared) -> Router {
    Router::new()
        .route("/", get(root).post(root))
        .route("/schemas", get(list_schemas))
        .route("/schemas/types", get(schema_types))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/ids/{id}/subjects", get(subjects_of_id))
        .route("/schemas/ids/{id}/versions", get(versions_of_id))
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route(
            "/subjects/{subject}/versions",
            get(list_versions).post(register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(get_version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(raw_version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(referenced_by),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(compatibility_all),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compatibility_one),
        )
        .route(
            "/config",
            get(get_global_config)
                .put(put_global_config)
                .delete(delete_global_config),
        )
        .route(
            "/config/{subject}",
            get(get_subject_config)
                .put(put_subject_config)
                .delete(delete_subject_config),
        )
        .route(
            "/mode",
            get(get_global_mode)
                .put(put_global_mode)
                .delete(delete_global_mode),
        )
        .route(
            "/mode/{subject}",
            get(get_subject_mode)
                .put(put_subject_mode)
                .delete(delete_subject_mode),
        )
        .route("/subjects/{subject}/metadata", get(latest_with_metadata))
        .route("/contexts", get(contexts))
        .route("/contexts/{context}", axum::routing::delete(delete_context))
        .route("/v1/metadata/id", get(metadata_id))
        .route("/v1/metadata/version", get(metadata_version))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(registry)
}

pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, CONTENT_TYPE)], bytes).into_response(),
        // Only a map with keys that are not strings fails, and no response holds one.
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn ok(body: Json) -> Reply {
    Ok(json_response(StatusCode::OK, &body))
}

/// A schema's text as the body, for the `/schema` endpoints.
fn raw(text: &str) -> Reply {
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        text.to_string(),
    )
        .into_response())
}

async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"error_code": 404, "message": "HTTP 404 Not Found"}),
    )
}

async fn method_not_allowed() -> Response {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"error_code": 405, "message": "HTTP 405 Method Not Allowed"}),
    )
}

/// `true` in any case is true; anything else false (Java's `Boolean.valueOf`).
fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn text<'a>(params: &'a HashMap<String, String>, name: &str) -> &'a str {
    params.get(name).map_or("", String::as_str)
}

/// A JSON body, whatever content type it came with.
fn body_json(body: &Bytes) -> Result<Json, RegistryError> {
    serde_json::from_slice(body).map_err(|e| {
        RegistryError::BadRequest(
            400,
            format!(
                "Malformed JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

fn schema_request(body: &Bytes) -> Result<SchemaRequest, RegistryError> {
    let json = body_json(body)?;
    let Some(object) = json.as_object() else {
        return Err(RegistryError::BadRequest(
            400,
            "The request body must be a JSON object".into(),
        ));
    };
    let schema = match object.get("schema") {
        Some(Json::String(s)) => s.clone(),
        None | Some(Json::Null) => String::new(),
        Some(_) => {
            return Err(RegistryError::InvalidSchema(
                "Invalid schema: `schema` must be a string holding the schema's JSON".into(),
            ))
        }
    };
    let references = match object.get("references") {
        None | Some(Json::Null) => Vec::new(),
        Some(r) => serde_json::from_value::<Vec<Reference>>(r.clone())
            .map_err(|e| RegistryError::BadRequest(400, format!("Invalid references: {e}")))?,
    };
    let number = |field: &str| -> Result<Option<u32>, RegistryError> {
        match object.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(|| {
                    RegistryError::BadRequest(400, format!("`{field}` must be a positive integer"))
                }),
        }
    };
    Ok(SchemaRequest {
        schema,
        schema_type: object
            .get("schemaType")
            .and_then(Json::as_str)
            .map(str::to_string),
        references,
        version: number("version")?,
        id: number("id")?,
    })
}

fn parse_id(text: &str) -> Result<u32, RegistryError> {
    text.parse::<u32>()
        .map_err(|_| RegistryError::BadRequest(404, "HTTP 404 Not Found".into()))
}

/// The `Schema` entity; `schemaType` is left out for Avro, as clients default to it.
fn schema_json(v: &SubjectVersion, with_deleted: bool) -> Json {
    let mut out = json!({
        "subject": v.subject,
        "version": v.version,
        "id": v.id,
    });
    if let Some(t) = &v.schema.schema_type {
        out["schemaType"] = json!(t);
    }
    out["schema"] = json!(v.schema.schema);
    if !v.schema.references.is_empty() {
        out["references"] = json!(v.schema.references);
    }
    if with_deleted && v.deleted {
        out["deleted"] = json!(true);
    }
    out
}

async fn root() -> Reply {
    ok(json!({}))
}

async fn metadata_id(State(r): State<Shared>) -> Reply {
    ok(json!({"scope": {"path": [], "clusters": {
        "kafka-cluster": r.cluster_id(),
        "schema-registry-cluster": "schema-registry",
    }}}))
}

async fn metadata_version() -> Reply {
    ok(json!({"version": env!("CARGO_PKG_VERSION"), "commitId": "sluice"}))
}

/// Only the default context exists.
async fn contexts() -> Reply {
    ok(json!([":.:"]))
}

async fn delete_context(State(r): State<Shared>, Path(context): Path<String>) -> Reply {
    if !matches!(context.as_str(), "." | ":.:") {
        return Err(RegistryError::BadRequest(
            404,
            format!("Context {context} not found"),
        ));
    }
    if r.has_subjects() {
        return Err(RegistryError::ContextNotEmpty(context));
    }
    ok(Json::Null)
}

/// The latest version whose metadata has the given properties. Schemas here carry no
/// metadata, so only the unfiltered form finds one.
async fn latest_with_metadata(
    State(r): State<Shared>,
    Path(subject): Path<String>,
    Query(p): Params,
) -> Reply {
    let deleted = flag(&p, "deleted");
    let found = r.version(&subject, VersionSpec::Latest, deleted)?;
    if p.contains_key("key") || p.contains_key("value") {
        return Err(RegistryError::SchemaNotFound);
    }
    ok(schema_json(&found, deleted))
}

async fn schema_types() -> Reply {
    ok(json!(["AVRO"]))
}

async fn list_schemas(State(r): State<Shared>, Query(p): Params) -> Reply {
    let versions = r.all_versions(
        text(&p, "subjectPrefix"),
        flag(&p, "deleted"),
        flag(&p, "latestOnly"),
    );
    ok(Json::Array(
        versions.iter().map(|v| schema_json(v, true)).collect(),
    ))
}

/// The body of `GET /schemas/ids/{id}`, written straight from the stored schema: the most
/// requested route (every deserializer asks once per id) copies no schema text.
#[derive(serde::Serialize)]
struct SchemaById<'a> {
    #[serde(rename = "schemaType", skip_serializing_if = "Option::is_none")]
    schema_type: Option<&'a str>,
    schema: &'a str,
    #[serde(skip_serializing_if = "<[Reference]>::is_empty")]
    references: &'a [Reference],
}

async fn schema_by_id(State(r): State<Shared>, Path(id): Path<String>) -> Reply {
    let schema = r.schema_by_id(parse_id(&id)?)?;
    let body = SchemaById {
        schema_type: schema.schema_type.as_deref(),
        schema: &schema.schema,
        references: &schema.references,
    };
    Ok(json_response(StatusCode::OK, &body))
}

async fn raw_schema_by_id(State(r): State<Shared>, Path(id): Path<String>) -> Reply {
    raw(&r.schema_by_id(parse_id(&id)?)?.schema)
}

async fn subjects_of_id(
    State(r): State<Shared>,
    Path(id): Path<String>,
    Query(p): Params,
) -> Reply {
    let mut subjects: Vec<String> = r
        .id_versions(parse_id(&id)?, flag(&p, "deleted"))?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    subjects.dedup();
    ok(json!(subjects))
}

async fn versions_of_id(
    State(r): State<Shared>,
    Path(id): Path<String>,
    Query(p): Params,
) -> Reply {
    let versions: Vec<Json> = r
        .id_versions(parse_id(&id)?, flag(&p, "deleted"))?
        .into_iter()
        .map(|(subject, version)| json!({"subject": subject, "version": version}))
        .collect();
    ok(Json::Array(versions))
}

async fn list_subjects(State(r): State<Shared>, Query(p): Params) -> Reply {
    ok(json!(r.subjects(
        text(&p, "subjectPrefix"),
        flag(&p, "deleted"),
        flag(&p, "deletedOnly")
    )))
}

async fn lookup(
    State(r): State<Shared>,
    Path(subject): Path<String>,
    Query(p): Params,
    body: Bytes,
) -> Reply {
    let request = schema_request(&body)?;
    let found = r.lookup(&subject, &request, flag(&p, "deleted"))?;
    ok(schema_json(&found, false))
}

async fn delete_subject(
    State(r): State<Shared>,
    Path(subject): Path<String>,
    Query(p): Params,
) -> Reply {
    ok(json!(
        r.delete_subject(&subject, flag(&p, "permanent")).await?
    ))
}

async fn list_versions(
    State(r): State<Shared>,
    Path(subject): Path<String>,
    Query(p): Params,
) -> Reply {
    ok(json!(r.versions(
        &subject,
        flag(&p, "deleted"),
        flag(&p, "deletedOnly")
    )?))
}

async fn register(State(r): State<Shared>, Path(subject): Path<String>, body: Bytes) -> Reply {
    let request = schema_request(&body)?;
    let registered = r.register(&subject, request).await?;
    ok(json!({"id": registered.id}))
}

async fn get_version(
    State(r): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    Query(p): Params,
) -> Reply {
    let deleted = flag(&p, "deleted");
    let found = r.version(&subject, VersionSpec::parse(&version)?, deleted)?;
    ok(schema_json(&found, deleted))
}

async fn raw_version_schema(
    State(r): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    Query(p): Params,
) -> Reply {
    let found = r.version(&subject, VersionSpec::parse(&version)?, flag(&p, "deleted"))?;
    raw(&found.schema.schema)
}

async fn referenced_by(
    State(r): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    Query(p): Params,
) -> Reply {
    let ids = r.referenced_by(&subject, VersionSpec::parse(&version)?, flag(&p, "deleted"))?;
    ok(json!(ids))
}

async fn delete_version(
    State(r): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    Query(p): Params,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    ok(json!(
        r.delete_version(&subject, spec, flag(&p, "permanent"))
            .await?
    ))
}

fn compatibility_reply(result: (bool, Vec<String>), verbose: bool) -> Reply {
    let (compatible, messages) = result;
    let mut out = json!({"is_compatible": compatible});
    if verbose {
        out["messages"] = json!(messages);
    }
    ok(out)
}

async fn compatibility_all(
    State(r): State<Shared>,
    Path(subject): Path<String>,
    Query(p): Params,
    body: Bytes,
) -> Reply {
    let request = schema_request(&body)?;
    let verbose = flag(&p, "verbose");
    let checked =
        run_blocking(move || r.test_compatibility(&subject, None, &request, verbose)).await?;
    compatibility_reply(checked, verbose)
}

async fn compatibility_one(
    State(r): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    Query(p): Params,
    body: Bytes,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    let request = schema_request(&body)?;
    let verbose = flag(&p, "verbose");
    let checked =
        run_blocking(move || r.test_compatibility(&subject, Some(spec), &request, verbose)).await?;
    compatibility_reply(checked, verbose)
}

/// `{"compatibility": LEVEL}` from a PUT body.
fn level_of(body: &Bytes) -> Result<String, RegistryError> {
    let json = body_json(body)?;
    json.get("compatibility")
        .or_else(|| json.get("compatibilityLevel"))
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or(RegistryError::InvalidLevel)
}

async fn get_global_config(State(r): State<Shared>) -> Reply {
    ok(json!({"compatibilityLevel": r.config(None, true)?.as_str()}))
}

async fn put_global_config(State(r): State<Shared>, body: Bytes) -> Reply {
    let level = r.set_config(None, &level_of(&body)?).await?;
    ok(json!({"compatibility": level.as_str()}))
}

async fn delete_global_config(State(r): State<Shared>) -> Reply {
    ok(json!({"compatibilityLevel": r.delete_config(None).await?.as_str()}))
}

async fn get_subject_config(
    State(r): State<Shared>,
    Path(subject): Path<String>,
    Query(p): Params,
) -> Reply {
    let level = r.config(Some(&subject), flag(&p, "defaultToGlobal"))?;
    ok(json!({"compatibilityLevel": level.as_str()}))
}

async fn put_subject_config(
    State(r): State<Shared>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Reply {
    let level = r.set_config(Some(&subject), &level_of(&body)?).await?;
    ok(json!({"compatibility": level.as_str()}))
}

async fn delete_subject_config(State(r): State<Shared>, Path(subject): Path<String>) -> Reply {
    ok(json!({"compatibilityLevel": r.delete_config(Some(&subject)).await?.as_str()}))
}

fn mode_of(body: &Bytes) -> Result<String, RegistryError> {
    body_json(body)?
        .get("mode")
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or(RegistryError::InvalidMode)
}

async fn get_global_mode(State(r): State<Shared>) -> Reply {
    ok(json!({"mode": r.mode(None, true)?}))
}

async fn put_global_mode(State(r): State<Shared>, Query(p): Params, body: Bytes) -> Reply {
    ok(json!({"mode": r.set_mode(None, &mode_of(&body)?, flag(&p, "force")).await?}))
}

async fn delete_global_mode(State(r): State<Shared>) -> Reply {
    ok(json!({"mode": r.delete_mode(None).await?}))
}

async fn get_subject_mode(
    State(r): State<Shared>,
    Path(subject): Path<String>,
    Query(p): Params,
) -> Reply {
    ok(json!({"mode": r.mode(Some(&subject), flag(&p, "defaultToGlobal"))?}))
}

async fn put_subject_mode(
    State(r): State<Shared>,
    Path(subject): Path<String>,
    Query(p): Params,
    body: Bytes,
) -> Reply {
    let mode = r
        .set_mode(Some(&subject), &mode_of(&body)?, flag(&p, "force"))
        .await?;
    ok(json!({"mode": mode}))
}

async fn delete_subject_mode(State(r): State<Shared>, Path(subject): Path<String>) -> Reply {
    ok(json!({"mode": r.delete_mode(Some(&subject)).await?}))
}
