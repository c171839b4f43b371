//! Reading records out of one input file, per connector: lines, CSV rows, JSON objects
//! (typed or re-serialized), Avro data, or the whole file. Each reader counts records, so a
//! file can be resumed from its stored offset, and names the line of a parse error.

use std::borrow::Cow;
use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value as Json;
use sluice_connect_api::{Schema, SchemaRef, Struct, Value};

use super::avro::AvroData;
use super::config::Settings;
use super::csv::{CsvParser, Fields, Pending};
use super::elf::ElfReader;
use super::schema::{from_json, generated, parse_text};
use super::Format;

/// One record's key and value, and its offset in the file as the original numbers it: the line
/// number for lines, the data row for CSV (the first is 1 whatever is skipped before it), the
/// record's index from 0 for JSON, Avro and ELF, and 0 for a binary file's one record.
pub struct Parsed {
    pub offset: u64,
    pub key_schema: Option<SchemaRef>,
    pub key: Value,
    pub value_schema: Option<SchemaRef>,
    pub value: Value,
}

#[derive(Debug)]
pub enum ReadError {
    /// The data is malformed: where, and why.
    Parse {
        line: u64,
        message: String,
    },
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Parse { line, message } => write!(f, "line {line}: {message}"),
            ReadError::Io(e) => write!(f, "reading failed: {e}"),
        }
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

pub trait RecordReader: Send {
    /// The next record, or `None` at the end of the file.
    fn next(&mut self) -> Result<Option<Parsed>, ReadError>;
}

/// Opens the reader for a format over a file's (decompressed) bytes.
pub fn reader(
    format: Format,
    input: Box<dyn BufRead + Send>,
    settings: &Settings,
) -> Result<Box<dyn RecordReader>, ReadError> {
    Ok(match format {
        Format::LineDelimited => Box::new(Lines {
            input,
            settings: settings.clone(),
            line: 0,
            buffer: Vec::new(),
        }),
        Format::Csv => Box::new(Csv::new(input, settings)?),
        Format::Json | Format::SchemaLessJson => {
            let budget = Arc::new(AtomicU64::new(MAX_RECORD_BYTES as u64));
            let input: Box<dyn Read + Send> = Box::new(Budgeted {
                input,
                read: 0,
                budget: Arc::clone(&budget),
            });
            Box::new(JsonObjects {
                stream: serde_json::Deserializer::from_reader(input).into_iter(),
                budget,
                settings: settings.clone(),
                typed: format == Format::Json,
                count: 0,
                value_schema: settings.value_schema.clone(),
            })
        }
        Format::Avro => Box::new(Avro::new(input)?),
        Format::Binary => Box::new(Binary { input: Some(input) }),
        Format::Elf => Box::new(ElfReader::new(input, settings.charset)),
    })
}

struct Lines {
    input: Box<dyn BufRead + Send>,
    settings: Settings,
    line: u64,
    buffer: Vec<u8>,
}

/// The largest record a file may hold: Kafka's default `max.request.size`, so a record that
/// could not be sent anyway is an error for its file, and memory stays bounded however long a
/// line (or a decompressed file) is.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Reads line number `line` into `buffer` without its line break; false at the end. A line
/// longer than [`MAX_RECORD_BYTES`] is an error, found without reading the rest of it.
pub(super) fn read_line(
    input: &mut dyn BufRead,
    buffer: &mut Vec<u8>,
    line: u64,
) -> Result<bool, ReadError> {
    buffer.clear();
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(!buffer.is_empty());
        }
        let (taken, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if buffer.len() + taken > MAX_RECORD_BYTES + 1 {
            return Err(too_large(line, "line"));
        }
        buffer.extend_from_slice(&available[..taken]);
        input.consume(taken);
        if done {
            buffer.pop();
            return Ok(true);
        }
    }
}

/// A record over [`MAX_RECORD_BYTES`]: an error for its file.
pub(super) fn too_large(line: u64, what: &str) -> ReadError {
    ReadError::Parse {
        line,
        message: format!(
            "the {what} is longer than {MAX_RECORD_BYTES} bytes (max.request.size), the largest record Sluice reads from a file"
        ),
    }
}

