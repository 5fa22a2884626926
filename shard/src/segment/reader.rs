//! An open segment: the file in one aligned buffer, validated once, read in place.

use std::path::Path;

use rkyv::rancor;
use rkyv::util::AlignedVec;
use vexfs_io::Storage;

use super::bitmap::DeletedSet;
use super::builder::SegmentBytes;
use super::error::SegmentError;
use super::format::{
    bit, check_body, distance_from_code, f32s, id_at, u128s, u32s, u64s, verify_file, ArchivedBody,
    SEGMENT_BUFFER_ALIGN_BYTES, SEGMENT_HEADER_BYTES,
};
use crate::distance::Metric;
use crate::op::Payload;
use crate::point_id::PointId;
use crate::schema::{Distance, MultiSpec, ShardSchema, SparseSpec, VectorSpec};
use crate::score::{Nearest, Scorer};
use crate::select::{PayloadSelector, Record, VectorSelector};
use crate::sparse::postings::PostingsRef;
use crate::store::{SearchParams, SparseStats};
use crate::topk::TopK;
use crate::vector::{max_sim, MultiVector, SparseVector, Vector, VectorRef};

/// One vector space stored in a segment.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub dim: usize,
    pub distance: Distance,
}

pub struct Segment {
    /// Named in every error.
    path: String,
    /// The whole file. Never mutated after validation: `body()` relies on it.
    buf: AlignedVec<SEGMENT_BUFFER_ALIGN_BYTES>,
    body_len: usize,
    len: u32,
    flushed_lsn: u64,
    columns: Vec<ColumnInfo>,
    /// Names of the sparse spaces, in file order.
    sparse: Vec<String>,
    /// Multivector spaces, in file order.
    multi: Vec<ColumnInfo>,
    /// The file's own deletion bitmap plus every deletion applied since.
    deleted: DeletedSet,
    /// Vector spaces of the file that no longer belong to the collection's current spaces
    /// (deleted, or created again since): filters see no such vector.
    hidden_vectors: Vec<String>,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("deleted", &self.deleted.count())
            .finish_non_exhaustive()
    }
}

impl Segment {
    /// Reads and validates the segment at `path`.
    pub async fn open<S: Storage>(storage: &S, path: &Path) -> Result<Segment, SegmentError> {
        let shown = path.display().to_string();
        let file = match storage.read_file(path).await {
            Ok(Some(file)) => file,
            Ok(None) => return Err(SegmentError::Missing { path: shown }),
            Err(source) => {
                return Err(SegmentError::Io {
                    path: shown,
                    source,
                })
            }
        };
        // The storage API hands out an unaligned Vec; one copy puts it where rkyv can read it.
        let mut buf = AlignedVec::<SEGMENT_BUFFER_ALIGN_BYTES>::with_capacity(file.len());
        buf.extend_from_slice(&file);
        drop(file);
        Self::from_aligned(shown, buf)
    }

    /// Opens a segment from freshly built bytes without touching storage (tests, or serving a
    /// flushed segment before re-reading it). `path` is only used in errors.
    pub fn from_bytes(path: &str, bytes: SegmentBytes) -> Result<Segment, SegmentError> {
        Self::from_aligned(path.to_owned(), bytes.buf)
    }

    fn from_aligned(
        path: String,
        buf: AlignedVec<SEGMENT_BUFFER_ALIGN_BYTES>,
    ) -> Result<Segment, SegmentError> {
        let header = verify_file(&path, &buf)?;
        let body_bytes = &buf[SEGMENT_HEADER_BYTES..SEGMENT_HEADER_BYTES + header.body_len];
        // The one full validation: every pointer, length and string of the archive.
        let body = rkyv::access::<ArchivedBody, rancor::Error>(body_bytes)
            .map_err(|e| SegmentError::corrupt(&path, format!("invalid archive: {e}")))?;
        check_body(&path, header, body)?;
        let len = body.versions.len() as u32;
        let info = |name: &str, dim: u32, distance: u8| ColumnInfo {
            name: name.to_owned(),
            dim: dim as usize,
            // check_body refused unknown codes.
            distance: distance_from_code(distance).unwrap_or(Distance::Dot),
        };
        let columns = body
            .columns
            .iter()
            .map(|c| info(c.name.as_str(), c.dim.to_native(), c.distance))
            .collect();
        let sparse = body
            .sparse
            .iter()
            .map(|c| c.name.as_str().to_owned())
            .collect();
        let multi = body
            .multi
            .iter()
            .map(|c| info(c.name.as_str(), c.dim.to_native(), c.distance))
            .collect();
        let deleted = DeletedSet::from_words(len as usize, u64s(body.deleted.as_slice()));
        let flushed_lsn = body.flushed_lsn.to_native();
        Ok(Segment {
            path,
            body_len: header.body_len,
            buf,
            len,
            flushed_lsn,
            columns,
            sparse,
            multi,
            deleted,
            hidden_vectors: Vec::new(),
        })
    }

