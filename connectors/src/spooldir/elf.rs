//! W3C Extended Log Format files (web server and proxy logs), as the original's
//! `SpoolDirELFSourceConnector` maps them: the `#Fields:` directive names the columns; each entry
//! becomes a struct `com.github.jcustenborder.kafka.connect.spooldir.LogEntry` whose fields are
//! all optional, named from the log field (`cs(User-Agent)` → `cs_user_agent`) and carrying it in
//! the `logField` parameter. `date` is a Date, `time` a Time, `time-taken` a FLOAT64, `sc-status`,
//! `sc-bytes` and `cs-bytes` INT64, `cs-uri-port` INT32, anything else a string; `-` is null.
//! With both `date` and `time`, a `datetime` Timestamp joins them.
//!
//! Values are separated by spaces or tabs; a value in double quotes may hold either, and `""`
//! inside it is one quote. Other directives (`#Version`, `#Date`, `#Software`, `#Remark`, ...)
//! are skipped wherever they appear; a later `#Fields:` that differs starts a new schema, as a
//! server restarted with other fields writes one.

use std::io::BufRead;

use sluice_connect_api::calendar::days_from_civil;
use sluice_connect_api::{SchemaBuilder, SchemaRef, SchemaType, Struct, Value};

use super::formats::{read_line, Parsed, ReadError, RecordReader};

pub const SCHEMA_NAME: &str = "com.github.jcustenborder.kafka.connect.spooldir.LogEntry";

/// How a log field's text becomes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Date,
    Time,
    Double,
    Long,
    Int,
    Text,
}

impl Kind {
    /// The parser the original's ELF library picks for a field name.
    fn of(field: &str) -> Self {
        match field {
            "date" => Kind::Date,
            "time" => Kind::Time,
            "time-taken" => Kind::Double,
            "sc-status" | "sc-bytes" | "cs-bytes" => Kind::Long,
            "cs-uri-port" => Kind::Int,
            _ => Kind::Text,
        }
    }

    fn schema(self) -> SchemaBuilder {
        match self {
            Kind::Date => SchemaBuilder::date(),
            Kind::Time => SchemaBuilder::time(),
            Kind::Double => SchemaBuilder::new(SchemaType::Float64),
            Kind::Long => SchemaBuilder::new(SchemaType::Int64),
            Kind::Int => SchemaBuilder::new(SchemaType::Int32),
            Kind::Text => SchemaBuilder::new(SchemaType::String),
        }
    }

    fn parse(self, text: &str) -> Result<Value, String> {
        let bad = |what: &str| format!("'{text}' is not a valid {what}");
        Ok(match self {
            Kind::Date => Value::Date(parse_date(text).ok_or_else(|| bad("date (yyyy-MM-dd)"))?),
            Kind::Time => Value::Time(parse_time(text).ok_or_else(|| bad("time (HH:mm:ss)"))?),
            Kind::Double => Value::Float64(text.parse().map_err(|_| bad("number"))?),
            Kind::Long => Value::Int64(text.parse().map_err(|_| bad("integer"))?),
            Kind::Int => Value::Int32(text.parse().map_err(|_| bad("integer"))?),
            Kind::Text => Value::String(text.to_string()),
        })
    }
}

/// `yyyy-MM-dd` as days since the epoch.
fn parse_date(text: &str) -> Option<i32> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    i32::try_from(days_from_civil(year, month, day)).ok()
}

/// `HH:mm[:ss[.fraction]]` as milliseconds since midnight.
fn parse_time(text: &str) -> Option<i32> {
    let (clock, fraction) = text.split_once('.').unwrap_or((text, ""));
    let mut parts = clock.split(':');
    let hours: i32 = parts.next()?.parse().ok()?;
    let minutes: i32 = parts.next()?.parse().ok()?;
    let seconds: i32 = parts.next().map_or(Some(0), |s| s.parse().ok())?;
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |ms, digit| ms * 10 + i32::from(digit - b'0'));
    Some(((hours * 60 + minutes) * 60 + seconds) * 1000 + millis)
}

/// The Connect field name of a log field: `(` becomes `_`, `)` goes, `-` becomes `_`, lower case.
pub fn field_name(log_field: &str) -> String {
    log_field
        .replace('(', "_")
        .replace(')', "")
        .replace('-', "_")
        .to_lowercase()
}

/// The columns one `#Fields:` directive declares, and the schema they make.
struct Layout {
    declared: Vec<String>,
    kinds: Vec<Kind>,
    names: Vec<String>,
    /// Columns of `date` and `time`, when both are there and typed: they make `datetime`.
    date_time: Option<(usize, usize)>,
    schema: SchemaRef,
}

