//! The background indexer: builds the payload indexes (`payload_indexes.rs`) and HNSW graphs
//! of segments that lack them, on the shard's own core, pausing after at most
//! [`HNSW_BUILD_CHUNK_POINTS`] points, or earlier when the shard's [`super::Pace`] asks, so
//! requests keep being served.
//!
//! An index is derived data, never named by the manifest: it is written next to its segment
//! as `<segment file>.hnsw` and installed only if that segment is still part of the shard when
//! the build ends (a merge may have replaced it meanwhile; the stale file is then removed).
//! At open, a valid index file is loaded for each segment, an invalid one is logged, removed
//! and rebuilt here.

use std::cell::Cell;
use std::path::Path;
use std::rc::Weak;

use vexfs_io::Storage;

use super::parts::SegmentEntry;
use super::Shard;
use crate::error::Result;
use crate::hnsw::{
    index_file_name, write_index, HnswBuilder, HnswConfig, HnswFileBuilder, HnswIndex,
    IndexSettings,
};

/// Points inserted into a graph between two yields to the executor. An insert at M = 16,
/// ef_construct = 100 into a 100 000 × 128 graph costs 0.3–0.8 ms (measured with
/// `hnsw::tests_bench`: a beam search plus the neighbour heuristic on up to 2M lists), so a
/// chunk holds the core for roughly 20–50 ms at most.
pub const HNSW_BUILD_CHUNK_POINTS: usize = 64;

/// What the indexer has done since the shard was opened (tests and stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Index files loaded from disk at open.
    pub loaded: usize,
    /// Indexes built and installed.
    pub built: usize,
    /// Index files refused at open (removed, to be rebuilt).
    pub refused: usize,
}

/// Counters kept by the shard.
#[derive(Default)]
pub(super) struct IndexCounters {
    pub loaded: Cell<usize>,
    pub built: Cell<usize>,
    pub refused: Cell<usize>,
}

/// One column of a segment to build a graph for.
struct ColumnJob {
    column: usize,
    name: String,
    config: HnswConfig,
}

impl<S: Storage> Shard<S> {
    /// Replaces the index settings (collection config or a PATCH of it). Segments indexed
    /// later and searches started later use them; built graphs are kept.
    pub fn set_index_settings(&self, settings: IndexSettings) {
        *self.index_settings.borrow_mut() = settings;
        self.index_wanted.notify(usize::MAX);
    }

    pub fn index_settings(&self) -> IndexSettings {
        self.index_settings.borrow().clone()
    }

    pub fn index_stats(&self) -> IndexStats {
        IndexStats {
            loaded: self.index_counters.loaded.get(),
            built: self.index_counters.built.get(),
            refused: self.index_counters.refused.get(),
        }
    }

    /// Vectors of every column held in graphs (Qdrant's `indexed_vectors_count`).
    pub fn indexed_vectors_count(&self) -> usize {
        let parts = self.parts.borrow();
        parts
            .segments
            .iter()
            .filter_map(|e| Some((e.index.as_ref()?, e.segment.flushed_lsn())))
            .map(|(i, lsn)| {
                // Graphs of a deleted space's column stay until the segment is rewritten.
                i.columns()
                    .filter(|c| parts.mutable.space_visible(c, lsn))
                    .filter_map(|c| i.graph(c))
                    .map(|g| g.indexed())
                    .sum::<usize>()
            })
            .sum()
    }

    /// Segments with a graph (tests and stats).
    pub fn indexed_segment_count(&self) -> usize {
        let parts = self.parts.borrow();
        parts.segments.iter().filter(|e| e.index.is_some()).count()
    }

    /// Whether a segment waits for its graphs (or is being indexed): Qdrant reports such a
    /// collection as `yellow`.
    pub fn indexing_pending(&self) -> bool {
        self.next_to_index().is_some() || self.quantization_pending()
    }

    /// Wakes the indexer (a new segment was installed, or settings changed).
    pub fn wake_indexer(&self) {
        self.index_wanted.notify(usize::MAX);
    }

    /// The first segment without an index whose columns the settings want graphs for.
    fn next_to_index(&self) -> Option<(String, Vec<ColumnJob>)> {
        let settings = self.index_settings.borrow();
        let parts = self.parts.borrow();
        let failed = self.index_failed.borrow();
        parts
            .segments
            .iter()
            .filter(|e| e.index.is_none() && !failed.contains(&e.file))
            .find_map(|e| {
                let seg = &e.segment;
                let jobs: Vec<ColumnJob> = seg
                    .columns()
                    .iter()
                    .enumerate()
                    // A deleted space's column gets no graph (reads ignore it).
                    .filter(|(_, info)| parts.mutable.space_visible(&info.name, seg.flushed_lsn()))
                    .filter_map(|(c, info)| {
                        // Cheap bound first: segments below the threshold are asked about on
                        // every wake and every collection info request.
                        settings.wants_graph(&info.name, seg.live_len(), info.dim)?;
                        // Live vectors decide (deleted ones are not indexed either).
                        let vectors = (0..seg.len() as u32)
                            .filter(|&s| seg.has_vector(c, s) && !seg.is_deleted(s))
                            .count();
                        settings
                            .wants_graph(&info.name, vectors, info.dim)
                            .map(|config| ColumnJob {
                                column: c,
                                name: info.name.clone(),
                                config,
                            })
                    })
                    .collect();
                (!jobs.is_empty()).then(|| (e.file.clone(), jobs))
            })
    }

