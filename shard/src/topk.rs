//! Bounded best-k selection: a min-heap holding the k best (score, id) pairs seen so far.
//! Ties on score order by ascending id so results are the same on every shard layout.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::point_id::PointId;

struct Entry<T> {
    score: f32,
    id: PointId,
    item: T,
}

impl<T> Entry<T> {
    /// "Better" compares greater: higher score, then lower id.
    fn rank(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.id.cmp(&self.id))
    }
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.rank(other) == Ordering::Equal
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    // Reversed so the heap's top is the worst kept entry.
    fn cmp(&self, other: &Self) -> Ordering {
        other.rank(self)
    }
}

pub struct TopK<T> {
    k: usize,
    heap: BinaryHeap<Entry<T>>,
}

impl<T> TopK<T> {
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }

    /// Whether `push(score, id, _)` would keep the entry.
    pub fn accepts(&self, score: f32, id: PointId) -> bool {
        if self.k == 0 {
            return false;
        }
        if self.heap.len() < self.k {
            return true;
        }
        self.heap.peek().is_some_and(|worst| {
            score
                .total_cmp(&worst.score)
                .then_with(|| worst.id.cmp(&id))
                == Ordering::Greater
        })
    }

    pub fn push(&mut self, score: f32, id: PointId, item: T) {
        if self.k == 0 {
            return;
        }
        let entry = Entry { score, id, item };
        if self.heap.len() < self.k {
            self.heap.push(entry);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if entry.rank(&worst) == Ordering::Greater {
                *worst = entry;
            }
        }
    }

    /// Best first.
    pub fn into_sorted(self) -> Vec<(f32, PointId, T)> {
        // Ascending by `Ord` = best first, since `Ord` is reversed.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| (e.score, e.id, e.item))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_best_k_with_id_tie_break() {
        let mut t = TopK::new(3);
        for (i, s) in [0.5, 0.9, 0.1, 0.9, 0.7, 0.3].iter().enumerate() {
            t.push(*s, PointId::Num(i as u64), i);
        }
        let got: Vec<usize> = t.into_sorted().into_iter().map(|(_, _, i)| i).collect();
        assert_eq!(got, vec![1, 3, 4]);
        let mut empty = TopK::new(0);
        empty.push(1.0, PointId::Num(1), ());
        assert!(empty.into_sorted().is_empty());
    }
}