    /// Hides the vectors of these spaces from filters (`has_vector`); the shard sets them
    /// from its current spaces.
    pub fn set_hidden_vectors(&mut self, names: Vec<String>) {
        self.hidden_vectors = names;
    }

    /// The archive root, without re-validating it.
    fn body(&self) -> &ArchivedBody {
        let bytes = &self.buf[SEGMENT_HEADER_BYTES..SEGMENT_HEADER_BYTES + self.body_len];
        // SAFETY: `from_aligned` is the only constructor. It ran `rkyv::access` (full bytecheck
        // validation) on exactly this range of exactly this buffer and returned an error
        // unless it passed. `buf` and `body_len` are private and never change afterwards, and
        // an AlignedVec's heap allocation does not move when the Segment does, so the bytes
        // and their alignment are the ones that were validated. Re-validating on every access
        // would cost a full pass over the vectors per read.
        unsafe { rkyv::access_unchecked::<ArchivedBody>(bytes) }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Number of slots, deleted ones included.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of slots not deleted.
    pub fn live_len(&self) -> usize {
        self.len() - self.deleted.count()
    }

    /// Size of the file in bytes (what it occupies in memory, too).
    pub fn file_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Every write with a sequence number up to this one is in the segment.
    pub fn flushed_lsn(&self) -> u64 {
        self.flushed_lsn
    }

    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }

    /// Index of the column named `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The vector spaces the segment was built with.
    pub fn schema(&self) -> ShardSchema {
        ShardSchema {
            vectors: self
                .columns
                .iter()
                .map(|c| VectorSpec {
                    name: c.name.clone(),
                    dim: c.dim,
                    distance: c.distance,
                })
                .collect(),
            // The modifier weights queries only; the file does not depend on it.
            sparse: self
                .sparse
                .iter()
                .map(|name| SparseSpec {
                    name: name.clone(),
                    modifier: Default::default(),
                })
                .collect(),
            multi: self
                .multi
                .iter()
                .map(|c| MultiSpec {
                    name: c.name.clone(),
                    dim: c.dim,
                    distance: c.distance,
                })
                .collect(),
        }
    }

    /// The multivector spaces.
    pub fn multi_columns(&self) -> &[ColumnInfo] {
        &self.multi
    }

    /// The rows (flattened) of `slot` in the multivector space `column`, zero-copy; `None`
    /// when the point has none.
    pub fn multi_vector(&self, column: usize, slot: u32) -> Option<&[f32]> {
        let c = self.body().multi.get(column)?;
        if slot >= self.len || !bit(u64s(c.present.as_slice()), slot as usize) {
            return None;
        }
        let ends = u64s(c.ends.as_slice());
        let s = slot as usize;
        let start = if s == 0 { 0 } else { ends[s - 1] as usize };
        // check_body proved the offsets monotonic and inside the data.
        f32s(c.data.as_slice()).get(start..ends[s] as usize)
    }

    /// Exact max_sim scan of the multivector space `name` (these columns have no graph).
    pub fn search_multi_into<T>(
        &self,
        name: &str,
        query: &MultiVector,
        params: &SearchParams<'_>,
        top: &mut TopK<T>,
        mut tag: impl FnMut(u32) -> T,
    ) {
        let Some(column) = self.multi.iter().position(|c| c.name == name) else {
            return;
        };
        let info = &self.multi[column];
        if info.dim != query.dim() {
            return;
        }
        let metric = Metric(info.distance);
        let body = self.body();
        for slot in 0..self.len {
            if self.deleted.contains(slot) {
                continue;
            }
            let Some(rows) = self.multi_vector(column, slot) else {
                continue;
            };
            let score = max_sim(metric, query, rows);
            if params.threshold.is_some_and(|t| score < t) {
                continue;
            }
            let Some(id) = id_at(body, slot as usize) else {
                continue;
            };
            if !top.accepts(score, id) || !self.matches(slot, params.filter) {
                continue;
            }
            top.push(score, id, tag(slot));
        }
    }

    /// Names of the sparse spaces.
    pub fn sparse_names(&self) -> &[String] {
        &self.sparse
    }

