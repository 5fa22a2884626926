//! The in-memory point store of one shard: ids, contiguous vector columns, sparse vectors,
//! payloads.
//!
//! Slots are dense indexes into the columns; a deleted slot is recycled by the next insert.
//! A shard holds one of these as its mutable part, beside immutable segments (`crate::shard`);
//! the shard decides which part holds a point, this store only keeps its own.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::filter::{Filter, PointView};
use crate::op::{NamedVectors, Payload, PointWrite, WriteOp};
use crate::point_id::PointId;
use crate::schema::ShardSchema;
use crate::score::Scorer;
use crate::select::{remove_path, PayloadSelector, Record, VectorSelector};
use crate::sparse::mutable::SparseColumn;
use crate::topk::TopK;
use crate::vector::{max_sim, MultiVector, SparseVector, Vector, VectorRef};

/// One vector space stored contiguously: slot `s` owns `data[s*dim .. (s+1)*dim]`.
struct Column {
    name: String,
    dim: usize,
    metric: Metric,
    data: Vec<f32>,
    present: Vec<bool>,
}

/// One multivector space: slot `s` owns `rows[s]` (`None`: the point has no such vector).
struct MultiColumn {
    name: String,
    metric: Metric,
    rows: Vec<Option<MultiVector>>,
}

/// A stored point's present vectors by name, payload and version, borrowed.
pub(crate) type PointParts<'a> = (Vec<(&'a str, VectorRef<'a>)>, Option<&'a Payload>, u64);

/// For the idf modifier: how many points have a sparse vector, and how many have each of
/// the asked indices (in the order asked).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseStats {
    pub points: u64,
    pub with_index: Vec<u64>,
}

impl SparseStats {
    /// Adds another part's counts (same indices asked).
    pub fn add(&mut self, other: &SparseStats) {
        self.points += other.points;
        if self.with_index.len() < other.with_index.len() {
            self.with_index.resize(other.with_index.len(), 0);
        }
        for (a, b) in self.with_index.iter_mut().zip(&other.with_index) {
            *a += b;
        }
    }
}

pub struct PointStore {
    schema: ShardSchema,
    /// LSN at which each space was last created by [`WriteOp::SetSchema`] (absent: since the
    /// collection was made). Data of that name flushed before it belongs to an older space
    /// of the same name and is hidden ([`PointStore::space_visible`]).
    since: BTreeMap<String, u64>,
    slot_of: BTreeMap<PointId, u32>,
    ids: Vec<PointId>,
    live: Vec<bool>,
    versions: Vec<u64>,
    payloads: Vec<Option<Payload>>,
    columns: Vec<Column>,
    sparse: Vec<SparseColumn>,
    multi: Vec<MultiColumn>,
    free: Vec<u32>,
}

/// A search over one vector space.
pub struct SearchParams<'a> {
    pub vector_name: &'a str,
    /// Already preprocessed (normalized for Cosine) by [`PointStore::prepare_query`].
    pub query: &'a [f32],
    /// How many best hits to keep (the caller's offset + limit).
    pub top: usize,
    /// Internal-score threshold (see `Metric::threshold_to_internal`).
    pub threshold: Option<f32>,
    /// Only points matching this filter are candidates.
    pub filter: Option<&'a Filter>,
    /// Beam width of graph searches (Qdrant's `params.hnsw_ef`); `None`: the graph's
    /// `ef_construct`. Never below `top`.
    pub hnsw_ef: Option<usize>,
    /// Scan every part, ignoring graphs (Qdrant's `params.exact`).
    pub exact: bool,
    /// Leave out parts without a graph that are above the full-scan threshold (Qdrant's
    /// `params.indexed_only`).
    pub indexed_only: bool,
    /// How quantized codes are used (Qdrant's `params.quantization`).
    pub quantization: crate::quant::QuantSearch,
}

impl PointStore {
    pub fn new(schema: ShardSchema) -> Self {
        let columns = schema
            .vectors
            .iter()
            .map(|v| Column {
                name: v.name.clone(),
                dim: v.dim,
                metric: Metric(v.distance),
                data: Vec::new(),
                present: Vec::new(),
            })
            .collect();
        let sparse = schema
            .sparse
            .iter()
            .map(|v| SparseColumn::new(v.name.clone()))
            .collect();
        let multi = schema
            .multi
            .iter()
            .map(|v| MultiColumn {
                name: v.name.clone(),
                metric: Metric(v.distance),
                rows: Vec::new(),
            })
            .collect();
        PointStore {
            sparse,
            multi,
            schema,
            since: BTreeMap::new(),
            slot_of: BTreeMap::new(),
            ids: Vec::new(),
            live: Vec::new(),
            versions: Vec::new(),
            payloads: Vec::new(),
            columns,
            free: Vec::new(),
        }
    }

