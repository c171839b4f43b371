//! The dry run behind `sluice transform`: a connector config's transforms and predicates applied
//! to records given as JSON lines, and nothing else of the connector.
//!
//! A record line is `{"topic", "partition", "offset", "timestamp", "key", "value", "headers"}`;
//! a non-null `offset` makes it a sink record, else a source record. Keys, values and headers
//! are JsonConverter envelopes (`{"schema": .., "payload": ..}`, or `null`); with raw input the
//! key and value are `{"bytes": "<base64>"}` read by the config's own converters, as a sink
//! task's consumer would read them. Each line gives one output line: the record, `null` when the
//! chain dropped it, or `{"error": {..}}`.

use serde_json::{json, Map, Value as Json};
use sluice_connect_api::base64;
use sluice_connect_api::{
    ConnectError, ConnectRecord, Converter, Headers, Props, SchemaRef, SinkRecord, SourceMap,
    SourceRecord, TimestampType, Value,
};

use crate::converters::{self, JsonConverter};
use crate::transforms::{ChainRecord, TransformChain};
use crate::worker::Stage;

/// How keys and values are written in record lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// JsonConverter's canonical envelope.
    Envelope,
    /// `{"bytes": "<base64>"}`: the serialized form, read and written by the config's converters.
    Raw,
}

/// Converters the worker would use when a config names none.
const DEFAULT_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

/// A configured dry run.
pub struct DryRun {
    source: TransformChain<SourceRecord>,
    sink: TransformChain<SinkRecord>,
    /// The canonical envelope: schemas on, Decimal as base64, nulls kept as they are.
    envelope: JsonConverter,
    /// The config's key and value converters, when a side is raw.
    raw: Option<(Box<dyn Converter>, Box<dyn Converter>)>,
    input: Form,
    output: Form,
}

/// What became of one line.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The transformed record, or `null` when the chain dropped it.
    Done(Json),
    /// The record failed; the line is an `{"error": ..}`.
    Failed(Json),
}

impl Outcome {
    pub fn line(&self) -> &Json {
        match self {
            Outcome::Done(j) | Outcome::Failed(j) => j,
        }
    }
}

/// A record that failed: where, and why.
struct Failure {
    phase: &'static str,
    stage: Option<Stage>,
    message: String,
}

impl Failure {
    fn read(message: impl Into<String>) -> Self {
        Failure {
            phase: "read",
            stage: None,
            message: message.into(),
        }
    }

    fn at(stage: Stage, error: &ConnectError) -> Self {
        Failure {
            phase: "apply",
            stage: Some(stage),
            message: error.message().to_string(),
        }
    }

    fn to_json(&self) -> Json {
        let mut error = Map::new();
        error.insert("phase".into(), json!(self.phase));
        if let Some(stage) = self.stage {
            error.insert("stage".into(), json!(stage.name()));
        }
        error.insert("message".into(), json!(self.message));
        json!({ "error": error })
    }
}

/// The line a configuration error prints; it names the key when the error is about one.
pub fn configure_error(error: &ConnectError) -> Json {
    match error {
        ConnectError::Config { key, message } => {
            json!({"error": {"phase": "configure", "key": key, "message": message}})
        }
        other => json!({"error": {"phase": "configure", "message": other.message()}}),
    }
}

impl DryRun {
    /// Builds the chains (and, for raw forms, the converters) from a connector config.
    pub fn from_config(props: &Props, input: Form, output: Form) -> Result<Self, ConnectError> {
        let mut envelope = JsonConverter::default();
        let canonical = sluice_connect_api::props_of(&[
            ("schemas.enable", "true"),
            ("decimal.format", "BASE64"),
            ("replace.null.with.default", "false"),
        ]);
        envelope.configure(&canonical, false)?;
        let raw = if input == Form::Raw || output == Form::Raw {
            let class = |key: &str| {
                props
                    .get(key)
                    .map(|c| c.trim())
                    .filter(|c| !c.is_empty())
                    .unwrap_or(DEFAULT_CONVERTER)
                    .to_string()
            };
            let key = converters::create(&class("key.converter"), props, "key.converter.", true)?;
            let value =
                converters::create(&class("value.converter"), props, "value.converter.", false)?;
            Some((key, value))
        } else {
            None
        };
        Ok(Self {
            source: TransformChain::from_config(props)?,
            sink: TransformChain::from_config(props)?,
            envelope,
            raw,
            input,
            output,
        })
    }

