//! The registry's operations, as the REST API offers them: register, look up, delete, check
//! compatibility, and set levels and modes. Reads come from the in-memory state; writes are
//! serialized (an id or version is chosen and stored before the next is chosen) and go through
//! the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::avro::{check_level, AvroSchema, Level};
use crate::check_cache::{CheckCache, CheckKey, Parsed};
use crate::error::RegistryError;
use crate::records::{self, Reference, SchemaValue};
use crate::state::{State, StoredSchema, Version};
use crate::store::Store;

/// Larger schemas do not fit in a record of the store (the broker's default 1 MiB limit, less
/// room for the key and the rest of the value).
pub const MAX_SCHEMA_BYTES: usize = 900 * 1024;

/// How deep references may chain (a schema referencing one that references another ...).
const MAX_REFERENCE_DEPTH: usize = 32;

pub const MODES: &[&str] = &["READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT"];
/// The mode where none is set.
const DEFAULT_MODE: &str = "READWRITE";

/// A schema as a client submits it (RegisterSchemaRequest).
#[derive(Debug, Clone, Default)]
pub struct SchemaRequest {
    pub schema: String,
    pub schema_type: Option<String>,
    pub references: Vec<Reference>,
    pub version: Option<u32>,
    pub id: Option<u32>,
}

/// The largest schema id and version: Confluent's are Java ints.
pub const MAX_ID: u32 = i32::MAX as u32;

/// A registration parsed and checked against the history it was checked against.
struct Prepared {
    stored: StoredSchema,
    history: (Level, Vec<(u32, u32)>),
    details: Vec<String>,
}

/// Runs CPU-heavy registry work (parsing, compatibility checks) where it cannot hold up the
/// threads that answer requests.
pub async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, RegistryError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RegistryError::Store(format!("a registry worker thread failed: {e}")))?
}

/// A version as the API shows it.
#[derive(Debug, Clone)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub deleted: bool,
    pub schema: Arc<StoredSchema>,
}

/// A version named in a path: a number, or the latest live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    Latest,
    Number(u32),
}

impl VersionSpec {
    /// `latest` (any case), `-1`, or 1..=2^31-1; anything else is 42202.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("latest") || trimmed == "-1" {
            return Ok(Self::Latest);
        }
        match trimmed.parse::<i64>() {
            Ok(n) if (1..=i64::from(i32::MAX)).contains(&n) => Ok(Self::Number(n as u32)),
            _ => Err(RegistryError::InvalidVersion(text.to_string())),
        }
    }
}

pub struct Registry {
    store: Store,
    writes: tokio::sync::Mutex<()>,
    default_level: Level,
    mode_mutable: bool,
    /// Parsed stored schemas by id (a stored id never changes its schema).
    parsed: Mutex<HashMap<u32, Arc<AvroSchema>>>,
    /// Submitted schemas already parsed and compatibility results already found.
    checks: CheckCache,
}

impl Registry {
    pub fn new(store: Store, default_level: Level, mode_mutable: bool) -> Self {
        Self {
            store,
            writes: tokio::sync::Mutex::new(()),
            default_level,
            mode_mutable,
            parsed: Mutex::new(HashMap::new()),
            checks: CheckCache::default(),
        }
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.store.state()
    }

    pub fn cluster_id(&self) -> &str {
        &self.store.cluster_id
    }

    /// Whether any subject has a version (live or soft-deleted): the default context is then
    /// not empty.
    pub fn has_subjects(&self) -> bool {
        !self.state().subjects.is_empty()
    }

