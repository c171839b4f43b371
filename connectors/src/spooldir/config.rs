//! The spooldir connectors' configuration (jcustenborder's `AbstractSourceConnectorConfig` and
//! its format-specific subclasses): keys, defaults, validators, and the checks that need the file
//! system (directories that must exist and be writable).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use regex::Regex;
use sluice_connect_api::{
    ConfigDef, ConfigType, ConfigValue, ConnectError, Importance, Props, Result, SchemaRef,
    Validator,
};

use super::dates::DateFormats;
use super::schema::parse_schema;
use super::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleanup {
    None,
    Delete,
    Move,
    MoveByDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampMode {
    ProcessTime,
    FileTime,
    Field,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortAttribute {
    NameAsc,
    NameDesc,
    LengthAsc,
    LengthDesc,
    LastModifiedAsc,
    LastModifiedDesc,
}

/// `csv.null.field.indicator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullIndicator {
    Neither,
    EmptySeparators,
    EmptyQuotes,
    Both,
}

/// opencsv's parser settings.
#[derive(Debug, Clone)]
pub struct CsvSettings {
    pub skip_lines: usize,
    pub separator: char,
    pub quote: char,
    pub escape: char,
    pub strict_quotes: bool,
    pub ignore_leading_whitespace: bool,
    pub ignore_quotations: bool,
    pub keep_carriage_return: bool,
    pub null_indicator: NullIndicator,
    pub first_row_as_header: bool,
    pub case_sensitive_field_names: bool,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub topic: String,
    pub input_path: PathBuf,
    pub input_pattern: Regex,
    pub error_path: PathBuf,
    pub finished_path: Option<PathBuf>,
    pub cleanup: Cleanup,
    pub maintain_relative_path: bool,
    pub walk_recursively: bool,
    pub halt_on_error: bool,
    pub minimum_age_ms: u64,
    pub sort: Vec<SortAttribute>,
    pub processing_extension: String,
    pub batch_size: usize,
    pub empty_poll_wait_ms: u64,
    pub timestamp_mode: TimestampMode,
    pub timestamp_field: Option<String>,
    pub buffer_size: usize,
    pub task_index: u32,
    pub task_count: u32,
    pub charset: Charset,
    pub key_schema: Option<SchemaRef>,
    pub value_schema: Option<SchemaRef>,
    pub schema_generation: bool,
    pub generation_key_fields: Vec<String>,
    pub generation_key_name: String,
    pub generation_value_name: String,
    pub date_formats: DateFormats,
    pub csv: CsvSettings,
}

/// The character sets lines and CSV text may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Latin1,
    Ascii,
}

impl Charset {
    fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().replace('_', "-").as_str() {
            "" | "UTF-8" | "UTF8" => Some(Charset::Utf8),
            "ISO-8859-1" | "LATIN1" | "ISO8859-1" | "WINDOWS-1252" | "CP1252" => {
                Some(Charset::Latin1)
            }
            "US-ASCII" | "ASCII" => Some(Charset::Ascii),
            _ => None,
        }
    }

    /// Decodes bytes; invalid UTF-8 is an error naming the problem, not silently replaced.
    /// Text already in UTF-8 (any UTF-8 or ASCII line) is borrowed, not copied.
    pub fn decode(self, bytes: &[u8]) -> std::result::Result<Cow<'_, str>, String> {
        match self {
            Charset::Utf8 => std::str::from_utf8(bytes)
                .map(Cow::Borrowed)
                .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to())),
            Charset::Latin1 => Ok(Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())),
            Charset::Ascii => match bytes.iter().position(|b| !b.is_ascii()) {
                Some(i) => Err(format!("non-ASCII byte at {i}")),
                // ASCII is UTF-8 as it stands.
                None => Charset::Utf8.decode(bytes),
            },
        }
    }
}