    /// Runs one record line through the chain.
    pub fn run_line(&mut self, line: &str) -> Outcome {
        match self.run(line) {
            Ok(out) => Outcome::Done(out),
            Err(failure) => Outcome::Failed(failure.to_json()),
        }
    }

    fn run(&mut self, line: &str) -> Result<Json, Failure> {
        let input: Json = serde_json::from_str(line)
            .map_err(|e| Failure::read(format!("The line is not JSON: {e}")))?;
        let Json::Object(fields) = input else {
            return Err(Failure::read("A record line must be a JSON object"));
        };
        let line = Line::parse(&fields)?;
        let topic = line.topic.to_string();
        let (key_schema, key) = self.read_side(&topic, line.key, true)?;
        let (value_schema, value) = self.read_side(&topic, line.value, false)?;
        let headers = self.read_headers(&topic, line.headers)?;
        match line.offset {
            Some(offset) => {
                let record = SinkRecord {
                    topic,
                    kafka_partition: line.partition.unwrap_or(0),
                    kafka_offset: offset,
                    key_schema,
                    key,
                    value_schema,
                    value,
                    timestamp: line.timestamp,
                    timestamp_type: if line.timestamp.is_some() {
                        TimestampType::CreateTime
                    } else {
                        TimestampType::NoTimestampType
                    },
                    headers,
                };
                let out = apply(&mut self.sink, record)?;
                self.write(out)
            }
            None => {
                let mut record = SourceRecord::new(
                    SourceMap::new(),
                    SourceMap::new(),
                    &topic,
                    value_schema,
                    value,
                );
                record.kafka_partition = line.partition;
                record.key_schema = key_schema;
                record.key = key;
                record.timestamp = line.timestamp;
                record.headers = headers;
                let out = apply(&mut self.source, record)?;
                self.write(out)
            }
        }
    }

    fn read_side(
        &self,
        topic: &str,
        side: Option<&Json>,
        is_key: bool,
    ) -> Result<(Option<SchemaRef>, Value), Failure> {
        let stage = if is_key {
            Stage::KeyConverter
        } else {
            Stage::ValueConverter
        };
        let side = side.unwrap_or(&Json::Null);
        match (self.input, &self.raw) {
            (Form::Raw, Some((key, value))) => {
                let bytes = raw_bytes(side).map_err(Failure::read)?;
                let converter = if is_key { key } else { value };
                converter
                    .to_connect_data(topic, bytes.as_deref())
                    .map_err(|e| Failure::at(stage, &e))
            }
            _ => self
                .read_envelope(topic, side)
                .map_err(|e| Failure::at(stage, &e)),
        }
    }

    fn read_envelope(
        &self,
        topic: &str,
        envelope: &Json,
    ) -> Result<(Option<SchemaRef>, Value), ConnectError> {
        if envelope.is_null() {
            return Ok((None, Value::Null));
        }
        let text = envelope.to_string();
        self.envelope.to_connect_data(topic, Some(text.as_bytes()))
    }

    fn read_headers(&self, topic: &str, headers: Option<&Json>) -> Result<Headers, Failure> {
        let mut out = Headers::new();
        let Some(headers) = headers.filter(|h| !h.is_null()) else {
            return Ok(out);
        };
        let Json::Array(items) = headers else {
            return Err(Failure::read(
                "\"headers\" must be an array of [name, value] pairs",
            ));
        };
        for item in items {
            let pair = item.as_array().filter(|p| p.len() == 2);
            let Some((Some(name), envelope)) = pair.map(|p| (p[0].as_str(), &p[1])) else {
                return Err(Failure::read(format!(
                    "A header must be a [name, value] pair, found {item}"
                )));
            };
            let (schema, value) = self
                .read_envelope(topic, envelope)
                .map_err(|e| Failure::at(Stage::HeaderConverter, &e))?;
            out.add(name.to_string(), schema, value);
        }
        Ok(out)
    }

