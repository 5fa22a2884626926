//! Production backend: glommio `DmaFile` (O_DIRECT through io_uring).
//!
//! Everything here must run inside a glommio executor. Data-path operations (read, write,
//! fdatasync, fallocate, truncate) go through the ring; rare metadata operations
//! (`create_dir_all`, `remove_dir_all`, `list_dir`) use `std::fs`, which blocks the reactor for a
//! moment but keeps the code simple.
//!
//! DMA buffers come from the executor's `io_memory` pool when it has room and registration
//! succeeded; otherwise glommio falls back to ordinary aligned heap buffers, so nothing here
//! depends on RLIMIT_MEMLOCK.

mod probe;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use glommio::io::{Directory, DmaFile, OpenOptions};

use crate::{Error, File, Result, Storage};
use probe::ensure_iopoll_probed;

/// Largest single DMA buffer used for one write or read request. Bounded so a huge write does
/// not need an equally huge pinned buffer (the executor's io_memory is small, ≤ 2 MiB here).
pub const DMA_IO_CHUNK_BYTES: usize = 1 << 20;

/// Converts a glommio error into ours, keeping the operation and path.
fn os_err(op: &'static str, path: &str, err: glommio::GlommioError<()>) -> Error {
    Error::Os {
        op,
        path: path.to_string(),
        source: std::io::Error::from(err),
    }
}

fn std_err(op: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Os {
        op,
        path: path.display().to_string(),
        source,
    }
}

fn is_not_found(err: &glommio::GlommioError<()>) -> bool {
    match err {
        glommio::GlommioError::IoError(e) => e.kind() == ErrorKind::NotFound,
        glommio::GlommioError::EnhancedIoError { source, .. } => {
            source.kind() == ErrorKind::NotFound
        }
        _ => false,
    }
}

/// The parent directory of `path`, `.` for a bare file name.
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `path` with `.tmp` appended to its file name (not replacing its extension).
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Opens a DmaFile after making sure glommio's polling probe for its device was done right.
async fn dma_open(path: &Path, opts: &OpenOptions, op: &'static str) -> Result<DmaFile> {
    ensure_iopoll_probed(path).await?;
    opts.dma_open(path)
        .await
        .map_err(|e| os_err(op, &path.display().to_string(), e))
}

/// The real file system, addressed by the caller's (absolute or cwd-relative) paths.
#[derive(Debug, Default, Clone, Copy)]
pub struct DmaStorage;

impl DmaStorage {
    pub fn new() -> Self {
        DmaStorage
    }
}

/// One open O_DIRECT file.
#[derive(Debug)]
pub struct DmaFileHandle {
    file: DmaFile,
    path: String,
}