    pub fn schema(&self) -> &ShardSchema {
        &self.schema
    }

    /// When each space was last (re)created ([`PointStore::space_visible`]).
    pub fn spaces_since(&self) -> &BTreeMap<String, u64> {
        &self.since
    }

    /// An empty store with the same spaces and creation LSNs (the next mutable part).
    pub fn fresh(&self) -> PointStore {
        let mut store = PointStore::new(self.schema.clone());
        store.since = self.since.clone();
        store
    }

    /// An empty store with `schema` and the creation LSNs `since` (a shard's recovered
    /// state).
    pub fn with_since(schema: ShardSchema, since: BTreeMap<String, u64>) -> PointStore {
        let mut store = PointStore::new(schema);
        store.since = since;
        store
    }

    /// Whether a stored vector `name` in data written up to `data_lsn` (a segment's
    /// flushed LSN) belongs to the current space `name`: the space exists and was created
    /// at or before that LSN.
    pub fn space_visible(&self, name: &str, data_lsn: u64) -> bool {
        let exists = self.schema.column(name).is_some()
            || self.schema.sparse_spec(name).is_some()
            || self.schema.multi_spec(name).is_some();
        exists && self.since.get(name).is_none_or(|&c| c <= data_lsn)
    }

    /// Switches to `schema` at `lsn`: vectors of spaces that remain unchanged are kept, a
    /// space that is new (or changed kind, dimension or metric) starts empty and is stamped
    /// with `lsn`, and the vectors of spaces no longer listed are dropped.
    pub fn set_schema(&mut self, schema: ShardSchema, lsn: u64) {
        let slots = self.ids.len();
        let mut next = PointStore::new(schema);
        let old = &self.schema;
        for col in &mut next.columns {
            match self.columns.iter_mut().find(|c| c.name == col.name) {
                Some(c) if old.spec(&c.name).ok() == next.schema.spec(&col.name).ok() => {
                    col.data = std::mem::take(&mut c.data);
                    col.present = std::mem::take(&mut c.present);
                }
                _ => {
                    col.data = vec![0.0; slots * col.dim];
                    col.present = vec![false; slots];
                }
            }
        }
        for col in &mut next.sparse {
            match self.sparse.iter().position(|c| c.name == col.name) {
                Some(i) => *col = self.sparse.swap_remove(i),
                None => (0..slots).for_each(|_| col.push_slot()),
            }
        }
        for col in &mut next.multi {
            let same = old.multi_spec(&col.name) == next.schema.multi_spec(&col.name);
            match self.multi.iter_mut().find(|c| c.name == col.name) {
                Some(c) if same => col.rows = std::mem::take(&mut c.rows),
                _ => col.rows = vec![None; slots],
            }
        }
        let mut since = std::mem::take(&mut self.since);
        since.retain(|name, _| next.space_visible(name, u64::MAX));
        for name in next.schema.names() {
            let kept = match (old.spec(name).ok(), next.schema.spec(name).ok()) {
                (Some(a), Some(b)) => a == b,
                _ => {
                    (old.sparse_spec(name).is_some() && next.schema.sparse_spec(name).is_some())
                        || (old.multi_spec(name).is_some()
                            && old.multi_spec(name) == next.schema.multi_spec(name))
                }
            };
            if !kept {
                since.insert(name.to_owned(), lsn);
            }
        }
        self.schema = next.schema;
        self.columns = next.columns;
        self.sparse = next.sparse;
        self.multi = next.multi;
        self.since = since;
    }

    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Whether the live point in `slot` passes `filter` (no filter passes everything).
    pub(crate) fn passes(&self, slot: usize, filter: Option<&Filter>) -> bool {
        let Some(filter) = filter else { return true };
        let has_vector = |name: &str| {
            self.columns
                .iter()
                .any(|c| c.name == name && c.present[slot])
                || self
                    .sparse
                    .iter()
                    .any(|c| c.name == name && c.get(slot).is_some())
                || self
                    .multi
                    .iter()
                    .any(|c| c.name == name && c.rows[slot].is_some())
        };
        filter.matches(&PointView {
            id: self.ids[slot],
            payload: self.payloads[slot].as_ref(),
            has_vector: &has_vector,
        })
    }