    fn write<R: ConnectRecord>(&self, record: Option<R>) -> Result<Json, Failure> {
        let Some(record) = record else {
            return Ok(Json::Null);
        };
        let topic = record.topic();
        let key = self.write_side(topic, record.key_schema(), record.key(), true)?;
        let value = self.write_side(topic, record.value_schema(), record.value(), false)?;
        let mut headers = Vec::with_capacity(record.headers().len());
        for h in record.headers().iter() {
            let envelope = self
                .write_envelope(topic, h.schema.as_ref(), &h.value)
                .map_err(|e| Failure::at(Stage::HeaderConverter, &e))?;
            headers.push(json!([h.key, envelope]));
        }
        Ok(json!({
            "topic": topic,
            "partition": record.kafka_partition(),
            "offset": record.kafka_offset(),
            "timestamp": record.timestamp(),
            "key": key,
            "value": value,
            "headers": headers,
        }))
    }

    fn write_side(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
        is_key: bool,
    ) -> Result<Json, Failure> {
        let stage = if is_key {
            Stage::KeyConverter
        } else {
            Stage::ValueConverter
        };
        match (self.output, &self.raw) {
            (Form::Raw, Some((key, values))) => {
                let converter = if is_key { key } else { values };
                let bytes = converter
                    .from_connect_data(topic, schema, value)
                    .map_err(|e| Failure::at(stage, &e))?;
                Ok(bytes.map_or(Json::Null, |b| json!({"bytes": base64::encode(&b)})))
            }
            _ => self
                .write_envelope(topic, schema, value)
                .map_err(|e| Failure::at(stage, &e)),
        }
    }

    fn write_envelope(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Json, ConnectError> {
        match self.envelope.from_connect_data(topic, schema, value)? {
            None => Ok(Json::Null),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| ConnectError::data(format!("JsonConverter wrote no JSON: {e}"))),
        }
    }
}

fn apply<R: ChainRecord>(chain: &mut TransformChain<R>, record: R) -> Result<Option<R>, Failure> {
    chain.apply(record).map_err(|e| Failure {
        phase: "apply",
        stage: Some(Stage::Transformation),
        message: e.source.message().to_string(),
    })
}

/// `{"bytes": "<base64>"}` or null: the serialized form of a raw key or value.
fn raw_bytes(side: &Json) -> Result<Option<Vec<u8>>, String> {
    match side {
        Json::Null => Ok(None),
        Json::Object(o) if o.len() == 1 => match o.get("bytes") {
            Some(Json::String(text)) => base64::decode(text)
                .map(Some)
                .ok_or_else(|| format!("\"bytes\" is not base64: {text}")),
            Some(Json::Null) => Ok(None),
            _ => Err(format!(
                "A raw key or value must be {{\"bytes\": \"<base64>\"}} or null, found {side}"
            )),
        },
        other => Err(format!(
            "A raw key or value must be {{\"bytes\": \"<base64>\"}} or null, found {other}"
        )),
    }
}

/// The fields of a record line.
struct Line<'a> {
    topic: &'a str,
    partition: Option<i32>,
    offset: Option<i64>,
    timestamp: Option<i64>,
    key: Option<&'a Json>,
    value: Option<&'a Json>,
    headers: Option<&'a Json>,
}