impl DmaFileHandle {
    /// Opens `path` read-write, creating it when missing.
    pub async fn open(path: &Path) -> Result<Self> {
        let file = dma_open(
            path,
            OpenOptions::new().read(true).write(true).create(true),
            "open",
        )
        .await?;
        Ok(DmaFileHandle {
            file,
            path: path.display().to_string(),
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    fn check_aligned(&self, pos: u64, len: usize) -> Result<()> {
        let align = self.file.alignment();
        if !pos.is_multiple_of(align) || !(len as u64).is_multiple_of(align) {
            return Err(Error::Invalid(format!(
                "unaligned direct write to {}: offset {pos}, length {len}, alignment {align}",
                self.path
            )));
        }
        Ok(())
    }

    /// Writes one aligned piece, retrying short writes from the aligned position they reached.
    async fn write_piece(&self, pos: u64, data: &[u8]) -> Result<()> {
        let align = self.file.alignment();
        let mut done = 0usize;
        while done < data.len() {
            let mut buf = self.file.alloc_dma_buffer(data.len() - done);
            buf.as_bytes_mut().copy_from_slice(&data[done..]);
            let written = self
                .file
                .write_at(buf, pos + done as u64)
                .await
                .map_err(|e| os_err("write", &self.path, e))?;
            // A short O_DIRECT write may stop anywhere; resume from the aligned offset at or
            // before it (rewriting identical bytes is harmless) so the next request stays aligned.
            let next = ((done + written) as u64 / align * align) as usize;
            if next <= done {
                return Err(Error::Os {
                    op: "write",
                    path: self.path.clone(),
                    source: std::io::Error::new(
                        ErrorKind::WriteZero,
                        format!("short direct write made no aligned progress ({written} bytes)"),
                    ),
                });
            }
            done = next;
        }
        Ok(())
    }
}

impl File for DmaFileHandle {
    async fn read_at(&self, pos: u64, len: usize) -> Result<Vec<u8>> {
        // Aligned reads done here rather than with DmaFile::read_at, which near the end of the
        // file reports the skipped head bytes as data (glommio 0.9 returns
        // min(bytes read from the aligned start, len)).
        let align = self.file.alignment();
        let mut out = Vec::with_capacity(len.min(DMA_IO_CHUNK_BYTES));
        while out.len() < len {
            let at = pos + out.len() as u64;
            let want = (len - out.len()).min(DMA_IO_CHUNK_BYTES);
            let start = at / align * align;
            let skip = (at - start) as usize;
            let span = (skip + want).div_ceil(align as usize) * align as usize;
            let got = self
                .file
                .read_at_aligned(start, span)
                .await
                .map_err(|e| os_err("read", &self.path, e))?;
            let usable = got.len().saturating_sub(skip).min(want);
            if usable == 0 {
                break; // end of file
            }
            out.extend_from_slice(&got[skip..skip + usable]);
        }
        Ok(out)
    }

    async fn write_at(&self, pos: u64, data: &[u8]) -> Result<()> {
        self.check_aligned(pos, data.len())?;
        // The chunk size is a multiple of every O_DIRECT alignment (512 / 4096), so each piece
        // stays aligned.
        for (i, piece) in data.chunks(DMA_IO_CHUNK_BYTES).enumerate() {
            self.write_piece(pos + (i * DMA_IO_CHUNK_BYTES) as u64, piece)
                .await?;
        }
        Ok(())
    }

    async fn sync_data(&self) -> Result<()> {
        self.file
            .fdatasync()
            .await
            .map_err(|e| os_err("fdatasync", &self.path, e))
    }

    async fn size(&self) -> Result<u64> {
        self.file
            .file_size()
            .await
            .map_err(|e| os_err("stat", &self.path, e))
    }

    async fn truncate(&self, len: u64) -> Result<()> {
        self.file
            .truncate(len)
            .await
            .map_err(|e| os_err("truncate", &self.path, e))
    }

    async fn preallocate(&self, len: u64) -> Result<()> {
        match self.file.pre_allocate(len, true).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let io = std::io::Error::from(e);
                // Some file systems (tmpfs on old kernels, overlay, NFS) refuse fallocate.
                // Preallocation is only an optimisation, so carry on without it.
                let unsupported = matches!(
                    io.raw_os_error(),
                    Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS)
                ) || io.kind() == ErrorKind::Unsupported;
                if unsupported {
                    Ok(())
                } else {
                    Err(Error::Os {
                        op: "fallocate",
                        path: self.path.clone(),
                        source: io,
                    })
                }
            }
        }
    }

    fn alignment(&self) -> u64 {
        self.file.alignment()
    }

    async fn close(self) -> Result<()> {
        self.file
            .close()
            .await
            .map_err(|e| os_err("close", &self.path, e))
    }
}

impl DmaStorage {
    /// fsyncs a directory so that its entries survive power loss.
    async fn sync_dir_path(&self, dir: &Path) -> Result<()> {
        let shown = dir.display().to_string();
        let d = Directory::open(dir)
            .await
            .map_err(|e| os_err("open dir", &shown, e))?;
        d.sync().await.map_err(|e| os_err("fsync dir", &shown, e))?;
        d.close().await.map_err(|e| os_err("close dir", &shown, e))
    }
}

impl Storage for DmaStorage {
    type File = DmaFileHandle;

    async fn open(&self, path: &Path) -> Result<DmaFileHandle> {
        // A new file's directory entry is synced right away, so that syncing the file is enough
        // to find it after power loss (the in-memory backend promises the same).
        let existed = path.exists();
        let handle = DmaFileHandle::open(path).await?;
        if !existed {
            self.sync_dir_path(&parent_dir(path)).await?;
        }
        Ok(handle)
    }