    /// The sparse vector of `slot` in the sparse space `column`, zero-copy, as (indices,
    /// values); `None` when the point has none.
    pub fn sparse_vector(&self, column: usize, slot: u32) -> Option<(&[u32], &[f32])> {
        let c = self.body().sparse.get(column)?;
        if slot >= self.len || !bit(u64s(c.present.as_slice()), slot as usize) {
            return None;
        }
        let ends = u64s(c.ends.as_slice());
        let s = slot as usize;
        let start = if s == 0 { 0 } else { ends[s - 1] as usize };
        let end = ends[s] as usize;
        // check_body proved the offsets monotonic and inside the arrays.
        Some((
            u32s(c.indices.as_slice()).get(start..end)?,
            f32s(c.values.as_slice()).get(start..end)?,
        ))
    }

    fn postings(&self, column: usize) -> Option<PostingsRef<'_>> {
        let c = self.body().sparse.get(column)?;
        Some(PostingsRef {
            terms: u32s(c.terms.as_slice()),
            term_ends: u64s(c.term_ends.as_slice()),
            slots: u32s(c.post_slots.as_slice()),
            values: f32s(c.post_values.as_slice()),
        })
    }

    /// Sparse search through the inverted index: pushes `(dot product, id, tag(slot))` for
    /// every live point whose vector `name` shares an index with `query` and passes the
    /// filter. A segment without that space contributes nothing.
    pub fn search_sparse_into<T>(
        &self,
        name: &str,
        query: &SparseVector,
        params: &SearchParams<'_>,
        top: &mut TopK<T>,
        mut tag: impl FnMut(u32) -> T,
    ) {
        let Some(postings) = self
            .sparse
            .iter()
            .position(|n| n == name)
            .and_then(|c| self.postings(c))
        else {
            return;
        };
        let body = self.body();
        for (slot, score) in postings.score(query, self.len()) {
            if self.deleted.contains(slot) || params.threshold.is_some_and(|t| score < t) {
                continue;
            }
            let Some(id) = id_at(body, slot as usize) else {
                continue;
            };
            if !top.accepts(score, id) || !self.matches(slot, params.filter) {
                continue;
            }
            top.push(score, id, tag(slot));
        }
    }

    /// Sparse search by scanning every live point with the vector `name` (for custom
    /// objectives, which score points sharing no index too): pushes `(score, id, tag(slot))`.
    pub fn scan_sparse_into<T>(
        &self,
        name: &str,
        score: impl Fn(&[u32], &[f32]) -> Option<f32>,
        params: &SearchParams<'_>,
        top: &mut TopK<T>,
        mut tag: impl FnMut(u32) -> T,
    ) {
        let Some(column) = self.sparse.iter().position(|n| n == name) else {
            return;
        };
        let body = self.body();
        for slot in 0..self.len {
            if self.deleted.contains(slot) {
                continue;
            }
            let Some((indices, values)) = self.sparse_vector(column, slot) else {
                continue;
            };
            let Some(score) = score(indices, values) else {
                continue;
            };
            if params.threshold.is_some_and(|t| score < t) {
                continue;
            }
            let Some(id) = id_at(body, slot as usize) else {
                continue;
            };
            if !top.accepts(score, id) || !self.matches(slot, params.filter) {
                continue;
            }
            top.push(score, id, tag(slot));
        }
    }

    /// Counts for the idf modifier over the live points.
    pub fn sparse_stats(&self, name: &str, indices: &[u32]) -> SparseStats {
        let mut stats = SparseStats {
            points: 0,
            with_index: vec![0; indices.len()],
        };
        let Some(column) = self.sparse.iter().position(|n| n == name) else {
            return stats;
        };
        let Some(c) = self.body().sparse.get(column) else {
            return stats;
        };
        let present = u64s(c.present.as_slice());
        stats.points = (0..self.len)
            .filter(|&s| bit(present, s as usize) && !self.deleted.contains(s))
            .count() as u64;
        if let Some(postings) = self.postings(column) {
            for (k, &term) in indices.iter().enumerate() {
                let (slots, _) = postings.list(term);
                stats.with_index[k] =
                    slots.iter().filter(|&&s| !self.deleted.contains(s)).count() as u64;
            }
        }
        stats
    }

    pub fn id(&self, slot: u32) -> Option<PointId> {
        if slot >= self.len {
            return None;
        }
        id_at(self.body(), slot as usize)
    }

    /// Slot of `id`, deleted or not (check [`Segment::is_deleted`]).
    pub fn slot_of(&self, id: PointId) -> Option<u32> {
        let body = self.body();
        let nums = u64s(body.num_ids.as_slice());
        let found = match id {
            PointId::Num(n) => nums.binary_search(&n).ok(),
            PointId::Uuid(u) => u128s(body.uuid_ids.as_slice())
                .binary_search(&u)
                .ok()
                .map(|i| nums.len() + i),
        };
        found.map(|s| s as u32)
    }

    /// First slot whose id is ≥ `id` (`len()` when none): where a scroll from `id` starts.
    pub fn lower_bound(&self, id: PointId) -> u32 {
        let body = self.body();
        let nums = u64s(body.num_ids.as_slice());
        let slot = match id {
            PointId::Num(n) => nums.partition_point(|&x| x < n),
            PointId::Uuid(u) => {
                nums.len() + u128s(body.uuid_ids.as_slice()).partition_point(|&x| x < u)
            }
        };
        slot as u32
    }

    /// Live points with id ≥ `from`, in id order.
    pub fn iter_from(&self, from: Option<PointId>) -> impl Iterator<Item = (u32, PointId)> + '_ {
        let start = from.map_or(0, |id| self.lower_bound(id));
        (start..self.len)
            .filter(|&s| !self.deleted.contains(s))
            .filter_map(|s| self.id(s).map(|id| (s, id)))
    }

    pub fn version(&self, slot: u32) -> Option<u64> {
        u64s(self.body().versions.as_slice())
            .get(slot as usize)
            .copied()
    }

    /// Whether the point in `slot` has a vector in `column`.
    pub fn has_vector(&self, column: usize, slot: u32) -> bool {
        self.body()
            .columns
            .get(column)
            .is_some_and(|c| slot < self.len && bit(u64s(c.present.as_slice()), slot as usize))
    }

    /// The vector of `slot` in `column`, zero-copy; `None` when the point has none.
    pub fn vector(&self, column: usize, slot: u32) -> Option<&[f32]> {
        if !self.has_vector(column, slot) {
            return None;
        }
        let (data, dim) = self.column_data(column)?;
        let start = slot as usize * dim;
        data.get(start..start + dim)
    }

    /// The whole column for brute-force scans: slot `s` owns `data[s*dim .. (s+1)*dim]`, zeros
    /// where the point has no such vector (skip those with [`Segment::has_vector`]).
    pub fn column_data(&self, column: usize) -> Option<(&[f32], usize)> {
        let c = self.body().columns.get(column)?;
        Some((f32s(c.data.as_slice()), c.dim.to_native() as usize))
    }

    /// The payload's JSON as stored; `None` when the point has no payload.
    pub fn payload_bytes(&self, slot: u32) -> Option<&[u8]> {
        let body = self.body();
        let ends = u64s(body.payload_ends.as_slice());
        let s = slot as usize;
        let end = *ends.get(s)? as usize;
        let start = if s == 0 { 0 } else { ends[s - 1] as usize };
        // check_body proved the offsets monotonic and inside the blob.
        let raw = body.payload_blob.as_slice().get(start..end)?;
        (!raw.is_empty()).then_some(raw)
    }

    /// The payload, parsed on demand.
    pub fn payload(&self, slot: u32) -> Result<Option<Payload>, SegmentError> {
        self.payload_bytes(slot)
            .map(|raw| {
                serde_json::from_slice(raw).map_err(|e| {
                    SegmentError::corrupt(&self.path, format!("payload of slot {slot}: {e}"))
                })
            })
            .transpose()
    }

    pub fn is_deleted(&self, slot: u32) -> bool {
        self.deleted.contains(slot)
    }

    /// Marks `slot` deleted (in memory only; persist [`Segment::deleted`] as a sidecar).
    /// False when it already was or is out of range.
    pub fn mark_deleted(&mut self, slot: u32) -> bool {
        self.deleted.insert(slot)
    }

    /// Deletes the point `id` if the segment holds it live; returns whether it did.
    pub fn delete(&mut self, id: PointId) -> bool {
        self.slot_of(id).is_some_and(|s| self.deleted.insert(s))
    }

    /// Every deleted slot: the file's own bitmap plus later deletions.
    pub fn deleted(&self) -> &DeletedSet {
        &self.deleted
    }

    /// Adds the deletions of a sidecar read back at recovery.
    pub fn apply_deleted(&mut self, set: &DeletedSet) -> Result<(), SegmentError> {
        if set.slots() != self.len() {
            return Err(SegmentError::DeletedSetMismatch {
                path: self.path.clone(),
                expected: self.len(),
                got: set.slots(),
            });
        }
        self.deleted.union_with(set);
        Ok(())
    }

    /// The point in `slot` as reads return it (deleted or not: the caller decides).
    pub fn record(
        &self,
        slot: u32,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Result<Record, SegmentError> {
        let id = self.id(slot).ok_or_else(|| {
            SegmentError::corrupt(&self.path, format!("slot {slot} out of range"))
        })?;
        let wanted = |name: &str| match vectors {
            VectorSelector::None => false,
            VectorSelector::All => true,
            VectorSelector::Names(names) => names.iter().any(|n| n == name),
        };
        let vectors = (!matches!(vectors, VectorSelector::None)).then(|| {
            let dense = self
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| wanted(&c.name))
                .filter_map(|(i, c)| {
                    let v = self.vector(i, slot)?;
                    Some((c.name.clone(), Vector::Dense(v.to_vec())))
                });
            let sparse = self
                .sparse
                .iter()
                .enumerate()
                .filter(|(_, n)| wanted(n))
                .filter_map(|(i, n)| {
                    let (ix, vs) = self.sparse_vector(i, slot)?;
                    let v = SparseVector::from_sorted(ix.to_vec(), vs.to_vec());
                    Some((n.clone(), Vector::Sparse(v)))
                });
            let multi = self
                .multi
                .iter()
                .enumerate()
                .filter(|(_, c)| wanted(&c.name))
                .filter_map(|(i, c)| {
                    let rows = self.multi_vector(i, slot)?;
                    Some((c.name.clone(), VectorRef::Multi(c.dim, rows).to_owned()))
                });
            dense.chain(sparse).chain(multi).collect()
        });
        let payload = match payload {
            PayloadSelector::None => None,
            sel => sel.apply(self.payload(slot)?.as_ref()),
        };
        Ok(Record {
            id,
            version: self.version(slot).unwrap_or(0),
            payload,
            vectors,
        })
    }

    /// Exact search over the live points that have the vector `params.vector_name`, pushing
    /// `(internal score, id, tag(slot))` into `top` so one heap can span several segments and
    /// the mutable store. A segment without that vector space contributes nothing.
    pub fn search_into<T>(
        &self,
        params: &SearchParams<'_>,
        top: &mut TopK<T>,
        tag: impl FnMut(u32) -> T,
    ) {
        self.search_into_by(params, &Nearest(params.query), top, tag)
    }

    /// [`Segment::search_into`] ranking by `scorer` instead of `params.query`.
    pub fn search_into_by<T, S: Scorer>(
        &self,
        params: &SearchParams<'_>,
        scorer: &S,
        top: &mut TopK<T>,
        mut tag: impl FnMut(u32) -> T,
    ) {
        let Some(column) = self.column(params.vector_name) else {
            return;
        };
        let metric = Metric(self.columns[column].distance);
        let Some((data, dim)) = self.column_data(column) else {
            return;
        };
        if scorer.dim() != dim {
            return;
        }
        let body = self.body();
        let present = u64s(body.columns[column].present.as_slice());
        for (slot, v) in data.chunks_exact(dim.max(1)).enumerate() {
            if !bit(present, slot) || self.deleted.contains(slot as u32) {
                continue;
            }
            let score = scorer.score(metric, &v[..dim]);
            if params.threshold.is_some_and(|t| score < t) {
                continue;
            }
            let Some(id) = id_at(body, slot) else {
                continue;
            };
            if !top.accepts(score, id) {
                continue;
            }
            if !self.matches(slot as u32, params.filter) {
                continue;
            }
            top.push(score, id, tag(slot as u32));
        }
    }

    /// Whether the point in `slot` passes `filter` (no filter passes everything); deleted or
    /// not, the caller decides.
    pub fn matches(&self, slot: u32, filter: Option<&crate::filter::Filter>) -> bool {
        let Some(filter) = filter else { return true };
        let Some(id) = self.id(slot) else {
            return false;
        };
        // No payload index yet: parse the candidate's payload. A payload that does not parse
        // was caught by the checksum at open, so treat it as empty.
        let payload = self.payload(slot).ok().flatten();
        let has_vector = |name: &str| match self.column(name) {
            _ if self.hidden_vectors.iter().any(|h| h == name) => false,
            Some(c) => self.has_vector(c, slot),
            None => {
                self.sparse
                    .iter()
                    .position(|n| n == name)
                    .is_some_and(|c| self.sparse_vector(c, slot).is_some())
                    || self
                        .multi
                        .iter()
                        .position(|c| c.name == name)
                        .is_some_and(|c| self.multi_vector(c, slot).is_some())
            }
        };
        filter.matches(&crate::filter::PointView {
            id,
            payload: payload.as_ref(),
            has_vector: &has_vector,
        })
    }
}