impl<'a> Line<'a> {
    const FIELDS: &'static [&'static str] = &[
        "topic",
        "partition",
        "offset",
        "timestamp",
        "key",
        "value",
        "headers",
    ];

    fn parse(fields: &'a Map<String, Json>) -> Result<Self, Failure> {
        if let Some(unknown) = fields.keys().find(|k| !Self::FIELDS.contains(&k.as_str())) {
            let hint =
                sluice_connect_api::config::did_you_mean(unknown, Self::FIELDS.iter().copied());
            return Err(Failure::read(format!(
                "Unknown field \"{unknown}\" in the record line.{hint}"
            )));
        }
        let topic = match fields.get("topic") {
            Some(Json::String(t)) if !t.is_empty() => t.as_str(),
            _ => return Err(Failure::read("A record line needs a non-empty \"topic\"")),
        };
        let number = |name: &str| -> Result<Option<i64>, Failure> {
            match fields.get(name) {
                None | Some(Json::Null) => Ok(None),
                Some(n) => n.as_i64().map(Some).ok_or_else(|| {
                    Failure::read(format!("\"{name}\" must be an integer or null, found {n}"))
                }),
            }
        };
        let partition = number("partition")?
            .map(|p| {
                i32::try_from(p).ok().filter(|p| *p >= 0).ok_or_else(|| {
                    Failure::read(format!("\"partition\" {p} is not a partition number"))
                })
            })
            .transpose()?;
        Ok(Self {
            topic,
            partition,
            offset: number("offset")?,
            timestamp: number("timestamp")?,
            key: fields.get("key"),
            value: fields.get("value"),
            headers: fields.get("headers"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_connect_api::props_of;

    fn run(config: &[(&str, &str)], input: Form, output: Form, line: &str) -> Outcome {
        DryRun::from_config(&props_of(config), input, output)
            .expect("configured")
            .run_line(line)
    }

    #[test]
    fn a_source_record_goes_through_the_chain_in_envelopes() {
        let out = run(
            &[
                ("transforms", "route"),
                ("transforms.route.type", "RegexRouter"),
                ("transforms.route.regex", "(.*)-raw"),
                ("transforms.route.replacement", "$1"),
            ],
            Form::Envelope,
            Form::Envelope,
            r#"{"topic":"orders-raw","key":null,"value":{"schema":{"type":"string","optional":false},"payload":"x"},"headers":[["h",{"schema":{"type":"int32","optional":false},"payload":7}]]}"#,
        );
        assert_eq!(
            out,
            Outcome::Done(json!({
                "topic": "orders",
                "partition": null,
                "offset": null,
                "timestamp": null,
                "key": null,
                "value": {"schema": {"type": "string", "optional": false}, "payload": "x"},
                "headers": [["h", {"schema": {"type": "int32", "optional": false}, "payload": 7}]],
            }))
        );
    }

    #[test]
    fn raw_input_is_read_by_the_configs_converters() {
        let out = run(
            &[
                (
                    "value.converter",
                    "org.apache.kafka.connect.json.JsonConverter",
                ),
                ("value.converter.schemas.enable", "false"),
                ("key.converter", "StringConverter"),
            ],
            Form::Raw,
            Form::Envelope,
            &format!(
                r#"{{"topic":"t","offset":5,"partition":1,"key":{{"bytes":"{}"}},"value":{{"bytes":"{}"}}}}"#,
                base64::encode(b"k1"),
                base64::encode(br#"{"a":1}"#)
            ),
        );
        assert_eq!(
            out,
            Outcome::Done(json!({
                "topic": "t",
                "partition": 1,
                "offset": 5,
                "timestamp": null,
                "key": {"schema": {"type": "string", "optional": true}, "payload": "k1"},
                "value": {"schema": null, "payload": {"a": 1}},
                "headers": [],
            }))
        );
        let bad = run(
            &[("value.converter", "JsonConverter")],
            Form::Raw,
            Form::Raw,
            &format!(
                r#"{{"topic":"t","value":{{"bytes":"{}"}}}}"#,
                base64::encode(b"{nope")
            ),
        );
        let Outcome::Failed(error) = bad else {
            panic!("bad JSON must fail: {bad:?}");
        };
        assert_eq!(error["error"]["phase"], "apply");
        assert_eq!(error["error"]["stage"], "VALUE_CONVERTER");
    }

    #[test]
    fn dropped_records_print_null_and_bad_lines_say_why() {
        let config = [
            ("transforms", "drop"),
            ("transforms.drop.type", "Filter"),
            ("transforms.drop.predicate", "tomb"),
            ("predicates", "tomb"),
            ("predicates.tomb.type", "RecordIsTombstone"),
        ];
        assert_eq!(
            run(
                &config,
                Form::Envelope,
                Form::Envelope,
                r#"{"topic":"t","value":null}"#
            ),
            Outcome::Done(Json::Null)
        );
        for line in ["{", "[]", r#"{"value":null}"#, r#"{"topic":"t","vlaue":1}"#] {
            let out = run(&config, Form::Envelope, Form::Envelope, line);
            assert!(
                matches!(&out, Outcome::Failed(e) if e["error"]["phase"] == "read"),
                "{line}: {out:?}"
            );
        }
    }
}
