//! Collects points in any order and produces the bytes of one segment file.

use rkyv::rancor;
use rkyv::util::AlignedVec;

use super::error::SegmentError;
use super::format::{bit, distance_code};
use super::format::{
    bitmap_words, encode_header_with_crc, set_bit, Body, ColumnBody, MultiColumnBody,
    SparseColumnBody, SEGMENT_BUFFER_ALIGN_BYTES, SEGMENT_FILE_ALIGN_BYTES, SEGMENT_HEADER_BYTES,
    SEGMENT_MAX_DIM, SEGMENT_MAX_POINTS,
};
use crate::op::{Payload, PointWrite};
use crate::point_id::PointId;
use crate::schema::{Distance, ShardSchema};
use crate::shard::Pace;
use crate::sparse::postings;
use crate::vector::VectorRef;

/// Bytes of the output buffer faulted in, or checksummed, between two [`Pace`] checks of
/// [`SegmentBuilder::finish_paced`]: about 0.1–0.3 ms of work each.
pub const FINISH_SLICE_BYTES: usize = 1 << 20;

/// Headroom reserved for rkyv's own structures when sizing the output buffer up front, so the
/// usual segment is serialized without reallocating (and copying) its vectors.
const ARCHIVE_OVERHEAD_BYTES: usize = 4096;

/// The complete bytes of a segment file (header, archive, zero padding), in a buffer aligned
/// for zero-copy reading. Its length is a multiple of [`SEGMENT_FILE_ALIGN_BYTES`].
pub struct SegmentBytes {
    pub(crate) buf: AlignedVec<SEGMENT_BUFFER_ALIGN_BYTES>,
}

impl SegmentBytes {
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_slice()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

struct BuildColumn {
    name: String,
    dim: usize,
    distance: Distance,
    /// Presence bit per pushed point, in push order.
    present: Vec<u64>,
    /// Vectors in push order; zeros where absent.
    data: Vec<f32>,
}

/// One sparse space being collected, in push order.
struct BuildSparse {
    name: String,
    present: Vec<u64>,
    ends: Vec<u64>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

/// One multivector space being collected, in push order.
struct BuildMulti {
    name: String,
    dim: usize,
    distance: Distance,
    present: Vec<u64>,
    ends: Vec<u64>,
    data: Vec<f32>,
}

/// Builds a segment from points pushed in any order (ascending id order is cheapest: no
/// permutation pass). Every push is checked against the schema and applied whole or not at all.
pub struct SegmentBuilder {
    columns: Vec<BuildColumn>,
    sparse: Vec<BuildSparse>,
    multi: Vec<BuildMulti>,
    ids: Vec<PointId>,
    versions: Vec<u64>,
    payload_ends: Vec<u64>,
    payload_blob: Vec<u8>,
    deleted: Vec<PointId>,
    flushed_lsn: u64,
    /// True while every push had a larger id than the one before.
    ascending: bool,
}

impl SegmentBuilder {
    /// A builder with one column per vector space of `schema`, in schema order.
    pub fn new(schema: &ShardSchema) -> Result<Self, SegmentError> {
        Self::with_capacity(schema, 0)
    }

