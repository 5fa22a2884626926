//! Opening a shard: the segments the manifest names (with their sidecars), then the log from
//! the manifest's `flushed_lsn + 1` replayed over them.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::path::Path;

use event_listener::Event;
use vexfs_io::Storage;

use super::manifest::{index_file_name, is_segment_file, Manifest};
use super::parts::{Parts, SegmentEntry};
use super::{OptimizerOptions, Shard, ShardOptions};
use crate::error::Result;
use crate::op::WriteOp;
use crate::schema::ShardSchema;
use crate::segment::{read_deleted, Segment, SegmentError};
use crate::wal::{open_dir, WalOptions};

impl<S: Storage + Clone> Shard<S> {
    /// Opens (or creates) the shard in `dir` and recovers it.
    pub async fn open(
        storage: &S,
        dir: &Path,
        schema: ShardSchema,
        options: ShardOptions,
    ) -> Result<Self> {
        assert!(options.flush_points > 0 && options.flush_chunk_points > 0);
        storage.create_dir_all(dir).await?;
        let manifest = Manifest::load(storage, dir).await?;
        let mut parts = Parts::new(schema.clone());
        for m in &manifest.segments {
            let path = dir.join(&m.file);
            let mut segment = Segment::open(storage, &path).await?;
            if segment.schema() != schema {
                return Err(SegmentError::Corrupt {
                    path: path.display().to_string(),
                    reason: "vector spaces differ from the collection's".into(),
                }
                .into());
            }
            if let Some(sidecar) = &m.deleted {
                let path = dir.join(sidecar);
                // The manifest names only sidecars that were durable before it was written.
                let Some(set) = read_deleted(storage, &path).await? else {
                    return Err(SegmentError::Missing {
                        path: path.display().to_string(),
                    }
                    .into());
                };
                segment.apply_deleted(&set)?;
            }
            parts.segments.push(SegmentEntry {
                persisted_deleted: segment.deleted().count(),
                segment,
                file: m.file.clone(),
                sidecar: m.deleted.clone(),
            });
        }
        remove_unreferenced(storage, dir, &manifest).await?;

        let wal_options = WalOptions {
            policy: options.policy,
            preallocate_bytes: options.wal_preallocate_bytes,
            ..WalOptions::default()
        };
        let log = open_dir(storage, dir, manifest.flushed_lsn + 1, wal_options).await?;
        for (lsn, record) in log.records {
            parts.apply(WriteOp::decode(&record)?, lsn);
        }
        Ok(Shard {
            storage: storage.clone(),
            dir: dir.to_path_buf(),
            options,
            schema,
            parts: RefCell::new(parts),
            wal: log.wal,
            manifest: RefCell::new(manifest),
            scratch: RefCell::new(Vec::new()),
            flushing: Cell::new(false),
            flush_wanted: Event::new(),
            closed: Cell::new(false),
            flush_ended: Event::new(),
            snapshot_pins: Cell::new(0),
            optimizer: Cell::new(OptimizerOptions::default()),
            optimizer_state: RefCell::new(Default::default()),
        })
    }
}

/// Removes segment files, sidecars and segment indexes the manifest does not name: the output
/// of a flush or optimization that did not reach its commit, the sidecars a later flush
/// replaced, the segments an optimization replaced, and their `.hnsw` files.
pub(super) async fn remove_unreferenced<S: Storage>(
    storage: &S,
    dir: &Path,
    manifest: &Manifest,
) -> Result<()> {
    let referenced: BTreeSet<String> = manifest
        .segments
        .iter()
        .flat_map(|m| std::iter::once(m.file.clone()).chain(m.deleted.clone()))
        .chain(manifest.segments.iter().map(|m| index_file_name(&m.file)))
        .collect();
    let mut removed = false;
    for name in storage.list_dir(dir).await? {
        if is_segment_file(&name) && !referenced.contains(&name) {
            storage.remove_file(&dir.join(&name)).await?;
            removed = true;
        }
    }
    if removed {
        storage.sync_dir(dir).await?;
    }
    Ok(())
}