fn common_def() -> ConfigDef {
    const FILE: &str = "File System";
    ConfigDef::new()
        .define("topic", ConfigType::String, None, Importance::High, "The Kafka topic to write the data to.")
        .define("input.path", ConfigType::String, None, Importance::High, "The directory to read files that will be processed. This directory must exist and be writable by the user running Kafka Connect.")
        .layout(FILE, 0, sluice_connect_api::Width::Medium, "Input Path")
        .define("input.file.pattern", ConfigType::String, None, Importance::High, "Regular expression to check input file names against. This expression must match the entire filename.")
        .layout(FILE, 1, sluice_connect_api::Width::Medium, "Input File Pattern")
        .define("error.path", ConfigType::String, None, Importance::High, "The directory to place files in which have error(s). This directory must exist and be writable by the user running Kafka Connect.")
        .layout(FILE, 2, sluice_connect_api::Width::Medium, "Error Path")
        .define("finished.path", ConfigType::String, Some(""), Importance::High, "The directory to place files that have been successfully processed. This directory must exist and be writable by the user running Kafka Connect.")
        .layout(FILE, 3, sluice_connect_api::Width::Medium, "Finished Path")
        .define("cleanup.policy", ConfigType::String, Some("MOVE"), Importance::Medium, "Determines how the connector should cleanup the files that have been successfully processed. NONE leaves the files in place which could cause them to be reprocessed if the connector is restarted. DELETE removes the file from the filesystem. MOVE will move the file to a finished directory. MOVEBYDATE will move the file to a finished directory with subdirectories by date")
        .validator(Validator::OneOf(vec!["NONE".into(), "DELETE".into(), "MOVE".into(), "MOVEBYDATE".into()]))
        .define("cleanup.policy.maintain.relative.path", ConfigType::Boolean, Some("false"), Importance::Medium, "If input.path.walk.recursively is enabled in combination with this flag being true, the walked sub-directories which contained files will be retained as-is under the finished.path.")
        .define("input.path.walk.recursively", ConfigType::Boolean, Some("false"), Importance::Low, "If enabled, any sub-directories dropped under input.path will be recursively walked looking for files matching the configured input.file.pattern.")
        .define("halt.on.error", ConfigType::Boolean, Some("true"), Importance::High, "Should the task halt when it encounters an error or continue to the next file.")
        .define("file.minimum.age.ms", ConfigType::Long, Some("0"), Importance::Low, "The amount of time in milliseconds after the file was last written to before the file can be processed.")
        .validator(Validator::AtLeast(0.0))
        .define("files.sort.attributes", ConfigType::List, Some("NameAsc"), Importance::Low, "The attributes each file will use to determine the sort order. NameAsc, NameDesc, LengthAsc, LengthDesc, LastModifiedAsc, LastModifiedDesc.")
        .define("processing.file.extension", ConfigType::String, Some(".PROCESSING"), Importance::Low, "Before a file is processed, a flag is created in its directory to indicate the file is being handled. The flag file has the same name as the file, but with this property appended as a suffix.")
        .define("batch.size", ConfigType::Int, Some("1000"), Importance::Low, "The number of records that should be returned with each batch.")
        .validator(Validator::AtLeast(1.0))
        .define("empty.poll.wait.ms", ConfigType::Long, Some("500"), Importance::Low, "The amount of time to wait if a poll returns an empty list of records.")
        .validator(Validator::AtLeast(1.0))
        .define("timestamp.mode", ConfigType::String, Some("PROCESS_TIME"), Importance::Medium, "Determines how the connector will set the timestamp for the ConnectRecord. FIELD uses timestamp.field, FILE_TIME the file's last modified time, PROCESS_TIME leaves it to the producer.")
        .validator(Validator::OneOf(vec!["FIELD".into(), "FILE_TIME".into(), "PROCESS_TIME".into()]))
        .define("file.buffer.size.bytes", ConfigType::Int, Some("131072"), Importance::Low, "The size of buffer for the BufferedInputStream that will be used to interact with the file system.")
        .validator(Validator::AtLeast(1.0))
        .define("task.partitioner", ConfigType::String, Some("ByName"), Importance::Medium, "The task partitioner implementation is used when the connector is configured to use more than one task. ByName hashes the file name.")
        .validator(Validator::OneOf(vec!["ByName".into()]))
        .define("task.index", ConfigType::Int, Some("0"), Importance::Low, "Internal: the index of this task.")
        .define("task.count", ConfigType::Int, Some("1"), Importance::Low, "Internal: the number of tasks.")
}

