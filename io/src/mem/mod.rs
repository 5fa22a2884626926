//! In-memory, deterministic, fault-injecting backend for tests.
//!
//! Model:
//! - Each file has a *durable* content (as of its last successful `sync_data`) and a *current*
//!   content that reads see. Writes and resizes since the last sync are kept in order; on
//!   [`MemStorage::crash`] each of them survives whole, survives partly (a byte prefix, or a
//!   random subset of its sectors — disks reorder), or vanishes, as decided by the seeded PRNG
//!   and [`FaultConfig`].
//! - Writes must be aligned like O_DIRECT (default 512 bytes) or fail with [`Error::Invalid`].
//! - Directories are durable as soon as they are created or removed. A new file's *name* becomes
//!   durable at the next `sync_dir` of its parent or `sync_data` of the file; until then a crash
//!   forgets it. (The DMA backend is stricter: it syncs the parent when `open` creates a file.) `write_file_atomic` is atomic across crashes: the old or the new content.
//! - `rename` and `remove_file` change the visible names at once and the durable names at the
//!   next `sync_dir` of the parent, as with a real directory; a crash before that brings back
//!   the old names (syncing the file's data does not persist a rename, only a creation).
//! - After `crash()`, handles opened before it are dead (they return [`Error::Invalid`]): the
//!   process that held them is gone.
//! - The same seed and the same sequence of calls give the same faults and the same crash
//!   outcome.
//!
//! Single-threaded: share it by cloning (an `Rc`).

mod fault;
mod file;
mod state;

use std::cell::RefCell;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

pub use fault::{FaultConfig, Rng};
pub use file::MemFile;
pub use state::MemStats;

use crate::{Error, Result, Storage};
use state::Inner;

/// O_DIRECT alignment used unless one is given.
pub const MEM_DEFAULT_ALIGNMENT_BYTES: u64 = 512;

/// Yields once to the executor, like a real I/O completion would.
pub(crate) fn yield_now() -> impl Future<Output = ()> {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
    YieldNow(false)
}

/// A whole file system in memory. Cloning shares it.
#[derive(Clone)]
pub struct MemStorage {
    inner: Rc<RefCell<Inner>>,
}

impl std::fmt::Debug for MemStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemStorage").finish_non_exhaustive()
    }
}

impl MemStorage {
    /// Empty file system, 512-byte alignment, default faults (crash tears unsynced writes).
    pub fn new(seed: u64) -> Self {
        Self::with_alignment(seed, MEM_DEFAULT_ALIGNMENT_BYTES)
    }

    /// Empty file system requiring `alignment` (a power of two) for writes.
    pub fn with_alignment(seed: u64, alignment: u64) -> Self {
        MemStorage {
            inner: Rc::new(RefCell::new(Inner::new(seed, alignment))),
        }
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        self.inner.borrow_mut().faults = faults;
    }

    pub fn faults(&self) -> FaultConfig {
        self.inner.borrow().faults.clone()
    }

    /// How many times each write / sync yields to the executor before completing (default 1).
    pub fn set_io_yields(&self, yields: u32) {
        self.inner.borrow_mut().io_yields = yields;
    }

    pub fn stats(&self) -> MemStats {
        self.inner.borrow().stats.clone()
    }

    pub fn alignment(&self) -> u64 {
        self.inner.borrow().alignment
    }

    /// True after an injected power loss, until [`MemStorage::crash`].
    pub fn is_powered_off(&self) -> bool {
        self.inner.borrow().powered_off
    }

    /// Simulates power loss and restart; see the module docs for what survives.
    pub fn crash(&self) {
        self.inner.borrow_mut().crash();
    }

    /// What reads of `path` currently return, bypassing faults.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let inner = self.inner.borrow();
        let id = inner.names.get(path)?;
        Some(inner.files[id].current.clone())
    }

    /// What would survive power loss for `path`, bypassing faults.
    pub fn durable_contents(&self, path: &Path) -> Option<Vec<u8>> {
        let inner = self.inner.borrow();
        let id = inner.durable_names.get(path)?;
        Some(inner.files[id].durable.clone())
    }

    /// Overwrites bytes of `path` both durably and visibly, as bit rot or a buggy device would.
    /// Panics when the file does not exist (test misuse).
    pub fn corrupt(&self, path: &Path, pos: u64, bytes: &[u8]) {
        let mut inner = self.inner.borrow_mut();
        let id = *inner
            .names
            .get(path)
            .unwrap_or_else(|| panic!("corrupt: no file {}", path.display()));
        let f = inner.files.get_mut(&id).expect("named file has data");
        state::apply_write(&mut f.durable, pos, bytes);
        state::apply_write(&mut f.current, pos, bytes);
    }

    fn check_power(&self, op: &'static str, path: &Path) -> Result<()> {
        self.inner
            .borrow_mut()
            .check_power(op, &path.display().to_string())
    }

    async fn io_delay(&self) {
        let yields = self.inner.borrow().io_yields;
        for _ in 0..yields {
            yield_now().await;
        }
    }
}

