//! Whether an input file is complete, so that a file still being written is never read early,
//! even with `file.minimum.age.ms=0`.
//!
//! `notify` (inotify on Linux) tells what writers do: a file created and opened is being written
//! until its writer closes it (`IN_CLOSE_WRITE`); a file renamed into the directory arrives
//! whole. A file about which nothing was heard (it was there before the task started, events
//! were lost, or the file system sends none) counts as complete once its modification time is
//! [`QUIET`] old. Whatever the verdict, a file whose size or modification time changed between
//! listing and opening is left for the next listing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{Event, EventKind};

/// How long a file nothing was heard about must go unmodified before it is read.
pub const QUIET: Duration = Duration::from_secs(1);

/// What was last heard about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heard {
    /// Created; being written once a writer opens it (a hard link is created and not opened).
    Created,
    /// Open for writing, or written to: not complete until closed.
    Writing,
    /// Closed after writing, or renamed in: complete.
    Complete,
}

/// What the watcher heard, shared between its thread and the task.
#[derive(Debug, Default)]
pub struct Activity {
    heard: Mutex<HashMap<PathBuf, Heard>>,
    /// Something changed in the directory since the task last listed it.
    changed: AtomicBool,
}

/// Whether a listed file may be read now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    /// Open for writing or modified too recently: listed again later.
    NotYet,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        let activity = Arc::new(Self::default());
        // The first poll lists the directory.
        activity.changed.store(true, Ordering::Release);
        activity
    }

    fn heard(&self) -> MutexGuard<'_, HashMap<PathBuf, Heard>> {
        self.heard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether anything happened since the last call.
    pub fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::AcqRel)
    }

    /// Takes in one event from the watcher.
    pub fn observe(&self, event: &Event) {
        self.changed.store(true, Ordering::Release);
        let mut heard = self.heard();
        if event.need_rescan() {
            // Events were lost: what was heard may be stale.
            heard.clear();
            return;
        }
        for path in &event.paths {
            match event.kind {
                EventKind::Create(CreateKind::File | CreateKind::Any) => {
                    heard.insert(path.clone(), Heard::Created);
                }
                EventKind::Access(AccessKind::Open(_)) => {
                    if let Some(state) = heard.get_mut(path) {
                        if *state == Heard::Created {
                            *state = Heard::Writing;
                        }
                    }
                }
                EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
                    heard.insert(path.clone(), Heard::Writing);
                }
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                    heard.insert(path.clone(), Heard::Complete);
                }
                EventKind::Modify(ModifyKind::Name(RenameMode::To)) => {
                    heard.insert(path.clone(), Heard::Complete);
                }
                EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => {
                    heard.remove(path);
                }
                _ => {}
            }
        }
    }

    /// Whether `path`, last modified at `modified_ms`, may be read at `now_ms`.
    pub fn verdict(&self, path: &Path, modified_ms: i64, now_ms: i64) -> Verdict {
        let quiet = now_ms.saturating_sub(modified_ms) >= QUIET.as_millis() as i64;
        match self.heard().get(path) {
            Some(Heard::Writing) => Verdict::NotYet,
            Some(Heard::Complete) => Verdict::Ready,
            Some(Heard::Created) | None if quiet => Verdict::Ready,
            Some(Heard::Created) | None => Verdict::NotYet,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{DataChange, RemoveKind};

    fn event(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(path))
    }

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn a_file_written_in_place_is_ready_only_once_its_writer_closes_it() {
        let a = Activity::new();
        let p = Path::new("/in/f.txt");
        a.observe(&event(EventKind::Create(CreateKind::File), "/in/f.txt"));
        assert_eq!(a.verdict(p, NOW, NOW), Verdict::NotYet);
        a.observe(&event(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            "/in/f.txt",
        ));
        // Open for writing: not ready however old its modification time.
        assert_eq!(a.verdict(p, NOW - 60_000, NOW), Verdict::NotYet);
        a.observe(&event(
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            "/in/f.txt",
        ));
        assert_eq!(a.verdict(p, NOW - 60_000, NOW), Verdict::NotYet);
        a.observe(&event(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            "/in/f.txt",
        ));
        assert_eq!(a.verdict(p, NOW, NOW), Verdict::Ready);
        // Opened again and appended to: writing again.
        a.observe(&event(
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            "/in/f.txt",
        ));
        assert_eq!(a.verdict(p, NOW, NOW), Verdict::NotYet);
    }

    #[test]
    fn a_renamed_in_file_is_ready_at_once_and_forgotten_when_it_leaves() {
        let a = Activity::new();
        let p = Path::new("/in/f.txt");
        a.observe(&event(
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            "/in/f.txt",
        ));
        assert_eq!(a.verdict(p, NOW, NOW), Verdict::Ready);
        a.observe(&event(
            EventKind::Modify(ModifyKind::Name(RenameMode::From)),
            "/in/f.txt",
        ));
        // Nothing known about a new file of that name: it must be quiet first.
        assert_eq!(a.verdict(p, NOW, NOW), Verdict::NotYet);
        assert_eq!(a.verdict(p, NOW - 1_000, NOW), Verdict::Ready);
        a.observe(&event(EventKind::Create(CreateKind::File), "/in/f.txt"));
        a.observe(&event(EventKind::Remove(RemoveKind::File), "/in/f.txt"));
        assert_eq!(a.verdict(p, NOW, NOW), Verdict::NotYet);
    }

    #[test]
    fn a_hard_link_is_created_but_never_opened_and_counts_once_quiet() {
        let a = Activity::new();
        let p = Path::new("/in/f.txt");
        a.observe(&event(EventKind::Create(CreateKind::File), "/in/f.txt"));
        assert_eq!(a.verdict(p, NOW - 5_000, NOW), Verdict::Ready);
    }

    #[test]
    fn lost_events_forget_what_was_heard() {
        let a = Activity::new();
        let p = Path::new("/in/f.txt");
        a.observe(&event(
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            "/in/f.txt",
        ));
        assert!(a.take_changed());
        assert!(!a.take_changed());
        a.observe(&Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan));
        assert!(a.take_changed());
        assert_eq!(a.verdict(p, NOW - 5_000, NOW), Verdict::Ready);
    }
}
