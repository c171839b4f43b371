//! `io.confluent.connect.avro.AvroConverter`: Connect data as Confluent's wire format (magic
//! byte 0, the schema's registry id as a big-endian int32, the Avro binary datum), with the
//! schema registered under the subject its naming strategy gives. Schemas and ids are cached
//! both ways, so the registry is called once per new schema, not per record.

mod codec;
mod registry;
mod schema;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sluice_avro::AvroSchema;
use sluice_connect_api::config::split_list;
use sluice_connect_api::{
    ConfigDef, ConfigType, ConfigValue, ConnectError, Converter, Importance, Props, Result,
    SchemaRef, Validator, Value,
};

pub use registry::{RegistryClient, RegistryError};
pub use schema::Options as AvroDataOptions;

/// The key a worker fills in (with its embedded registry) when a converter config lacks it.
pub const REGISTRY_URL: &str = "schema.registry.url";
const MAGIC: u8 = 0;
const TOPIC_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.TopicNameStrategy";
const RECORD_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.RecordNameStrategy";
const TOPIC_RECORD_NAME_STRATEGY: &str =
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy";

/// How a subject is named (`key.subject.name.strategy` / `value.subject.name.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubjectStrategy {
    Topic,
    Record,
    TopicRecord,
}

impl SubjectStrategy {
    fn from_class(class: &str) -> Option<Self> {
        let simple = class.rsplit('.').next().unwrap_or(class);
        match simple {
            "TopicNameStrategy" => Some(Self::Topic),
            "RecordNameStrategy" => Some(Self::Record),
            "TopicRecordNameStrategy" => Some(Self::TopicRecord),
            _ => None,
        }
    }

    fn subject(self, topic: &str, is_key: bool, avro: &AvroSchema) -> Result<String> {
        let record_name = || {
            avro.defined_names()
                .into_iter()
                .next()
                .filter(|_| avro.node(avro.root).kind() == sluice_avro::model::Kind::Record)
                .ok_or_else(|| {
                    ConnectError::data(format!(
                        "In configuration {}.subject.name.strategy = {}, the message must only be a record schema",
                        if is_key { "key" } else { "value" },
                        self.class()
                    ))
                })
        };
        Ok(match self {
            Self::Topic => format!("{topic}-{}", if is_key { "key" } else { "value" }),
            Self::Record => record_name()?,
            Self::TopicRecord => format!("{topic}-{}", record_name()?),
        })
    }

    fn class(self) -> &'static str {
        match self {
            Self::Topic => TOPIC_NAME_STRATEGY,
            Self::Record => RECORD_NAME_STRATEGY,
            Self::TopicRecord => TOPIC_RECORD_NAME_STRATEGY,
        }
    }
}

/// What writing needs for one (topic, Connect schema): the Avro schema and its registry id.
struct WritePlan {
    topic: String,
    connect: SchemaRef,
    avro: Arc<AvroSchema>,
    id: i32,
}

/// What reading needs for one schema id: the writer's Avro schema and its Connect schema.
struct ReadPlan {
    avro: AvroSchema,
    connect: SchemaRef,
}

pub struct AvroConverter {
    is_key: bool,
    registry: Option<Arc<RegistryClient>>,
    options: AvroDataOptions,
    auto_register: bool,
    use_latest_version: bool,
    latest_compatibility_strict: bool,
    normalize: bool,
    use_schema_id: Option<i32>,
    strategy: SubjectStrategy,
    cache_size: usize,
    written: Mutex<Vec<Arc<WritePlan>>>,
    read: Mutex<HashMap<i32, Arc<ReadPlan>>>,
}

impl Default for AvroConverter {
    fn default() -> Self {
        Self {
            is_key: false,
            registry: None,
            options: AvroDataOptions {
                connect_meta_data: true,
                enhanced: false,
            },
            auto_register: true,
            use_latest_version: false,
            latest_compatibility_strict: true,
            normalize: false,
            use_schema_id: None,
            strategy: SubjectStrategy::Topic,
            cache_size: 1000,
            written: Mutex::new(Vec::new()),
            read: Mutex::new(HashMap::new()),
        }
    }
}

impl AvroConverter {
    /// Requests sent to the registry so far.
    pub fn registry_requests(&self) -> u64 {
        self.registry.as_ref().map_or(0, |r| r.requests())
    }

    fn registry(&self) -> Result<&RegistryClient> {
        self.registry
            .as_deref()
            .ok_or_else(|| ConnectError::Fatal("AvroConverter is not configured".into()))
    }

