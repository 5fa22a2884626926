//! Flushing the mutable part to a new segment, in the background, while writes go on.
//!
//! Steps, and why a crash at any point loses nothing acknowledged (F = the freeze LSN):
//! 1. Freeze, synchronously: the mutable store becomes the frozen part (still read, never
//!    changed again; later writes mark its points deleted in a side set), a new empty store
//!    takes writes, the log is told to rotate at F, and the deletion sets of segments with
//!    unpersisted deletions are copied. All of this is the shard's state at exactly F.
//! 2. `sync_to(F)`: the segment and sidecars below describe the state at F, so every record up
//!    to F must be durable before any of them is: otherwise a crash could keep the effect of a
//!    lost record (a sidecar deleting a point whose overwrite was never synced).
//! 3. Create `wal-<F+1>.log`, make its name durable, switch the log to it. The old files now
//!    hold exactly the records up to F, all durable; records after F wait for the switch.
//! 4. Build the segment from the frozen store in id order, yielding every
//!    [`super::ShardOptions::flush_chunk_points`] points; write it atomically (temp file,
//!    fdatasync, rename, directory fsync). A crash here leaves an unreferenced file.
//! 5. Write the copied deletion sets as new sidecars (new names: the ones the manifest names
//!    are never overwritten). A crash here leaves unreferenced files.
//! 6. Write the manifest {flushed_lsn: F, segments + new sidecars}: the commit point. Before
//!    it, recovery uses the old manifest and replays the log (still complete) from the old
//!    flushed_lsn; after it, it opens the new set and replays from F + 1.
//! 7. Install the segment in place of the frozen part, applying the deletions made since the
//!    freeze (they are in log records after F, and go to a sidecar at the next flush).
//! 8. Remove the log files before F + 1 and the replaced sidecars. A crash here leaves files
//!    recovery removes.
//!
//! Any error fails the log: the shard keeps serving reads (the frozen part stays readable)
//! and refuses writes until it is reopened, which recovers from whatever step was reached.

use std::cell::Cell;
use std::collections::BTreeSet;

use vexfs_io::{File, Storage};

use super::manifest::{segment_file_name, sidecar_file_name, ManifestSegment};
use super::parts::{Frozen, SegmentEntry};
use super::recover::remove_unreferenced;
use super::Shard;
use crate::error::Result;
use crate::point_id::PointId;
use crate::segment::{write_deleted, write_segment, DeletedSet, Segment, SegmentBuilder};
use crate::wal::{remove_files_before, wal_file_name, Lsn, Wal};

/// What the freeze captured.
struct Freeze {
    lsn: Lsn,
    /// The log's current file holds records, so it is rotated at `lsn`.
    rotate: bool,
    /// `(segment index, its file name, its deletion set)` to persist.
    sidecars: Vec<(usize, String, DeletedSet)>,
}

/// Clears the shard's flushing flag however the flush ends. A flush whose future is dropped
/// half way leaves a rotation or a frozen part unfinished, so it fails the log (like a
/// cancelled WAL flush); reopening recovers.
struct FlushingGuard<'a, F: File> {
    flushing: &'a Cell<bool>,
    ended: &'a event_listener::Event,
    wal: &'a Wal<F>,
    armed: bool,
}

impl<F: File> Drop for FlushingGuard<'_, F> {
    fn drop(&mut self) {
        self.flushing.set(false);
        self.ended.notify(usize::MAX);
        if self.armed {
            self.wal.fail("a segment flush was cancelled half way");
        }
    }
}

impl<S: Storage> Shard<S> {
    /// Writes everything logged so far out as a new segment and truncates the log. Returns
    /// false when there was nothing to flush, a flush is already running or a snapshot is
    /// copying the files. Writes may go on
    /// meanwhile. An error fails the log (see the module docs).
    pub async fn flush(&self) -> Result<bool> {
        if self.flushing.get() || self.snapshot_pins.get() > 0 {
            return Ok(false);
        }
        self.wal.check()?;
        if self.wal.last_lsn() == self.manifest.borrow().flushed_lsn {
            return Ok(false);
        }
        self.flushing.set(true);
        let mut guard = FlushingGuard {
            flushing: &self.flushing,
            ended: &self.flush_ended,
            wal: &self.wal,
            armed: true,
        };
        let result = match self.freeze() {
            Ok(freeze) => self.flush_frozen(freeze).await,
            Err(e) => Err(e),
        };
        guard.armed = false;
        match result {
            Ok(()) => Ok(true),
            Err(e) => {
                self.wal.fail(&format!("segment flush failed: {e}"));
                Err(e)
            }
        }
    }

    /// Step 1: synchronous, so everything captured is the state at one LSN.
    fn freeze(&self) -> Result<Freeze> {
        // An empty current file (a shard just reopened after a flush) needs no rotation.
        let rotate = self.wal.file_first_lsn() <= self.wal.last_lsn();
        let lsn = if rotate {
            self.wal.begin_rotation()?
        } else {
            self.wal.last_lsn()
        };
        let mut parts = self.parts.borrow_mut();
        assert!(parts.frozen.is_none(), "a frozen part outlived its flush");
        let fresh = parts.mutable.fresh();
        let store = std::mem::replace(&mut parts.mutable, fresh);
        parts.frozen = Some(Frozen {
            store,
            deleted: BTreeSet::new(),
            lsn,
        });
        let sidecars = parts
            .segments
            .iter()
            .enumerate()
            .filter(|(_, e)| e.dirty())
            .map(|(i, e)| (i, e.file.clone(), e.segment.deleted().clone()))
            .collect();
        Ok(Freeze {
            lsn,
            rotate,
            sidecars,
        })
    }