impl Storage for MemStorage {
    type File = MemFile;

    async fn open(&self, path: &Path) -> Result<MemFile> {
        self.check_power("open", path)?;
        let mut inner = self.inner.borrow_mut();
        inner.check_parent(path)?;
        let id = match inner.names.get(path) {
            Some(id) => *id,
            None => {
                let id = inner.new_file(Vec::new());
                inner.names.insert(path.to_path_buf(), id);
                id
            }
        };
        Ok(MemFile {
            inner: self.inner.clone(),
            id,
            generation: inner.generation,
            path: path.display().to_string(),
        })
    }

    async fn create_dir_all(&self, path: &Path) -> Result<()> {
        self.check_power("create dir", path)?;
        let mut inner = self.inner.borrow_mut();
        for dir in path.ancestors() {
            if inner.dir_exists(dir) {
                continue;
            }
            if inner.names.contains_key(dir) {
                return Err(Error::Invalid(format!(
                    "create dir {}: {} is a file",
                    path.display(),
                    dir.display()
                )));
            }
            inner.dirs.insert(dir.to_path_buf());
        }
        Ok(())
    }

    async fn remove_dir_all(&self, path: &Path) -> Result<()> {
        self.check_power("remove dir", path)?;
        let mut inner = self.inner.borrow_mut();
        inner.dirs.retain(|d| !d.starts_with(path));
        inner.names.retain(|n, _| !n.starts_with(path));
        inner.durable_names.retain(|n, _| !n.starts_with(path));
        Ok(())
    }

    async fn open_read(&self, path: &Path) -> Result<Option<MemFile>> {
        self.check_power("open", path)?;
        let inner = self.inner.borrow();
        Ok(inner.names.get(path).map(|id| MemFile {
            inner: self.inner.clone(),
            id: *id,
            generation: inner.generation,
            path: path.display().to_string(),
        }))
    }

