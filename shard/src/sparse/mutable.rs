//! A sparse vector space of the mutable point store: per-slot vectors plus an inverted index
//! kept up to date on every write, so searching the mutable part does not scan every point.
//!
//! Replacing or removing a vector leaves its old postings in place ("stale"): a posting
//! counts only while the slot's current vector still has that index, and a slot listed twice
//! for one index counts once. When stale postings outnumber live ones the index is rebuilt
//! from the vectors, so its size stays within twice the data.

use std::collections::HashMap;

use crate::vector::SparseVector;

/// Stale postings tolerated before a rebuild, at least (small columns rebuild rarely).
const STALE_POSTINGS_MIN: usize = 4096;

pub struct SparseColumn {
    pub name: String,
    rows: Vec<Option<SparseVector>>,
    /// Index → slots whose vector had it when written (may hold stale entries).
    postings: HashMap<u32, Vec<u32>>,
    live_entries: usize,
    stale_entries: usize,
}

impl SparseColumn {
    pub fn new(name: String) -> Self {
        SparseColumn {
            name,
            rows: Vec::new(),
            postings: HashMap::new(),
            live_entries: 0,
            stale_entries: 0,
        }
    }

    /// Adds an empty slot at the end.
    pub fn push_slot(&mut self) {
        self.rows.push(None);
    }

    pub fn get(&self, slot: usize) -> Option<&SparseVector> {
        self.rows.get(slot)?.as_ref()
    }

    pub fn rows(&self) -> &[Option<SparseVector>] {
        &self.rows
    }

    /// Replaces the vector of `slot` (`None` removes it).
    pub fn set(&mut self, slot: usize, v: Option<SparseVector>) {
        let Some(row) = self.rows.get_mut(slot) else {
            return;
        };
        if let Some(old) = row.take() {
            self.live_entries -= old.len();
            self.stale_entries += old.len();
        }
        if let Some(v) = &v {
            for &i in v.indices() {
                self.postings.entry(i).or_default().push(slot as u32);
            }
            self.live_entries += v.len();
        }
        *row = v;
        if self.stale_entries > self.live_entries.max(STALE_POSTINGS_MIN) {
            self.rebuild();
        }
    }

    fn rebuild(&mut self) {
        self.postings.clear();
        for (slot, row) in self.rows.iter().enumerate() {
            for &i in row.iter().flat_map(|v| v.indices()) {
                self.postings.entry(i).or_default().push(slot as u32);
            }
        }
        self.stale_entries = 0;
    }

    /// Weight of index `i` in the current vector of `slot`.
    fn value(&self, slot: u32, i: u32) -> Option<f32> {
        let v = self.rows.get(slot as usize)?.as_ref()?;
        let k = v.indices().binary_search(&i).ok()?;
        v.values().get(k).copied()
    }

    /// Dot product of `query` with every slot whose vector shares an index with it, as
    /// `(slot, score)`. Per slot the products are added in ascending index order, exactly as
    /// [`crate::vector::sparse_dot`] adds them.
    pub fn score(&self, query: &SparseVector) -> Vec<(u32, f32)> {
        let mut acc: Vec<f32> = Vec::new();
        // Position in the query of the last term that counted for each slot (+1; 0 = none).
        let mut last: Vec<u32> = Vec::new();
        let mut touched: Vec<u32> = Vec::new();
        for (k, (&term, &w)) in query.indices().iter().zip(query.values()).enumerate() {
            let Some(slots) = self.postings.get(&term) else {
                continue;
            };
            if acc.is_empty() {
                acc = vec![0.0; self.rows.len()];
                last = vec![0; self.rows.len()];
            }
            let mark = k as u32 + 1;
            for &slot in slots {
                let s = slot as usize;
                if last[s] == mark {
                    continue;
                }
                let Some(v) = self.value(slot, term) else {
                    continue;
                };
                if last[s] == 0 {
                    touched.push(slot);
                }
                last[s] = mark;
                acc[s] += w * v;
            }
        }
        touched.into_iter().map(|s| (s, acc[s as usize])).collect()
    }

    /// How many current vectors have index `i`, among the slots `counted` accepts.
    pub fn with_index(&self, i: u32, counted: impl Fn(u32) -> bool) -> u64 {
        let Some(slots) = self.postings.get(&i) else {
            return 0;
        };
        let mut valid: Vec<u32> = slots
            .iter()
            .copied()
            .filter(|&s| self.value(s, i).is_some() && counted(s))
            .collect();
        valid.sort_unstable();
        valid.dedup();
        valid.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sv(i: &[u32], v: &[f32]) -> SparseVector {
        SparseVector::new(i.to_vec(), v.to_vec()).expect("valid")
    }

    #[test]
    fn replaced_and_removed_vectors_stop_counting() {
        let mut c = SparseColumn::new("s".into());
        for _ in 0..3 {
            c.push_slot();
        }
        c.set(0, Some(sv(&[1, 2], &[1.0, 2.0])));
        c.set(1, Some(sv(&[2], &[3.0])));
        // Slot 0 rewritten keeping index 2: listed twice under 2, counted once.
        c.set(0, Some(sv(&[2, 5], &[4.0, 1.0])));
        c.set(2, Some(sv(&[1], &[9.0])));
        c.set(2, None);
        let q = sv(&[1, 2], &[1.0, 1.0]);
        let mut got = c.score(&q);
        got.sort_by_key(|p| p.0);
        assert_eq!(got, vec![(0, 4.0), (1, 3.0)]);
        assert_eq!(c.with_index(2, |_| true), 2);
        assert_eq!(c.with_index(1, |_| true), 0);
        assert_eq!(c.with_index(2, |s| s != 1), 1);
    }

    #[test]
    fn rebuild_keeps_results() {
        let mut c = SparseColumn::new("s".into());
        c.push_slot();
        c.push_slot();
        c.set(1, Some(sv(&[7], &[1.0])));
        for round in 0..(2 * STALE_POSTINGS_MIN) {
            c.set(0, Some(sv(&[3, 7], &[round as f32, 2.0])));
        }
        assert!(c.stale_entries <= STALE_POSTINGS_MIN.max(c.live_entries));
        let mut got = c.score(&sv(&[3, 7], &[1.0, 1.0]));
        got.sort_by_key(|p| p.0);
        let last = (2 * STALE_POSTINGS_MIN - 1) as f32;
        assert_eq!(got, vec![(0, last + 2.0), (1, 1.0)]);
    }
}
