//! The two walks every HNSW operation is made of: a greedy descent through the upper layers
//! and a beam search (width `ef`) on one layer. Shared by the builder (its links live in
//! vectors) and the open index (its links are read in place), through [`Links`].

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Neighbour lists of a graph.
pub(crate) trait Links {
    /// Neighbours of `node` on `layer`; empty when the node is not on that layer.
    fn neighbours(&self, layer: usize, node: u32) -> &[u32];
}

/// A node with its score (higher is closer). Orders by score, then by lower slot, so walks
/// are deterministic even among equal scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Scored {
    pub score: f32,
    pub slot: u32,
}

impl Eq for Scored {}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.slot.cmp(&self.slot))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Min-heap adapter: the worst kept result on top.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Worst(std::cmp::Reverse<Scored>);

/// Slots seen by one walk: a bitmap, cleared word by word so a reused set costs only what
/// the last walk touched.
pub(crate) struct Visited {
    words: Vec<u64>,
    touched: Vec<u32>,
}

impl Visited {
    pub fn new(slots: usize) -> Self {
        Visited {
            words: vec![0; slots.div_ceil(64)],
            touched: Vec::new(),
        }
    }

    /// Marks `slot`; true when it was not marked before. Slots out of range count as seen.
    pub fn insert(&mut self, slot: u32) -> bool {
        let i = slot as usize / 64;
        let bit = 1u64 << (slot % 64);
        let Some(w) = self.words.get_mut(i) else {
            return false;
        };
        if *w & bit != 0 {
            return false;
        }
        if *w == 0 {
            self.touched.push(i as u32);
        }
        *w |= bit;
        true
    }

    pub fn clear(&mut self) {
        for &i in &self.touched {
            self.words[i as usize] = 0;
        }
        self.touched.clear();
    }
}

/// Follows the best neighbour on `layer` from `from` until none improves.
pub(crate) fn greedy<L: Links + ?Sized>(
    links: &L,
    layer: usize,
    from: Scored,
    score: &mut impl FnMut(u32) -> Option<f32>,
) -> Scored {
    let mut cur = from;
    loop {
        let mut next = cur;
        for &n in links.neighbours(layer, cur.slot) {
            if let Some(s) = score(n) {
                let cand = Scored { score: s, slot: n };
                if cand > next {
                    next = cand;
                }
            }
        }
        if next == cur {
            return cur;
        }
        cur = next;
    }
}

/// Beam search on `layer` from `entries` (already scored): the up-to-`ef` best nodes found
/// that `accept` lets through, best first. Rejected nodes are still walked through (a filter
/// or a deletion must not cut the graph), they are only never collected. `accept` is asked
/// lazily, only for nodes good enough to enter the result.
pub(crate) fn search_layer<L: Links + ?Sized>(
    links: &L,
    layer: usize,
    entries: &[Scored],
    ef: usize,
    visited: &mut Visited,
    score: &mut impl FnMut(u32) -> Option<f32>,
    accept: &mut impl FnMut(u32) -> bool,
) -> Vec<Scored> {
    let ef = ef.max(1);
    visited.clear();
    let mut candidates: BinaryHeap<Scored> = BinaryHeap::with_capacity(ef * 2);
    let mut results: BinaryHeap<Worst> = BinaryHeap::with_capacity(ef + 1);
    for &e in entries {
        if !visited.insert(e.slot) {
            continue;
        }
        candidates.push(e);
        if accept(e.slot) {
            results.push(Worst(std::cmp::Reverse(e)));
            if results.len() > ef {
                results.pop();
            }
        }
    }
    while let Some(c) = candidates.pop() {
        let full = results.len() >= ef;
        if full && results.peek().is_some_and(|w| c < w.0 .0) {
            break;
        }
        for &n in links.neighbours(layer, c.slot) {
            if !visited.insert(n) {
                continue;
            }
            let Some(s) = score(n) else { continue };
            let cand = Scored { score: s, slot: n };
            let full = results.len() >= ef;
            if full && results.peek().is_some_and(|w| cand < w.0 .0) {
                continue;
            }
            candidates.push(cand);
            if accept(n) {
                results.push(Worst(std::cmp::Reverse(cand)));
                if results.len() > ef {
                    results.pop();
                }
            }
        }
    }
    let mut out: Vec<Scored> = results.into_iter().map(|w| w.0 .0).collect();
    out.sort_unstable_by(|a, b| b.cmp(a));
    out
}
