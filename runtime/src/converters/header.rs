//! `org.apache.kafka.connect.storage.SimpleHeaderConverter`, the default header converter:
//! header values are written as their string form (UTF-8), and read back by inferring the type
//! from the text, as Kafka's `Values.parseString` does: booleans, the smallest integer type that
//! fits, floats, ISO dates and times, `[..]` arrays and `{..}` maps; anything else stays a string.

use sluice_connect_api::schema::logical;
use sluice_connect_api::{HeaderConverter, Props, Result, Schema, SchemaBuilder, SchemaRef, Value};

use sluice_connect_api::base64;
use sluice_connect_api::calendar::days_from_civil;

#[derive(Debug, Default, Clone)]
pub struct SimpleHeaderConverter;

impl HeaderConverter for SimpleHeaderConverter {
    fn configure(&mut self, _props: &Props) -> Result<()> {
        Ok(())
    }

    fn from_connect_header(
        &self,
        _topic: &str,
        _key: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>> {
        if value.is_null() {
            return Ok(None);
        }
        let mut out = String::new();
        write_value(&mut out, schema, value, false);
        Ok(Some(out.into_bytes()))
    }

    fn to_connect_header(
        &self,
        _topic: &str,
        _key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value)> {
        let Some(bytes) = bytes else {
            return Ok((None, Value::Null));
        };
        // Bytes that are not text stay bytes, as Kafka's converter falls back to BYTES.
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Ok((Some(Schema::bytes()), Value::Bytes(bytes.to_vec())));
        };
        if text.is_empty() {
            return Ok((Some(Schema::string()), Value::String(String::new())));
        }
        Ok(parse_string(text))
    }

    /// Text becomes a typed value or a string, and other bytes stay bytes: nothing fails.
    fn may_fail(&self) -> bool {
        false
    }
}

/// The text form of a value (`Values.convertToString`); strings nested in arrays and maps are
/// quoted so they read back as strings.
fn write_value(out: &mut String, schema: Option<&SchemaRef>, value: &Value, embedded: bool) {
    let logical_name = schema.and_then(|s| s.logical());
    match value {
        Value::String(s) if embedded => {
            out.push('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        Value::Bytes(b) => out.push_str(&base64::encode(b)),
        Value::Date(days) => out.push_str(&format_date(i64::from(*days))),
        Value::Time(ms) => out.push_str(&format_time(i64::from(*ms))),
        Value::Timestamp(ms) => out.push_str(&format_timestamp(*ms)),
        Value::Int32(n) if logical_name == Some(logical::DATE) => {
            out.push_str(&format_date(i64::from(*n)))
        }
        Value::Int64(n) if logical_name == Some(logical::TIMESTAMP) => {
            out.push_str(&format_timestamp(*n))
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_ref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item_schema, item, true);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let key_schema = schema.and_then(|s| s.key_schema.as_ref());
            let value_schema = schema.and_then(|s| s.value_schema.as_ref());
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, key_schema, k, true);
                out.push(':');
                write_value(out, value_schema, v, true);
            }
            out.push('}');
        }
        Value::Struct(s) => {
            out.push('{');
            for (i, (name, v)) in s.fields().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, None, &Value::String(name.to_string()), true);
                out.push(':');
                let field_schema = s.schema().field(name).map(|f| &f.schema);
                write_value(out, field_schema, v, true);
            }
            out.push('}');
        }
        Value::Null => out.push_str("null"),
        other => other.write_java_text(out),
    }
}

/// Infers a schema and value from header text (`Values.parseString`).
pub fn parse_string(text: &str) -> (Option<SchemaRef>, Value) {
    // Most header text is a name, a path or an id, which can be nothing but a string: it is
    // taken as it is, without the parser's passes over it.
    if plainly_text(text) {
        return (Some(Schema::string()), Value::String(text.to_string()));
    }
    parse_text(text)
}