fn charset_def(key: &str) -> ConfigDef {
    ConfigDef::new().define(
        key,
        ConfigType::String,
        Some("UTF-8"),
        Importance::Low,
        "Character set to read the file with.",
    )
}

fn schema_def() -> ConfigDef {
    ConfigDef::new()
        .define("key.schema", ConfigType::String, Some(""), Importance::High, "The schema for the key written to Kafka.")
        .define("value.schema", ConfigType::String, Some(""), Importance::High, "The schema for the value written to Kafka.")
        .define("schema.generation.enabled", ConfigType::Boolean, Some("false"), Importance::Medium, "Flag to determine if schemas should be dynamically generated. If set to true, key.schema and value.schema can be omitted, but schema.generation.key.name and schema.generation.value.name should be set.")
        .define("schema.generation.key.fields", ConfigType::List, Some(""), Importance::Medium, "The field(s) to use to build a key schema. This is only used during schema generation.")
        .define("schema.generation.key.name", ConfigType::String, Some("com.github.jcustenborder.kafka.connect.model.Key"), Importance::Medium, "The name of the generated key schema.")
        .define("schema.generation.value.name", ConfigType::String, Some("com.github.jcustenborder.kafka.connect.model.Value"), Importance::Medium, "The name of the generated value schema.")
        .define("timestamp.field", ConfigType::String, Some(""), Importance::Medium, "The field in the value schema that will contain the parsed timestamp for the record. This field cannot be marked as optional and must be a Timestamp")
        .define("parser.timestamp.date.formats", ConfigType::List, Some("yyyy-MM-dd'T'HH:mm:ss,yyyy-MM-dd' 'HH:mm:ss"), Importance::Low, "The date formats that are expected in the file. This is a list of strings that will be used to parse the date fields in order. The most accurate date format should be the first in the list.")
        .define("parser.timestamp.timezone", ConfigType::String, Some("UTC"), Importance::Low, "The timezone that all of the dates will be parsed with.")
}

fn csv_def() -> ConfigDef {
    ConfigDef::new()
        .define("csv.skip.lines", ConfigType::Int, Some("0"), Importance::Low, "Number of lines to skip in the beginning of the file.")
        .validator(Validator::AtLeast(0.0))
        .define("csv.separator.char", ConfigType::Int, Some("44"), Importance::Low, "The character that separates each field in the form of an integer. Typically in a CSV this is a ,(44) character. A TSV would use a tab(9) character.")
        .define("csv.quote.char", ConfigType::Int, Some("34"), Importance::Low, "The character that is used to quote a field. This typically happens when the csv.separator.char character is within the data.")
        .define("csv.escape.char", ConfigType::Int, Some("92"), Importance::Low, "The character as an integer to use when a special character is encountered. The default escape character is typically a \\(92)")
        .define("csv.strict.quotes", ConfigType::Boolean, Some("false"), Importance::Low, "Sets the strict quotes setting - if true, characters outside the quotes are ignored.")
        .define("csv.ignore.leading.whitespace", ConfigType::Boolean, Some("true"), Importance::Low, "Sets the ignore leading whitespace setting - if true, white space in front of a quote in a field is ignored.")
        .define("csv.ignore.quotations", ConfigType::Boolean, Some("false"), Importance::Low, "Sets the ignore quotations mode - if true, quotations are ignored.")
        .define("csv.keep.carriage.return", ConfigType::Boolean, Some("false"), Importance::Low, "Flag to determine if the carriage return at the end of the line should be maintained.")
        .define("csv.verify.reader", ConfigType::Boolean, Some("true"), Importance::Low, "Flag to determine if the reader should be verified.")
        .define("csv.null.field.indicator", ConfigType::String, Some("NEITHER"), Importance::Low, "Indicator to determine how the CSV Reader can determine if a field is null. Valid values are NEITHER, EMPTY_SEPARATORS, EMPTY_QUOTES, BOTH.")
        .validator(Validator::OneOf(vec!["NEITHER".into(), "EMPTY_SEPARATORS".into(), "EMPTY_QUOTES".into(), "BOTH".into()]))
        .define("csv.first.row.as.header", ConfigType::Boolean, Some("false"), Importance::Medium, "Flag to indicate if the fist row of data contains the header of the file. If true the position of the columns will be determined by the first row to the CSV. The column position will be inferred from the position of the schema supplied in value.schema. If set to true the number of columns must be greater than or equal to the number of fields in the schema.")
        .define("csv.file.charset", ConfigType::String, Some("UTF-8"), Importance::Low, "Character set to read wth file with.")
        .define("csv.case.sensitive.field.names", ConfigType::Boolean, Some("false"), Importance::Low, "Flag to determine if the field names in the header row should be treated as case sensitive.")
        .define("csv.rfc.4180.parser.enabled", ConfigType::Boolean, Some("false"), Importance::Low, "Flag to determine if the RFC 4180 parser should be used instead of the default parser.")
}