impl Layout {
    fn new(declared: Vec<String>) -> Result<Self, String> {
        let kinds: Vec<Kind> = declared.iter().map(|f| Kind::of(f)).collect();
        let names: Vec<String> = declared.iter().map(|f| field_name(f)).collect();
        let mut builder = SchemaBuilder::struct_().name(SCHEMA_NAME);
        for ((field, name), kind) in declared.iter().zip(&names).zip(&kinds) {
            let schema = kind
                .schema()
                .optional()
                .parameter("logField", field)
                .build();
            builder = builder
                .field(name, schema)
                .map_err(|e| format!("#Fields: {e}"))?;
        }
        let position = |name: &str, kind: Kind| {
            declared
                .iter()
                .position(|f| f == name)
                .filter(|&i| kinds[i] == kind)
        };
        let date_time = position("date", Kind::Date).zip(position("time", Kind::Time));
        if date_time.is_some() {
            let timestamp = SchemaBuilder::timestamp()
                .optional()
                .parameter("logField", "date,time")
                .build();
            builder = builder
                .field("datetime", timestamp)
                .map_err(|e| format!("#Fields: {e}"))?;
        }
        Ok(Self {
            declared,
            kinds,
            names,
            date_time,
            schema: builder.build(),
        })
    }

    fn entry(&self, values: &[Option<String>]) -> Result<Value, String> {
        if values.len() < self.declared.len() {
            return Err(format!(
                "{} value(s) for the {} fields of #Fields",
                values.len(),
                self.declared.len()
            ));
        }
        let mut entry = Struct::new(self.schema.clone()).map_err(|e| e.to_string())?;
        let mut parsed = Vec::with_capacity(self.declared.len());
        for (i, kind) in self.kinds.iter().enumerate() {
            let value = match &values[i] {
                None => Value::Null,
                Some(text) => kind
                    .parse(text)
                    .map_err(|e| format!("field '{}': {e}", self.declared[i]))?,
            };
            parsed.push(value.clone());
            entry = entry
                .put(&self.names[i], value)
                .map_err(|e| e.to_string())?;
        }
        if let Some((d, t)) = self.date_time {
            let datetime = match (&parsed[d], &parsed[t]) {
                (Value::Date(days), Value::Time(ms)) => {
                    Value::Timestamp(i64::from(*days) * 86_400_000 + i64::from(*ms))
                }
                _ => Value::Null,
            };
            entry = entry.put("datetime", datetime).map_err(|e| e.to_string())?;
        }
        Ok(Value::Struct(entry))
    }
}

/// Splits an entry into its values: `-` is null, quotes are removed.
fn split_entry(line: &str) -> Result<Vec<Option<String>>, String> {
    let mut values = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let Some(&first) = chars.peek() else {
            return Ok(values);
        };
        if first == '"' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        text.push('"');
                    }
                    Some('"') => break,
                    Some(c) => text.push(c),
                    None => return Err("a quoted value is never closed".into()),
                }
            }
            values.push(Some(text));
        } else {
            let mut text = String::new();
            while let Some(c) = chars.next_if(|c| *c != ' ' && *c != '\t') {
                text.push(c);
            }
            values.push((text != "-").then_some(text));
        }
    }
}

/// Reads the entries of one ELF file.
pub struct ElfReader {
    input: Box<dyn BufRead + Send>,
    charset: super::config::Charset,
    layout: Option<Layout>,
    buffer: Vec<u8>,
    line: u64,
    count: u64,
}

impl ElfReader {
    pub fn new(input: Box<dyn BufRead + Send>, charset: super::config::Charset) -> Self {
        Self {
            input,
            charset,
            layout: None,
            buffer: Vec::new(),
            line: 0,
            count: 0,
        }
    }
}