    async fn flush_frozen(&self, freeze: Freeze) -> Result<()> {
        let f = freeze.lsn;
        // Step 2.
        self.wal.sync_to(f).await?;
        // Step 3.
        self.check_open()?;
        if freeze.rotate {
            let path = self.dir.join(wal_file_name(f + 1));
            let file = self.storage.open(&path).await?;
            self.storage.sync_dir(&self.dir).await?;
            if let Some(old) = self.wal.finish_rotation(file, path.display().to_string())? {
                old.close().await?;
            }
        }
        // Step 4.
        self.check_open()?;
        let built = self.build_segment(f).await?;
        if let Some((name, bytes)) = &built {
            write_segment(&self.storage, &self.dir, name, bytes).await?;
        }
        // Step 5.
        self.check_open()?;
        let mut sidecar_names = Vec::with_capacity(freeze.sidecars.len());
        for (i, file, set) in &freeze.sidecars {
            let name = sidecar_file_name(file, f);
            write_deleted(&self.storage, &self.dir.join(&name), set).await?;
            sidecar_names.push((*i, name, set.count()));
        }
        // Step 6.
        self.check_open()?;
        let mut manifest = self.manifest.borrow().clone();
        manifest.flushed_lsn = f;
        {
            // The spaces as of F: replay from F + 1 applies the later changes in order.
            let parts = self.parts.borrow();
            let frozen = parts.frozen.as_ref().expect("frozen during the flush");
            manifest.schema = Some(frozen.store.schema().clone());
            manifest.spaces_since = frozen.store.spaces_since().clone();
        }
        for (i, name, _) in &sidecar_names {
            manifest.segments[*i].deleted = Some(name.clone());
        }
        if let Some((name, _)) = &built {
            manifest.segments.push(ManifestSegment {
                file: name.clone(),
                deleted: None,
            });
        }
        manifest.store(&self.storage, &self.dir).await?;
        // Step 7: no await from here to the end of the install.
        let segment = match built {
            Some((name, bytes)) => {
                let path = self.dir.join(&name).display().to_string();
                Some((name, Segment::from_bytes(&path, bytes)?))
            }
            None => None,
        };
        {
            let mut parts = self.parts.borrow_mut();
            let frozen = parts.frozen.take().expect("frozen until installed");
            assert_eq!(frozen.lsn, f, "frozen part of another flush");
            for (i, name, count) in sidecar_names {
                let e = &mut parts.segments[i];
                e.sidecar = Some(name);
                e.persisted_deleted = count;
            }
            if let Some((file, mut segment)) = segment {
                let persisted_deleted = segment.deleted().count();
                for id in &frozen.deleted {
                    segment.delete(*id);
                }
                parts.segments.push(SegmentEntry {
                    segment,
                    file,
                    sidecar: None,
                    persisted_deleted,
                    index: None,
                    payload_index: None,
                    quant: None,
                    payload_index_version: 0,
                });
                // The spaces may have changed while it was built.
                parts.hide_stale_vectors();
            }
            *self.manifest.borrow_mut() = manifest.clone();
        }
        // Step 8: leftovers are harmless and removed again at open, so failing here only warns.
        if let Err(e) = remove_files_before(&self.storage, &self.dir, f + 1).await {
            tracing::warn!(dir = %self.dir.display(), "removing flushed log files: {e}");
        }
        if let Err(e) = remove_unreferenced(&self.storage, &self.dir, &manifest).await {
            tracing::warn!(dir = %self.dir.display(), "removing replaced sidecars: {e}");
        }
        Ok(())
    }

    /// Step 4: the frozen part as segment bytes (`None` when it holds no point), built in
    /// chunks of at most `flush_chunk_points`, cut short when the shard's [`super::Pace`]
    /// asks, with a pause between them. No borrow is held across a pause.
    async fn build_segment(
        &self,
        lsn: Lsn,
    ) -> Result<Option<(String, crate::segment::SegmentBytes)>> {
        let ids: Vec<PointId> = {
            let parts = self.parts.borrow();
            let frozen = parts.frozen.as_ref().expect("frozen during the flush");
            frozen.store.iter_from(None).map(|(id, _)| id).collect()
        };
        if ids.is_empty() {
            return Ok(None);
        }
        let schema = {
            let parts = self.parts.borrow();
            let frozen = parts.frozen.as_ref().expect("frozen during the flush");
            frozen.store.schema().clone()
        };
        let mut builder = SegmentBuilder::with_capacity(&schema, ids.len())?;
        let pace = self.options.pace;
        let mut next = 0;
        while next < ids.len() {
            let chunk_end = (next + self.options.flush_chunk_points.max(1)).min(ids.len());
            {
                let parts = self.parts.borrow();
                let store = &parts
                    .frozen
                    .as_ref()
                    .expect("frozen during the flush")
                    .store;
                while let Some(&id) = ids.get(next) {
                    // The frozen store never changes, so every id listed above is still there.
                    let slot = store
                        .slot(id)
                        .expect("frozen store changed during its flush");
                    let (vectors, payload, version) = store.parts_of(slot);
                    builder.push(id, version, vectors, payload)?;
                    next += 1;
                    if next == chunk_end || pace.should_yield() {
                        break;
                    }
                }
            }
            pace.pause_if_needed().await;
        }
        builder.set_flushed_lsn(lsn);
        let bytes = builder.finish_paced(self.options.pace).await?;
        Ok(Some((segment_file_name(lsn), bytes)))
    }
}
