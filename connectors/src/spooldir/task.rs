//! The spooldir source task: picks up files (notified by `notify`, with a directory listing every
//! `empty.poll.wait.ms` as the fallback), reads them in batches, resumes from stored offsets,
//! and finishes a file (cleanup policy, or `error.path` with a sidecar) only once the offsets of
//! all of its records are stored.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_connect_api::{
    BoxFuture, ConnectError, Header, Headers, OffsetReader, Props, Result, Schema, SourceMap,
    SourceOffset, SourceRecord, SourceTask, Value,
};

use super::config::{Settings, TimestampMode};
use super::files::{self, InputFile, Outcome};
use super::formats::{self, ReadError, RecordReader};
use super::input;
use super::readiness::{Activity, Verdict};
use super::Format;

/// A file's identity in the offsets: its name, size and modification time.
type Identity = (String, u64, i64);

fn identity(file: &InputFile) -> Identity {
    (file.name.clone(), file.length, file.last_modified_ms)
}

struct Current {
    file: InputFile,
    /// The source partition (shared by the file's records) and an offset template, built once
    /// per file.
    partition: Arc<SourceMap>,
    offset: Arc<SourceMap>,
    /// The file's headers, built once and shared by its records, which add `file.offset`.
    headers: Arc<[Header]>,
    reader: Box<dyn RecordReader>,
    /// Which records were sent before (by this task or by the original connector).
    resume: Resume,
    /// Offset of the last record sent from this file.
    last_sent: Option<u64>,
}

/// Where reading a file picks up, from the offset stored for its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resume {
    /// Nothing stored for this file: every record.
    Start,
    /// Sluice's own offset for this very file (same length and modification time): the
    /// records after the stored one, so nothing is sent twice.
    After(u64),
    /// An offset in the original's form, `{"offset": n}` alone (stored by the original
    /// connector, or set through `PATCH /connectors/<name>/offsets`): from the record numbered n
    /// on, where the original resumes.
    From(u64),
}

impl Resume {
    fn emits(self, offset: u64) -> bool {
        match self {
            Resume::Start => true,
            Resume::After(n) => offset > n,
            Resume::From(n) => offset >= n,
        }
    }
}

/// A file read to its end (or to an error), waiting for its records' offsets to be stored.
struct Finishing {
    file: InputFile,
    last_sent: Option<u64>,
    outcome: Outcome,
}

pub struct SpoolDirTask {
    format: Format,
    settings: Option<Arc<Settings>>,
    offsets: Option<Arc<dyn OffsetReader>>,
    current: Option<Current>,
    queue: VecDeque<InputFile>,
    finishing: Vec<Finishing>,
    /// Highest offset acknowledged per file version.
    acked: HashMap<Identity, u64>,
    /// A halting error to raise on the next poll, once the records read before it went out.
    halt: Option<String>,
    notes: Vec<String>,
    /// What the watcher heard: changes, and which files are still being written.
    activity: Arc<Activity>,
    watcher: Option<notify::RecommendedWatcher>,
    last_listing: Option<Instant>,
}

