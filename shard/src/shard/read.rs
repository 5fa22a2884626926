//! Reads over every part of a shard. Each id is live in at most one part, so merging is a
//! union: scroll is a k-way merge by id, search one top-k heap over all parts. A filtered
//! scroll, count or id list visits only the candidate slots of a segment's payload index.

use std::iter::Peekable;

use vexfs_io::Storage;

use super::parts::{Loc, Parts, SegmentEntry};
use super::Shard;
use crate::error::Result;
use crate::filter::Filter;
use crate::hnsw::search_segment;
use crate::payload_index::Candidates;
use crate::point_id::PointId;
use crate::score::{Nearest, Objective, Scorer};
use crate::select::{PayloadSelector, Record, VectorSelector};
use crate::store::{SearchParams, SparseStats};
use crate::topk::TopK;
use crate::vector::{MultiVector, SparseVector};

type PartIter<'a> = Peekable<Box<dyn Iterator<Item = (PointId, Loc)> + 'a>>;

impl Parts {
    pub(super) fn record(
        &self,
        loc: Loc,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Option<Record> {
        let mut record = match loc {
            Loc::Mutable(slot) => {
                return Some(self.mutable.record(slot as usize, payload, vectors))
            }
            Loc::Frozen(slot) => {
                self.frozen
                    .as_ref()?
                    .store
                    .record(slot as usize, payload, vectors)
            }
            Loc::Segment(i, slot) => self.segments[i]
                .segment
                .record(slot, payload, vectors)
                .ok()?,
        };
        // Columns of a space deleted (or deleted and created again) since that part was
        // written are not the point's vectors any more.
        let lsn = self.data_lsn(loc);
        if let Some(v) = &mut record.vectors {
            v.retain(|(name, _)| self.mutable.space_visible(name, lsn));
        }
        Some(record)
    }

    /// Whether the vectors `name` of the part at `loc` (any slot) belong to the current space.
    pub(super) fn visible(&self, name: &str, loc: Loc) -> bool {
        self.mutable.space_visible(name, self.data_lsn(loc))
    }

    /// The records of a finished search, best first; a location whose record cannot be read is
    /// left out.
    fn ranked(
        &self,
        top: TopK<Loc>,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Vec<(f32, Record)> {
        top.into_sorted()
            .into_iter()
            .filter_map(|(score, _, loc)| Some((score, self.record(loc, payload, vectors)?)))
            .collect()
    }

    /// One iterator per part over its live points with id ≥ `from` passing `filter`, each in
    /// id order.
    fn part_iters<'a>(
        &'a self,
        from: Option<PointId>,
        filter: Option<&'a Filter>,
    ) -> Vec<PartIter<'a>> {
        let mut iters: Vec<PartIter<'a>> = Vec::with_capacity(2 + self.segments.len());
        let m = &self.mutable;
        let it: Box<dyn Iterator<Item = (PointId, Loc)> + 'a> = Box::new(
            m.iter_from(from)
                .filter(move |(_, s)| m.passes(*s as usize, filter))
                .map(|(id, s)| (id, Loc::Mutable(s))),
        );
        iters.push(it.peekable());
        if let Some(f) = &self.frozen {
            let it: Box<dyn Iterator<Item = (PointId, Loc)> + 'a> = Box::new(
                f.store
                    .iter_from(from)
                    .filter(move |(id, s)| {
                        !f.deleted.contains(id) && f.store.passes(*s as usize, filter)
                    })
                    .map(|(id, s)| (id, Loc::Frozen(s))),
            );
            iters.push(it.peekable());
        }
        for (i, e) in self.segments.iter().enumerate() {
            let seg = &e.segment;
            let it: Box<dyn Iterator<Item = (PointId, Loc)> + 'a> = match indexed_slots(e, filter) {
                // Slots ascend with ids, so the payload index's candidates keep id order.
                Some(slots) => {
                    let start = from.map_or(0, |id| seg.lower_bound(id));
                    Box::new(
                        slots
                            .into_iter()
                            .filter(move |&s| s >= start && !seg.is_deleted(s))
                            .filter(move |&s| seg.matches(s, filter))
                            .filter_map(move |s| Some((seg.id(s)?, Loc::Segment(i, s)))),
                    )
                }
                None => Box::new(
                    seg.iter_from(from)
                        .filter(move |(s, _)| seg.matches(*s, filter))
                        .map(move |(s, id)| (id, Loc::Segment(i, s))),
                ),
            };
            iters.push(it.peekable());
        }
        iters
    }

    /// Live points with id ≥ `from` passing `filter`, in id order (k-way merge).
    pub(super) fn merged<'a>(
        &'a self,
        from: Option<PointId>,
        filter: Option<&'a Filter>,
    ) -> impl Iterator<Item = (PointId, Loc)> + 'a {
        let mut iters = self.part_iters(from, filter);
        std::iter::from_fn(move || {
            // Few parts: a linear pick of the smallest head beats a heap.
            let mut best: Option<(usize, PointId)> = None;
            for (i, it) in iters.iter_mut().enumerate() {
                if let Some(&(id, _)) = it.peek() {
                    if best.is_none_or(|(_, b)| id < b) {
                        best = Some((i, id));
                    }
                }
            }
            let (i, _) = best?;
            iters[i].next()
        })
    }
}