    /// Like [`SegmentBuilder::new`], with room reserved for `points` points.
    pub fn with_capacity(schema: &ShardSchema, points: usize) -> Result<Self, SegmentError> {
        let points = points.min(SEGMENT_MAX_POINTS);
        let mut columns = Vec::with_capacity(schema.vectors.len());
        for v in &schema.vectors {
            if v.dim > SEGMENT_MAX_DIM {
                return Err(SegmentError::DimTooLarge {
                    name: v.name.clone(),
                    dim: v.dim,
                    max: SEGMENT_MAX_DIM,
                });
            }
            columns.push(BuildColumn {
                name: v.name.clone(),
                dim: v.dim,
                distance: v.distance,
                present: Vec::with_capacity(bitmap_words(points)),
                data: Vec::with_capacity(points.saturating_mul(v.dim)),
            });
        }
        let sparse = schema
            .sparse
            .iter()
            .map(|v| BuildSparse {
                name: v.name.clone(),
                present: Vec::with_capacity(bitmap_words(points)),
                ends: Vec::with_capacity(points),
                indices: Vec::new(),
                values: Vec::new(),
            })
            .collect();
        let mut multi = Vec::with_capacity(schema.multi.len());
        for v in &schema.multi {
            if v.dim > SEGMENT_MAX_DIM {
                return Err(SegmentError::DimTooLarge {
                    name: v.name.clone(),
                    dim: v.dim,
                    max: SEGMENT_MAX_DIM,
                });
            }
            multi.push(BuildMulti {
                name: v.name.clone(),
                dim: v.dim,
                distance: v.distance,
                present: Vec::with_capacity(bitmap_words(points)),
                ends: Vec::with_capacity(points),
                data: Vec::new(),
            });
        }
        Ok(SegmentBuilder {
            columns,
            sparse,
            multi,
            ids: Vec::with_capacity(points),
            versions: Vec::with_capacity(points),
            payload_ends: Vec::with_capacity(points),
            payload_blob: Vec::new(),
            deleted: Vec::new(),
            flushed_lsn: 0,
            ascending: true,
        })
    }