/// The whole definition for a format.
pub fn config_def(format: Format) -> ConfigDef {
    let def = common_def();
    match format {
        Format::LineDelimited | Format::SchemaLessJson => def.merge(&charset_def("file.charset")),
        Format::Csv => def.merge(&schema_def()).merge(&csv_def()),
        Format::Json => def.merge(&schema_def()),
        Format::Avro | Format::Binary | Format::Elf => def,
    }
}

fn config_error(key: &str, message: impl Into<String>) -> ConnectError {
    ConnectError::Config {
        key: key.to_string(),
        message: message.into(),
    }
}

/// A directory that must exist and take new files; the answer is the file system's, found by
/// creating and removing a probe file.
pub fn check_directory(key: &str, path: &Path) -> std::result::Result<(), String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{key}: path '{shown}' does not exist"),
        _ => format!("{key}: path '{shown}' cannot be read: {e}"),
    })?;
    if !meta.is_dir() {
        return Err(format!("{key}: path '{shown}' is not a directory"));
    }
    std::fs::read_dir(path).map_err(|e| format!("{key}: path '{shown}' cannot be listed: {e}"))?;
    let probe = path.join(format!(".sluice-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| format!("{key}: path '{shown}' is not writable: {e}"))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

impl Settings {
    pub fn parse(format: Format, props: &Props) -> Result<Self> {
        let values = config_def(format).parse_or_error(props)?;
        let string = |key: &str| match values.get(key) {
            Some(ConfigValue::String(s)) => s.clone(),
            _ => String::new(),
        };
        let int = |key: &str| match values.get(key) {
            Some(ConfigValue::Int(n)) => *n,
            _ => 0,
        };
        let flag = |key: &str| matches!(values.get(key), Some(ConfigValue::Boolean(true)));
        let list = |key: &str| match values.get(key) {
            Some(ConfigValue::List(l)) => l.clone(),
            _ => Vec::new(),
        };
        let pattern = string("input.file.pattern");
        let input_pattern =
            sluice_connect_api::java_regex::compile_whole(&pattern).map_err(|e| {
                config_error(
                    "input.file.pattern",
                    format!("Invalid value {pattern} for configuration input.file.pattern: {e}"),
                )
            })?;
        let cleanup = match string("cleanup.policy").to_ascii_uppercase().as_str() {
            "NONE" => Cleanup::None,
            "DELETE" => Cleanup::Delete,
            "MOVEBYDATE" => Cleanup::MoveByDate,
            _ => Cleanup::Move,
        };
        let finished = string("finished.path");
        let finished_path = (!finished.is_empty()).then(|| PathBuf::from(&finished));
        if matches!(cleanup, Cleanup::Move | Cleanup::MoveByDate) && finished_path.is_none() {
            return Err(config_error(
                "finished.path",
                "finished.path must be set when cleanup.policy is MOVE or MOVEBYDATE",
            ));
        }
        let sort = list("files.sort.attributes")
            .iter()
            .map(|s| match s.as_str() {
                "NameAsc" => Ok(SortAttribute::NameAsc),
                "NameDesc" => Ok(SortAttribute::NameDesc),
                "LengthAsc" => Ok(SortAttribute::LengthAsc),
                "LengthDesc" => Ok(SortAttribute::LengthDesc),
                "LastModifiedAsc" => Ok(SortAttribute::LastModifiedAsc),
                "LastModifiedDesc" => Ok(SortAttribute::LastModifiedDesc),
                other => Err(config_error(
                    "files.sort.attributes",
                    format!("Invalid value {other} for configuration files.sort.attributes: must be one of NameAsc, NameDesc, LengthAsc, LengthDesc, LastModifiedAsc, LastModifiedDesc"),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        let timestamp_mode = match string("timestamp.mode").to_ascii_uppercase().as_str() {
            "FIELD" => TimestampMode::Field,
            "FILE_TIME" => TimestampMode::FileTime,
            _ => TimestampMode::ProcessTime,
        };
        let charset_key = match format {
            Format::Csv => "csv.file.charset",
            _ => "file.charset",
        };
        let charset_name = props
            .get(charset_key)
            .cloned()
            .unwrap_or_else(|| "UTF-8".into());
        let charset = Charset::parse(&charset_name).ok_or_else(|| {
            config_error(
                charset_key,
                format!("Invalid value {charset_name} for configuration {charset_key}: supported character sets are UTF-8, ISO-8859-1 (and windows-1252 read as it) and US-ASCII"),
            )
        })?;
        let schema = |key: &str| -> Result<Option<SchemaRef>> {
            let text = string(key);
            if text.trim().is_empty() {
                return Ok(None);
            }
            parse_schema(&text).map(Some).map_err(|e| {
                config_error(key, format!("Invalid value for configuration {key}: {e}"))
            })
        };
        let key_schema = schema("key.schema")?;
        let value_schema = schema("value.schema")?;
        let schema_generation = flag("schema.generation.enabled");
        if matches!(format, Format::Csv | Format::Json)
            && value_schema.is_none()
            && !schema_generation
        {
            return Err(config_error(
                "value.schema",
                "value.schema must be set unless schema.generation.enabled is true",
            ));
        }
        let timestamp_field = Some(string("timestamp.field")).filter(|f| !f.is_empty());
        if timestamp_mode == TimestampMode::Field {
            let Some(field) = &timestamp_field else {
                return Err(config_error(
                    "timestamp.field",
                    "timestamp.field must be set when timestamp.mode is FIELD",
                ));
            };
            let fits = value_schema
                .as_ref()
                .and_then(|s| s.field(field))
                .is_some_and(|f| {
                    f.schema.logical() == Some(sluice_connect_api::schema::logical::TIMESTAMP)
                        && !f.schema.optional
                });
            if value_schema.is_some() && !fits {
                return Err(config_error(
                    "timestamp.field",
                    format!("timestamp.field '{field}' must be a non-optional Timestamp field of value.schema"),
                ));
            }
        }
        let date_formats = DateFormats::parse(
            &list("parser.timestamp.date.formats"),
            &string("parser.timestamp.timezone"),
        )
        .map_err(|e| config_error("parser.timestamp.date.formats", e))?;
        let char_of = |key: &str| -> Result<char> {
            let code = int(key);
            u32::try_from(code)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| {
                    config_error(
                        key,
                        format!(
                            "Invalid value {code} for configuration {key}: not a character code"
                        ),
                    )
                })
        };
        let csv = if format == Format::Csv {
            CsvSettings {
                skip_lines: int("csv.skip.lines") as usize,
                separator: char_of("csv.separator.char")?,
                quote: char_of("csv.quote.char")?,
                escape: char_of("csv.escape.char")?,
                strict_quotes: flag("csv.strict.quotes"),
                ignore_leading_whitespace: flag("csv.ignore.leading.whitespace"),
                ignore_quotations: flag("csv.ignore.quotations"),
                keep_carriage_return: flag("csv.keep.carriage.return"),
                null_indicator: match string("csv.null.field.indicator")
                    .to_ascii_uppercase()
                    .as_str()
                {
                    "EMPTY_SEPARATORS" => NullIndicator::EmptySeparators,
                    "EMPTY_QUOTES" => NullIndicator::EmptyQuotes,
                    "BOTH" => NullIndicator::Both,
                    _ => NullIndicator::Neither,
                },
                first_row_as_header: flag("csv.first.row.as.header"),
                case_sensitive_field_names: flag("csv.case.sensitive.field.names"),
            }
        } else {
            CsvSettings::default()
        };
        Ok(Self {
            topic: string("topic"),
            input_path: PathBuf::from(string("input.path")),
            input_pattern,
            error_path: PathBuf::from(string("error.path")),
            finished_path,
            cleanup,
            maintain_relative_path: flag("cleanup.policy.maintain.relative.path"),
            walk_recursively: flag("input.path.walk.recursively"),
            halt_on_error: flag("halt.on.error"),
            minimum_age_ms: int("file.minimum.age.ms").max(0) as u64,
            sort,
            processing_extension: string("processing.file.extension"),
            batch_size: int("batch.size").max(1) as usize,
            empty_poll_wait_ms: int("empty.poll.wait.ms").max(1) as u64,
            timestamp_mode,
            timestamp_field,
            buffer_size: int("file.buffer.size.bytes").max(1) as usize,
            task_index: int("task.index").max(0) as u32,
            task_count: int("task.count").max(1) as u32,
            charset,
            key_schema,
            value_schema,
            schema_generation,
            generation_key_fields: list("schema.generation.key.fields"),
            generation_key_name: string("schema.generation.key.name"),
            generation_value_name: string("schema.generation.value.name"),
            date_formats,
            csv,
        })
    }

    /// Every problem with the directories, each naming its key.
    pub fn check_directories(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut dirs = vec![
            ("input.path", &self.input_path),
            ("error.path", &self.error_path),
        ];
        if let Some(finished) = &self.finished_path {
            dirs.push(("finished.path", finished));
        }
        for (key, path) in dirs {
            if let Err(message) = check_directory(key, path) {
                out.push((key.to_string(), message));
            }
        }
        out
    }
}

impl Default for CsvSettings {
    fn default() -> Self {
        Self {
            skip_lines: 0,
            separator: ',',
            quote: '"',
            escape: '\\',
            strict_quotes: false,
            ignore_leading_whitespace: true,
            ignore_quotations: false,
            keep_carriage_return: false,
            null_indicator: NullIndicator::Neither,
            first_row_as_header: false,
            case_sensitive_field_names: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_charset_reads_its_text_and_names_the_first_bad_byte() {
        let utf8 = "naïve,1".as_bytes();
        let read = Charset::Utf8.decode(utf8);
        assert!(matches!(read, Ok(Cow::Borrowed("naïve,1"))), "{read:?}");
        assert_eq!(
            Charset::Utf8.decode(b"ab\xff"),
            Err("invalid UTF-8 at byte 2".to_string())
        );
        // Latin-1 maps each byte to the character of the same number.
        assert_eq!(
            Charset::Latin1.decode(b"na\xefve").as_deref(),
            Ok("na\u{ef}ve")
        );
        assert!(matches!(
            Charset::Ascii.decode(b"a,b"),
            Ok(Cow::Borrowed("a,b"))
        ));
        assert_eq!(
            Charset::Ascii.decode("aé".as_bytes()),
            Err("non-ASCII byte at 1".to_string())
        );
    }
}