    /// Number of points passing `filter`.
    pub fn count(&self, filter: Option<&Filter>) -> usize {
        match filter {
            None => self.len(),
            Some(_) => self
                .slot_of
                .values()
                .filter(|&&s| self.passes(s as usize, filter))
                .count(),
        }
    }

    /// Ids of the points passing `filter`, in id order.
    pub fn matching_ids(&self, filter: &Filter) -> Vec<PointId> {
        self.slot_of
            .iter()
            .filter(|(_, &s)| self.passes(s as usize, Some(filter)))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Checks every vector (names, dimensions, finiteness) and prepares it (normalizes
    /// Cosine) before anything is logged: a batch is accepted or refused whole.
    pub fn prepare_points(&self, points: &mut [PointWrite]) -> Result<()> {
        self.schema.check_points(points)?;
        for p in points.iter_mut() {
            for (name, v) in p.vectors.iter_mut() {
                self.prepare_vector(name, v)?;
            }
        }
        Ok(())
    }

    /// Puts one checked vector in its stored form: dense ones normalized for Cosine, values
    /// for a multivector space as rows (a dense vector is one row), each row normalized.
    fn prepare_vector(&self, name: &str, v: &mut Vector) -> Result<()> {
        if let Some(col) = self.multi.iter().find(|c| c.name == name) {
            let given = std::mem::replace(v, Vector::Dense(Vec::new()));
            let mut m = self.schema.conform_multi(name, given)?;
            m.preprocess(col.metric);
            *v = Vector::Multi(m);
            return Ok(());
        }
        if let Vector::Dense(v) = v {
            self.column(name)?.metric.preprocess(v);
        }
        Ok(())
    }

    /// Checks and preprocesses a query vector for the space `name`.
    pub fn prepare_query(&self, name: &str, query: &mut [f32]) -> Result<()> {
        self.schema.check_vector(name, query)?;
        self.column(name)?.metric.preprocess(query);
        Ok(())
    }

    fn column(&self, name: &str) -> Result<&Column> {
        self.schema.spec(name)?;
        self.columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::WrongInput(format!("Not existing vector name error: {name}")))
    }

    /// Checks an operation against the schema and the points present, and prepares its
    /// vectors, before it is logged: an operation is accepted or refused whole.
    pub fn prepare(&self, op: &mut WriteOp) -> Result<()> {
        self.prepare_with(op, &|id| self.contains(id))
    }

    /// [`PointStore::prepare`] where `exists` says which points exist (a shard's points live in
    /// several parts).
    pub fn prepare_with(&self, op: &mut WriteOp, exists: &dyn Fn(PointId) -> bool) -> Result<()> {
        let require = |id: PointId| {
            if exists(id) {
                Ok(())
            } else {
                Err(Error::PointNotFound(id))
            }
        };
        match op {
            WriteOp::Upsert(points) => self.prepare_points(points),
            WriteOp::Delete(_) => Ok(()),
            WriteOp::UpdateVectors(points) => {
                for (id, vectors) in points.iter_mut() {
                    require(*id)?;
                    for (name, v) in vectors.iter_mut() {
                        self.schema.check_any(name, v)?;
                        self.prepare_vector(name, v)?;
                    }
                }
                Ok(())
            }
            WriteOp::DeleteVectors { ids, names } => {
                for name in names.iter() {
                    self.schema.check_name(name)?;
                }
                ids.iter().try_for_each(|id| require(*id))
            }
            WriteOp::SetPayload { ids, .. }
            | WriteOp::OverwritePayload { ids, .. }
            | WriteOp::DeletePayload { ids, .. }
            | WriteOp::ClearPayload(ids) => ids.iter().try_for_each(|id| require(*id)),
            // Checked by the catalog, which decides the collection's spaces.
            WriteOp::SetSchema(_) => Ok(()),
        }
    }

    /// Applies an operation already checked by [`PointStore::prepare`]. Ids that vanished in
    /// between (not possible on one core) are skipped.
    pub fn apply(&mut self, op: WriteOp, version: u64) {
        match op {
            WriteOp::SetSchema(schema) => self.set_schema(schema, version),
            WriteOp::Upsert(points) => {
                for p in points {
                    self.upsert(p, version);
                }
            }
            WriteOp::Delete(ids) => {
                for id in ids {
                    self.delete(id);
                }
            }
            WriteOp::SetPayload { ids, payload, key } => {
                for slot in self.slots(&ids, version) {
                    let target = self.payloads[slot].get_or_insert_with(Payload::new);
                    let target = match &key {
                        None => target,
                        Some(path) => object_at(target, path),
                    };
                    for (k, v) in &payload {
                        target.insert(k.clone(), v.clone());
                    }
                }
            }
            WriteOp::OverwritePayload { ids, payload } => {
                for slot in self.slots(&ids, version) {
                    self.payloads[slot] = Some(payload.clone());
                }
            }
            WriteOp::DeletePayload { ids, keys } => {
                for slot in self.slots(&ids, version) {
                    if let Some(p) = &mut self.payloads[slot] {
                        for key in &keys {
                            remove_path(p, key);
                        }
                    }
                }
            }
            WriteOp::ClearPayload(ids) => {
                for slot in self.slots(&ids, version) {
                    self.payloads[slot] = None;
                }
            }
            WriteOp::UpdateVectors(points) => {
                for (id, vectors) in points {
                    let Some(&slot) = self.slot_of.get(&id) else {
                        continue;
                    };
                    let slot = slot as usize;
                    self.versions[slot] = version;
                    self.set_vectors(slot, vectors);
                }
            }
            WriteOp::DeleteVectors { ids, names } => {
                for slot in self.slots(&ids, version) {
                    for col in self.columns.iter_mut().filter(|c| names.contains(&c.name)) {
                        col.present[slot] = false;
                    }
                    for col in self.sparse.iter_mut().filter(|c| names.contains(&c.name)) {
                        col.set(slot, None);
                    }
                    for col in self.multi.iter_mut().filter(|c| names.contains(&c.name)) {
                        col.rows[slot] = None;
                    }
                }
            }
        }
    }

    /// Slots of the live points among `ids`, stamping each with `version`.
    fn slots(&mut self, ids: &[PointId], version: u64) -> Vec<usize> {
        let slots: Vec<usize> = ids
            .iter()
            .filter_map(|id| self.slot_of.get(id).map(|&s| s as usize))
            .collect();
        for &s in &slots {
            self.versions[s] = version;
        }
        slots
    }

    fn set_vectors(&mut self, slot: usize, vectors: NamedVectors) {
        for (name, v) in vectors {
            // Names were validated before logging; an unknown one here is skipped, not fatal.
            match v {
                Vector::Dense(v) => {
                    if let Some(col) = self.columns.iter_mut().find(|c| c.name == name) {
                        if v.len() == col.dim {
                            col.data[slot * col.dim..(slot + 1) * col.dim].copy_from_slice(&v);
                            col.present[slot] = true;
                        }
                    }
                }
                Vector::Sparse(v) => {
                    if let Some(col) = self.sparse.iter_mut().find(|c| c.name == name) {
                        col.set(slot, Some(v));
                    }
                }
                Vector::Multi(v) => {
                    if let Some(col) = self.multi.iter_mut().find(|c| c.name == name) {
                        col.rows[slot] = Some(v);
                    }
                }
            }
        }
    }

    /// Inserts or fully replaces one point, stamped with `version`.
    pub(crate) fn upsert(&mut self, p: PointWrite, version: u64) {
        let slot = match self.slot_of.get(&p.id) {
            Some(&s) => s as usize,
            None => {
                let s = self.allocate(p.id);
                self.slot_of.insert(p.id, s as u32);
                s
            }
        };
        self.versions[slot] = version;
        self.payloads[slot] = p.payload;
        for col in &mut self.columns {
            col.present[slot] = false;
        }
        for col in &mut self.sparse {
            col.set(slot, None);
        }
        for col in &mut self.multi {
            col.rows[slot] = None;
        }
        self.set_vectors(slot, p.vectors);
    }

    fn allocate(&mut self, id: PointId) -> usize {
        if let Some(s) = self.free.pop() {
            let s = s as usize;
            self.ids[s] = id;
            self.live[s] = true;
            return s;
        }
        let s = self.ids.len();
        self.ids.push(id);
        self.live.push(true);
        self.versions.push(0);
        self.payloads.push(None);
        for col in &mut self.columns {
            col.data.resize(col.data.len() + col.dim, 0.0);
            col.present.push(false);
        }
        for col in &mut self.sparse {
            col.push_slot();
        }
        for col in &mut self.multi {
            col.rows.push(None);
        }
        s
    }

    fn delete(&mut self, id: PointId) {
        if let Some(s) = self.slot_of.remove(&id) {
            let s = s as usize;
            self.live[s] = false;
            self.payloads[s] = None;
            for col in &mut self.sparse {
                col.set(s, None);
            }
            for col in &mut self.multi {
                col.rows[s] = None;
            }
            self.free.push(s as u32);
        }
    }

    pub fn contains(&self, id: PointId) -> bool {
        self.slot_of.contains_key(&id)
    }

    /// Slot of the live point `id`.
    pub(crate) fn slot(&self, id: PointId) -> Option<u32> {
        self.slot_of.get(&id).copied()
    }

    /// Live points with id ≥ `from`, in id order, with their slots.
    pub(crate) fn iter_from(
        &self,
        from: Option<PointId>,
    ) -> impl Iterator<Item = (PointId, u32)> + '_ {
        let lower = from.map_or(Bound::Unbounded, Bound::Included);
        self.slot_of
            .range((lower, Bound::Unbounded))
            .map(|(id, s)| (*id, *s))
    }