    /// The plan for writing `schema` to `topic`, from the cache or the registry.
    fn write_plan(&self, topic: &str, schema: &SchemaRef) -> Result<Arc<WritePlan>> {
        {
            let cache = self.written.lock().unwrap_or_else(|p| p.into_inner());
            let hit = cache
                .iter()
                .find(|p| Arc::ptr_eq(&p.connect, schema) && p.topic == topic)
                .or_else(|| {
                    cache
                        .iter()
                        .find(|p| p.topic == topic && *p.connect == **schema)
                });
            if let Some(plan) = hit {
                return Ok(Arc::clone(plan));
            }
        }
        let json = schema::to_avro(schema, self.options)?;
        let text = json.to_string();
        let generated = AvroSchema::parse(&text, &[], false).map_err(|e| {
            ConnectError::data(format!(
                "The Avro schema made for topic {topic} is invalid: {e}"
            ))
        })?;
        let subject = self.strategy.subject(topic, self.is_key, &generated)?;
        let registry = self.registry()?;
        let failed = |action: &str| {
            let subject = subject.clone();
            let text = text.clone();
            let action = action.to_string();
            move |e: RegistryError| {
                e.into_connect(&format!(
                    "Error {action} Avro schema {text} for subject {subject}"
                ))
            }
        };
        let (id, avro) = if let Some(id) = self.use_schema_id {
            let writer = registry.schema_by_id(id).map_err(failed("retrieving"))?;
            (id, parse_registered(&writer, id)?)
        } else if self.use_latest_version {
            let (id, _, latest) = registry
                .latest(&subject)
                .map_err(failed("retrieving the latest"))?;
            let latest = parse_registered(&latest, id)?;
            if self.latest_compatibility_strict {
                let problems = sluice_avro::check(&latest, &generated);
                if let Some(first) = problems.first() {
                    return Err(ConnectError::data(format!(
                        "Schema being serialized is incompatible with the latest schema of subject {subject}: {}",
                        first.render(true)
                    )));
                }
            }
            (id, latest)
        } else if self.auto_register {
            let id = registry
                .register(&subject, &text, self.normalize)
                .map_err(failed("registering"))?;
            (id, generated)
        } else {
            let (id, _) = registry
                .lookup(&subject, &text, self.normalize)
                .map_err(failed("retrieving"))?;
            (id, generated)
        };
        let plan = Arc::new(WritePlan {
            topic: topic.to_string(),
            connect: Arc::clone(schema),
            avro: Arc::new(avro),
            id,
        });
        let mut cache = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= self.cache_size {
            cache.remove(0);
        }
        cache.push(Arc::clone(&plan));
        Ok(plan)
    }

    /// The plan for reading data written with schema `id`, fetched from the registry and cached.
    fn read_plan(&self, topic: &str, id: i32) -> Result<Arc<ReadPlan>> {
        let registry = self.registry()?;
        let text = registry
            .schema_by_id(id)
            .map_err(|e| e.into_connect(&format!("Failed to deserialize data for topic {topic} to Avro: Error retrieving Avro schema for id {id}")))?;
        let avro = parse_registered(&text, id)?;
        // The subject's version becomes the Connect schema's version, as Confluent's converter
        // does; a schema not registered under this topic's subject simply has none.
        let version = self
            .strategy
            .subject(topic, self.is_key, &avro)
            .ok()
            .and_then(|subject| registry.lookup(&subject, &text, false).ok())
            .map(|(_, version)| version);
        let connect = schema::to_connect(&avro, self.options, version)?;
        let plan = Arc::new(ReadPlan { avro, connect });
        let mut cache = self.read.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= self.cache_size {
            cache.clear();
        }
        cache.insert(id, Arc::clone(&plan));
        Ok(plan)
    }
}

fn parse_registered(text: &str, id: i32) -> Result<AvroSchema> {
    AvroSchema::parse(text, &[], false).map_err(|e| {
        ConnectError::data(format!("The registry's schema {id} is not valid Avro: {e}"))
    })
}

