//! An open in-memory file. Every operation checks the handle is still alive (no crash since it
//! was opened), that power is on, and rolls for its injected fault.

use std::cell::RefCell;
use std::rc::Rc;

use super::state::{FileId, Inner};
use super::yield_now;
use crate::{Error, File, Result};

/// Handle returned by [`super::MemStorage::open`].
pub struct MemFile {
    pub(crate) inner: Rc<RefCell<Inner>>,
    pub(crate) id: FileId,
    pub(crate) generation: u64,
    pub(crate) path: String,
}

impl std::fmt::Debug for MemFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemFile")
            .field("path", &self.path)
            .field("id", &self.id)
            .finish()
    }
}

impl MemFile {
    pub fn path(&self) -> &str {
        &self.path
    }

    fn injected(&self, op: &'static str) -> Error {
        Error::Injected {
            op,
            path: self.path.clone(),
        }
    }

    /// Common checks before any operation; returns the borrowed state on success.
    fn live(&self, op: &'static str) -> Result<std::cell::RefMut<'_, Inner>> {
        let mut inner = self.inner.borrow_mut();
        if inner.generation != self.generation {
            return Err(Error::Invalid(format!(
                "{op} {}: handle opened before a crash is dead",
                self.path
            )));
        }
        inner.check_power(op, &self.path)?;
        if !inner.files.contains_key(&self.id) {
            return Err(Error::Invalid(format!("{op} {}: file is gone", self.path)));
        }
        Ok(inner)
    }

    async fn io_delay(&self) {
        let yields = self.inner.borrow().io_yields;
        for _ in 0..yields {
            yield_now().await;
        }
    }
}

impl File for MemFile {
    async fn read_at(&self, pos: u64, len: usize) -> Result<Vec<u8>> {
        let mut inner = self.live("read")?;
        let p = inner.faults.read_eio;
        if inner.fault(p) {
            return Err(self.injected("read"));
        }
        let content = &inner.files[&self.id].current;
        let start = usize::try_from(pos)
            .unwrap_or(usize::MAX)
            .min(content.len());
        let end = start.saturating_add(len).min(content.len());
        Ok(content[start..end].to_vec())
    }

    async fn write_at(&self, pos: u64, data: &[u8]) -> Result<()> {
        {
            let inner = self.live("write")?;
            let align = inner.alignment;
            // Enforced like O_DIRECT (EINVAL) so misaligned writers fail in tests, not in prod.
            if !pos.is_multiple_of(align) || !(data.len() as u64).is_multiple_of(align) {
                return Err(Error::Invalid(format!(
                    "unaligned direct write to {}: offset {pos}, length {}, alignment {align}",
                    self.path,
                    data.len()
                )));
            }
        }
        self.io_delay().await;
        let mut inner = self.live("write")?;
        let torn = inner.faults.torn_write;
        let eio = inner.faults.write_eio;
        let power_loss = inner.fault(torn);
        if power_loss || inner.fault(eio) {
            // Either way only a prefix reached the device before the failure.
            let n = inner.rng.below(data.len() as u64 + 1) as usize;
            let id = self.id;
            if let Some(f) = inner.files.get_mut(&id) {
                f.write(pos, &data[..n]);
            }
            if power_loss {
                inner.powered_off = true;
                return Err(self.injected("write (power lost)"));
            }
            return Err(self.injected("write"));
        }
        let id = self.id;
        if let Some(f) = inner.files.get_mut(&id) {
            f.write(pos, data);
        }
        inner.stats.writes += 1;
        inner.stats.bytes_written += data.len() as u64;
        Ok(())
    }

    async fn sync_data(&self) -> Result<()> {
        drop(self.live("fdatasync")?);
        self.io_delay().await;
        let mut inner = self.live("fdatasync")?;
        let p = inner.faults.sync_eio;
        if inner.fault(p) {
            // Like Linux after a failed fsync: the data is not durable and the caller cannot
            // know what reached the device; pending changes keep their crash-time fate.
            return Err(self.injected("fdatasync"));
        }
        let id = self.id;
        if let Some(f) = inner.files.get_mut(&id) {
            f.sync();
        }
        inner.persist_names_of(id);
        inner.stats.syncs += 1;
        Ok(())
    }

    async fn size(&self) -> Result<u64> {
        let inner = self.live("stat")?;
        Ok(inner.files[&self.id].current.len() as u64)
    }

    async fn truncate(&self, len: u64) -> Result<()> {
        let mut inner = self.live("truncate")?;
        let id = self.id;
        if let Some(f) = inner.files.get_mut(&id) {
            f.resize(len);
        }
        Ok(())
    }

    async fn preallocate(&self, _len: u64) -> Result<()> {
        // Space is not modelled; only the liveness checks apply.
        drop(self.live("fallocate")?);
        Ok(())
    }

    fn alignment(&self) -> u64 {
        self.inner.borrow().alignment
    }

    async fn close(self) -> Result<()> {
        Ok(())
    }
}
