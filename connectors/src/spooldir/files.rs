//! Finding input files (pattern, age, task, sort order), the `.PROCESSING` flag, and what happens
//! to a file once its records are committed: moved to `finished.path` (by date with MOVEBYDATE),
//! deleted, left in place, or moved to `error.path` with a sidecar saying why.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::config::{Cleanup, Settings, SortAttribute};
use sluice_connect_api::calendar::civil_from_days;

/// A file to read, and what identifies this version of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    /// The name without directories: the source partition's `fileName`.
    pub name: String,
    /// The directory below `input.path` it was found in ("" at the top).
    pub relative_dir: PathBuf,
    pub length: u64,
    pub last_modified_ms: i64,
}

fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn now_ms() -> i64 {
    millis(SystemTime::now())
}

/// Kafka's `Adler32`-based partitioner: which task reads a file.
pub fn task_for(name: &str, count: u32) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for byte in name.bytes() {
        a = (a + u32::from(byte)) % MOD;
        b = (b + a) % MOD;
    }
    let checksum = (b << 16) | a;
    // Java's Math.abs of the int value, then the remainder.
    (checksum as i32).unsigned_abs() % count.max(1)
}

impl InputFile {
    pub fn stat(path: &Path, input_root: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let relative_dir = path
            .parent()
            .and_then(|p| p.strip_prefix(input_root).ok())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Ok(Self {
            path: path.to_path_buf(),
            name,
            relative_dir,
            length: meta.len(),
            last_modified_ms: meta.modified().map(millis).unwrap_or(0),
        })
    }

    pub fn flag_path(&self, settings: &Settings) -> PathBuf {
        let mut flag = self.path.clone().into_os_string();
        flag.push(&settings.processing_extension);
        PathBuf::from(flag)
    }
}

/// Input files ready for this task, in the configured order. Files with a flag are being read
/// (by this task) and are left out.
pub fn list(settings: &Settings) -> std::io::Result<Vec<InputFile>> {
    let mut found = Vec::new();
    walk(&settings.input_path, settings, &mut found)?;
    let now = now_ms();
    let mut files: Vec<InputFile> = found
        .into_iter()
        .filter(|f| {
            let young = now - f.last_modified_ms < settings.minimum_age_ms as i64;
            !young
                && !f.flag_path(settings).exists()
                && task_for(&f.name, settings.task_count) == settings.task_index
        })
        .collect();
    files.sort_by(|a, b| {
        for attribute in &settings.sort {
            let order = match attribute {
                SortAttribute::NameAsc => a.name.cmp(&b.name),
                SortAttribute::NameDesc => b.name.cmp(&a.name),
                SortAttribute::LengthAsc => a.length.cmp(&b.length),
                SortAttribute::LengthDesc => b.length.cmp(&a.length),
                SortAttribute::LastModifiedAsc => a.last_modified_ms.cmp(&b.last_modified_ms),
                SortAttribute::LastModifiedDesc => b.last_modified_ms.cmp(&a.last_modified_ms),
            };
            if order.is_ne() {
                return order;
            }
        }
        a.path.cmp(&b.path)
    });
    Ok(files)
}

fn walk(dir: &Path, settings: &Settings, out: &mut Vec<InputFile>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if settings.walk_recursively {
                walk(&path, settings, out)?;
            }
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !kind.is_file()
            || name.ends_with(&settings.processing_extension)
            || !settings.input_pattern.is_match(&name)
        {
            continue;
        }
        // A file can vanish between listing and stat; it is simply not there any more.
        if let Ok(file) = InputFile::stat(&path, &settings.input_path) {
            out.push(file);
        }
    }
    Ok(())
}

/// Flags this task left behind when it crashed: the files are this task's, and no one else reads
/// them, so the flags are removed and the files read again from their stored offsets.
pub fn recover_flags(settings: &Settings) -> Vec<PathBuf> {
    let mut recovered = Vec::new();
    let mut dirs = vec![settings.input_path.clone()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                if settings.walk_recursively {
                    dirs.push(path);
                }
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(input) = name.strip_suffix(&settings.processing_extension) else {
                continue;
            };
            if input.is_empty() || task_for(input, settings.task_count) != settings.task_index {
                continue;
            }
            if std::fs::remove_file(&path).is_ok() {
                recovered.push(dir.join(input));
            }
        }
    }
    recovered
}

/// Where a file goes once done.
pub enum Outcome {
    Finished,
    /// Set aside, with the reason written next to it.
    Failed(String),
}

fn date_dir(ms: i64) -> String {
    let (year, month, day) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{year:04}-{month:02}-{day:02}")
}

/// Moves `file` into `dir` (keeping its sub-directory when asked), never over another file.
fn move_into(file: &InputFile, dir: &Path, keep_relative: bool) -> std::io::Result<PathBuf> {
    let target_dir = if keep_relative {
        dir.join(&file.relative_dir)
    } else {
        dir.to_path_buf()
    };
    std::fs::create_dir_all(&target_dir)?;
    let mut target = target_dir.join(&file.name);
    let mut n = 1;
    while target.exists() {
        target = target_dir.join(format!("{}.{n}", file.name));
        n += 1;
    }
    match std::fs::rename(&file.path, &target) {
        Ok(()) => Ok(target),
        // Another file system: copy, then remove.
        Err(_) => {
            std::fs::copy(&file.path, &target)?;
            std::fs::remove_file(&file.path)?;
            Ok(target)
        }
    }
}

/// Applies the cleanup policy (or the error path) and removes the flag.
pub fn finish(file: &InputFile, outcome: &Outcome, settings: &Settings) -> std::io::Result<()> {
    let keep = settings.maintain_relative_path && settings.walk_recursively;
    match outcome {
        Outcome::Failed(reason) => {
            let target = move_into(file, &settings.error_path, keep)?;
            let mut sidecar = target.clone().into_os_string();
            sidecar.push(".error.txt");
            std::fs::write(PathBuf::from(sidecar), format!("{reason}\n"))?;
        }
        Outcome::Finished => match settings.cleanup {
            Cleanup::None => {}
            Cleanup::Delete => std::fs::remove_file(&file.path)?,
            Cleanup::Move => {
                if let Some(dir) = &settings.finished_path {
                    move_into(file, dir, keep)?;
                }
            }
            Cleanup::MoveByDate => {
                if let Some(dir) = &settings.finished_path {
                    move_into(file, &dir.join(date_dir(file.last_modified_ms)), keep)?;
                }
            }
        },
    }
    let flag = file.flag_path(settings);
    match std::fs::remove_file(&flag) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_partitions_like_the_original() {
        // zlib.adler32(b"test.csv") = 0x0e9e033b = 245236539.
        assert_eq!(task_for("test.csv", 1_000_000_007), 245_236_539);
        assert_eq!(task_for("test.csv", 10), 9);
        let counts = (0..100)
            .map(|i| task_for(&format!("file-{i}.txt"), 3))
            .fold([0; 3], |mut acc, t| {
                acc[t as usize] += 1;
                acc
            });
        assert!(
            counts.iter().all(|&c| c > 10),
            "files spread over tasks: {counts:?}"
        );
        assert_eq!(date_dir(1_700_000_000_000), "2023-11-14");
    }
}
