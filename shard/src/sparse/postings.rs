//! Postings of one sparse space of a segment: building them from per-slot vectors, and
//! scoring a query over them.

use crate::vector::SparseVector;

/// The inverted index of one sparse space: `terms` strictly ascending; the postings of
/// `terms[k]` are `slots[start..term_ends[k]]` (and the same range of `values`), slots
/// strictly ascending, where `start` is the previous end.
#[derive(Debug, Default, PartialEq)]
pub struct Postings {
    pub terms: Vec<u32>,
    pub term_ends: Vec<u64>,
    pub slots: Vec<u32>,
    pub values: Vec<f32>,
}

/// Builds the postings of per-slot vectors given as `ends` (end offset of each slot's entries)
/// over flat `indices`/`values` (each slot's indices sorted).
pub fn build(ends: &[u64], indices: &[u32], values: &[f32]) -> Postings {
    // (index, slot, value) sorted by index then slot: one counting pass would avoid the sort,
    // but index values are u32 and unbounded, so a sort is the simple correct choice.
    let mut entries: Vec<(u32, u32, f32)> = Vec::with_capacity(indices.len());
    let mut start = 0usize;
    for (slot, &end) in ends.iter().enumerate() {
        let end = end as usize;
        for k in start..end {
            entries.push((indices[k], slot as u32, values[k]));
        }
        start = end;
    }
    entries.sort_unstable_by_key(|e| (e.0, e.1));
    let mut p = Postings {
        slots: Vec::with_capacity(entries.len()),
        values: Vec::with_capacity(entries.len()),
        ..Postings::default()
    };
    for (term, slot, value) in entries {
        if p.terms.last() != Some(&term) {
            if !p.terms.is_empty() {
                p.term_ends.push(p.slots.len() as u64);
            }
            p.terms.push(term);
        }
        p.slots.push(slot);
        p.values.push(value);
    }
    if !p.terms.is_empty() {
        p.term_ends.push(p.slots.len() as u64);
    }
    p
}

/// Borrowed postings of an open segment (already validated).
#[derive(Clone, Copy)]
pub struct PostingsRef<'a> {
    pub terms: &'a [u32],
    pub term_ends: &'a [u64],
    pub slots: &'a [u32],
    pub values: &'a [f32],
}

impl<'a> PostingsRef<'a> {
    /// Slots and values of the points whose vector has index `term`.
    pub fn list(&self, term: u32) -> (&'a [u32], &'a [f32]) {
        let Ok(k) = self.terms.binary_search(&term) else {
            return (&[], &[]);
        };
        let start = if k == 0 {
            0
        } else {
            self.term_ends[k - 1] as usize
        };
        let end = self.term_ends[k] as usize;
        (&self.slots[start..end], &self.values[start..end])
    }

    /// Dot product of `query` with every slot sharing an index with it, as `(slot, score)` in
    /// slot order. `slots` is the segment's point count (bounds the accumulator).
    pub fn score(&self, query: &SparseVector, slots: usize) -> Vec<(u32, f32)> {
        let mut acc: Vec<f32> = Vec::new();
        let mut seen: Vec<bool> = Vec::new();
        let mut touched: Vec<u32> = Vec::new();
        // Query indices ascending: each slot's sum adds its terms in index order, exactly
        // like the merge in `sparse_dot`.
        for (&term, &w) in query.indices().iter().zip(query.values()) {
            let (ps, vs) = self.list(term);
            if ps.is_empty() {
                continue;
            }
            if acc.is_empty() {
                acc = vec![0.0; slots];
                seen = vec![false; slots];
            }
            for (&slot, &v) in ps.iter().zip(vs) {
                let s = slot as usize;
                if !seen[s] {
                    seen[s] = true;
                    touched.push(slot);
                }
                acc[s] += w * v;
            }
        }
        touched.sort_unstable();
        touched.into_iter().map(|s| (s, acc[s as usize])).collect()
    }
}