    /// Builds, writes and installs the index of one segment that needs one. Returns false
    /// when no segment does (or the segment went away during the build).
    pub async fn index_next(&self) -> Result<bool> {
        let Some((file, jobs)) = self.next_to_index() else {
            return Ok(false);
        };
        match self.build_index(&file, jobs).await {
            Ok(done) => Ok(done),
            Err(e) => {
                // Do not retry this segment in a loop; a reopen tries again.
                self.index_failed.borrow_mut().insert(file);
                Err(e)
            }
        }
    }

    async fn build_index(&self, file: &str, jobs: Vec<ColumnJob>) -> Result<bool> {
        let (slots, mut out) = {
            let parts = self.parts.borrow();
            match parts.segments.iter().find(|e| e.file == file) {
                Some(e) => (e.segment.len(), HnswFileBuilder::new(&e.segment)),
                None => return Ok(false),
            }
        };
        let pace = self.options.pace;
        for job in jobs {
            let mut builder = None;
            let mut next = 0usize;
            while next < slots {
                self.check_open()?;
                let end = (next + HNSW_BUILD_CHUNK_POINTS).min(slots);
                {
                    let parts = self.parts.borrow();
                    let Some(e) = parts.segments.iter().find(|e| e.file == file) else {
                        return Ok(false);
                    };
                    let seg = &e.segment;
                    let info = &seg.columns()[job.column];
                    let b = match &mut builder {
                        Some(b) => b,
                        None => builder.insert(HnswBuilder::new(
                            &job.name,
                            info.dim,
                            info.distance,
                            job.config,
                            slots,
                        )?),
                    };
                    let Some((data, _)) = seg.column_data(job.column) else {
                        return Ok(false);
                    };
                    while next < end {
                        let s = next as u32;
                        next += 1;
                        if seg.has_vector(job.column, s) && !seg.is_deleted(s) {
                            b.insert(data, s);
                            if pace.should_yield() {
                                break;
                            }
                        }
                    }
                }
                pace.pause_if_needed().await;
            }
            if let Some(b) = builder {
                out.add(b)?;
            }
        }
        let bytes = out.finish()?;
        let name = index_file_name(file);
        if !self.may_write_derived()? {
            return Ok(false);
        }
        write_index(&self.storage, &self.dir, &name, &bytes).await?;
        let path = self.dir.join(&name);
        let index = HnswIndex::from_bytes(&path.display().to_string(), bytes)?;
        let install = |e: &mut SegmentEntry| {
            let fits = index.check_segment(&e.segment).is_ok();
            if fits {
                e.index = Some(index);
            }
            fits
        };
        if !self
            .install_derived(file, &path, "a stale index", install)
            .await
        {
            return Ok(false);
        }
        self.index_counters
            .built
            .set(self.index_counters.built.get() + 1);
        tracing::info!(path = %path.display(), "hnsw index built");
        Ok(true)
    }

    /// Whether a finished build may write its file now (an error once the shard closed). Not
    /// while a snapshot is copying the directory, or it is about to be replaced
    /// (`stop_flushing`): nothing is written into it, and the next wake builds again.
    pub(super) fn may_write_derived(&self) -> Result<bool> {
        self.check_open()?;
        Ok(self.snapshot_pins.get() == 0)
    }

    /// Hands segment `file`'s entry to `install`, which puts a freshly written derived file
    /// (graphs, codes) into it if the file fits the segment. When the segment was merged away
    /// during the build, or the file does not fit, the file at `path` belongs to nothing and
    /// is removed (`stale` names it in the warning should that fail). True when installed.
    pub(super) async fn install_derived(
        &self,
        file: &str,
        path: &Path,
        stale: &str,
        install: impl FnOnce(&mut SegmentEntry) -> bool,
    ) -> bool {
        let installed = {
            let mut parts = self.parts.borrow_mut();
            parts
                .segments
                .iter_mut()
                .find(|e| e.file == file)
                .is_some_and(install)
        };
        if !installed {
            if let Err(e) = self.storage.remove_file(path).await {
                tracing::warn!(path = %path.display(), "removing {stale}: {e}");
            }
        }
        installed
    }
}

/// Builds missing indexes whenever a flush ends or the settings change, until the shard is
/// dropped or closed. Spawn one per shard on its owning core (next to [`super::run_flusher`]).
/// A failed build is logged and that segment skipped until the shard is reopened.
pub async fn run_indexer<S: Storage>(shard: Weak<Shard<S>>) {
    loop {
        let (flushed, wanted) = {
            let Some(s) = shard.upgrade() else { return };
            if s.is_closed() {
                return;
            }
            let listeners = (s.flush_ended.listen(), s.index_wanted.listen());
            // Payload indexes first: one pass over payloads each, and they speed up every
            // filtered read at once.
            if s.payload_index_next() {
                let pace = s.options.pace;
                drop(s);
                pace.pause_if_needed().await;
                continue;
            }
            match s.index_next().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(dir = %s.dir.display(), "building an hnsw index failed: {e}");
                    continue;
                }
            }
            // Quantized codes after the graphs (a segment is searchable without them).
            match s.quantize_next().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(dir = %s.dir.display(), "quantizing a segment failed: {e}");
                    continue;
                }
            }
            listeners
        };
        futures_lite::future::or(flushed, wanted).await;
    }
}