/// A line's text in the configured character set; a bad byte is an error at that line.
fn decode<'a>(settings: &Settings, bytes: &'a [u8], line: u64) -> Result<Cow<'a, str>, ReadError> {
    settings
        .charset
        .decode(bytes)
        .map_err(|message| ReadError::Parse { line, message })
}

impl RecordReader for Lines {
    fn next(&mut self) -> Result<Option<Parsed>, ReadError> {
        if !read_line(&mut *self.input, &mut self.buffer, self.line + 1)? {
            return Ok(None);
        }
        self.line += 1;
        if self.buffer.last() == Some(&b'\r') {
            self.buffer.pop();
        }
        let text = decode(&self.settings, &self.buffer, self.line)?;
        Ok(Some(Parsed {
            offset: self.line,
            key_schema: None,
            key: Value::Null,
            value_schema: Some(Schema::string()),
            value: Value::String(text.into_owned()),
        }))
    }
}

/// The key struct: the key schema's fields, copied from the value.
fn key_of(key_schema: &Option<SchemaRef>, value: &Value) -> Result<Value, String> {
    let (Some(schema), Value::Struct(v)) = (key_schema, value) else {
        return Ok(Value::Null);
    };
    let mut key = Struct::new(schema.clone()).map_err(|e| e.to_string())?;
    for field in &schema.fields {
        let copied = v
            .get(&field.name)
            .map_err(|_| format!("key field '{}' is not in the value", field.name))?
            .clone();
        key = key.put(&field.name, copied).map_err(|e| e.to_string())?;
    }
    Ok(Value::Struct(key))
}

struct Csv {
    input: Box<dyn BufRead + Send>,
    parser: CsvParser,
    settings: Settings,
    value_schema: SchemaRef,
    key_schema: Option<SchemaRef>,
    /// For each schema field, the column it is read from.
    columns: Vec<Option<usize>>,
    /// Physical lines read so far, and how many of them came before the data (skipped lines and
    /// the header): a row's offset is the difference, as opencsv's `getLinesRead()` gives it.
    line: u64,
    preamble: u64,
    buffer: Vec<u8>,
}

impl Csv {
    fn new(mut input: Box<dyn BufRead + Send>, settings: &Settings) -> Result<Self, ReadError> {
        let parser = CsvParser::new(settings.csv.clone());
        let mut line = 0;
        let mut buffer = Vec::new();
        for _ in 0..settings.csv.skip_lines {
            if !read_line(&mut *input, &mut buffer, line + 1)? {
                break;
            }
            line += 1;
        }
        let mut header: Option<Vec<String>> = None;
        if settings.csv.first_row_as_header {
            let mut pending = Pending::default();
            loop {
                if !read_line(&mut *input, &mut buffer, line + 1)? {
                    break;
                }
                line += 1;
                let text = decode(settings, &buffer, line)?;
                if let Some(fields) = parser.parse_line(&text, &mut pending) {
                    let names = fields
                        .into_iter()
                        .map(|f| f.unwrap_or_default().into_owned());
                    header = Some(names.collect());
                    break;
                }
            }
        }
        let value_schema = match (&settings.value_schema, &header) {
            (Some(s), _) => s.clone(),
            (None, Some(h)) if settings.schema_generation => {
                generated(&settings.generation_value_name, h)
                    .map_err(|message| ReadError::Parse { line, message })?
            }
            _ => {
                return Err(ReadError::Parse {
                    line,
                    message: "schema generation needs csv.first.row.as.header=true".into(),
                })
            }
        };
        let key_schema = match (&settings.key_schema, settings.schema_generation) {
            (Some(k), _) => Some(k.clone()),
            (None, true) if !settings.generation_key_fields.is_empty() => Some(
                generated(
                    &settings.generation_key_name,
                    &settings.generation_key_fields,
                )
                .map_err(|message| ReadError::Parse { line, message })?,
            ),
            _ => None,
        };
        let columns = match &header {
            Some(names) => {
                let same = |a: &str, b: &str| {
                    if settings.csv.case_sensitive_field_names {
                        a == b
                    } else {
                        a.eq_ignore_ascii_case(b)
                    }
                };
                value_schema
                    .fields
                    .iter()
                    .map(|f| names.iter().position(|n| same(n.trim(), &f.name)))
                    .collect()
            }
            None => (0..value_schema.fields.len()).map(Some).collect(),
        };
        Ok(Self {
            input,
            parser,
            settings: settings.clone(),
            value_schema,
            key_schema,
            columns,
            preamble: settings.csv.skip_lines as u64 + u64::from(settings.csv.first_row_as_header),
            line,
            buffer,
        })
    }

