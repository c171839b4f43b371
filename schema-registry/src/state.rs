//! What the `_schemas` topic says, in memory: subjects and their versions, schemas by id,
//! configs and modes. Rebuilt by replaying the topic; every write goes through the topic first.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::records::{Record, Reference, SchemaValue};

/// A schema's stored form: shared by every version that registered it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredSchema {
    /// The canonical text.
    pub schema: String,
    /// None for Avro (the default, which responses leave out).
    pub schema_type: Option<String>,
    pub references: Vec<Reference>,
}

#[derive(Debug, Clone)]
pub struct Version {
    pub id: u32,
    pub deleted: bool,
    pub schema: Arc<StoredSchema>,
}

#[derive(Debug, Default)]
pub struct State {
    pub subjects: BTreeMap<String, BTreeMap<u32, Version>>,
    /// Every id some version (live or soft-deleted) carries.
    pub schemas: HashMap<u32, Arc<StoredSchema>>,
    pub ids: HashMap<Arc<StoredSchema>, u32>,
    /// Compatibility levels; the key None is the global one.
    pub configs: HashMap<Option<String>, String>,
    pub modes: HashMap<Option<String>, String>,
    pub max_id: u32,
}

impl State {
    pub fn apply(&mut self, record: Record) {
        match record {
            Record::Schema {
                subject,
                version,
                value: Some(value),
            } => self.put_version(subject, version, value),
            Record::Schema {
                subject,
                version,
                value: None,
            } => self.remove_version(&subject, version),
            Record::Config { subject, level } => match level {
                Some(level) => {
                    self.configs.insert(subject, level.to_ascii_uppercase());
                }
                None => {
                    self.configs.remove(&subject);
                }
            },
            Record::Mode { subject, mode } => match mode {
                Some(mode) => {
                    self.modes.insert(subject, mode.to_ascii_uppercase());
                }
                None => {
                    self.modes.remove(&subject);
                }
            },
            Record::DeleteSubject { subject, version } => {
                if let Some(versions) = self.subjects.get_mut(&subject) {
                    for (_, v) in versions.range_mut(..=version) {
                        v.deleted = true;
                    }
                }
            }
            Record::Ignored => {}
        }
    }

    fn put_version(&mut self, subject: String, version: u32, value: SchemaValue) {
        let stored = StoredSchema {
            schema: value.schema,
            schema_type: value.schema_type.filter(|t| t != "AVRO"),
            references: value.references,
        };
        let schema = match self.schemas.get(&value.id) {
            Some(existing) if **existing == stored => Arc::clone(existing),
            _ => {
                let schema = Arc::new(stored);
                self.schemas.insert(value.id, Arc::clone(&schema));
                self.ids.insert(Arc::clone(&schema), value.id);
                schema
            }
        };
        self.max_id = self.max_id.max(value.id);
        self.subjects.entry(subject).or_default().insert(
            version,
            Version {
                id: value.id,
                deleted: value.deleted,
                schema,
            },
        );
    }

    /// A hard delete: the version goes, and its id too when no other version carries it.
    fn remove_version(&mut self, subject: &str, version: u32) {
        let Some(versions) = self.subjects.get_mut(subject) else {
            return;
        };
        let Some(removed) = versions.remove(&version) else {
            return;
        };
        if versions.is_empty() {
            self.subjects.remove(subject);
        }
        let still_used = self
            .subjects
            .values()
            .flat_map(|v| v.values())
            .any(|v| v.id == removed.id);
        if !still_used {
            if let Some(schema) = self.schemas.remove(&removed.id) {
                self.ids.remove(&schema);
            }
        }
    }

    /// Versions of `subject`, soft-deleted ones only when `deleted`.
    pub fn versions(&self, subject: &str, deleted: bool) -> Vec<(u32, &Version)> {
        self.subjects
            .get(subject)
            .map(|versions| {
                versions
                    .iter()
                    .filter(|(_, v)| deleted || !v.deleted)
                    .map(|(n, v)| (*n, v))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ids of the schemas whose versions (soft-deleted ones only when `deleted`) reference
    /// `subject`/`version`; a referenced version may not be deleted.
    pub fn referrers(&self, subject: &str, version: u32, deleted: bool) -> Vec<u32> {
        let latest = self.versions(subject, false).last().map(|(n, _)| *n);
        let mut ids: Vec<u32> = self
            .subjects
            .values()
            .flat_map(|v| v.values())
            .filter(|v| deleted || !v.deleted)
            .filter(|v| {
                v.schema.references.iter().any(|r| {
                    r.subject == subject
                        && (r.version == i64::from(version)
                            || (r.version == -1 && latest == Some(version)))
                })
            })
            .map(|v| v.id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}
