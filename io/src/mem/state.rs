//! The in-memory file system's shared state: file contents split into durable and volatile
//! parts, the name tables, and the crash model.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::fault::{FaultConfig, Rng};
use crate::{Error, Result};

/// Identifies file contents independently of names, so an open handle keeps working when its
/// name is replaced (as with a real inode).
pub(crate) type FileId = u64;

/// A change made since the file's last successful sync, kept so `crash()` can decide its fate.
#[derive(Debug, Clone)]
pub(crate) enum PendingOp {
    Write { pos: u64, data: Vec<u8> },
    Resize(u64),
}

#[derive(Debug, Default)]
pub(crate) struct FileData {
    /// Content as of the last successful sync: what survives power loss for certain.
    pub durable: Vec<u8>,
    /// Content every read sees (durable plus everything pending).
    pub current: Vec<u8>,
    /// Writes and resizes since the last sync, oldest first.
    pub pending: Vec<PendingOp>,
}

/// Operation counters, for tests and benchmarks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemStats {
    /// Successful `write_at` calls.
    pub writes: u64,
    /// Bytes landed by successful `write_at` calls.
    pub bytes_written: u64,
    /// Successful `sync_data` calls.
    pub syncs: u64,
    /// Successful `sync_dir` calls.
    pub dir_syncs: u64,
    /// Successful `write_file_atomic` calls.
    pub atomic_writes: u64,
    /// Faults injected (EIO or power loss).
    pub faults: u64,
    /// Calls to `crash()`.
    pub crashes: u64,
}

pub(crate) struct Inner {
    pub files: BTreeMap<FileId, FileData>,
    next_id: FileId,
    /// Names as the running process sees them.
    pub names: BTreeMap<PathBuf, FileId>,
    /// Names as they would be found after power loss.
    pub durable_names: BTreeMap<PathBuf, FileId>,
    /// Directories; durable as soon as they are created or removed.
    pub dirs: BTreeSet<PathBuf>,
    pub faults: FaultConfig,
    pub rng: Rng,
    pub stats: MemStats,
    pub alignment: u64,
    /// Bumped by every crash; handles from an older generation are dead.
    pub generation: u64,
    /// Set by an injected power loss; every operation fails until `crash()`.
    pub powered_off: bool,
    /// How many times write and sync futures yield before completing, to let concurrent tasks
    /// interleave the way they would around real I/O.
    pub io_yields: u32,
}

/// Writes `data` at `pos`, zero-extending `buf` when needed.
pub(crate) fn apply_write(buf: &mut Vec<u8>, pos: u64, data: &[u8]) {
    let pos = usize::try_from(pos).expect("in-memory file offset exceeds usize");
    let end = pos + data.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[pos..end].copy_from_slice(data);
}

fn apply_resize(buf: &mut Vec<u8>, len: u64) {
    buf.resize(
        usize::try_from(len).expect("in-memory file length exceeds usize"),
        0,
    );
}

/// True for paths whose parent always exists (file-system roots and bare names).
fn is_root(p: &Path) -> bool {
    p.as_os_str().is_empty() || p == Path::new("/")
}

impl Inner {
    pub fn new(seed: u64, alignment: u64) -> Self {
        assert!(
            alignment.is_power_of_two(),
            "alignment {alignment} is not a power of two"
        );
        Inner {
            files: BTreeMap::new(),
            next_id: 1,
            names: BTreeMap::new(),
            durable_names: BTreeMap::new(),
            dirs: BTreeSet::new(),
            faults: FaultConfig::default(),
            rng: Rng::new(seed),
            stats: MemStats::default(),
            alignment,
            generation: 0,
            powered_off: false,
            io_yields: 1,
        }
    }

    pub fn new_file(&mut self, data: Vec<u8>) -> FileId {
        let id = self.next_id;
        self.next_id += 1;
        self.files.insert(
            id,
            FileData {
                durable: data.clone(),
                current: data,
                pending: Vec::new(),
            },
        );
        id
    }

    pub fn dir_exists(&self, p: &Path) -> bool {
        is_root(p) || self.dirs.contains(p)
    }

