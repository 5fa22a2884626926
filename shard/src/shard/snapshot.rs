//! A point-in-time copy of a shard's files, taken while writes go on.
//!
//! [`Shard::snapshot_files`] fixes one LSN D and lists the files whose contents, copied, make a
//! shard directory that opens to exactly the state after record D:
//! - the committed manifest (as bytes: the copy must not depend on when the file is read);
//! - every segment and sidecar it names: immutable once named;
//! - the derived files of those segments present at that moment (`<segment>.hnsw` graphs and
//!   any other `<segment>.<ext>` but sidecars and temp files): written once under a temp name
//!   and renamed, removed only with their segment (held off) or at open, so a listed one is
//!   complete and stays. A recovered shard then loads them instead of rebuilding;
//! - every log file before the current one: complete and durable since its rotation;
//! - the current log file cut at the end of record D and padded with zeros to its block
//!   size (zeros read as the end of the log).
//!
//! Why this is consistent:
//! - Flushes are the only thing that changes the manifest, removes log files or sidecars and
//!   rotates the log. The snapshot waits for a running flush to end and then holds a pin that
//!   keeps new flushes from starting until the returned [`ShardSnapshot`] is dropped. Writes
//!   are not stopped: they go on into the mutable part and the log (which may grow past the
//!   flush threshold meanwhile).
//! - `sync_to(last_lsn)` makes everything appended so far durable, then D, the byte end of D
//!   in the current file and the manifest are read together without an await, so they
//!   describe one instant. The manifest's segments hold every write up to its `flushed_lsn`;
//!   the log files hold `flushed_lsn + 1 ..= D` (files before the flush point are leftovers
//!   recovery removes).
//! - Bytes of the current file below D's end are never rewritten with different contents: a
//!   later WAL flush rewrites the partly filled last block from its aligned start with the
//!   same prefix followed by newer records. A copy of the prefix is therefore exact even if it
//!   races with that write, and the padding zeros hide whatever follows.

use std::path::PathBuf;

use vexfs_io::Storage;

use super::manifest::MANIFEST_FILE_NAME;
use super::Shard;
use crate::error::Result;
use crate::wal::{parse_wal_file_name, Lsn, WalError};

/// How much of a file goes into the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotCopy {
    /// All of it (the file no longer changes).
    Whole,
    /// Its first `bytes`, then zeros up to `padded` bytes.
    Prefix { bytes: u64, padded: u64 },
}

/// One file of the shard directory to copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// Name inside the shard directory.
    pub name: String,
    pub copy: SnapshotCopy,
}

/// The files of a shard as of one LSN. Flushes of the shard wait until this is dropped, so
/// copy the files and drop it promptly.
pub struct ShardSnapshot<'a, S: Storage> {
    shard: &'a Shard<S>,
    /// The shard directory the files are in.
    pub dir: PathBuf,
    /// Every write up to this LSN is in the copy, none after it.
    pub lsn: Lsn,
    /// Contents of `manifest.json` for the copy.
    pub manifest: Vec<u8>,
    /// Segment, sidecar, derived (index) and log files, in name order (not the manifest).
    pub files: Vec<SnapshotFile>,
}

impl<S: Storage> Drop for ShardSnapshot<'_, S> {
    fn drop(&mut self) {
        self.shard.unpin_for_snapshot();
    }
}

/// Releases the pin when taking the snapshot fails half way.
struct Pin<'a, S: Storage> {
    shard: Option<&'a Shard<S>>,
}

impl<S: Storage> Drop for Pin<'_, S> {
    fn drop(&mut self) {
        if let Some(shard) = self.shard {
            shard.unpin_for_snapshot();
        }
    }
}