impl SpoolDirTask {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            settings: None,
            offsets: None,
            current: None,
            queue: VecDeque::new(),
            finishing: Vec::new(),
            acked: HashMap::new(),
            halt: None,
            notes: Vec::new(),
            activity: Activity::new(),
            watcher: None,
            last_listing: None,
        }
    }

    /// The settings, shared: read paths hold them while changing the task.
    fn settings(&self) -> Result<Arc<Settings>> {
        self.settings
            .clone()
            .ok_or_else(|| ConnectError::Fatal("task polled before start".into()))
    }

    /// Wakes the task when something changes in `input.path`. Without it (no inotify, a network
    /// file system), the directory is still listed every `empty.poll.wait.ms`.
    fn watch(&mut self, settings: &Settings) {
        use notify::Watcher;
        let activity = Arc::clone(&self.activity);
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            match event {
                Ok(event) => activity.observe(&event),
                // An error may mean lost events: forget what was heard and list again.
                Err(_) => activity.observe(
                    &notify::Event::new(notify::EventKind::Other)
                        .set_flag(notify::event::Flag::Rescan),
                ),
            }
        });
        let mode = if settings.walk_recursively {
            notify::RecursiveMode::Recursive
        } else {
            notify::RecursiveMode::NonRecursive
        };
        match watcher {
            Ok(mut w) => match w.watch(&settings.input_path, mode) {
                Ok(()) => self.watcher = Some(w),
                Err(e) => self.notes.push(format!(
                    "not watching {} ({e}); listing it every {} ms instead",
                    settings.input_path.display(),
                    settings.empty_poll_wait_ms
                )),
            },
            Err(e) => self.notes.push(format!(
                "file notifications unavailable ({e}); listing the input directory every {} ms",
                settings.empty_poll_wait_ms
            )),
        }
    }

    /// Lists the input directory when notified or when the polling interval has passed.
    fn refill_queue(&mut self) -> Result<()> {
        let settings = self.settings()?;
        let due = self
            .last_listing
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(settings.empty_poll_wait_ms));
        if !self.activity.take_changed() && !due {
            return Ok(());
        }
        let listed = files::list(&settings).map_err(|e| {
            ConnectError::Retriable(format!("listing {}: {e}", settings.input_path.display()))
        })?;
        self.last_listing = Some(Instant::now());
        let waiting: Vec<Identity> = self.finishing.iter().map(|f| identity(&f.file)).collect();
        let now = files::now_ms();
        self.queue = listed
            .into_iter()
            .filter(|f| {
                !waiting.contains(&identity(f))
                    && self.activity.verdict(&f.path, f.last_modified_ms, now) == Verdict::Ready
            })
            .collect();
        Ok(())
    }

    /// Claims the next file (its flag marks it as being read) and opens it where its stored
    /// offset says reading stopped.
    fn open_next(&mut self) -> Result<bool> {
        while let Some(candidate) = self.queue.pop_front() {
            let settings = self.settings()?;
            // A file that changed or went since it was listed is left for the next listing.
            let Ok(file) = InputFile::stat(&candidate.path, &settings.input_path) else {
                continue;
            };
            let verdict = self
                .activity
                .verdict(&file.path, file.last_modified_ms, files::now_ms());
            if file != candidate || verdict != Verdict::Ready {
                continue;
            }
            let flag = file.flag_path(&settings);
            if std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&flag)
                .is_err()
            {
                continue;
            }
            let resume = self.stored_offset(&file);
            let opened = input::open(&file.path, settings.buffer_size)
                .map_err(ReadError::Io)
                .and_then(|i| formats::reader(self.format, i, &settings));
            match opened {
                Ok(reader) => {
                    let headers = file_headers(&file);
                    self.current = Some(Current {
                        headers,
                        partition: Arc::new(partition(&file)),
                        offset: Arc::new(offset_template(&file)),
                        file,
                        reader,
                        resume,
                        last_sent: None,
                    });
                    return Ok(true);
                }
                Err(e) => self.fail_file(file, None, &e, &settings)?,
            }
        }
        Ok(false)
    }

    /// What the offset stored under this file's name says about it.
    fn stored_offset(&self, file: &InputFile) -> Resume {
        let Some(stored) = self
            .offsets
            .as_ref()
            .and_then(|o| o.offset(&partition(file)))
        else {
            return Resume::Start;
        };
        let Some(n) = stored.get("offset").and_then(|o| o.as_u64()) else {
            return Resume::Start;
        };
        let length = stored.get("length").and_then(|l| l.as_u64());
        let modified = stored.get("lastModified").and_then(|m| m.as_i64());
        match (length, modified) {
            (None, None) => Resume::From(n),
            (Some(length), Some(modified))
                if length == file.length && modified == file.last_modified_ms =>
            {
                Resume::After(n)
            }
            // Another file that had this name before.
            _ => Resume::Start,
        }
    }

    /// Sets a failed file aside (once what was sent from it is stored) and says so in the
    /// status; with `halt.on.error` the next poll fails the task with the same reason.
    fn fail_file(
        &mut self,
        file: InputFile,
        last_sent: Option<u64>,
        error: &ReadError,
        settings: &Settings,
    ) -> Result<()> {
        let sent = last_sent.map_or(0, |n| n);
        let reason = format!(
            "{}: {error}. {} record(s) from this file had been produced before the error.",
            file.path.display(),
            sent
        );
        self.notes.push(format!(
            "{} moved to {}: {reason}",
            file.name,
            settings.error_path.display()
        ));
        self.finishing.push(Finishing {
            file,
            last_sent,
            outcome: Outcome::Failed(reason.clone()),
        });
        if settings.halt_on_error {
            self.halt = Some(reason);
        }
        self.finish_ready(false)
    }

    /// Finishes files whose records are all stored (`committed`), or that sent nothing.
    fn finish_ready(&mut self, committed: bool) -> Result<()> {
        let settings = self.settings()?;
        let mut remaining = Vec::new();
        for f in std::mem::take(&mut self.finishing) {
            let done = match f.last_sent {
                None => true,
                Some(last) => {
                    committed
                        && self
                            .acked
                            .get(&identity(&f.file))
                            .is_some_and(|&a| a >= last)
                }
            };
            if !done {
                remaining.push(f);
                continue;
            }
            self.acked.remove(&identity(&f.file));
            if let Err(e) = files::finish(&f.file, &f.outcome, &settings) {
                self.notes.push(format!(
                    "could not clean up {}: {e}; will retry",
                    f.file.path.display()
                ));
                remaining.push(f);
            }
        }
        self.finishing = remaining;
        Ok(())
    }

    fn read_batch(&mut self) -> Result<Vec<SourceRecord>> {
        let settings = self.settings()?;
        let mut records = Vec::with_capacity(settings.batch_size.min(10_000));
        while records.len() < settings.batch_size {
            let Some(current) = self.current.as_mut() else {
                break;
            };
            match current.reader.next() {
                Ok(Some(parsed)) => {
                    if !current.resume.emits(parsed.offset) {
                        continue;
                    }
                    current.last_sent = Some(parsed.offset);
                    let position = i64::try_from(parsed.offset).unwrap_or(i64::MAX);
                    let mut headers = Headers::with_shared(Arc::clone(&current.headers));
                    headers.add("file.offset", Some(Schema::int64()), Value::Int64(position));
                    let offset = SourceOffset::at(Arc::clone(&current.offset), "offset", position);
                    records.push(record(
                        &settings,
                        &current.file,
                        current.partition.clone(),
                        offset,
                        headers,
                        parsed,
                    ));
                }
                Ok(None) => {
                    let done = self.current.take();
                    if let Some(c) = done {
                        self.finishing.push(Finishing {
                            file: c.file,
                            last_sent: c.last_sent,
                            outcome: Outcome::Finished,
                        });
                    }
                    break;
                }
                Err(e) => {
                    if let Some(c) = self.current.take() {
                        self.fail_file(c.file, c.last_sent, &e, &settings)?;
                    }
                    break;
                }
            }
        }
        Ok(records)
    }
}