    /// Records that the segment holds every write up to this WAL sequence number (deletes
    /// included), so recovery replays only later records. Defaults to 0.
    pub fn set_flushed_lsn(&mut self, lsn: u64) {
        self.flushed_lsn = lsn;
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds one point. `vectors` are by name ("" = the unnamed vector); a space of the schema
    /// that is not given is absent for this point. Duplicate ids are reported by `finish`.
    pub fn push<'a, V: Into<VectorRef<'a>>>(
        &mut self,
        id: PointId,
        version: u64,
        vectors: impl IntoIterator<Item = (&'a str, V)>,
        payload: Option<&Payload>,
    ) -> Result<(), SegmentError> {
        if self.ids.len() >= SEGMENT_MAX_POINTS {
            return Err(SegmentError::TooManyPoints {
                max: SEGMENT_MAX_POINTS,
            });
        }
        // Check everything before changing anything, so a refused point leaves no trace.
        let mut given: Vec<(usize, &[f32])> = Vec::with_capacity(self.columns.len());
        let mut given_sparse: Vec<(usize, &[u32], &[f32])> = Vec::new();
        let mut given_multi: Vec<(usize, &[f32])> = Vec::new();
        for (name, v) in vectors {
            let v = match v.into() {
                VectorRef::Dense(v) => v,
                VectorRef::Multi(dim, rows) => {
                    let Some(c) = self.multi.iter().position(|c| c.name == name) else {
                        return Err(SegmentError::UnknownVector { name: name.into() });
                    };
                    if dim != self.multi[c].dim || rows.is_empty() || rows.len() % dim != 0 {
                        return Err(SegmentError::Dimension {
                            name: name.into(),
                            expected: self.multi[c].dim,
                            got: dim,
                        });
                    }
                    given_multi.retain(|(gc, _)| *gc != c);
                    given_multi.push((c, rows));
                    continue;
                }
                VectorRef::Sparse(i, x) => {
                    let Some(c) = self.sparse.iter().position(|c| c.name == name) else {
                        return Err(SegmentError::UnknownVector { name: name.into() });
                    };
                    if i.len() != x.len() || !i.windows(2).all(|w| w[0] < w[1]) {
                        return Err(SegmentError::Serialize(format!(
                            "sparse vector {name:?} of {id}: unsorted or uneven"
                        )));
                    }
                    given_sparse.retain(|(gc, _, _)| *gc != c);
                    given_sparse.push((c, i, x));
                    continue;
                }
            };
            let Some(c) = self.columns.iter().position(|c| c.name == name) else {
                return Err(SegmentError::UnknownVector { name: name.into() });
            };
            if v.len() != self.columns[c].dim {
                return Err(SegmentError::Dimension {
                    name: name.into(),
                    expected: self.columns[c].dim,
                    got: v.len(),
                });
            }
            // The last vector given under a name wins, as in the mutable store.
            given.retain(|(gc, _)| *gc != c);
            given.push((c, v));
        }
        if let Some(map) = payload {
            let at = self.payload_blob.len();
            if let Err(e) = serde_json::to_writer(&mut self.payload_blob, map) {
                self.payload_blob.truncate(at);
                return Err(SegmentError::Serialize(format!("payload of {id}: {e}")));
            }
        }

        let slot = self.ids.len();
        if self.ids.last().is_some_and(|last| *last >= id) {
            self.ascending = false;
        }
        self.ids.push(id);
        self.versions.push(version);
        self.payload_ends.push(self.payload_blob.len() as u64);
        for col in &mut self.columns {
            col.data.resize(col.data.len() + col.dim, 0.0);
            if col.present.len() < bitmap_words(slot + 1) {
                col.present.push(0);
            }
        }
        for (c, v) in given {
            let col = &mut self.columns[c];
            col.data[slot * col.dim..(slot + 1) * col.dim].copy_from_slice(v);
            set_bit(&mut col.present, slot);
        }
        for col in &mut self.sparse {
            if col.present.len() < bitmap_words(slot + 1) {
                col.present.push(0);
            }
        }
        for (c, i, x) in given_sparse {
            let col = &mut self.sparse[c];
            col.indices.extend_from_slice(i);
            col.values.extend_from_slice(x);
            set_bit(&mut col.present, slot);
        }
        for col in &mut self.sparse {
            col.ends.push(col.indices.len() as u64);
        }
        for col in &mut self.multi {
            if col.present.len() < bitmap_words(slot + 1) {
                col.present.push(0);
            }
        }
        for (c, rows) in given_multi {
            let col = &mut self.multi[c];
            col.data.extend_from_slice(rows);
            set_bit(&mut col.present, slot);
        }
        for col in &mut self.multi {
            col.ends.push(col.data.len() as u64);
        }
        Ok(())
    }

    /// [`SegmentBuilder::push`] for a point in its write form.
    pub fn push_point(&mut self, point: &PointWrite, version: u64) -> Result<(), SegmentError> {
        let vectors = point
            .vectors
            .iter()
            .map(|(name, v)| (name.as_str(), v.as_ref()));
        self.push(point.id, version, vectors, point.payload.as_ref())
    }

    /// Marks a pushed point as deleted in the file's own deletion bitmap (for points deleted
    /// while the segment was being assembled). Ids never pushed are ignored.
    pub fn mark_deleted(&mut self, id: PointId) {
        self.deleted.push(id);
    }

    /// Sorts by id, checks for duplicates and serializes the file.
    pub fn finish(self) -> Result<SegmentBytes, SegmentError> {
        let (body, n) = self.into_body()?;
        let mut buf = output_buffer(&body, n);
        buf.extend_from_slice(&[0u8; SEGMENT_HEADER_BYTES]);
        let buf = serialize_into(&body, buf)?;
        let crc = crc32c::crc32c(&buf[SEGMENT_HEADER_BYTES..]);
        Ok(seal(buf, crc, n))
    }

    /// [`SegmentBuilder::finish`] for a builder that runs next to requests: the steps that
    /// are a pass over the whole file are cut into [`FINISH_SLICE_BYTES`] pieces with a
    /// [`Pace`] check between them. What is left in one piece is the rkyv serialization, a
    /// copy into memory already faulted in (about 3 ms for 50 000 × 128 floats).
    pub async fn finish_paced(self, pace: Pace) -> Result<SegmentBytes, SegmentError> {
        let (body, n) = self.into_body()?;
        // A fresh allocation of a segment's size is mapped lazily: the first write to each
        // page faults, which made the copy inside the serializer the longest stall of a
        // flush (about 70 ms for 200 000 × 128). Touch the pages first, in slices.
        let mut buf = output_buffer(&body, n);
        let capacity = buf.capacity();
        while buf.len() < capacity {
            let end = (buf.len() + FINISH_SLICE_BYTES).min(capacity);
            buf.resize(end, 0);
            if pace.should_yield() {
                (pace.pause)().await;
            }
        }
        buf.clear();
        buf.extend_from_slice(&[0u8; SEGMENT_HEADER_BYTES]);
        let buf = serialize_into(&body, buf)?;
        // The body's vectors are freed here, before the checksum pass.
        drop(body);
        pace.pause_if_needed().await;
        let mut crc = 0u32;
        for piece in buf[SEGMENT_HEADER_BYTES..].chunks(FINISH_SLICE_BYTES) {
            crc = crc32c::crc32c_append(crc, piece);
            if pace.should_yield() {
                (pace.pause)().await;
            }
        }
        Ok(seal(buf, crc, n))
    }

    /// Everything [`SegmentBuilder::finish`] does before serializing: id order, duplicates,
    /// the deletion bitmap. Returns the body and its number of points.
    fn into_body(self) -> Result<(Body, usize), SegmentError> {
        let n = self.ids.len();
        let order: Option<Vec<u32>> = if self.ascending {
            None
        } else {
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_unstable_by_key(|&i| self.ids[i as usize]);
            Some(order)
        };
        let sorted_ids: Vec<PointId> = match &order {
            None => self.ids,
            Some(order) => order.iter().map(|&i| self.ids[i as usize]).collect(),
        };
        if let Some(w) = sorted_ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(SegmentError::DuplicateId(w[0]));
        }

        let mut num_ids = Vec::new();
        let mut uuid_ids = Vec::new();
        for id in &sorted_ids {
            match *id {
                PointId::Num(x) => num_ids.push(x),
                PointId::Uuid(u) => uuid_ids.push(u),
            }
        }
        let mut deleted = vec![0u64; bitmap_words(n)];
        for id in &self.deleted {
            if let Ok(slot) = sorted_ids.binary_search(id) {
                set_bit(&mut deleted, slot);
            }
        }
        let sparse = self
            .sparse
            .into_iter()
            .map(|c| sparse_body(c, order.as_deref()))
            .collect();
        let multi = self
            .multi
            .into_iter()
            .map(|c| multi_body(c, order.as_deref()))
            .collect();
        let (versions, payload_ends, payload_blob, columns) = match &order {
            None => (
                self.versions,
                self.payload_ends,
                self.payload_blob,
                self.columns.into_iter().map(column_body).collect(),
            ),
            Some(order) => permute(
                order,
                &self.versions,
                &self.payload_ends,
                &self.payload_blob,
                self.columns,
            ),
        };
        let body = Body {
            flushed_lsn: self.flushed_lsn,
            num_ids,
            uuid_ids,
            versions,
            columns,
            payload_ends,
            payload_blob,
            deleted,
            sparse,
            multi,
        };
        Ok((body, n))
    }
}

fn column_body(c: BuildColumn) -> ColumnBody {
    ColumnBody {
        name: c.name,
        // Bounded by SEGMENT_MAX_DIM at construction.
        dim: c.dim as u32,
        distance: distance_code(c.distance),
        present: c.present,
        data: c.data,
    }
}

/// A sparse column in id order (`order[new] = old`, `None`: already in id order), with its
/// postings.
fn sparse_body(c: BuildSparse, order: Option<&[u32]>) -> SparseColumnBody {
    let (present, ends, indices, values) = match order {
        None => (c.present, c.ends, c.indices, c.values),
        Some(order) => {
            let mut present = vec![0u64; bitmap_words(order.len())];
            let mut ends = Vec::with_capacity(order.len());
            let mut indices = Vec::with_capacity(c.indices.len());
            let mut values = Vec::with_capacity(c.values.len());
            for (new, &o) in order.iter().enumerate() {
                let o = o as usize;
                let start = if o == 0 { 0 } else { c.ends[o - 1] as usize };
                let end = c.ends[o] as usize;
                indices.extend_from_slice(&c.indices[start..end]);
                values.extend_from_slice(&c.values[start..end]);
                ends.push(indices.len() as u64);
                if bit(&c.present, o) {
                    set_bit(&mut present, new);
                }
            }
            (present, ends, indices, values)
        }
    };
    let p = postings::build(&ends, &indices, &values);
    SparseColumnBody {
        name: c.name,
        present,
        ends,
        indices,
        values,
        terms: p.terms,
        term_ends: p.term_ends,
        post_slots: p.slots,
        post_values: p.values,
    }
}

/// A multivector column in id order (`order[new] = old`, `None`: already in id order).
fn multi_body(c: BuildMulti, order: Option<&[u32]>) -> MultiColumnBody {
    let (present, ends, data) = match order {
        None => (c.present, c.ends, c.data),
        Some(order) => {
            let mut present = vec![0u64; bitmap_words(order.len())];
            let mut ends = Vec::with_capacity(order.len());
            let mut data = Vec::with_capacity(c.data.len());
            for (new, &o) in order.iter().enumerate() {
                let o = o as usize;
                let start = if o == 0 { 0 } else { c.ends[o - 1] as usize };
                data.extend_from_slice(&c.data[start..c.ends[o] as usize]);
                ends.push(data.len() as u64);
                if bit(&c.present, o) {
                    set_bit(&mut present, new);
                }
            }
            (present, ends, data)
        }
    };
    MultiColumnBody {
        name: c.name,
        // Bounded by SEGMENT_MAX_DIM at construction.
        dim: c.dim as u32,
        distance: distance_code(c.distance),
        present,
        ends,
        data,
    }
}

type Permuted = (Vec<u64>, Vec<u64>, Vec<u8>, Vec<ColumnBody>);

/// Reorders per-point data from push order into id order (`order[new] = old`).
fn permute(
    order: &[u32],
    versions: &[u64],
    ends: &[u64],
    blob: &[u8],
    columns: Vec<BuildColumn>,
) -> Permuted {
    let n = order.len();
    let versions = order.iter().map(|&o| versions[o as usize]).collect();
    let mut new_ends = Vec::with_capacity(n);
    let mut new_blob = Vec::with_capacity(blob.len());
    for &o in order {
        let o = o as usize;
        let start = if o == 0 { 0 } else { ends[o - 1] as usize };
        new_blob.extend_from_slice(&blob[start..ends[o] as usize]);
        new_ends.push(new_blob.len() as u64);
    }
    let columns = columns
        .into_iter()
        .map(|c| {
            let mut data = Vec::with_capacity(c.data.len());
            let mut present = vec![0u64; bitmap_words(n)];
            for (new, &o) in order.iter().enumerate() {
                let o = o as usize;
                data.extend_from_slice(&c.data[o * c.dim..(o + 1) * c.dim]);
                if bit(&c.present, o) {
                    set_bit(&mut present, new);
                }
            }
            column_body(BuildColumn { data, present, ..c })
        })
        .collect();
    (versions, new_ends, new_blob, columns)
}

type OutputBuffer = AlignedVec<SEGMENT_BUFFER_ALIGN_BYTES>;

/// An empty buffer with room for the whole file, so the vectors are copied exactly once,
/// into the archive, without a reallocation.
fn output_buffer(body: &Body, points: usize) -> OutputBuffer {
    let vector_bytes: usize = body.columns.iter().map(|c| c.data.len() * 4).sum::<usize>()
        + body
            .sparse
            .iter()
            .map(|c| c.indices.len() * 16)
            .sum::<usize>()
        + body.multi.iter().map(|c| c.data.len() * 4).sum::<usize>();
    let estimate = SEGMENT_HEADER_BYTES
        + vector_bytes
        + body.payload_blob.len()
        + points * (8 + 16 + 8)
        + ARCHIVE_OVERHEAD_BYTES;
    AlignedVec::with_capacity(estimate.next_multiple_of(SEGMENT_FILE_ALIGN_BYTES))
}

/// Appends the archive of `body` to `buf` (which holds the header placeholder).
fn serialize_into(body: &Body, buf: OutputBuffer) -> Result<OutputBuffer, SegmentError> {
    rkyv::api::high::to_bytes_in::<_, rancor::Error>(body, buf)
        .map_err(|e| SegmentError::Serialize(e.to_string()))
}

/// Writes the real header over the placeholder (`body_crc` is the crc32c of everything after
/// it) and pads the file to its alignment.
fn seal(mut buf: OutputBuffer, body_crc: u32, points: usize) -> SegmentBytes {
    let body_len = buf.len() - SEGMENT_HEADER_BYTES;
    let header = encode_header_with_crc(body_len, body_crc, points);
    buf[..SEGMENT_HEADER_BYTES].copy_from_slice(&header);
    let padded = buf.len().next_multiple_of(SEGMENT_FILE_ALIGN_BYTES);
    buf.resize(padded, 0);
    SegmentBytes { buf }
}
