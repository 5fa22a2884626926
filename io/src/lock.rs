//! Exclusive ownership of a storage directory for the life of the process.
//!
//! Two servers writing the same shard files would corrupt each other's logs, so the storage
//! directory is locked (flock on `.lock`); the kernel drops the lock when the process dies,
//! however it dies.

use std::os::fd::AsRawFd;
use std::path::Path;

use crate::{Error, Result};

const LOCK_FILE_NAME: &str = ".lock";

pub struct DirLock {
    // Held open: closing the file would release the lock.
    _file: std::fs::File,
}

impl DirLock {
    /// Creates `dir` if needed, checks it is writable, and locks it.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let os = |op: &'static str, source: std::io::Error| Error::Os {
            op,
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| os("create directory", e))?;
        let path = dir.join(LOCK_FILE_NAME);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| os("open lock file in", e))?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::WouldBlock {
                return Err(Error::Invalid(format!(
                    "{} is in use by another vexfs-unified-server process",
                    dir.display()
                )));
            }
            return Err(os("lock", err));
        }
        Ok(DirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_on_same_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = DirLock::acquire(&dir.path().join("s")).expect("first");
        let second = DirLock::acquire(&dir.path().join("s"));
        assert!(matches!(second, Err(Error::Invalid(ref m)) if m.contains("in use")));
        drop(first);
        DirLock::acquire(&dir.path().join("s")).expect("free again");
    }
}