impl RecordReader for ElfReader {
    fn next(&mut self) -> Result<Option<Parsed>, ReadError> {
        loop {
            if !read_line(&mut *self.input, &mut self.buffer, self.line + 1)? {
                return Ok(None);
            }
            self.line += 1;
            let line = self.line;
            let error = |message: String| ReadError::Parse { line, message };
            let text = self.charset.decode(&self.buffer).map_err(error)?;
            let text = text.strip_suffix('\r').unwrap_or(&text);
            if let Some(directive) = text.strip_prefix('#') {
                if let Some(fields) = directive
                    .split_once(':')
                    .filter(|(name, _)| name.trim().eq_ignore_ascii_case("Fields"))
                    .map(|(_, fields)| fields)
                {
                    let declared: Vec<String> =
                        fields.split_whitespace().map(str::to_string).collect();
                    if declared.is_empty() {
                        return Err(error("#Fields names no field".into()));
                    }
                    if self.layout.as_ref().map(|l| &l.declared) != Some(&declared) {
                        self.layout = Some(Layout::new(declared).map_err(error)?);
                    }
                }
                continue;
            }
            if text.trim().is_empty() {
                continue;
            }
            let Some(layout) = &self.layout else {
                return Err(error("an entry before any #Fields directive".into()));
            };
            let values = split_entry(text).map_err(error)?;
            let value = layout.entry(&values).map_err(error)?;
            let offset = self.count;
            self.count += 1;
            return Ok(Some(Parsed {
                offset,
                key_schema: None,
                key: Value::Null,
                value_schema: Some(layout.schema.clone()),
                value,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Result<Parsed, String>> {
        let input: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(text.to_string()));
        let mut reader = ElfReader::new(input, super::super::config::Charset::Utf8);
        let mut out = Vec::new();
        loop {
            match reader.next() {
                Ok(Some(p)) => out.push(Ok(p)),
                Ok(None) => return out,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }

    fn field(value: &Value, name: &str) -> Value {
        match value {
            Value::Struct(s) => s.get(name).cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    #[test]
    fn entries_are_typed_by_field_and_dashes_are_null() {
        let text = "#Version: 1.0\n#Date: 2024-02-29 10:00:00\n#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes time-taken cs(User-Agent)\n\
                    2024-02-29 10:00:01 10.0.0.1 GET /index.html 200 5120 0.25 \"Mozilla/5.0 (X11; Linux)\"\n\
                    #Remark: restarted\n\
                    2024-02-29\t10:00:02.5\t-\tPOST\t/api\t500\t-\t1\t-\n";
        let entries = read(text);
        assert_eq!(
            entries.len(),
            2,
            "{:?}",
            entries.iter().map(|e| e.as_ref().err()).collect::<Vec<_>>()
        );
        let first = entries[0].as_ref().expect("entry");
        assert_eq!(first.offset, 0);
        let schema = first.value_schema.as_ref().expect("schema");
        assert_eq!(schema.name.as_deref(), Some(SCHEMA_NAME));
        let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "date",
                "time",
                "c_ip",
                "cs_method",
                "cs_uri_stem",
                "sc_status",
                "sc_bytes",
                "time_taken",
                "cs_user_agent",
                "datetime"
            ]
        );
        assert!(schema.fields.iter().all(|f| f.schema.optional));
        assert_eq!(
            schema
                .field("cs_user_agent")
                .map(|f| f.schema.parameters.get("logField").cloned()),
            Some(Some("cs(User-Agent)".to_string()))
        );
        let v = &first.value;
        assert_eq!(field(v, "date"), Value::Date(19_782));
        assert_eq!(field(v, "time"), Value::Time(36_001_000));
        assert_eq!(field(v, "sc_status"), Value::Int64(200));
        assert_eq!(field(v, "time_taken"), Value::Float64(0.25));
        assert_eq!(
            field(v, "cs_user_agent"),
            Value::String("Mozilla/5.0 (X11; Linux)".into())
        );
        assert_eq!(
            field(v, "datetime"),
            Value::Timestamp(19_782 * 86_400_000 + 36_001_000)
        );
        let second = entries[1].as_ref().expect("entry");
        assert_eq!(second.offset, 1);
        assert_eq!(field(&second.value, "time"), Value::Time(36_002_500));
        assert_eq!(field(&second.value, "c_ip"), Value::Null);
        assert_eq!(field(&second.value, "sc_bytes"), Value::Null);
    }

    #[test]
    fn malformed_entries_name_their_line() {
        let entries = read("#Fields: date sc-status\n2024-01-01 abc\n");
        assert_eq!(
            entries[0].as_ref().err().map(String::as_str),
            Some("line 2: field 'sc-status': 'abc' is not a valid integer")
        );
        let entries = read("2024-01-01 200\n");
        assert_eq!(
            entries[0].as_ref().err().map(String::as_str),
            Some("line 1: an entry before any #Fields directive")
        );
        let entries = read("#Fields: date time c-ip\n2024-01-01 10:00:00\n");
        assert_eq!(
            entries[0].as_ref().err().map(String::as_str),
            Some("line 2: 2 value(s) for the 3 fields of #Fields")
        );
    }

    #[test]
    fn a_new_fields_directive_starts_a_new_schema() {
        let entries = read("#Fields: c-ip\n1.1.1.1\n#Fields: c-ip sc-status\n2.2.2.2 404\n");
        let schemas: Vec<usize> = entries
            .iter()
            .map(|e| {
                e.as_ref()
                    .ok()
                    .and_then(|p| p.value_schema.as_ref())
                    .map_or(0, |s| s.fields.len())
            })
            .collect();
        assert_eq!(schemas, [1, 2]);
    }
}