    /// The record of a row's fields, typed by the value schema.
    fn record(&self, row: &Fields<'_>, start_line: u64) -> Result<Parsed, ReadError> {
        let parse_error = |message: String| ReadError::Parse {
            line: start_line,
            message,
        };
        let mut value =
            Struct::new(self.value_schema.clone()).map_err(|e| parse_error(e.to_string()))?;
        for (field, column) in self.value_schema.fields.iter().zip(&self.columns) {
            let text = column.and_then(|c| row.get(c)).and_then(|t| t.as_deref());
            if column.is_some_and(|c| c >= row.len()) && !field.schema.optional {
                return Err(parse_error(format!(
                    "the row has {} columns; field '{}' needs column {}",
                    row.len(),
                    field.name,
                    column.map_or(0, |c| c + 1)
                )));
            }
            let v = parse_text(&field.schema, text, &self.settings.date_formats)
                .map_err(|e| parse_error(format!("field '{}': {e}", field.name)))?;
            value
                .set(field.index, v)
                .map_err(|e| parse_error(e.to_string()))?;
        }
        let value = Value::Struct(value);
        let key = key_of(&self.key_schema, &value).map_err(parse_error)?;
        Ok(Parsed {
            offset: self.line.saturating_sub(self.preamble),
            key_schema: self.key_schema.clone(),
            key,
            value_schema: Some(self.value_schema.clone()),
            value,
        })
    }
}

impl RecordReader for Csv {
    fn next(&mut self) -> Result<Option<Parsed>, ReadError> {
        let mut pending = Pending::default();
        let mut start_line = self.line + 1;
        let mut record_bytes = 0;
        loop {
            if !read_line(&mut *self.input, &mut self.buffer, self.line + 1)? {
                if pending.is_open() {
                    return Err(ReadError::Parse {
                        line: start_line,
                        message: "a quoted field is never closed".into(),
                    });
                }
                return Ok(None);
            }
            self.line += 1;
            // A record may span lines inside quotes: its size counts them all.
            record_bytes += self.buffer.len();
            if record_bytes > MAX_RECORD_BYTES {
                return Err(too_large(start_line, "row"));
            }
            let text = decode(&self.settings, &self.buffer, self.line)?;
            if !pending.is_open() && text.trim().is_empty() {
                // A blank line holds no record (trailing ones included).
                start_line = self.line + 1;
                record_bytes = 0;
                continue;
            }
            if let Some(row) = self.parser.parse_line(&text, &mut pending) {
                return self.record(&row, start_line).map(Some);
            }
        }
    }
}

/// A reader that fails once it has read past `budget` bytes: JSON values are read from a stream
/// with no line to stop at, so this is what bounds one value's size.
struct Budgeted {
    input: Box<dyn BufRead + Send>,
    read: u64,
    budget: Arc<AtomicU64>,
}

/// The message a [`Budgeted`] reader fails with, to tell it from malformed JSON.
const OVER_BUDGET: &str = "record over the size limit";

impl Read for Budgeted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read >= self.budget.load(Ordering::Relaxed) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                OVER_BUDGET,
            ));
        }
        let n = self.input.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

struct JsonObjects {
    stream:
        serde_json::StreamDeserializer<'static, serde_json::de::IoRead<Box<dyn Read + Send>>, Json>,
    /// Where the [`Budgeted`] reader stops: one record's worth past the last record read.
    budget: Arc<AtomicU64>,
    settings: Settings,
    typed: bool,
    count: u64,
    value_schema: Option<SchemaRef>,
}