impl Converter for AvroConverter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(REGISTRY_URL, ConfigType::List, None, Importance::High, "Comma-separated list of URLs for Schema Registry instances that can be used to register or look up schemas.")
            .define("basic.auth.credentials.source", ConfigType::String, Some("URL"), Importance::Medium, "Specify how to pick the credentials for the Basic authentication header. The supported values are URL, USER_INFO and SASL_INHERIT.")
            .validator(Validator::OneOf(vec!["URL".into(), "USER_INFO".into(), "SASL_INHERIT".into()]))
            .define("basic.auth.user.info", ConfigType::Password, Some(""), Importance::Medium, "Specify the user info for the Basic authentication in the form of {username}:{password}.")
            .define("auto.register.schemas", ConfigType::Boolean, Some("true"), Importance::Medium, "Specify if the Serializer should attempt to register the Schema with Schema Registry.")
            .define("use.latest.version", ConfigType::Boolean, Some("false"), Importance::Low, "Use latest version of the schema in the subject for serialization when auto.register.schemas is false.")
            .define("latest.compatibility.strict", ConfigType::Boolean, Some("true"), Importance::Low, "Verify that the latest subject version is backward compatible with the schema of the object when use.latest.version is true.")
            .define("use.schema.id", ConfigType::Int, Some("-1"), Importance::Low, "Schema id to use for serialization.")
            .define("normalize.schemas", ConfigType::Boolean, Some("false"), Importance::Low, "Whether to normalize schemas, which generally ignores ordering when it is not significant.")
            .define("key.subject.name.strategy", ConfigType::Class, Some(TOPIC_NAME_STRATEGY), Importance::Medium, "Determines how to construct the subject name under which the key schema is registered with the schema registry.")
            .define("value.subject.name.strategy", ConfigType::Class, Some(TOPIC_NAME_STRATEGY), Importance::Medium, "Determines how to construct the subject name under which the value schema is registered with the schema registry.")
            .define("schemas.cache.config", ConfigType::Int, Some("1000"), Importance::Low, "Size of the converted schemas cache.")
            .validator(Validator::AtLeast(1.0))
            .define("max.schemas.per.subject", ConfigType::Int, Some("1000"), Importance::Low, "Maximum number of schemas to create or cache locally.")
            .define("enhanced.avro.schema.support", ConfigType::Boolean, Some("false"), Importance::Medium, "Enable enhanced schema support to preserve package information and Enums.")
            .define("connect.meta.data", ConfigType::Boolean, Some("true"), Importance::Low, "Allow the Connect converter to add its metadata to the output schema.")
    }

    fn configure(&mut self, props: &Props, is_key: bool) -> Result<()> {
        let parsed = self.config_def().parse_or_error(props)?;
        let flag = |k: &str| matches!(parsed.get(k), Some(ConfigValue::Boolean(true)));
        let text = |k: &str| match parsed.get(k) {
            Some(ConfigValue::String(s) | ConfigValue::Password(s)) => s.clone(),
            _ => String::new(),
        };
        let urls = match parsed.get(REGISTRY_URL) {
            Some(ConfigValue::List(urls)) => urls.clone(),
            Some(ConfigValue::String(s)) => split_list(s),
            _ => Vec::new(),
        };
        if urls.is_empty() {
            return Err(ConnectError::Config {
                key: REGISTRY_URL.into(),
                message: format!(
                    "Missing required configuration \"{REGISTRY_URL}\" which has no default value."
                ),
            });
        }
        let user_info = match text("basic.auth.credentials.source")
            .to_ascii_uppercase()
            .as_str()
        {
            "USER_INFO" => Some(text("basic.auth.user.info")).filter(|u| !u.is_empty()),
            "SASL_INHERIT" => {
                return Err(ConnectError::Config {
                    key: "basic.auth.credentials.source".into(),
                    message: "SASL_INHERIT is not supported by Sluice: use USER_INFO or URL".into(),
                })
            }
            _ => None,
        };
        let strategy_key = if is_key {
            "key.subject.name.strategy"
        } else {
            "value.subject.name.strategy"
        };
        let strategy_class = text(strategy_key);
        self.strategy = SubjectStrategy::from_class(&strategy_class).ok_or_else(|| ConnectError::Config {
            key: strategy_key.into(),
            message: format!(
                "Class {strategy_class} could not be found. Sluice offers {TOPIC_NAME_STRATEGY}, {RECORD_NAME_STRATEGY} and {TOPIC_RECORD_NAME_STRATEGY}"
            ),
        })?;
        self.is_key = is_key;
        self.registry = Some(Arc::new(RegistryClient::new(urls, user_info)));
        self.options = AvroDataOptions {
            connect_meta_data: flag("connect.meta.data"),
            enhanced: flag("enhanced.avro.schema.support"),
        };
        self.auto_register = flag("auto.register.schemas");
        self.use_latest_version = flag("use.latest.version");
        self.latest_compatibility_strict = flag("latest.compatibility.strict");
        self.normalize = flag("normalize.schemas");
        self.use_schema_id = match parsed.get("use.schema.id") {
            Some(ConfigValue::Int(id)) if *id >= 0 => i32::try_from(*id).ok(),
            _ => None,
        };
        self.cache_size = match parsed.get("schemas.cache.config") {
            Some(ConfigValue::Int(n)) => usize::try_from(*n).unwrap_or(1000).max(1),
            _ => 1000,
        };
        Ok(())
    }

    fn from_connect_data(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>> {
        let Some(schema) = schema else {
            if value.is_null() {
                return Ok(None);
            }
            return Err(ConnectError::data(format!(
                "Failed to serialize Avro data from topic {topic} : Sluice's AvroConverter needs a schema; schemaless values are not supported"
            )));
        };
        if value.is_null() && schema.default.is_none() {
            if !schema.optional {
                return Err(ConnectError::data(format!(
                    "Failed to serialize Avro data from topic {topic} : Found null value for non-optional schema"
                )));
            }
            // A tombstone stays a tombstone, as Confluent's serializer returns null for null.
            return Ok(None);
        }
        let plan = self.write_plan(topic, schema)?;
        let mut out = Vec::with_capacity(64);
        out.push(MAGIC);
        out.extend_from_slice(&plan.id.to_be_bytes());
        codec::encode(&plan.avro, schema, value, &mut out).map_err(|e| {
            ConnectError::data(format!(
                "Failed to serialize Avro data from topic {topic} : {}",
                e.message()
            ))
        })?;
        Ok(Some(out))
    }

    fn to_connect_data(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value)> {
        let Some(bytes) = bytes else {
            return Ok((None, Value::Null));
        };
        let failed = |reason: &str| {
            ConnectError::data(format!(
                "Failed to deserialize data for topic {topic} to Avro: {reason}"
            ))
        };
        let (&magic, rest) = bytes
            .split_first()
            .ok_or_else(|| failed("Unknown magic byte!"))?;
        if magic != MAGIC || rest.len() < 4 {
            return Err(failed("Unknown magic byte!"));
        }
        let (id, datum) = rest.split_at(4);
        let id = i32::from_be_bytes([id[0], id[1], id[2], id[3]]);
        let decode = |plan: &ReadPlan| {
            let value = codec::decode(&plan.avro, &plan.connect, datum).map_err(|e| {
                failed(&format!(
                    "Error deserializing Avro message for id {id}: {}",
                    e.message()
                ))
            })?;
            Ok((Some(Arc::clone(&plan.connect)), value))
        };
        // A task's converter is its own: decoding under the cache's lock holds up no one, and
        // spares counting a reference to the plan for every record.
        if let Some(plan) = self.read.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return decode(plan);
        }
        decode(self.read_plan(topic, id)?.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_url_or_an_unknown_strategy_is_a_configuration_error() {
        let mut converter = AvroConverter::default();
        let err = converter
            .configure(&Props::new(), false)
            .expect_err("no url");
        assert!(
            matches!(&err, ConnectError::Config { key, .. } if key == REGISTRY_URL),
            "{err}"
        );
        let props: Props = [
            (REGISTRY_URL.to_string(), "http://127.0.0.1:9".to_string()),
            (
                "value.subject.name.strategy".to_string(),
                "com.acme.MyStrategy".to_string(),
            ),
        ]
        .into();
        let err = converter
            .configure(&props, false)
            .expect_err("unknown strategy");
        assert!(err.to_string().contains("TopicRecordNameStrategy"), "{err}");
    }

    #[test]
    fn bad_bytes_name_the_topic_and_the_magic_byte() {
        let mut converter = AvroConverter::default();
        let props: Props = [(REGISTRY_URL.to_string(), "http://127.0.0.1:9".to_string())].into();
        converter.configure(&props, false).expect("configure");
        for bytes in [&b"{\"json\": true}"[..], &[0u8, 0, 0][..], &[][..]] {
            let err = converter
                .to_connect_data("orders", Some(bytes))
                .expect_err("not avro");
            assert_eq!(
                err.message(),
                "Failed to deserialize data for topic orders to Avro: Unknown magic byte!"
            );
        }
        assert_eq!(
            converter.to_connect_data("orders", None).ok(),
            Some((None, Value::Null))
        );
        // An id the registry cannot give: the registry is down, so retriable.
        let err = converter
            .to_connect_data("orders", Some(&[0, 0, 0, 0, 7, 2]))
            .expect_err("unreachable");
        assert!(err.is_retriable(), "{err}");
    }
}
