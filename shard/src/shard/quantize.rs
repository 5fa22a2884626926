//! The indexer's quantization step: builds the `.quant` codes of segments whose columns the
//! settings want quantized (or quantized differently than built), after their graphs, on the
//! shard's own core, yielding between training steps and every
//! [`QUANT_BUILD_CHUNK_POINTS`] encoded points.
//!
//! Like a graph, a code file is derived data named after its segment and installed only if
//! that segment is still part of the shard when the build ends. A column whose config was
//! turned off ("Disabled") loses its codes: the file is rebuilt without it, or removed.

use std::collections::BTreeSet;

use vexfs_io::Storage;

use super::parts::SegmentEntry;
use super::Shard;
use crate::error::Result;
use crate::quant::{
    quant_file_name, sample_slots, write_quant, ColumnCodesBuilder, QuantConfig, QuantFileBuilder,
    QuantIndex,
};

/// Points encoded between two yields. Product codes cost the most: 256 centroids × `dim`
/// multiply-adds per vector, about 20 µs at 128 dimensions, so a chunk holds the core for
/// roughly 20 ms at most.
pub const QUANT_BUILD_CHUNK_POINTS: usize = 1_024;

/// One column of a segment to quantize.
struct QuantJob {
    column: usize,
    name: String,
    config: QuantConfig,
}

/// Key of a segment's failed code build in the shard's failure set (next to its graph's).
fn failed_key(file: &str) -> String {
    quant_file_name(file)
}

impl<S: Storage> Shard<S> {
    /// The first segment whose codes differ from what the settings want, with the columns
    /// it should have (empty: its codes are to be removed).
    fn next_to_quantize(&self) -> Option<(String, Vec<QuantJob>)> {
        let settings = self.index_settings.borrow();
        let parts = self.parts.borrow();
        let failed = self.index_failed.borrow();
        parts
            .segments
            .iter()
            .filter(|e| !failed.contains(&failed_key(&e.file)))
            .find_map(|e| {
                let seg = &e.segment;
                let built: BTreeSet<(String, (u8, u32))> = e
                    .quant
                    .iter()
                    .flat_map(|q| q.configs().map(|(n, c)| (n.to_owned(), c.key())))
                    .collect();
                let mut jobs = Vec::new();
                for (c, info) in seg.columns().iter().enumerate() {
                    // A deleted space's column gets no codes (reads ignore it); codes built
                    // before the delete are dropped by the rebuild this difference causes.
                    if !parts.mutable.space_visible(&info.name, seg.flushed_lsn()) {
                        continue;
                    }
                    // Cheap bound first (asked on every collection info request).
                    let Some(config) = settings.wants_quant(&info.name, seg.live_len(), info.dim)
                    else {
                        continue;
                    };
                    // Built with this config: it was above the threshold then, keep it.
                    if !built.contains(&(info.name.clone(), config.key())) {
                        let vectors = (0..seg.len() as u32)
                            .filter(|&s| seg.has_vector(c, s) && !seg.is_deleted(s))
                            .count();
                        if settings
                            .wants_quant(&info.name, vectors, info.dim)
                            .is_none()
                        {
                            continue;
                        }
                    }
                    jobs.push(QuantJob {
                        column: c,
                        name: info.name.clone(),
                        config,
                    });
                }
                let wanted: BTreeSet<(String, (u8, u32))> = jobs
                    .iter()
                    .map(|j| (j.name.clone(), j.config.key()))
                    .collect();
                (wanted != built).then(|| (e.file.clone(), jobs))
            })
    }

    /// Whether a segment waits for its quantized codes.
    pub(super) fn quantization_pending(&self) -> bool {
        self.next_to_quantize().is_some()
    }

    /// Builds (or removes) the codes of one segment that needs it. Returns false when no
    /// segment does (or the segment went away during the build).
    pub async fn quantize_next(&self) -> Result<bool> {
        let Some((file, jobs)) = self.next_to_quantize() else {
            return Ok(false);
        };
        match self.build_quant(&file, jobs).await {
            Ok(done) => Ok(done),
            Err(e) => {
                self.index_failed.borrow_mut().insert(failed_key(&file));
                Err(e)
            }
        }
    }