    pub fn subjects(&self, prefix: &str, deleted: bool, deleted_only: bool) -> Vec<String> {
        let state = self.state();
        state
            .subjects
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .filter(|(_, versions)| {
                let live = versions.values().any(|v| !v.deleted);
                let soft = versions.values().any(|v| v.deleted);
                if deleted_only {
                    soft
                } else {
                    live || (deleted && soft)
                }
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    pub fn versions(
        &self,
        subject: &str,
        deleted: bool,
        deleted_only: bool,
    ) -> Result<Vec<u32>, RegistryError> {
        let state = self.state();
        let versions: Vec<u32> = state
            .versions(subject, deleted || deleted_only)
            .into_iter()
            .filter(|(_, v)| !deleted_only || v.deleted)
            .map(|(n, _)| n)
            .collect();
        // A subject with only soft-deleted versions is unknown unless deleted ones are asked for.
        let asked_for_deleted = deleted || deleted_only;
        if versions.is_empty() && (!asked_for_deleted || !state.subjects.contains_key(subject)) {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        Ok(versions)
    }

    pub fn version(
        &self,
        subject: &str,
        spec: VersionSpec,
        deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        let state = self.state();
        find_version(&state, subject, spec, deleted)
    }

    pub fn schema_by_id(&self, id: u32) -> Result<Arc<StoredSchema>, RegistryError> {
        self.state()
            .schemas
            .get(&id)
            .cloned()
            .ok_or(RegistryError::SchemaIdNotFound(id))
    }

    /// Every (subject, version) carrying schema `id`.
    pub fn id_versions(&self, id: u32, deleted: bool) -> Result<Vec<(String, u32)>, RegistryError> {
        let state = self.state();
        if !state.schemas.contains_key(&id) {
            return Err(RegistryError::SchemaIdNotFound(id));
        }
        Ok(state
            .subjects
            .iter()
            .flat_map(|(subject, versions)| {
                versions
                    .iter()
                    .filter(move |(_, v)| v.id == id && (deleted || !v.deleted))
                    .map(move |(n, _)| (subject.clone(), *n))
            })
            .collect())
    }

    /// Live versions (or all, with `deleted`), latest only with `latest_only`.
    pub fn all_versions(
        &self,
        prefix: &str,
        deleted: bool,
        latest_only: bool,
    ) -> Vec<SubjectVersion> {
        let state = self.state();
        let mut out = Vec::new();
        for (subject, versions) in state.subjects.range(prefix.to_string()..) {
            if !subject.starts_with(prefix) {
                break;
            }
            let chosen: Vec<_> = versions
                .iter()
                .filter(|(_, v)| deleted || !v.deleted)
                .collect();
            let chosen = if latest_only {
                chosen.last().into_iter().copied().collect()
            } else {
                chosen
            };
            for (n, v) in chosen {
                out.push(view(subject, *n, v));
            }
        }
        out
    }

    pub fn referenced_by(
        &self,
        subject: &str,
        spec: VersionSpec,
        deleted: bool,
    ) -> Result<Vec<u32>, RegistryError> {
        let state = self.state();
        let version = find_version(&state, subject, spec, deleted)?;
        Ok(state.referrers(subject, version.version, deleted))
    }

    /// Parses a submitted schema with its references resolved; `strict` validates what
    /// Confluent validates for new schemas.
    fn parse_request(
        &self,
        state: &State,
        request: &SchemaRequest,
        strict: bool,
    ) -> Result<(Arc<AvroSchema>, StoredSchema), RegistryError> {
        match request
            .schema_type
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("AVRO") => {}
            Some(t @ ("JSON" | "PROTOBUF")) => {
                return Err(RegistryError::InvalidSchema(format!(
                    "Schema type {t} is not supported yet by this registry; only AVRO is"
                )))
            }
            Some(other) => {
                return Err(RegistryError::InvalidSchema(format!(
                    "Invalid schema type {other}; supported: AVRO"
                )))
            }
        }
        if request.schema.trim().is_empty() {
            return Err(RegistryError::InvalidSchema("Empty schema".into()));
        }
        if request.schema.len() > MAX_SCHEMA_BYTES {
            return Err(RegistryError::SchemaTooLarge(
                request.schema.len(),
                MAX_SCHEMA_BYTES,
            ));
        }
        let parse = || -> Result<Parsed, RegistryError> {
            let references = self.resolve_references(state, &request.references, 0)?;
            let schema = AvroSchema::parse(&request.schema, &references, strict).map_err(|e| {
                RegistryError::InvalidSchema(format!("Invalid schema of type AVRO, details: {e}"))
            })?;
            let canonical = Arc::from(schema.canonical());
            Ok(Parsed {
                schema: Arc::new(schema),
                canonical,
            })
        };
        // A schema with references parses against what they name now, which may change.
        let Parsed { schema, canonical } = if request.references.is_empty() {
            self.checks.parsed(&request.schema, strict, parse)?
        } else {
            parse()?
        };
        if canonical.len() > MAX_SCHEMA_BYTES {
            return Err(RegistryError::SchemaTooLarge(
                canonical.len(),
                MAX_SCHEMA_BYTES,
            ));
        }
        let stored = StoredSchema {
            schema: canonical.to_string(),
            schema_type: None,
            references: request.references.clone(),
        };
        Ok((schema, stored))
    }

    /// The schemas `references` name, parsed (with their own references), in order.
    fn resolve_references(
        &self,
        state: &State,
        references: &[Reference],
        depth: usize,
    ) -> Result<Vec<AvroSchema>, RegistryError> {
        if references.is_empty() {
            return Ok(Vec::new());
        }
        if depth > MAX_REFERENCE_DEPTH {
            return Err(RegistryError::InvalidSchema(
                "Invalid schema of type AVRO, details: references nest too deeply".into(),
            ));
        }
        let mut out = Vec::new();
        for reference in references {
            let spec = match reference.version {
                -1 => VersionSpec::Latest,
                n => u32::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .map(VersionSpec::Number)
                    .ok_or_else(|| RegistryError::InvalidVersion(n.to_string()))?,
            };
            let version = find_version(state, &reference.subject, spec, true).map_err(|_| {
                RegistryError::InvalidSchema(format!(
                    "Invalid schema of type AVRO, details: reference {} (subject {}, version {}) not found",
                    reference.name, reference.subject, reference.version
                ))
            })?;
            let nested = self.resolve_references(state, &version.schema.references, depth + 1)?;
            out.extend(nested);
            let parsed = AvroSchema::parse(&version.schema.schema, &out, false).map_err(|e| {
                RegistryError::InvalidSchema(format!(
                    "Invalid schema of type AVRO, details: reference {}: {e}",
                    reference.name
                ))
            })?;
            out.push(parsed);
        }
        Ok(out)
    }

    /// A stored version's schema, parsed leniently (and cached by id).
    fn parsed(&self, state: &State, version: &SubjectVersion) -> Option<Arc<AvroSchema>> {
        if let Some(hit) = self
            .parsed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&version.id)
        {
            return Some(Arc::clone(hit));
        }
        let references = self
            .resolve_references(state, &version.schema.references, 0)
            .ok()?;
        let parsed = Arc::new(AvroSchema::parse(&version.schema.schema, &references, false).ok()?);
        self.parsed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(version.id, Arc::clone(&parsed));
        Some(parsed)
    }

    pub fn level(&self, subject: Option<&str>) -> Level {
        let state = self.state();
        effective_level(&state, subject, self.default_level)
    }

    fn mode_of(state: &State, subject: &str) -> String {
        inherited(&state.modes, Some(subject))
            .cloned()
            .unwrap_or_else(|| DEFAULT_MODE.into())
    }

    /// Messages of the register-time check of `new` (whose canonical form is `canonical`)
    /// against the subject's live versions; a check made before is not made again.
    fn incompatibilities(
        &self,
        state: &State,
        subject: &str,
        new: &AvroSchema,
        canonical: &str,
        level: Level,
        only: Option<u32>,
    ) -> Vec<String> {
        let previous: Vec<SubjectVersion> = state
            .versions(subject, false)
            .into_iter()
            .filter(|(n, _)| only.is_none_or(|o| o == *n))
            .map(|(n, v)| view(subject, n, v))
            .collect();
        let key = CheckKey {
            canonical: Arc::from(canonical),
            level,
            against: previous.iter().map(|v| (v.version, v.id)).collect(),
        };
        let messages = self.checks.result(key, || {
            let parsed: Vec<(Option<u32>, Arc<AvroSchema>)> = previous
                .iter()
                .filter_map(|v| self.parsed(state, v).map(|p| (Some(v.version), p)))
                .collect();
            let borrowed: Vec<(Option<u32>, &AvroSchema)> =
                parsed.iter().map(|(n, p)| (*n, p.as_ref())).collect();
            check_level(level, new, &borrowed)
        });
        messages.as_ref().clone()
    }

    /// What a register-time check depends on: the level and the live versions (and their ids).
    fn history(state: &State, subject: &str, level: Level) -> (Level, Vec<(u32, u32)>) {
        let versions = state
            .versions(subject, false)
            .into_iter()
            .map(|(n, v)| (n, v.id))
            .collect();
        (level, versions)
    }

    /// Parses `request` and checks it against the subject's history as it is now: the costly
    /// part of a registration, done on a blocking thread and without the write lock.
    fn prepare(&self, subject: &str, request: &SchemaRequest) -> Result<Prepared, RegistryError> {
        let state = self.state();
        let (new, stored) = self.parse_request(&state, request, true)?;
        let level = effective_level(&state, Some(subject), self.default_level);
        let history = Self::history(&state, subject, level);
        let importing = Self::mode_of(&state, subject) == "IMPORT";
        let details = if importing {
            Vec::new()
        } else {
            self.incompatibilities(&state, subject, &new, &stored.schema, level, None)
        };
        Ok(Prepared {
            stored,
            history,
            details,
        })
    }

    /// Registers a schema. Parsing and the compatibility check against history run on a
    /// blocking thread before the write lock is taken; under the lock the check is redone only
    /// if the subject's history changed meanwhile.
    pub async fn register(
        self: &Arc<Self>,
        subject: &str,
        request: SchemaRequest,
    ) -> Result<SubjectVersion, RegistryError> {
        validate_subject(subject)?;
        for (what, number) in [("id", request.id), ("version", request.version)] {
            if number.is_some_and(|n| n == 0 || n > MAX_ID) {
                return Err(RegistryError::NotPermitted(format!(
                    "Invalid schema {what} {}: must be between 1 and {MAX_ID}",
                    number.unwrap_or_default()
                )));
            }
        }
        let request = Arc::new(request);
        let mut prepared = {
            let (this, subject, request) =
                (Arc::clone(self), subject.to_string(), Arc::clone(&request));
            run_blocking(move || this.prepare(&subject, &request)).await?
        };
        let _write = self.writes.lock().await;
        let changed = {
            let state = self.state();
            let level = effective_level(&state, Some(subject), self.default_level);
            Self::history(&state, subject, level) != prepared.history
        };
        if changed {
            let (this, subject, request) =
                (Arc::clone(self), subject.to_string(), Arc::clone(&request));
            prepared = run_blocking(move || this.prepare(&subject, &request)).await?;
        }
        let (id, version, stored) = {
            let state = self.state();
            let mode = Self::mode_of(&state, subject);
            match (mode.as_str(), request.id) {
                ("READONLY" | "READONLY_OVERRIDE", _) => {
                    return Err(RegistryError::NotPermitted(format!(
                        "Subject {subject} is in read-only mode"
                    )))
                }
                ("IMPORT", None) => {
                    return Err(RegistryError::NotPermitted(format!(
                        "Subject {subject} is not in read-write mode"
                    )))
                }
                ("IMPORT", Some(_)) => {}
                (_, Some(_)) => {
                    return Err(RegistryError::NotPermitted(format!(
                        "Subject {subject} is not in import mode"
                    )))
                }
                _ => {}
            }
            let importing = mode == "IMPORT";
            let stored = prepared.stored.clone();
            // The same schema already live under the subject: nothing to check or write.
            if let Some((n, v)) = state
                .versions(subject, false)
                .into_iter()
                .find(|(_, v)| *v.schema == stored)
            {
                if request.id.is_none_or(|id| id == v.id) {
                    return Ok(view(subject, n, v));
                }
            }
            if !importing && !prepared.details.is_empty() {
                return Err(RegistryError::Incompatible {
                    subject: subject.to_string(),
                    details: std::mem::take(&mut prepared.details),
                });
            }
            let existing = state.ids.get(&stored).copied();
            let id = match (request.id, existing) {
                (Some(asked), Some(found)) if asked != found => {
                    return Err(RegistryError::IdMismatch(asked, found))
                }
                (Some(asked), _) => {
                    if state.schemas.get(&asked).is_some_and(|s| **s != stored) {
                        return Err(RegistryError::NotPermitted(format!(
                            "Overwrite new schema with id {asked} in context . is not permitted."
                        )));
                    }
                    asked
                }
                (None, Some(found)) => found,
                // Ids are Confluent's int32: never past it, never wrapped round to one in use.
                (None, None) if state.max_id >= MAX_ID => {
                    return Err(RegistryError::Store(format!(
                        "no schema id left: ids go up to {MAX_ID} and {} is taken",
                        state.max_id
                    )))
                }
                (None, None) => state.max_id + 1,
            };
            let next = state
                .subjects
                .get(subject)
                .and_then(|v| v.keys().next_back())
                .map_or(1, |n| n + 1);
            let version = match request.version {
                Some(v) if importing => v,
                _ => next,
            };
            if version > MAX_ID {
                return Err(RegistryError::Store(format!(
                    "subject {subject} has no version number left (they go up to {MAX_ID})"
                )));
            }
            (id, version, stored)
        };
        let value = SchemaValue {
            subject: subject.to_string(),
            version,
            id,
            schema_type: None,
            schema: stored.schema.clone(),
            references: stored.references.clone(),
            deleted: false,
        };
        self.store
            .write(vec![(
                records::schema_key(subject, version),
                Some(records::schema_value(&value)),
            )])
            .await?;
        Ok(SubjectVersion {
            subject: subject.to_string(),
            version,
            id,
            deleted: false,
            schema: Arc::new(stored),
        })
    }

    /// The version of `subject` holding the same schema.
    pub fn lookup(
        &self,
        subject: &str,
        request: &SchemaRequest,
        deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        let state = self.state();
        if state.versions(subject, deleted).is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        let (_, stored) = self.parse_request(&state, request, false)?;
        state
            .versions(subject, deleted)
            .into_iter()
            .rev()
            .find(|(_, v)| *v.schema == stored)
            .map(|(n, v)| view(subject, n, v))
            .ok_or(RegistryError::SchemaNotFound)
    }

    /// `POST /compatibility/subjects/{s}/versions[/{v}]`: (compatible, messages). With
    /// `verbose`, a schema that does not parse is reported as a message rather than 42201.
    pub fn test_compatibility(
        &self,
        subject: &str,
        spec: Option<VersionSpec>,
        request: &SchemaRequest,
        verbose: bool,
    ) -> Result<(bool, Vec<String>), RegistryError> {
        let state = self.state();
        let (new, stored) = match self.parse_request(&state, request, true) {
            Ok(parsed) => parsed,
            Err(RegistryError::InvalidSchema(message)) if verbose => {
                return Ok((false, vec![message]))
            }
            Err(e) => return Err(e),
        };
        let only = match spec {
            None => None,
            Some(spec) => match find_version(&state, subject, spec, false) {
                Ok(v) => Some(v.version),
                // `latest` of a subject with nothing live is compatible, as in Confluent.
                Err(_) if spec == VersionSpec::Latest => return Ok((true, Vec::new())),
                Err(e) => return Err(e),
            },
        };
        let level = effective_level(&state, Some(subject), self.default_level);
        let messages = self.incompatibilities(&state, subject, &new, &stored.schema, level, only);
        Ok((messages.is_empty(), messages))
    }

    pub async fn delete_version(
        &self,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Result<u32, RegistryError> {
        let _write = self.writes.lock().await;
        let (write, n) = {
            let state = self.state();
            self.check_writable(&state, subject)?;
            // A numbered version is found even when soft-deleted, to say so (40406).
            let with_deleted = permanent || matches!(spec, VersionSpec::Number(_));
            let version = find_version(&state, subject, spec, with_deleted)?;
            let n = version.version;
            match (permanent, version.deleted) {
                (false, true) => {
                    return Err(RegistryError::VersionSoftDeleted(subject.to_string(), n))
                }
                (true, false) => {
                    return Err(RegistryError::VersionNotSoftDeleted(subject.to_string(), n))
                }
                _ => {}
            }
            if !state.referrers(subject, n, false).is_empty() {
                return Err(RegistryError::Referenced(subject.to_string(), n));
            }
            let key = records::schema_key(subject, n);
            let write = if permanent {
                (key, None)
            } else {
                let value = SchemaValue {
                    subject: subject.to_string(),
                    version: n,
                    id: version.id,
                    schema_type: version.schema.schema_type.clone(),
                    schema: version.schema.schema.clone(),
                    references: version.schema.references.clone(),
                    deleted: true,
                };
                (key, Some(records::schema_value(&value)))
            };
            (write, n)
        };
        self.store.write(vec![write]).await?;
        Ok(n)
    }

    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<u32>, RegistryError> {
        let _write = self.writes.lock().await;
        let (writes, deleted) = {
            let state = self.state();
            self.check_writable(&state, subject)?;
            let all = state.versions(subject, true);
            if all.is_empty() {
                return Err(RegistryError::SubjectNotFound(subject.to_string()));
            }
            let live: Vec<u32> = all
                .iter()
                .filter(|(_, v)| !v.deleted)
                .map(|(n, _)| *n)
                .collect();
            if let Some(n) = live
                .iter()
                .find(|n| !state.referrers(subject, **n, false).is_empty())
            {
                return Err(RegistryError::Referenced(subject.to_string(), *n));
            }
            if permanent {
                if !live.is_empty() {
                    return Err(RegistryError::SubjectNotSoftDeleted(subject.to_string()));
                }
                let versions: Vec<u32> = all.iter().map(|(n, _)| *n).collect();
                let mut writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = versions
                    .iter()
                    .map(|n| (records::schema_key(subject, *n), None))
                    .collect();
                let key = Some(subject.to_string());
                if state.configs.contains_key(&key) {
                    writes.push((records::config_key(Some(subject)), None));
                }
                if state.modes.contains_key(&key) {
                    writes.push((records::mode_key(Some(subject)), None));
                }
                (writes, versions)
            } else {
                let Some(&last) = live.last() else {
                    return Err(RegistryError::SubjectSoftDeleted(subject.to_string()));
                };
                let writes = vec![(
                    records::delete_subject_key(subject),
                    Some(records::delete_subject_value(subject, last)),
                )];
                (writes, live)
            }
        };
        self.store.write(writes).await?;
        Ok(deleted)
    }

    fn check_writable(&self, state: &State, subject: &str) -> Result<(), RegistryError> {
        if Self::mode_of(state, subject).starts_with("READONLY") {
            return Err(RegistryError::NotPermitted(format!(
                "Subject {subject} is in read-only mode"
            )));
        }
        Ok(())
    }

    /// The level set for `subject` (None: the global one), without falling back unless
    /// `default_to_global`.
    pub fn config(
        &self,
        subject: Option<&str>,
        default_to_global: bool,
    ) -> Result<Level, RegistryError> {
        let state = self.state();
        let level = shown(&state.configs, subject, default_to_global).ok_or_else(|| {
            RegistryError::SubjectConfigNotFound(subject.unwrap_or_default().to_string())
        })?;
        Ok(level
            .and_then(|l| l.parse().ok())
            .unwrap_or(self.default_level))
    }

    pub async fn set_config(
        &self,
        subject: Option<&str>,
        level: &str,
    ) -> Result<Level, RegistryError> {
        if let Some(s) = subject {
            validate_subject(s)?;
        }
        let level: Level = level.parse().map_err(|_| RegistryError::InvalidLevel)?;
        let _write = self.writes.lock().await;
        self.store
            .write(vec![(
                records::config_key(subject),
                Some(records::config_value(subject, level.as_str())),
            )])
            .await?;
        Ok(level)
    }

    /// Deletes a config and returns what it was; the global one reverts to the server default.
    pub async fn delete_config(&self, subject: Option<&str>) -> Result<Level, RegistryError> {
        let previous = self
            .delete_setting(
                subject,
                |state, key| state.configs.get(key).cloned(),
                records::config_key(subject),
                self.default_level.as_str(),
            )
            .await?;
        Ok(previous.parse().unwrap_or(self.default_level))
    }

    /// Deletes a subject's (or the global) config or mode, read by `current`, and returns what it
    /// was: for the global one, `default` when none was set; for a subject with none, 40401.
    async fn delete_setting(
        &self,
        subject: Option<&str>,
        current: impl Fn(&State, &Option<String>) -> Option<String>,
        key: Vec<u8>,
        default: &str,
    ) -> Result<String, RegistryError> {
        let _write = self.writes.lock().await;
        let previous = match (
            current(&self.state(), &subject.map(str::to_string)),
            subject,
        ) {
            (Some(value), _) => value,
            (None, Some(s)) => return Err(RegistryError::SubjectNotFound(s.to_string())),
            (None, None) => default.to_string(),
        };
        self.store.write(vec![(key, None)]).await?;
        Ok(previous)
    }

    pub fn mode(
        &self,
        subject: Option<&str>,
        default_to_global: bool,
    ) -> Result<String, RegistryError> {
        let state = self.state();
        let mode = shown(&state.modes, subject, default_to_global).ok_or_else(|| {
            RegistryError::SubjectModeNotFound(subject.unwrap_or_default().to_string())
        })?;
        Ok(mode.cloned().unwrap_or_else(|| DEFAULT_MODE.into()))
    }

    pub async fn set_mode(
        &self,
        subject: Option<&str>,
        mode: &str,
        force: bool,
    ) -> Result<String, RegistryError> {
        let mode = mode.trim().to_ascii_uppercase();
        if !MODES.contains(&mode.as_str()) {
            return Err(RegistryError::InvalidMode);
        }
        if !self.mode_mutable {
            return Err(RegistryError::NotPermitted(
                "Mode changes are not allowed".into(),
            ));
        }
        let _write = self.writes.lock().await;
        if mode == "IMPORT" && !force {
            let state = self.state();
            let has_schemas = match subject {
                Some(s) => !state.versions(s, true).is_empty(),
                None => !state.subjects.is_empty(),
            };
            if has_schemas {
                return Err(RegistryError::NotPermitted(
                    "Cannot import since found existing subjects".into(),
                ));
            }
        }
        self.store
            .write(vec![(
                records::mode_key(subject),
                Some(records::mode_value(subject, &mode)),
            )])
            .await?;
        Ok(mode)
    }

    pub async fn delete_mode(&self, subject: Option<&str>) -> Result<String, RegistryError> {
        self.delete_setting(
            subject,
            |state, key| state.modes.get(key).cloned(),
            records::mode_key(subject),
            DEFAULT_MODE,
        )
        .await
    }
}

fn effective_level(state: &State, subject: Option<&str>, default: Level) -> Level {
    inherited(&state.configs, subject)
        .and_then(|l| l.parse().ok())
        .unwrap_or(default)
}

/// A subject's own config or mode in `settings`, else the global one (None: neither is set).
fn inherited<'a>(
    settings: &'a HashMap<Option<String>, String>,
    subject: Option<&str>,
) -> Option<&'a String> {
    subject
        .and_then(|s| settings.get(&Some(s.to_string())))
        .or_else(|| settings.get(&None))
}

/// What `GET /config` and `GET /mode` show: without a subject the global setting; for a subject
/// its own, or with `default_to_global` the global one in its place. None when the subject has
/// none of its own and may not fall back.
fn shown<'a>(
    settings: &'a HashMap<Option<String>, String>,
    subject: Option<&str>,
    default_to_global: bool,
) -> Option<Option<&'a String>> {
    match subject {
        Some(s) if !default_to_global => settings.get(&Some(s.to_string())).map(Some),
        _ => Some(inherited(settings, subject)),
    }
}

