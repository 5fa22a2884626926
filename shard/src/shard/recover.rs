//! Opening a shard: the segments the manifest names (with their sidecars and HNSW indexes),
//! then the log from the manifest's `flushed_lsn + 1` replayed over them.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::path::Path;

use event_listener::Event;
use vexfs_io::Storage;

use super::index::IndexCounters;
use super::manifest::{is_segment_file, Manifest};
use super::parts::{Parts, SegmentEntry};
use super::{OptimizerOptions, Shard, ShardOptions};
use crate::error::Result;
use crate::hnsw::{index_file_name, segment_of_index_file, HnswIndex, IndexSettings};
use crate::op::WriteOp;
use crate::quant::{quant_file_name, segment_of_quant_file, QuantError, QuantIndex};
use crate::schema::ShardSchema;
use crate::segment::{read_deleted, Segment, SegmentError};
use crate::store::PointStore;
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
        let mut parts = Parts::new(ShardSchema::default());
        // Replay starts from the spaces as of the flushed LSN; the log's schema changes
        // follow in order.
        parts.mutable = PointStore::with_since(
            manifest.schema.clone().unwrap_or_else(|| schema.clone()),
            manifest.spaces_since.clone(),
        );
        let counters = IndexCounters::default();
        for m in &manifest.segments {
            let path = dir.join(&m.file);
            let mut segment = Segment::open(storage, &path).await?;
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
            let index = load_index(storage, dir, &m.file, &segment, &counters).await?;
            let quant = load_quant(storage, dir, &m.file, &segment).await?;
            parts.segments.push(SegmentEntry {
                persisted_deleted: segment.deleted().count(),
                segment,
                file: m.file.clone(),
                sidecar: m.deleted.clone(),
                index,
                quant,
                payload_index: None,
                payload_index_version: 0,
            });
        }
        remove_unreferenced(storage, dir, &manifest).await?;
        remove_index_temp_files(storage, dir).await?;

        let wal_options = WalOptions {
            policy: options.policy,
            preallocate_bytes: options.wal_preallocate_bytes,
            ..WalOptions::default()
        };
        let log = open_dir(storage, dir, manifest.flushed_lsn + 1, wal_options).await?;
        for (lsn, record) in log.records {
            parts.apply(WriteOp::decode(&record)?, lsn);
        }
        // The catalog's spaces are the truth: it is written before the shards are told, so
        // a crash in between leaves a shard behind, and it catches up here (logged, so the
        // next replay ends the same way).
        if parts.mutable.schema() != &schema {
            let op = WriteOp::SetSchema(schema.clone());
            let mut bytes = Vec::new();
            op.encode(&mut bytes);
            let lsn = log.wal.append(&bytes)?;
            log.wal.sync_to(lsn).await?;
            parts.apply(op, lsn);
        }
        check_segment_columns(&parts)?;
        parts.hide_stale_vectors();
        Ok(Shard {
            storage: storage.clone(),
            dir: dir.to_path_buf(),
            options,
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
            index_settings: RefCell::new(IndexSettings::default()),
            index_wanted: Event::new(),
            index_counters: counters,
            index_failed: RefCell::new(BTreeSet::new()),
            // Version 1 of "no definitions": segments (version 0) get their (empty) index
            // recorded on the indexer's first pass.
            payload_defs: RefCell::new((1, Vec::new())),
        })
    }
}

/// Refuses segments whose column of a current space (one not hidden as older than the
/// space) has another kind, dimension or metric than the space: reading it as the space
/// would mix vectors of different shapes.
fn check_segment_columns(parts: &Parts) -> Result<()> {
    let current = parts.mutable.schema();
    for e in &parts.segments {
        let lsn = e.segment.flushed_lsn();
        let had = e.segment.schema();
        let visible = |name: &str| parts.mutable.space_visible(name, lsn);
        let dense_ok = had
            .vectors
            .iter()
            .filter(|v| visible(&v.name))
            .all(|v| current.spec(&v.name).ok() == Some(v));
        let sparse_ok = had
            .sparse
            .iter()
            .filter(|v| visible(&v.name))
            .all(|v| current.sparse_spec(&v.name).is_some());
        let multi_ok = had
            .multi
            .iter()
            .filter(|v| visible(&v.name))
            .all(|v| current.multi_spec(&v.name) == Some(v));
        if !(dense_ok && sparse_ok && multi_ok) {
            return Err(SegmentError::Corrupt {
                path: e.segment.path().to_owned(),
                reason: "vector spaces differ from the collection's".into(),
            }
            .into());
        }
    }
    Ok(())
}