    /// Bytes of quantized codes held, and of the original vectors of the same columns.
    pub fn quantized_bytes(&self) -> (usize, usize) {
        let parts = self.parts.borrow();
        let mut quantized = 0;
        let mut original = 0;
        for e in &parts.segments {
            let Some(q) = &e.quant else { continue };
            quantized += q.quantized_bytes();
            for (name, _) in q.configs() {
                if let Some(c) = e.segment.column(name) {
                    original += e.segment.len() * e.segment.columns()[c].dim * 4;
                }
            }
        }
        (quantized, original)
    }

    async fn build_quant(&self, file: &str, jobs: Vec<QuantJob>) -> Result<bool> {
        let path = self.dir.join(quant_file_name(file));
        if jobs.is_empty() {
            // Quantization turned off for every column of this segment.
            self.check_open()?;
            let had = {
                let mut parts = self.parts.borrow_mut();
                match parts.segments.iter_mut().find(|e| e.file == file) {
                    Some(e) => e.quant.take().is_some(),
                    None => return Ok(false),
                }
            };
            if had && self.snapshot_pins.get() == 0 {
                self.storage.remove_file(&path).await?;
            }
            return Ok(true);
        }
        let (slots, mut out) = {
            let parts = self.parts.borrow();
            match parts.segments.iter().find(|e| e.file == file) {
                Some(e) => (e.segment.len(), QuantFileBuilder::new(&e.segment)),
                None => return Ok(false),
            }
        };
        for job in jobs {
            let (mut builder, sample) = {
                let parts = self.parts.borrow();
                let Some(e) = parts.segments.iter().find(|e| e.file == file) else {
                    return Ok(false);
                };
                let seg = &e.segment;
                let info = &seg.columns()[job.column];
                let builder =
                    ColumnCodesBuilder::new(&job.name, info.dim, info.distance, job.config, slots)?;
                let sample: Vec<f32> = sample_slots(seg, job.column)
                    .into_iter()
                    .filter_map(|s| seg.vector(job.column, s))
                    .flatten()
                    .copied()
                    .collect();
                (builder, sample)
            };
            for step in 0..builder.train_steps() {
                self.check_open()?;
                builder.train(&sample, step);
                self.options.pace.pause_if_needed().await;
            }
            drop(sample);
            let mut next = 0usize;
            while next < slots {
                self.check_open()?;
                let end = (next + QUANT_BUILD_CHUNK_POINTS).min(slots);
                {
                    let parts = self.parts.borrow();
                    let Some(e) = parts.segments.iter().find(|e| e.file == file) else {
                        return Ok(false);
                    };
                    for s in next as u32..end as u32 {
                        if let Some(v) = e.segment.vector(job.column, s) {
                            builder.encode(s, v);
                        }
                    }
                }
                next = end;
                self.options.pace.pause_if_needed().await;
            }
            out.add(builder)?;
        }
        let bytes = out.finish()?;
        if !self.may_write_derived()? {
            return Ok(false);
        }
        write_quant(&self.storage, &self.dir, &quant_file_name(file), &bytes).await?;
        let quant = QuantIndex::from_bytes(&path.display().to_string(), bytes)?;
        let install = |e: &mut SegmentEntry| {
            let fits = quant.check_segment(&e.segment).is_ok();
            if fits {
                e.quant = Some(quant);
            }
            fits
        };
        if !self
            .install_derived(file, &path, "stale quantized codes", install)
            .await
        {
            return Ok(false);
        }
        let (quantized, original) = self.quantized_bytes();
        tracing::info!(
            path = %path.display(),
            shard_quantized_bytes = quantized,
            shard_original_bytes = original,
            "quantized codes built"
        );
        Ok(true)
    }
}