fn partition(file: &InputFile) -> SourceMap {
    let mut p = SourceMap::new();
    p.insert("fileName".into(), json!(file.name));
    p
}

/// `{"offset": .., "length": .., "lastModified": ..}`: the original's offset number, and this
/// file version's size and time, so a new file with an old name is not skipped.
fn offset_template(file: &InputFile) -> SourceMap {
    let mut offset = SourceMap::new();
    offset.insert("offset".into(), json!(0));
    offset.insert("length".into(), json!(file.length));
    offset.insert("lastModified".into(), json!(file.last_modified_ms));
    offset
}

fn record(
    settings: &Settings,
    file: &InputFile,
    source_partition: Arc<SourceMap>,
    source_offset: SourceOffset,
    headers: Headers,
    parsed: formats::Parsed,
) -> SourceRecord {
    let timestamp = match settings.timestamp_mode {
        TimestampMode::ProcessTime => None,
        TimestampMode::FileTime => Some(file.last_modified_ms),
        TimestampMode::Field => match (&parsed.value, &settings.timestamp_field) {
            (Value::Struct(s), Some(field)) => match s.get(field) {
                Ok(Value::Timestamp(t)) => Some(*t),
                _ => None,
            },
            _ => None,
        },
    };
    SourceRecord {
        source_partition,
        source_offset,
        topic: settings.topic.clone(),
        kafka_partition: None,
        key_schema: parsed.key_schema,
        key: parsed.key,
        value_schema: parsed.value_schema,
        value: parsed.value,
        timestamp,
        headers,
    }
}