/// Text the parser would take whole as a string: it starts with a character that begins no
/// typed value, array, map or quoted string, and has no space to trim at either end.
fn plainly_text(text: &str) -> bool {
    let Some(&first) = text.as_bytes().first() else {
        return false;
    };
    first.is_ascii_graphic()
        && !may_begin_typed(first)
        && !matches!(first, b'[' | b'{' | b'"')
        && !text.ends_with(char::is_whitespace)
}

fn parse_text(text: &str) -> (Option<SchemaRef>, Value) {
    let mut parser = Parser { text, pos: 0 };
    match parser.value(false) {
        Some(parsed) if parser.at_end() => parsed,
        _ => (Some(Schema::string()), Value::String(text.to_string())),
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn at_end(&mut self) -> bool {
        self.skip_spaces();
        self.pos >= self.text.len()
    }

    fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_spaces();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// One value; inside arrays and maps a bare token ends at `,`, `]`, `}` or `:`.
    fn value(&mut self, embedded: bool) -> Option<(Option<SchemaRef>, Value)> {
        self.skip_spaces();
        if self.eat('[') {
            return self.array();
        }
        if self.eat('{') {
            return self.map();
        }
        if self.rest().starts_with('"') {
            return self
                .quoted()
                .map(|s| (Some(Schema::string()), Value::String(s)));
        }
        let token = if embedded {
            let end = self
                .rest()
                .find([',', ']', '}', ':'])
                .unwrap_or(self.rest().len());
            &self.rest()[..end]
        } else {
            self.rest()
        };
        let consumed = token.len();
        let parsed = scalar(token.trim())?;
        self.pos += consumed;
        Some(parsed)
    }

    fn quoted(&mut self) -> Option<String> {
        let mut out = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?.1),
                '"' => {
                    self.pos += i + 1;
                    return Some(out);
                }
                c => out.push(c),
            }
        }
        None
    }

    fn array(&mut self) -> Option<(Option<SchemaRef>, Value)> {
        let mut items = Vec::new();
        let mut schemas = Vec::new();
        if !self.eat(']') {
            loop {
                let (schema, value) = self.value(true)?;
                schemas.push(schema);
                items.push(value);
                if self.eat(']') {
                    break;
                }
                if !self.eat(',') {
                    return None;
                }
            }
        }
        let schema = common_schema(&schemas).map(|s| SchemaBuilder::array(s).build());
        Some((schema, Value::Array(items)))
    }

    fn map(&mut self) -> Option<(Option<SchemaRef>, Value)> {
        let mut entries = Vec::new();
        let (mut key_schemas, mut value_schemas) = (Vec::new(), Vec::new());
        if !self.eat('}') {
            loop {
                let (key_schema, key) = self.value(true)?;
                if !self.eat(':') {
                    return None;
                }
                let (value_schema, value) = self.value(true)?;
                key_schemas.push(key_schema);
                value_schemas.push(value_schema);
                entries.push((key, value));
                if self.eat('}') {
                    break;
                }
                if !self.eat(',') {
                    return None;
                }
            }
        }
        let schema = match (common_schema(&key_schemas), common_schema(&value_schemas)) {
            (Some(k), Some(v)) => Some(SchemaBuilder::map(k, v).build()),
            _ => None,
        };
        Some((schema, Value::Map(entries)))
    }
}

/// The schema every element shares, or none when they differ (or there are none).
fn common_schema(schemas: &[Option<SchemaRef>]) -> Option<SchemaRef> {
    let first = schemas.first()?.clone()?;
    schemas
        .iter()
        .all(|s| s.as_ref() == Some(&first))
        .then_some(first)
}

/// A bare token: boolean, null, number, date, time or timestamp; otherwise a plain string.
/// Inside arrays and maps an unquoted word is a string too.
fn scalar(token: &str) -> Option<(Option<SchemaRef>, Value)> {
    if token.is_empty() {
        return None;
    }
    Some(typed(token).unwrap_or_else(|| (Some(Schema::string()), Value::String(token.to_string()))))
}