    async fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        self.check_power("read", path)?;
        let mut inner = self.inner.borrow_mut();
        let Some(id) = inner.names.get(path).copied() else {
            return Ok(None);
        };
        let p = inner.faults.read_eio;
        if inner.fault(p) {
            return Err(Error::Injected {
                op: "read",
                path: path.display().to_string(),
            });
        }
        Ok(Some(inner.files[&id].current.clone()))
    }

    async fn write_file_atomic(&self, path: &Path, data: &[u8]) -> Result<()> {
        self.check_power("write atomic", path)?;
        self.inner.borrow().check_parent(path)?;
        self.io_delay().await;
        let mut inner = self.inner.borrow_mut();
        let shown = path.display().to_string();
        inner.check_power("write atomic", &shown)?;
        // The temp file, its sync, the rename and the directory sync are collapsed into one
        // step; each fault leaves the old content in place, which is the guarantee under test.
        let (torn, eio_w, eio_s) = (
            inner.faults.torn_write,
            inner.faults.write_eio,
            inner.faults.sync_eio,
        );
        if inner.fault(torn) {
            inner.powered_off = true;
            return Err(Error::Injected {
                op: "write atomic (power lost)",
                path: shown,
            });
        }
        if inner.fault(eio_w) || inner.fault(eio_s) {
            return Err(Error::Injected {
                op: "write atomic",
                path: shown,
            });
        }
        let id = inner.new_file(data.to_vec());
        inner.names.insert(path.to_path_buf(), id);
        inner.durable_names.insert(path.to_path_buf(), id);
        inner.stats.atomic_writes += 1;
        Ok(())
    }

    async fn list_dir(&self, path: &Path) -> Result<Vec<String>> {
        self.check_power("list dir", path)?;
        let inner = self.inner.borrow();
        let child_name = |p: &Path| -> Option<String> {
            if p.parent() != Some(path) {
                return None;
            }
            p.file_name()?.to_str().map(str::to_owned)
        };
        let mut names: Vec<String> = inner
            .dirs
            .iter()
            .filter_map(|d| child_name(d))
            .chain(inner.names.keys().filter_map(|n| child_name(n)))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn sync_dir(&self, path: &Path) -> Result<()> {
        self.check_power("fsync dir", path)?;
        let mut inner = self.inner.borrow_mut();
        let in_dir = |p: &Path| p.parent() == Some(path);
        let current: Vec<(std::path::PathBuf, u64)> = inner
            .names
            .iter()
            .filter(|(n, _)| in_dir(n))
            .map(|(n, id)| (n.clone(), *id))
            .collect();
        inner
            .durable_names
            .retain(|n, _| !in_dir(n) || current.iter().any(|(c, _)| c == n));
        for (name, id) in current {
            inner.durable_names.insert(name, id);
        }
        inner.stats.dir_syncs += 1;
        Ok(())
    }

    async fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.check_power("rename", from)?;
        let mut inner = self.inner.borrow_mut();
        inner.check_parent(to)?;
        if inner.dir_exists(to) {
            return Err(Error::Invalid(format!(
                "rename {} to {}: target is a directory",
                from.display(),
                to.display()
            )));
        }
        let Some(id) = inner.names.remove(from) else {
            return Err(Error::Invalid(format!(
                "rename {}: no such file",
                from.display()
            )));
        };
        inner.names.insert(to.to_path_buf(), id);
        Ok(())
    }

    /// Directories are durable at once in this model, so the move is too: names under `from`
    /// (durable or not) move with it.
    async fn rename_dir(&self, from: &Path, to: &Path) -> Result<()> {
        self.check_power("rename dir", from)?;
        let mut guard = self.inner.borrow_mut();
        let inner = &mut *guard;
        let shown = || format!("{} -> {}", from.display(), to.display());
        if !inner.dirs.contains(from) {
            return Err(Error::Invalid(format!(
                "rename dir {}: no such directory",
                shown()
            )));
        }
        if inner.dir_exists(to) || inner.names.contains_key(to) {
            return Err(Error::Invalid(format!(
                "rename dir {}: target exists",
                shown()
            )));
        }
        inner.check_parent(to)?;
        let moved = |p: &Path| -> Option<std::path::PathBuf> {
            let rest = p.strip_prefix(from).ok()?;
            Some(if rest.as_os_str().is_empty() {
                to.to_path_buf()
            } else {
                to.join(rest)
            })
        };
        let dirs = std::mem::take(&mut inner.dirs);
        inner.dirs = dirs.into_iter().map(|d| moved(&d).unwrap_or(d)).collect();
        for map in [&mut inner.names, &mut inner.durable_names] {
            let old = std::mem::take(map);
            *map = old
                .into_iter()
                .map(|(n, id)| (moved(&n).unwrap_or(n), id))
                .collect();
        }
        Ok(())
    }

    async fn remove_file(&self, path: &Path) -> Result<()> {
        self.check_power("remove", path)?;
        self.inner.borrow_mut().names.remove(path);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::File;

    #[test]
    fn rename_dir_moves_the_tree_and_open_read_finds_only_existing_files() {
        futures_lite::future::block_on(async {
            let fs = MemStorage::new(3);
            fs.create_dir_all(Path::new("/a/b")).await.unwrap();
            let f = fs.open(Path::new("/a/b/f")).await.unwrap();
            f.write_at(0, &[1; 512]).await.unwrap();
            f.sync_data().await.unwrap();
            fs.create_dir_all(Path::new("/t")).await.unwrap();
            assert!(fs
                .rename_dir(Path::new("/a"), Path::new("/t"))
                .await
                .is_err());
            fs.rename_dir(Path::new("/a"), Path::new("/z"))
                .await
                .unwrap();
            assert!(fs.open_read(Path::new("/a/b/f")).await.unwrap().is_none());
            let moved = fs.open_read(Path::new("/z/b/f")).await.unwrap().unwrap();
            assert_eq!(moved.size().await.unwrap(), 512);
            assert_eq!(fs.list_dir(Path::new("/z")).await.unwrap(), vec!["b"]);
            fs.crash();
            assert!(fs.contents(Path::new("/z/b/f")).is_some());
        });
    }
}