fn view(subject: &str, version: u32, v: &Version) -> SubjectVersion {
    SubjectVersion {
        subject: subject.to_string(),
        version,
        id: v.id,
        deleted: v.deleted,
        schema: Arc::clone(&v.schema),
    }
}

fn find_version(
    state: &State,
    subject: &str,
    spec: VersionSpec,
    deleted: bool,
) -> Result<SubjectVersion, RegistryError> {
    let versions = state.versions(subject, true);
    if versions.is_empty() {
        return Err(RegistryError::SubjectNotFound(subject.to_string()));
    }
    let found = match spec {
        VersionSpec::Latest => versions.iter().rev().find(|(_, v)| deleted || !v.deleted),
        VersionSpec::Number(n) => versions
            .iter()
            .find(|(m, v)| *m == n && (deleted || !v.deleted)),
    };
    match found {
        Some((n, v)) => Ok(view(subject, *n, v)),
        None if spec == VersionSpec::Latest && !deleted => {
            Err(RegistryError::SubjectNotFound(subject.to_string()))
        }
        None => Err(RegistryError::VersionNotFound(match spec {
            VersionSpec::Latest => "latest".into(),
            VersionSpec::Number(n) => n.to_string(),
        })),
    }
}

/// Subject names Confluent refuses: empty, or with control characters.
fn validate_subject(subject: &str) -> Result<(), RegistryError> {
    if subject.is_empty() || subject.chars().any(char::is_control) {
        return Err(RegistryError::InvalidSubject(subject.to_string()));
    }
    Ok(())
}