/// The headers every record of a file carries alike (each adds its own `file.offset`).
fn file_headers(file: &InputFile) -> Arc<[Header]> {
    let mut headers = Vec::new();
    let string = |v: String| (Some(Schema::string()), Value::String(v));
    // Guava's `Files.getNameWithoutExtension`: everything before the last dot.
    let without_extension = match file.name.rsplit_once('.') {
        Some((stem, _)) => stem.to_string(),
        None => file.name.clone(),
    };
    let absolute = std::fs::canonicalize(&file.path).unwrap_or_else(|_| file.path.clone());
    let parent = file
        .path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let entries = [
        ("file.name", string(file.name.clone())),
        ("file.name.without.extension", string(without_extension)),
        ("file.path", string(absolute.display().to_string())),
        ("file.parent.dir.name", string(parent)),
        (
            "file.length",
            (Some(Schema::int64()), Value::Int64(file.length as i64)),
        ),
        (
            "file.last.modified",
            (
                Some(Schema::timestamp()),
                Value::Timestamp(file.last_modified_ms),
            ),
        ),
    ];
    for (key, (schema, value)) in entries {
        headers.push(Header {
            key: key.into(),
            schema,
            value,
        });
    }
    // The file's path below `input.path`, its name included, as the original gives it.
    headers.push(Header {
        key: "file.relative.path".into(),
        schema: Some(Schema::string()),
        value: Value::String(file.relative_dir.join(&file.name).display().to_string()),
    });
    headers.into()
}

impl SourceTask for SpoolDirTask {
    fn start(&mut self, props: &Props, offsets: Arc<dyn OffsetReader>) -> Result<()> {
        let settings = Settings::parse(self.format, props)?;
        if let Some((key, message)) = settings.check_directories().into_iter().next() {
            return Err(ConnectError::Config { key, message });
        }
        for path in files::recover_flags(&settings) {
            self.notes.push(format!(
                "recovered {} after an unclean stop; it resumes from its stored offset",
                path.display()
            ));
        }
        self.watch(&settings);
        self.settings = Some(Arc::new(settings));
        self.offsets = Some(offsets);
        Ok(())
    }

    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>>> {
        let result = (|| {
            if let Some(reason) = self.halt.take() {
                return Err(ConnectError::Fatal(reason));
            }
            self.finish_ready(false)?;
            if self.current.is_none() {
                if self.queue.is_empty() {
                    self.refill_queue()?;
                }
                if !self.open_next()? {
                    return Ok(Vec::new());
                }
            }
            self.read_batch()
        })();
        Box::pin(std::future::ready(result))
    }

    fn commit_record(&mut self, record: &SourceRecord) -> Result<()> {
        // Offsets are built as offset, length, lastModified (see `offset_template`), the offset
        // given per record: reading the file's fields by position spares lookups per record.
        let mut fields = record.source_offset.fields().values().skip(1);
        let (Some(offset), Some(length), Some(modified)) = (
            record
                .source_offset
                .position()
                .and_then(|o| u64::try_from(o).ok()),
            fields.next().and_then(|l| l.as_u64()),
            fields.next().and_then(|m| m.as_i64()),
        ) else {
            return Ok(());
        };
        let name = record
            .source_partition
            .values()
            .next()
            .and_then(|n| n.as_str())
            .unwrap_or_default();
        // Consecutive records are mostly from one file: update it without a new key.
        if let Some(acked) = self
            .acked
            .iter_mut()
            .find(|((n, l, m), _)| *l == length && *m == modified && n == name)
            .map(|(_, a)| a)
        {
            *acked = (*acked).max(offset);
            return Ok(());
        }
        self.acked
            .insert((name.to_string(), length, modified), offset);
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.finish_ready(true)
    }

    fn take_status_note(&mut self) -> Option<String> {
        if self.notes.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.notes).join("\n"))
        }
    }

    fn stop(&mut self) -> Result<()> {
        self.watcher = None;
        // Files not finished keep no flag after a clean stop: the next start lists them again
        // and resumes each from its stored offset.
        if let Some(settings) = &self.settings {
            let files = self
                .current
                .take()
                .map(|c| c.file)
                .into_iter()
                .chain(self.finishing.drain(..).map(|f| f.file));
            for file in files {
                let _ = std::fs::remove_file(file.flag_path(settings));
            }
        }
        Ok(())
    }
}