    /// The whole point `id` as it would be written, with its version: what moving it to
    /// another part (or into a segment) needs. Vectors in schema order.
    pub fn point(&self, id: PointId) -> Option<(PointWrite, u64)> {
        let slot = *self.slot_of.get(&id)? as usize;
        let vectors = self.selected_vectors(slot, |_| true);
        let point = PointWrite {
            id,
            vectors,
            payload: self.payloads[slot].clone(),
        };
        Some((point, self.versions[slot]))
    }

    /// The vectors (present ones, schema order), payload and version of the point in `slot`,
    /// borrowed: for the segment builder, which copies them once.
    pub(crate) fn parts_of(&self, slot: u32) -> PointParts<'_> {
        let slot = slot as usize;
        let dense = self.columns.iter().filter(|c| c.present[slot]).map(|c| {
            (
                c.name.as_str(),
                VectorRef::Dense(&c.data[slot * c.dim..(slot + 1) * c.dim]),
            )
        });
        let sparse = self.sparse.iter().filter_map(|c| {
            let v = c.get(slot)?;
            Some((c.name.as_str(), VectorRef::Sparse(v.indices(), v.values())))
        });
        let multi = self.multi.iter().filter_map(|c| {
            let v = c.rows[slot].as_ref()?;
            Some((c.name.as_str(), VectorRef::Multi(v.dim(), v.data())))
        });
        let vectors = dense.chain(sparse).chain(multi).collect();
        (vectors, self.payloads[slot].as_ref(), self.versions[slot])
    }

    /// Owned copies of the present vectors of `slot` whose name passes `keep`, dense ones
    /// first (schema order), then sparse ones.
    fn selected_vectors(&self, slot: usize, keep: impl Fn(&str) -> bool) -> NamedVectors {
        let dense = self
            .columns
            .iter()
            .filter(|c| c.present[slot] && keep(&c.name))
            .map(|c| {
                (
                    c.name.clone(),
                    Vector::Dense(c.data[slot * c.dim..(slot + 1) * c.dim].to_vec()),
                )
            });
        let sparse = self.sparse.iter().filter_map(|c| {
            let v = c.get(slot).filter(|_| keep(&c.name))?;
            Some((c.name.clone(), Vector::Sparse(v.clone())))
        });
        let multi = self.multi.iter().filter_map(|c| {
            let v = c.rows[slot].as_ref().filter(|_| keep(&c.name))?;
            Some((c.name.clone(), Vector::Multi(v.clone())))
        });
        dense.chain(sparse).chain(multi).collect()
    }

    pub fn get(
        &self,
        id: PointId,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Option<Record> {
        self.slot_of
            .get(&id)
            .map(|&s| self.record(s as usize, payload, vectors))
    }

    pub(crate) fn record(
        &self,
        slot: usize,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Record {
        let vectors = match vectors {
            VectorSelector::None => None,
            VectorSelector::All => Some(self.selected_vectors(slot, |_| true)),
            VectorSelector::Names(names) => {
                Some(self.selected_vectors(slot, |n| names.iter().any(|x| x == n)))
            }
        };
        Record {
            id: self.ids[slot],
            version: self.versions[slot],
            payload: payload.apply(self.payloads[slot].as_ref()),
            vectors,
        }
    }

    /// Up to `limit` records with id ≥ `from` passing `filter`, in id order.
    pub fn scroll(
        &self,
        from: Option<PointId>,
        limit: usize,
        filter: Option<&Filter>,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Vec<Record> {
        let lower = from.map_or(Bound::Unbounded, Bound::Included);
        self.slot_of
            .range((lower, Bound::Unbounded))
            .filter(|(_, &s)| self.passes(s as usize, filter))
            .take(limit)
            .map(|(_, &s)| self.record(s as usize, payload, vectors))
            .collect()
    }

    /// Exact (brute-force) search; returns `(internal score, record)` best first.
    pub fn search(
        &self,
        params: &SearchParams<'_>,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Result<Vec<(f32, Record)>> {
        let col = self.column(params.vector_name)?;
        let mut top = TopK::new(params.top);
        for (slot, chunk) in col.data.chunks_exact(col.dim.max(1)).enumerate() {
            if !self.live[slot] || !col.present[slot] {
                continue;
            }
            let score = col.metric.score(params.query, &chunk[..col.dim]);
            if params.threshold.is_some_and(|t| score < t) {
                continue;
            }
            // Scoring is cheaper than evaluating a filter over JSON: filter only the points
            // that would make the top-k.
            if !top.accepts(score, self.ids[slot]) || !self.passes(slot, params.filter) {
                continue;
            }
            top.push(score, self.ids[slot], slot as u32);
        }
        Ok(top
            .into_sorted()
            .into_iter()
            .map(|(score, _, slot)| (score, self.record(slot as usize, payload, vectors)))
            .collect())
    }

    /// [`PointStore::search`] into a heap shared with other parts: pushes
    /// `(internal score, id, tag(slot))` for every live point not `hidden` that has the vector.
    /// Candidates are ranked by `scorer` (the plain search passes `Nearest(params.query)`).
    pub(crate) fn search_into_by<T, S: Scorer>(
        &self,
        params: &SearchParams<'_>,
        scorer: &S,
        top: &mut TopK<T>,
        hidden: impl Fn(PointId) -> bool,
        mut tag: impl FnMut(u32) -> T,
    ) -> Result<()> {
        let col = self.column(params.vector_name)?;
        if scorer.dim() != col.dim {
            return Err(Error::Dimension {
                expected: col.dim,
                got: scorer.dim(),
            });
        }
        for (slot, chunk) in col.data.chunks_exact(col.dim.max(1)).enumerate() {
            if !self.live[slot] || !col.present[slot] {
                continue;
            }
            let score = scorer.score(col.metric, &chunk[..col.dim]);
            if params.threshold.is_some_and(|t| score < t) {
                continue;
            }
            let id = self.ids[slot];
            if !top.accepts(score, id) || hidden(id) || !self.passes(slot, params.filter) {
                continue;
            }
            top.push(score, id, tag(slot as u32));
        }
        Ok(())
    }

    /// Sparse search by scanning: pushes `(score, id, tag(slot))` for every live point not
    /// `hidden` whose sparse vector `name` gets a score (`score(indices, values)`: the dot
    /// product with a query, `None` when no index is shared; or a custom objective).
    pub(crate) fn search_sparse_into<T>(
        &self,
        name: &str,
        score: impl Fn(&[u32], &[f32]) -> Option<f32>,
        params: &SearchParams<'_>,
        top: &mut TopK<T>,
        hidden: impl Fn(PointId) -> bool,
        mut tag: impl FnMut(u32) -> T,
    ) -> Result<()> {
        self.schema.sparse(name)?;
        let Some(col) = self.sparse.iter().find(|c| c.name == name) else {
            return Ok(());
        };
        for (slot, row) in col.rows().iter().enumerate() {
            let Some(v) = row.as_ref().filter(|_| self.live[slot]) else {
                continue;
            };
            let Some(score) = score(v.indices(), v.values()) else {
                continue;
            };
            if params.threshold.is_some_and(|t| score < t) {
                continue;
            }
            let id = self.ids[slot];
            if !top.accepts(score, id) || hidden(id) || !self.passes(slot, params.filter) {
                continue;
            }
            top.push(score, id, tag(slot as u32));
        }
        Ok(())
    }

    /// Exact max_sim scan of the multivector space `name` (`query` already preprocessed):
    /// pushes `(score, id, tag(slot))` for every live point not `hidden` that has one.
    pub(crate) fn search_multi_into<T>(
        &self,
        name: &str,
        query: &MultiVector,
        params: &SearchParams<'_>,
        top: &mut TopK<T>,
        hidden: impl Fn(PointId) -> bool,
        mut tag: impl FnMut(u32) -> T,
    ) -> Result<()> {
        let Some(col) = self.multi.iter().find(|c| c.name == name) else {
            return Err(Error::WrongInput(format!(
                "Not existing vector name error: {name}"
            )));
        };
        for (slot, row) in col.rows.iter().enumerate() {
            let Some(v) = row.as_ref().filter(|_| self.live[slot]) else {
                continue;
            };
            if v.dim() != query.dim() {
                continue;
            }
            let score = max_sim(col.metric, query, v.data());
            if params.threshold.is_some_and(|t| score < t) {
                continue;
            }
            let id = self.ids[slot];
            if !top.accepts(score, id) || hidden(id) || !self.passes(slot, params.filter) {
                continue;
            }
            top.push(score, id, tag(slot as u32));
        }
        Ok(())
    }

    /// Counts for the idf modifier over the live points not `hidden`.
    pub(crate) fn sparse_stats(
        &self,
        name: &str,
        indices: &[u32],
        hidden: impl Fn(PointId) -> bool,
    ) -> SparseStats {
        let mut stats = SparseStats {
            points: 0,
            with_index: vec![0; indices.len()],
        };
        let Some(col) = self.sparse.iter().find(|c| c.name == name) else {
            return stats;
        };
        let counted = |slot: u32| {
            let s = slot as usize;
            self.live[s] && col.get(s).is_some() && !hidden(self.ids[s])
        };
        stats.points = (0..self.ids.len() as u32).filter(|&s| counted(s)).count() as u64;
        for (k, &i) in indices.iter().enumerate() {
            stats.with_index[k] = col.with_index(i, counted);
        }
        stats
    }

    /// Sparse search through the column's inverted index: pushes `(dot product, id,
    /// tag(slot))` for every live point not `hidden` whose vector `name` shares an index with
    /// `query` (the same results as [`PointStore::search_sparse_into`] with the dot product).
    pub(crate) fn search_sparse_postings_into<T>(
        &self,
        name: &str,
        query: &SparseVector,
        params: &SearchParams<'_>,
        top: &mut TopK<T>,
        hidden: impl Fn(PointId) -> bool,
        mut tag: impl FnMut(u32) -> T,
    ) -> Result<()> {
        self.schema.sparse(name)?;
        let Some(col) = self.sparse.iter().find(|c| c.name == name) else {
            return Ok(());
        };
        for (slot, score) in col.score(query) {
            let s = slot as usize;
            if !self.live[s] || params.threshold.is_some_and(|t| score < t) {
                continue;
            }
            let id = self.ids[s];
            if !top.accepts(score, id) || hidden(id) || !self.passes(s, params.filter) {
                continue;
            }
            top.push(score, id, tag(slot));
        }
        Ok(())
    }

    /// The metric of a vector space, for turning internal scores into user scores.
    pub fn metric(&self, name: &str) -> Result<Metric> {
        self.column(name).map(|c| c.metric)
    }
}

/// The object at dotted `path` inside `payload`, created (replacing non-objects) as needed.
fn object_at<'a>(payload: &'a mut Payload, path: &str) -> &'a mut Payload {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let entry = payload
        .entry(head.to_owned())
        .or_insert_with(|| serde_json::Value::Object(Payload::new()));
    if !entry.is_object() {
        *entry = serde_json::Value::Object(Payload::new());
    }
    let serde_json::Value::Object(inner) = entry else {
        unreachable!("replaced by an object just above")
    };
    match rest {
        None => inner,
        Some(r) => object_at(inner, r),
    }
}