impl RecordReader for JsonObjects {
    fn next(&mut self) -> Result<Option<Parsed>, ReadError> {
        let json = match self.stream.next() {
            None => return Ok(None),
            Some(Ok(json)) => json,
            Some(Err(e)) if e.is_io() && e.to_string().contains(OVER_BUDGET) => {
                return Err(too_large(self.count + 1, "JSON record"));
            }
            Some(Err(e)) => {
                return Err(ReadError::Parse {
                    line: e.line() as u64,
                    message: format!("malformed JSON at column {}: {e}", e.column()),
                })
            }
        };
        self.budget.store(
            self.stream.byte_offset() as u64 + MAX_RECORD_BYTES as u64,
            Ordering::Relaxed,
        );
        let offset = self.count;
        self.count += 1;
        let line = self.count;
        if !self.typed {
            return Ok(Some(Parsed {
                offset,
                key_schema: None,
                key: Value::Null,
                value_schema: Some(Schema::string()),
                value: Value::String(json.to_string()),
            }));
        }
        let parse_error = |message: String| ReadError::Parse {
            line,
            message: format!("JSON record {line}: {message}"),
        };
        if self.value_schema.is_none() {
            let Json::Object(object) = &json else {
                return Err(parse_error("schema generation needs JSON objects".into()));
            };
            let names: Vec<String> = object.keys().cloned().collect();
            self.value_schema =
                Some(generated(&self.settings.generation_value_name, &names).map_err(parse_error)?);
        }
        let schema = self
            .value_schema
            .clone()
            .ok_or_else(|| parse_error("no value schema".into()))?;
        let value = from_json(&schema, &json, &self.settings.date_formats).map_err(parse_error)?;
        let key_schema = self.settings.key_schema.clone();
        let key = key_of(&key_schema, &value).map_err(parse_error)?;
        Ok(Some(Parsed {
            offset,
            key_schema,
            key,
            value_schema: Some(schema),
            value,
        }))
    }
}

struct Avro {
    reader: apache_avro::Reader<'static, Box<dyn BufRead + Send>>,
    data: AvroData,
    count: u64,
}

impl Avro {
    fn new(input: Box<dyn BufRead + Send>) -> Result<Self, ReadError> {
        let reader = apache_avro::Reader::new(input).map_err(|e| ReadError::Parse {
            line: 0,
            message: format!("not an Avro container file: {e}"),
        })?;
        let data = AvroData::new(reader.writer_schema())
            .map_err(|message| ReadError::Parse { line: 0, message })?;
        Ok(Self {
            reader,
            data,
            count: 0,
        })
    }
}

impl RecordReader for Avro {
    fn next(&mut self) -> Result<Option<Parsed>, ReadError> {
        let Some(datum) = self.reader.next() else {
            return Ok(None);
        };
        let offset = self.count;
        self.count += 1;
        let line = self.count;
        let datum = datum.map_err(|e| ReadError::Parse {
            line,
            message: format!("Avro record {line}: {e}"),
        })?;
        let value = self
            .data
            .value(&datum)
            .map_err(|message| ReadError::Parse {
                line,
                message: format!("Avro record {line}: {message}"),
            })?;
        Ok(Some(Parsed {
            offset,
            key_schema: None,
            key: Value::Null,
            value_schema: Some(self.data.schema().clone()),
            value,
        }))
    }
}

struct Binary {
    input: Option<Box<dyn BufRead + Send>>,
}

impl RecordReader for Binary {
    fn next(&mut self) -> Result<Option<Parsed>, ReadError> {
        let Some(input) = self.input.take() else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        input
            .take(MAX_RECORD_BYTES as u64 + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(too_large(1, "file"));
        }
        if bytes.is_empty() {
            // As the original: an empty file holds no record.
            return Ok(None);
        }
        Ok(Some(Parsed {
            offset: 0,
            key_schema: None,
            key: Value::Null,
            value_schema: Some(Schema::bytes()),
            value: Value::Bytes(bytes),
        }))
    }
}