    /// Fails when power is off (an injected power loss has not been followed by `crash()`).
    pub fn check_power(&mut self, op: &'static str, path: &str) -> Result<()> {
        if self.powered_off {
            return Err(Error::Injected {
                op,
                path: format!("{path} (power is off until crash())"),
            });
        }
        Ok(())
    }

    /// Rolls the dice for a fault of probability `p`, counting it when it hits.
    pub fn fault(&mut self, p: f64) -> bool {
        let hit = self.rng.chance(p);
        if hit {
            self.stats.faults += 1;
        }
        hit
    }

    /// Parent must exist, as with open(2) and O_CREAT.
    pub fn check_parent(&self, path: &Path) -> Result<()> {
        match path.parent() {
            Some(parent) if !self.dir_exists(parent) => Err(Error::Invalid(format!(
                "{}: parent directory does not exist",
                path.display()
            ))),
            _ => Ok(()),
        }
    }

    /// Makes the names of a newly created `id` durable (a file's creation is durable once it is
    /// synced). A file that already has a durable name keeps it: renames and removals need a
    /// `sync_dir`, and syncing data does not persist them.
    pub fn persist_names_of(&mut self, id: FileId) {
        if self.durable_names.values().any(|v| *v == id) {
            return;
        }
        for (name, _) in self.names.iter().filter(|(_, v)| **v == id) {
            self.durable_names.insert(name.clone(), id);
        }
    }

    /// Power loss: names revert to their durable state and every file to its durable content,
    /// except that each unsynced change may survive whole, in part, or not at all (seeded).
    pub fn crash(&mut self) {
        self.stats.crashes += 1;
        self.generation += 1;
        self.powered_off = false;
        self.names = self.durable_names.clone();
        let live: BTreeSet<FileId> = self.durable_names.values().copied().collect();
        self.files.retain(|id, _| live.contains(id));
        let ids: Vec<FileId> = self.files.keys().copied().collect();
        for id in ids {
            let pending = match self.files.get_mut(&id) {
                Some(f) => std::mem::take(&mut f.pending),
                None => continue,
            };
            let mut content = self.files[&id].durable.clone();
            for op in pending {
                self.replay_after_crash(&mut content, op);
            }
            let f = self.files.get_mut(&id).expect("file listed above");
            f.durable = content.clone();
            f.current = content;
        }
    }

    fn replay_after_crash(&mut self, content: &mut Vec<u8>, op: PendingOp) {
        let keep = self.faults.crash_keep_write;
        let tear = self.faults.crash_tear_write;
        match op {
            PendingOp::Resize(len) => {
                if self.rng.chance(self.faults.crash_keep_resize) {
                    apply_resize(content, len);
                }
            }
            PendingOp::Write { pos, data } => {
                let roll = self.rng.below(1 << 30) as f64 / (1u64 << 30) as f64;
                if roll < keep {
                    apply_write(content, pos, &data);
                } else if roll < keep + tear {
                    if self.rng.chance(0.5) {
                        let n = self.rng.below(data.len() as u64 + 1) as usize;
                        apply_write(content, pos, &data[..n]);
                    } else {
                        let sector = self.alignment as usize;
                        for (i, chunk) in data.chunks(sector).enumerate() {
                            if self.rng.chance(0.5) {
                                apply_write(content, pos + (i * sector) as u64, chunk);
                            }
                        }
                    }
                }
            }
        }
    }
}

impl FileData {
    /// Lands `data` in the volatile state; it becomes durable at the next sync.
    pub fn write(&mut self, pos: u64, data: &[u8]) {
        apply_write(&mut self.current, pos, data);
        self.pending.push(PendingOp::Write {
            pos,
            data: data.to_vec(),
        });
    }

    pub fn resize(&mut self, len: u64) {
        apply_resize(&mut self.current, len);
        self.pending.push(PendingOp::Resize(len));
    }

    /// Makes every pending change durable, replaying them onto the durable copy (cheaper than
    /// cloning a large file on every sync).
    pub fn sync(&mut self) {
        for op in std::mem::take(&mut self.pending) {
            match op {
                PendingOp::Write { pos, data } => apply_write(&mut self.durable, pos, &data),
                PendingOp::Resize(len) => apply_resize(&mut self.durable, len),
            }
        }
        debug_assert_eq!(self.durable, self.current);
    }
}