/// The slots of segment `e` that may pass `filter` when its payload index narrows them (a
/// superset of the matches; the filter still decides each), `None` when every slot may.
pub(super) fn indexed_slots(e: &SegmentEntry, filter: Option<&Filter>) -> Option<Vec<u32>> {
    match e.payload_index.as_ref()?.candidates(filter?) {
        Candidates::Slots(slots) => Some(slots),
        Candidates::All => None,
    }
}

impl<S: Storage> Shard<S> {
    pub fn get(
        &self,
        id: PointId,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Option<Record> {
        let parts = self.parts.borrow();
        let loc = parts.locate(id)?;
        parts.record(loc, payload, vectors)
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
        let parts = self.parts.borrow();
        let locs: Vec<Loc> = parts
            .merged(from, filter)
            .take(limit)
            .map(|(_, l)| l)
            .collect();
        locs.into_iter()
            .filter_map(|l| parts.record(l, payload, vectors))
            .collect()
    }

    /// Number of points passing `filter`.
    pub fn count(&self, filter: Option<&Filter>) -> usize {
        let parts = self.parts.borrow();
        match filter {
            None => {
                parts.mutable.len()
                    + parts.frozen.as_ref().map_or(0, |f| {
                        f.store
                            .iter_from(None)
                            .filter(|(id, _)| !f.deleted.contains(id))
                            .count()
                    })
                    + parts
                        .segments
                        .iter()
                        .map(|e| e.segment.live_len())
                        .sum::<usize>()
            }
            Some(_) => parts.merged(None, filter).count(),
        }
    }

    /// Ids of the points passing `filter`, in id order.
    pub fn matching_ids(&self, filter: &Filter) -> Vec<PointId> {
        let parts = self.parts.borrow();
        parts.merged(None, Some(filter)).map(|(id, _)| id).collect()
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.count(None)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Exact search over every part; `(internal score, record)` best first, ties by id.
    pub fn search(
        &self,
        params: &SearchParams<'_>,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Result<Vec<(f32, Record)>> {
        self.search_by(params, &Nearest(params.query), payload, vectors)
    }

    /// [`Shard::search`] ranking every candidate by `scorer` (a custom objective) instead of
    /// its similarity to `params.query`; `params.threshold` applies to the scorer's score.
    pub fn search_by<C: Scorer>(
        &self,
        params: &SearchParams<'_>,
        scorer: &C,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Result<Vec<(f32, Record)>> {
        let parts = self.parts.borrow();
        let settings = self.index_settings.borrow().column(params.vector_name);
        let mut top = TopK::new(params.top);
        // The mutable and frozen parts have no graph: `indexed_only` leaves them out when
        // they are above the full-scan threshold ("only indexed or small segments").
        let small = |points: usize| {
            !params.indexed_only || points <= settings.full_scan_vectors(scorer.dim())
        };
        // Refuses an unknown vector name or a wrong dimension before any part is searched.
        let spec = parts.mutable.schema().spec(params.vector_name)?;
        if spec.dim != scorer.dim() {
            return Err(crate::error::Error::Dimension {
                expected: spec.dim,
                got: scorer.dim(),
            });
        }
        if small(parts.mutable.len()) {
            parts
                .mutable
                .search_into_by(params, scorer, &mut top, |_| false, Loc::Mutable)?;
        }
        let name = params.vector_name;
        if let Some(f) = parts
            .frozen
            .as_ref()
            .filter(|f| small(f.store.len()) && parts.visible(name, Loc::Frozen(0)))
        {
            f.store.search_into_by(
                params,
                scorer,
                &mut top,
                |id| f.deleted.contains(&id),
                Loc::Frozen,
            )?;
        }
        for (i, e) in parts.segments.iter().enumerate() {
            if !parts.visible(name, Loc::Segment(i, 0)) {
                continue;
            }
            search_segment(
                &e.segment,
                e.index.as_ref(),
                e.quant.as_ref(),
                e.payload_index.as_ref(),
                params,
                &settings,
                scorer,
                &mut top,
                |slot| Loc::Segment(i, slot),
            );
        }
        Ok(parts.ranked(top, payload, vectors))
    }

    /// Sparse search over every part: the dot product with `query` of the vectors `name`
    /// that share an index with it (`params.query`, the graph settings and `indexed_only`
    /// do not apply; every part searches its inverted index).
    /// `(score, record)` best first, ties by id.
    pub fn search_sparse(
        &self,
        name: &str,
        query: &SparseVector,
        params: &SearchParams<'_>,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Result<Vec<(f32, Record)>> {
        let parts = self.parts.borrow();
        parts.mutable.schema().sparse(name)?;
        let mut top = TopK::new(params.top);
        parts.mutable.search_sparse_postings_into(
            name,
            query,
            params,
            &mut top,
            |_| false,
            Loc::Mutable,
        )?;
        if let Some(f) = parts
            .frozen
            .as_ref()
            .filter(|_| parts.visible(name, Loc::Frozen(0)))
        {
            f.store.search_sparse_postings_into(
                name,
                query,
                params,
                &mut top,
                |id| f.deleted.contains(&id),
                Loc::Frozen,
            )?;
        }
        for (i, e) in parts.segments.iter().enumerate() {
            if !parts.visible(name, Loc::Segment(i, 0)) {
                continue;
            }
            e.segment
                .search_sparse_into(name, query, params, &mut top, |slot| Loc::Segment(i, slot));
        }
        Ok(parts.ranked(top, payload, vectors))
    }

    /// Sparse search ranked by a custom objective (recommend `best_score` / `sum_scores`,
    /// discover, context) whose similarity is the dot product with each example (0 when
    /// they share no index): every live point with the vector `name` is scored, by scanning.
    pub fn search_sparse_by(
        &self,
        name: &str,
        objective: &Objective<SparseVector>,
        params: &SearchParams<'_>,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Result<Vec<(f32, Record)>> {
        let parts = self.parts.borrow();
        parts.mutable.schema().sparse(name)?;
        let mut top = TopK::new(params.top);
        let score = |i: &[u32], v: &[f32]| Some(objective.fold(|e| e.dot(i, v).unwrap_or(0.0)));
        parts
            .mutable
            .search_sparse_into(name, score, params, &mut top, |_| false, Loc::Mutable)?;
        if let Some(f) = parts
            .frozen
            .as_ref()
            .filter(|_| parts.visible(name, Loc::Frozen(0)))
        {
            f.store.search_sparse_into(
                name,
                score,
                params,
                &mut top,
                |id| f.deleted.contains(&id),
                Loc::Frozen,
            )?;
        }
        for (i, e) in parts.segments.iter().enumerate() {
            if !parts.visible(name, Loc::Segment(i, 0)) {
                continue;
            }
            e.segment
                .scan_sparse_into(name, score, params, &mut top, |slot| Loc::Segment(i, slot));
        }
        Ok(parts.ranked(top, payload, vectors))
    }

    /// Multivector search over every part by exact max_sim scans (`query` already checked
    /// and preprocessed like stored rows); `(score, record)` best first, ties by id.
    pub fn search_multi(
        &self,
        name: &str,
        query: &MultiVector,
        params: &SearchParams<'_>,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Result<Vec<(f32, Record)>> {
        let parts = self.parts.borrow();
        let mut top = TopK::new(params.top);
        parts
            .mutable
            .search_multi_into(name, query, params, &mut top, |_| false, Loc::Mutable)?;
        if let Some(f) = parts
            .frozen
            .as_ref()
            .filter(|_| parts.visible(name, Loc::Frozen(0)))
        {
            f.store.search_multi_into(
                name,
                query,
                params,
                &mut top,
                |id| f.deleted.contains(&id),
                Loc::Frozen,
            )?;
        }
        for (i, e) in parts.segments.iter().enumerate() {
            if !parts.visible(name, Loc::Segment(i, 0)) {
                continue;
            }
            e.segment
                .search_multi_into(name, query, params, &mut top, |slot| Loc::Segment(i, slot));
        }
        Ok(parts.ranked(top, payload, vectors))
    }

    /// Counts of the sparse space `name` for the idf modifier: live points with such a
    /// vector, and how many of them have each of `indices`.
    pub fn sparse_stats(&self, name: &str, indices: &[u32]) -> SparseStats {
        let parts = self.parts.borrow();
        let mut stats = parts.mutable.sparse_stats(name, indices, |_| false);
        if let Some(f) = parts
            .frozen
            .as_ref()
            .filter(|_| parts.visible(name, Loc::Frozen(0)))
        {
            stats.add(
                &f.store
                    .sparse_stats(name, indices, |id| f.deleted.contains(&id)),
            );
        }
        for (i, e) in parts.segments.iter().enumerate() {
            if !parts.visible(name, Loc::Segment(i, 0)) {
                continue;
            }
            stats.add(&e.segment.sparse_stats(name, indices));
        }
        stats
    }
}