impl<S: Storage> Shard<S> {
    /// Fixes a point in time and lists the files that hold the shard as of it (see the module
    /// docs). Fails when the log has failed (its durable end is then unknown).
    pub async fn snapshot_files(&self) -> Result<ShardSnapshot<'_, S>> {
        // A running flush is about to change the manifest and remove files: let it finish.
        self.wait_for_flush().await;
        self.snapshot_pins.set(self.snapshot_pins.get() + 1);
        let mut pin = Pin { shard: Some(self) };
        self.wal.check()?;
        self.wal.sync_to(self.wal.last_lsn()).await?;
        // From here to the end of the capture: no await.
        let Some((lsn, end)) = self.wal.durable_end() else {
            // Only a flush rotates the log, and flushes are held off.
            return Err(WalError::Failed {
                path: self.wal.path(),
                cause: "log rotation pending during a snapshot".into(),
            }
            .into());
        };
        let current = self.wal.file_first_lsn();
        let manifest = self.manifest.borrow().clone();
        let align = self.wal.alignment();
        let manifest_bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| crate::segment::SegmentError::Serialize(format!("manifest: {e}")))?;
        // Listing may await, but no file it finds changes while pinned, and log files only
        // appear through rotations, which are held off too.
        let names = self.storage.list_dir(&self.dir).await?;
        let mut files = Vec::new();
        for m in &manifest.segments {
            files.push(SnapshotFile {
                name: m.file.clone(),
                copy: SnapshotCopy::Whole,
            });
            if let Some(sidecar) = &m.deleted {
                files.push(SnapshotFile {
                    name: sidecar.clone(),
                    copy: SnapshotCopy::Whole,
                });
            }
        }
        for name in names {
            if manifest
                .segments
                .iter()
                .any(|m| is_derived_file_of(&name, &m.file))
            {
                files.push(SnapshotFile {
                    name,
                    copy: SnapshotCopy::Whole,
                });
                continue;
            }
            let Some(first) = parse_wal_file_name(&name) else {
                continue;
            };
            let copy = match first.cmp(&current) {
                std::cmp::Ordering::Less => SnapshotCopy::Whole,
                std::cmp::Ordering::Equal => SnapshotCopy::Prefix {
                    bytes: end,
                    padded: end.div_ceil(align) * align,
                },
                // Cannot happen while pinned; a file past the current one holds nothing ≤ D.
                std::cmp::Ordering::Greater => continue,
            };
            files.push(SnapshotFile { name, copy });
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        debug_assert!(files.iter().all(|f| f.name != MANIFEST_FILE_NAME));
        pin.shard = None;
        Ok(ShardSnapshot {
            shard: self,
            dir: self.dir.clone(),
            lsn,
            manifest: manifest_bytes,
            files,
        })
    }

    /// Waits for a running flush to end and keeps every later one from starting, for good.
    /// For a shard whose directory is about to be moved or replaced: a flush works on paths
    /// (new log file, segment, manifest, removals) and would act on whatever they name then.
    pub async fn stop_flushing(&self) {
        self.wait_for_flush().await;
        self.snapshot_pins.set(self.snapshot_pins.get() + 1);
    }

    async fn wait_for_flush(&self) {
        while self.flushing.get() {
            let ended = self.flush_ended.listen();
            if !self.flushing.get() {
                break;
            }
            ended.await;
        }
    }

    fn unpin_for_snapshot(&self) {
        self.snapshot_pins.set(self.snapshot_pins.get() - 1);
        // A flush held off by the pin may be due now.
        self.flush_wanted.notify(usize::MAX);
    }
}

/// Whether `name` is a file derived from `segment` (`<segment>.<ext>`: its HNSW graphs, its
/// quantized vectors…): one extension, no dot in it (a temp file `<segment>.hnsw.tmp` may be
/// half written), and not a deletion sidecar (`<segment>.del-<lsn>`: only the one the
/// manifest names belongs to the snapshot, and it is listed with the segment).
fn is_derived_file_of(name: &str, segment: &str) -> bool {
    name.strip_prefix(segment)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|ext| !ext.is_empty() && !ext.contains('.') && !ext.starts_with("del-"))
}

#[cfg(test)]
mod tests {
    use super::is_derived_file_of;

    #[test]
    fn derived_files_are_one_extension_but_sidecars_and_temp_files() {
        let seg = "seg-12.seg";
        assert!(is_derived_file_of("seg-12.seg.hnsw", seg));
        assert!(is_derived_file_of("seg-12.seg.quant", seg));
        assert!(!is_derived_file_of("seg-12.seg", seg));
        assert!(!is_derived_file_of("seg-12.seg.", seg));
        assert!(!is_derived_file_of("seg-12.seg.hnsw.tmp", seg));
        assert!(!is_derived_file_of("seg-12.seg.del-40", seg));
        assert!(!is_derived_file_of("seg-12.segx.hnsw", seg));
        assert!(!is_derived_file_of("seg-123.seg.hnsw", seg));
    }
}