/// Whether a typed token (a number, boolean, null, date or time) can start with this byte.
fn may_begin_typed(first: u8) -> bool {
    first.is_ascii_digit()
        || matches!(
            first,
            b'+' | b'-' | b'.' | b'e' | b'E' | b't' | b'T' | b'f' | b'F' | b'n'
        )
}

/// A token's typed value, if it has one.
fn typed(token: &str) -> Option<(Option<SchemaRef>, Value)> {
    // Anything else (a name, a path) is a string at once.
    if !may_begin_typed(*token.as_bytes().first()?) {
        return None;
    }
    if token.eq_ignore_ascii_case("true") || token.eq_ignore_ascii_case("false") {
        return Some((
            Some(Schema::boolean()),
            Value::Boolean(token.eq_ignore_ascii_case("true")),
        ));
    }
    if token == "null" {
        return Some((None, Value::Null));
    }
    if let Ok(n) = token.parse::<i64>() {
        return Some(if let Ok(n) = i8::try_from(n) {
            (Some(Schema::int8()), Value::Int8(n))
        } else if let Ok(n) = i16::try_from(n) {
            (Some(Schema::int16()), Value::Int16(n))
        } else if let Ok(n) = i32::try_from(n) {
            (Some(Schema::int32()), Value::Int32(n))
        } else {
            (Some(Schema::int64()), Value::Int64(n))
        });
    }
    let numeric = token
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if numeric {
        if let Ok(d) = token.parse::<f64>() {
            let f = d as f32;
            return Some(if f64::from(f) == d {
                (Some(Schema::float32()), Value::Float32(f))
            } else {
                (Some(Schema::float64()), Value::Float64(d))
            });
        }
    }
    if let Some(ms) = parse_timestamp(token) {
        return Some((Some(Schema::timestamp()), Value::Timestamp(ms)));
    }
    if let Some(days) = parse_date(token) {
        return Some((Some(Schema::date()), Value::Date(days)));
    }
    parse_time(token).map(|ms| (Some(Schema::time()), Value::Time(ms)))
}

const DAY_MS: i64 = 86_400_000;

fn format_date(days: i64) -> String {
    sluice_connect_api::calendar::iso_date(days)
}

fn format_time(ms: i64) -> String {
    sluice_connect_api::calendar::iso_time(ms)
}

fn format_timestamp(ms: i64) -> String {
    sluice_connect_api::calendar::iso_timestamp(ms)
}

fn digits(s: &str) -> Option<i64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `yyyy-MM-dd`.
fn parse_date(s: &str) -> Option<i32> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d) = (digits(y)?, digits(m)?, digits(d)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    i32::try_from(days_from_civil(y, m, d)).ok()
}

