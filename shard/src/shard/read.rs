//! Reads over every part of a shard. Each id is live in at most one part, so merging is a
//! union: scroll is a k-way merge by id, search one top-k heap over all parts.

use std::iter::Peekable;

use vexfs_io::Storage;

use super::parts::{Loc, Parts};
use super::Shard;
use crate::error::Result;
use crate::filter::Filter;
use crate::hnsw::search_segment;
use crate::point_id::PointId;
use crate::score::{Nearest, Scorer};
use crate::select::{PayloadSelector, Record, VectorSelector};
use crate::store::SearchParams;
use crate::topk::TopK;

type PartIter<'a> = Peekable<Box<dyn Iterator<Item = (PointId, Loc)> + 'a>>;

impl Parts {
    pub(super) fn record(
        &self,
        loc: Loc,
        payload: &PayloadSelector,
        vectors: &VectorSelector,
    ) -> Option<Record> {
        match loc {
            Loc::Mutable(slot) => Some(self.mutable.record(slot as usize, payload, vectors)),
            Loc::Frozen(slot) => Some(self.frozen.as_ref()?.store.record(
                slot as usize,
                payload,
                vectors,
            )),
            Loc::Segment(i, slot) => self.segments[i].segment.record(slot, payload, vectors).ok(),
        }
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
            let it: Box<dyn Iterator<Item = (PointId, Loc)> + 'a> = Box::new(
                seg.iter_from(from)
                    .filter(move |(s, _)| seg.matches(*s, filter))
                    .map(move |(s, id)| (id, Loc::Segment(i, s))),
            );
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
        let spec = self.schema.spec(params.vector_name)?;
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
        if let Some(f) = parts.frozen.as_ref().filter(|f| small(f.store.len())) {
            f.store.search_into_by(
                params,
                scorer,
                &mut top,
                |id| f.deleted.contains(&id),
                Loc::Frozen,
            )?;
        }
        for (i, e) in parts.segments.iter().enumerate() {
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
        Ok(top
            .into_sorted()
            .into_iter()
            .filter_map(|(score, _, loc)| Some((score, parts.record(loc, payload, vectors)?)))
            .collect())
    }
}
