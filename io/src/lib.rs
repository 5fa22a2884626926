//! vexfs-io: the only crate in the workspace that opens, reads, writes or syncs files.
//!
//! Two backends implement the same small [`Storage`] / [`File`] traits:
//! - [`dma`]: production, glommio `DmaFile` (O_DIRECT, io_uring). Must run inside a glommio executor.
//! - [`mem`]: in-memory, deterministic, fault-injecting (torn/short writes, EIO, crash), driven by a seed.
//!
//! Executors are thread-per-core, so futures here are never sent across threads and the traits use
//! plain `async fn` without `Send` bounds.
#![allow(async_fn_in_trait)]

use std::path::Path;

pub mod archive;
pub mod checksum;
pub mod dma;
pub mod lock;
pub mod mem;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system error, naming the operation and the file.
    #[error("{op} {path}: {source}")]
    Os {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A fault injected by the in-memory backend.
    #[error("injected fault during {op} on {path}")]
    Injected { op: &'static str, path: String },
    /// Misuse of the API (unaligned direct write, file not found, …).
    #[error("{0}")]
    Invalid(String),
}

/// One open file. Positions are byte offsets from the start of the file.
pub trait File {
    /// Reads up to `len` bytes at `pos`; fewer only when the file ends first.
    async fn read_at(&self, pos: u64, len: usize) -> Result<Vec<u8>>;
    /// Writes all of `data` at `pos`. Both `pos` and `data.len()` must be multiples of
    /// [`File::alignment`] (direct I/O); callers pad.
    async fn write_at(&self, pos: u64, data: &[u8]) -> Result<()>;
    /// Makes every completed write durable (fdatasync).
    async fn sync_data(&self) -> Result<()>;
    /// Current length of the file in bytes.
    async fn size(&self) -> Result<u64>;
    /// Sets the file length (shrinks or extends with zeros).
    async fn truncate(&self, len: u64) -> Result<()>;
    /// Reserves disk space up to `len` bytes without changing the visible size, so that later
    /// writes inside it need no metadata update at fdatasync time.
    async fn preallocate(&self, len: u64) -> Result<()>;
    /// Required alignment of write offsets and lengths, in bytes.
    fn alignment(&self) -> u64;
    /// Closes the file.
    async fn close(self) -> Result<()>;
}

/// A file system rooted wherever the caller's paths point.
pub trait Storage {
    type File: File;
    /// Opens `path` for reading and writing, creating it (empty) when missing.
    async fn open(&self, path: &Path) -> Result<Self::File>;
    /// Creates a directory and its parents; succeeds when it exists.
    async fn create_dir_all(&self, path: &Path) -> Result<()>;
    /// Removes a directory tree; succeeds when it does not exist.
    async fn remove_dir_all(&self, path: &Path) -> Result<()>;
    /// Opens an existing file for reading only; `None` when it does not exist. For files that
    /// are read in pieces (snapshots, the files copied into them) rather than whole.
    async fn open_read(&self, path: &Path) -> Result<Option<Self::File>>;
    /// Reads a whole (small) file; `None` when it does not exist.
    async fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>>;
    /// Replaces `path` atomically: temp file, write, fdatasync, rename, fsync of the directory.
    async fn write_file_atomic(&self, path: &Path, data: &[u8]) -> Result<()>;
    /// Names of the entries of a directory, sorted; empty when it does not exist.
    async fn list_dir(&self, path: &Path) -> Result<Vec<String>>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    async fn sync_dir(&self, path: &Path) -> Result<()>;
    /// Renames the file `from` to `to`, replacing `to` when it exists (rename(2)). Atomic for
    /// readers at once; durable only after `sync_dir` of the parent directory (of both, when
    /// they differ): until then a crash may show the old names.
    async fn rename(&self, from: &Path, to: &Path) -> Result<()>;
    /// Renames the directory `from` (with everything in it) to `to`, which must not exist.
    /// Atomic for readers at once; durable after `sync_dir` of both parent directories.
    async fn rename_dir(&self, from: &Path, to: &Path) -> Result<()>;
    /// Removes the file `path`; succeeds when it does not exist. Durable after `sync_dir` of the
    /// parent directory: until then a crash may bring the file back.
    async fn remove_file(&self, path: &Path) -> Result<()>;
}