/// `HH:mm:ss.SSS'Z'`.
fn parse_time(s: &str) -> Option<i32> {
    let s = s.strip_suffix('Z')?;
    let (hms, millis) = s.split_once('.')?;
    let mut parts = hms.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || millis.len() != 3 {
        return None;
    }
    let (h, m, sec, millis) = (digits(h)?, digits(m)?, digits(sec)?, digits(millis)?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    i32::try_from(((h * 60 + m) * 60 + sec) * 1000 + millis).ok()
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`.
fn parse_timestamp(s: &str) -> Option<i64> {
    let (date, time) = s.split_once('T')?;
    Some(i64::from(parse_date(date)?) * DAY_MS + i64::from(parse_time(time)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(schema: Option<SchemaRef>, value: Value) -> (Option<SchemaRef>, Value, String) {
        let c = SimpleHeaderConverter;
        let bytes = c
            .from_connect_header("t", "h", schema.as_ref(), &value)
            .expect("write")
            .expect("not null");
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        let (schema, value) = c.to_connect_header("t", "h", Some(&bytes)).expect("read");
        (schema, value, text)
    }

    #[test]
    fn text_taken_whole_reads_as_the_parser_reads_it() {
        for text in [
            "rows-03.csv",
            "/tmp/spool/input/rows-03.csv",
            "input",
            "Zulu",
            "a b",
            "x\u{3000}",
            " padded",
            "padded ",
            "[1, 2]",
            "{\"a\": 1}",
            "\"quoted\"",
            "true",
            "null",
            "nothing",
            "2026-12-06",
            "12:30:00.000Z",
            "-5",
            "é",
        ] {
            assert_eq!(parse_string(text), parse_text(text), "{text:?}");
        }
    }

    #[test]
    fn numbers_and_booleans_read_back_with_the_smallest_type() {
        assert_eq!(parse_string("42").1, Value::Int8(42));
        assert_eq!(parse_string("1000").1, Value::Int16(1000));
        assert_eq!(parse_string("100000").1, Value::Int32(100_000));
        assert_eq!(parse_string("10000000000").1, Value::Int64(10_000_000_000));
        assert_eq!(parse_string("1.5").1, Value::Float32(1.5));
        assert_eq!(parse_string("0.1").1, Value::Float64(0.1));
        assert_eq!(parse_string("TRUE").1, Value::Boolean(true));
        assert_eq!(parse_string("fAlse").1, Value::Boolean(false));
        assert_eq!(parse_string("+5").1, Value::Int8(5));
        assert_eq!(parse_string("  -7 ").1, Value::Int8(-7));
        assert_eq!(parse_string(".5").1, Value::Float32(0.5));
        assert_eq!(parse_string("null"), (None, Value::Null));
        assert_eq!(parse_string("12:30:00.000Z").1, Value::Time(45_000_000));
        assert_eq!(parse_string("e5").1, Value::String("e5".into()));
        assert_eq!(
            parse_string("/data/in/file.csv").1,
            Value::String("/data/in/file.csv".into())
        );
        assert_eq!(
            parse_string("hello world").1,
            Value::String("hello world".into())
        );
    }

    #[test]
    fn arrays_maps_and_dates_round_trip() {
        let array = Value::Array(vec![Value::String("a,b".into()), Value::String("c".into())]);
        let (schema, value, text) = round_trip(
            Some(SchemaBuilder::array(Schema::string()).build()),
            array.clone(),
        );
        assert_eq!(text, r#"["a,b","c"]"#);
        assert_eq!(value, array);
        assert_eq!(
            schema.and_then(|s| s.value_schema.clone()),
            Some(Schema::string())
        );

        let map = Value::Map(vec![(Value::String("k".into()), Value::Int8(1))]);
        let (_, value, text) = round_trip(None, map.clone());
        assert_eq!(text, r#"{"k":1}"#);
        assert_eq!(value, map);

        let (_, value, text) = round_trip(None, Value::Timestamp(1_700_000_000_123));
        assert_eq!(text, "2023-11-14T22:13:20.123Z");
        assert_eq!(value, Value::Timestamp(1_700_000_000_123));
        let (_, value, text) = round_trip(None, Value::Date(19_000));
        assert_eq!(text, "2022-01-08");
        assert_eq!(value, Value::Date(19_000));
    }

    #[test]
    fn null_and_binary_headers() {
        let c = SimpleHeaderConverter;
        assert_eq!(
            c.from_connect_header("t", "h", None, &Value::Null)
                .expect("write"),
            None
        );
        assert_eq!(
            c.to_connect_header("t", "h", None).expect("read"),
            (None, Value::Null)
        );
        let (schema, value) = c
            .to_connect_header("t", "h", Some(&[0xff, 0xfe]))
            .expect("read");
        assert_eq!(schema, Some(Schema::bytes()));
        assert_eq!(value, Value::Bytes(vec![0xff, 0xfe]));
        assert_eq!(
            parse_string("[1, 2").1,
            Value::String("[1, 2".into()),
            "unbalanced text stays a string"
        );
    }
}