    async fn create_dir_all(&self, path: &Path) -> Result<()> {
        // Remember which ancestors are new so their parents can be synced afterwards.
        let missing: Vec<PathBuf> = path
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty() && !a.exists())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(path).map_err(|e| std_err("create dir", path, e))?;
        for dir in missing.iter().rev() {
            self.sync_dir_path(&parent_dir(dir)).await?;
        }
        Ok(())
    }

    async fn remove_dir_all(&self, path: &Path) -> Result<()> {
        match std::fs::remove_dir_all(path) {
            Ok(()) => self.sync_dir_path(&parent_dir(path)).await,
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(std_err("remove dir", path, e)),
        }
    }

    async fn open_read(&self, path: &Path) -> Result<Option<DmaFileHandle>> {
        let shown = path.display().to_string();
        ensure_iopoll_probed(path).await?;
        match DmaFile::open(path).await {
            Ok(file) => Ok(Some(DmaFileHandle { file, path: shown })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(os_err("open", &shown, e)),
        }
    }

    async fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        let shown = path.display().to_string();
        ensure_iopoll_probed(path).await?;
        let file = match DmaFile::open(path).await {
            Ok(f) => f,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(os_err("open", &shown, e)),
        };
        let handle = DmaFileHandle { file, path: shown };
        let size = handle.size().await?;
        let len = usize::try_from(size)
            .map_err(|_| Error::Invalid(format!("{} is too large to read whole", handle.path)))?;
        let data = handle.read_at(0, len).await?;
        handle.close().await?;
        Ok(Some(data))
    }

    async fn write_file_atomic(&self, path: &Path, data: &[u8]) -> Result<()> {
        let tmp = tmp_path(path);
        let file = dma_open(
            &tmp,
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true),
            "create",
        )
        .await?;
        let handle = DmaFileHandle {
            file,
            path: tmp.display().to_string(),
        };
        // O_DIRECT needs whole blocks: pad with zeros, then cut the file to its exact length.
        // Data already in whole blocks (segments, indexes: tens of MB) is written as is: a
        // copy would hold the core for its page faults and double the memory for a moment.
        let align = handle.alignment() as usize;
        let padded;
        let blocks = if data.len().is_multiple_of(align) {
            data
        } else {
            let padded_len = data.len().div_ceil(align) * align;
            let mut p = Vec::with_capacity(padded_len);
            p.extend_from_slice(data);
            p.resize(padded_len, 0);
            padded = p;
            &padded[..]
        };
        handle.write_at(0, blocks).await?;
        handle.truncate(data.len() as u64).await?;
        handle.sync_data().await?;
        handle.close().await?;
        glommio::io::rename(&tmp, path)
            .await
            .map_err(|e| os_err("rename", &path.display().to_string(), e))?;
        self.sync_dir_path(&parent_dir(path)).await
    }

    async fn list_dir(&self, path: &Path) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(std_err("list dir", path, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| std_err("list dir", path, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    async fn sync_dir(&self, path: &Path) -> Result<()> {
        self.sync_dir_path(path).await
    }

    async fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        glommio::io::rename(from, to).await.map_err(|e| {
            os_err(
                "rename",
                &format!("{} -> {}", from.display(), to.display()),
                e,
            )
        })
    }

    async fn rename_dir(&self, from: &Path, to: &Path) -> Result<()> {
        let shown = || format!("{} -> {}", from.display(), to.display());
        if !from.is_dir() {
            return Err(Error::Invalid(format!(
                "rename dir {}: no such directory",
                shown()
            )));
        }
        // rename(2) would also replace an empty directory; the contract says `to` is new.
        if to.exists() {
            return Err(Error::Invalid(format!(
                "rename dir {}: target exists",
                shown()
            )));
        }
        glommio::io::rename(from, to)
            .await
            .map_err(|e| os_err("rename dir", &shown(), e))
    }

    async fn remove_file(&self, path: &Path) -> Result<()> {
        match glommio::io::remove(path).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(os_err("remove", &path.display().to_string(), e)),
        }
    }
}