/// The index of `file` if a valid one is on disk. A damaged or mismatched one is logged and
/// removed (the indexer rebuilds it); only I/O errors other than a missing file fail the open.
async fn load_index<S: Storage>(
    storage: &S,
    dir: &Path,
    file: &str,
    segment: &Segment,
    counters: &IndexCounters,
) -> Result<Option<HnswIndex>> {
    let path = dir.join(index_file_name(file));
    let refused = match HnswIndex::open(storage, &path).await {
        Ok(None) => return Ok(None),
        Ok(Some(index)) => match index.check_segment(segment) {
            Ok(()) => {
                counters.loaded.set(counters.loaded.get() + 1);
                return Ok(Some(index));
            }
            Err(e) => e,
        },
        Err(crate::hnsw::HnswError::Io { source, .. }) => return Err(source.into()),
        Err(e) => e,
    };
    tracing::warn!("{refused}; removing it, it will be rebuilt");
    counters.refused.set(counters.refused.get() + 1);
    storage.remove_file(&path).await?;
    storage.sync_dir(dir).await?;
    Ok(None)
}

/// The quantized codes of `file` if a valid file is on disk; a damaged or mismatched one is
/// logged and removed (the indexer rebuilds it), as for graphs.
async fn load_quant<S: Storage>(
    storage: &S,
    dir: &Path,
    file: &str,
    segment: &Segment,
) -> Result<Option<QuantIndex>> {
    let path = dir.join(quant_file_name(file));
    let refused = match QuantIndex::open(storage, &path).await {
        Ok(None) => return Ok(None),
        Ok(Some(q)) => match q.check_segment(segment) {
            Ok(()) => return Ok(Some(q)),
            Err(e) => e,
        },
        Err(QuantError::Io { source, .. }) => return Err(source.into()),
        Err(e) => e,
    };
    tracing::warn!("{refused}; removing it, it will be rebuilt");
    storage.remove_file(&path).await?;
    storage.sync_dir(dir).await?;
    Ok(None)
}

/// Removes temp files of index writes cut short (no indexer runs during an open).
async fn remove_index_temp_files<S: Storage>(storage: &S, dir: &Path) -> Result<()> {
    for name in storage.list_dir(dir).await? {
        if is_segment_file(&name) && (name.ends_with(".hnsw.tmp") || name.ends_with(".quant.tmp")) {
            storage.remove_file(&dir.join(&name)).await?;
        }
    }
    Ok(())
}

/// Removes segment files, sidecars and indexes the manifest does not name (directly, or as
/// the segment of an index): the output of a flush that did not reach its commit, the
/// sidecars a later flush replaced, the indexes of segments merged away. An index being
/// written (`<segment>.hnsw.tmp`) of a named segment is kept: the indexer may be writing it.
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
        .chain(manifest.segments.iter().map(|m| quant_file_name(&m.file)))
        .collect();
    let mut removed = false;
    for name in storage.list_dir(dir).await? {
        let bare = name.strip_suffix(".tmp").unwrap_or(&name);
        let index_of = segment_of_index_file(bare).or_else(|| segment_of_quant_file(bare));
        if index_of.is_some_and(|seg| referenced.contains(seg)) {
            continue;
        }
        if is_segment_file(&name) && !referenced.contains(name.as_str()) {
            storage.remove_file(&dir.join(&name)).await?;
            removed = true;
        }
    }
    if removed {
        storage.sync_dir(dir).await?;
    }
    Ok(())
}
