//! Product quantization: a vector is cut into sub-vectors of `per` components (the last one
//! zero-padded), each replaced by the index of its nearest of [`PQ_CENTROIDS`] centroids
//! (one byte). Codebooks come from k-means on a deterministic sample of the column; a query
//! is scored asymmetrically: one table of its partial scores against every centroid, then a
//! sum of one table lookup per code byte.
//!
//! Training is deterministic: centroids start at evenly spaced sample rows, run at most
//! [`PQ_KMEANS_ITERATIONS`] Lloyd iterations, ties go to the lower centroid index.

use super::format::PQ_CENTROIDS;
use crate::schema::Distance;

/// Lloyd iterations per sub-vector codebook (bounded work per training step).
pub const PQ_KMEANS_ITERATIONS: usize = 12;

/// Component `i` of sub-vector `sub` of `v` (zero past the end of the vector).
#[inline]
fn component(v: &[f32], sub: usize, per: usize, i: usize) -> f32 {
    v.get(sub * per + i).copied().unwrap_or(0.0)
}

fn squared(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Index of the centroid nearest `point` (first on ties).
fn nearest(centroids: &[f32], per: usize, point: &[f32]) -> usize {
    let mut best = (f32::INFINITY, 0usize);
    for (k, c) in centroids.chunks_exact(per).enumerate() {
        let d = squared(c, point);
        if d < best.0 {
            best = (d, k);
        }
    }
    best.1
}

/// Trains the codebook of sub-vector `sub` from `sample` (rows of `dim` components) into
/// `out` (`PQ_CENTROIDS × per` values).
pub fn train_subspace(sample: &[f32], dim: usize, sub: usize, per: usize, out: &mut [f32]) {
    debug_assert_eq!(out.len(), PQ_CENTROIDS * per);
    let rows = sample.len().checked_div(dim).unwrap_or(0);
    let points: Vec<f32> = sample
        .chunks_exact(dim.max(1))
        .flat_map(|v| (0..per).map(move |i| component(v, sub, per, i)))
        .collect();
    out.fill(0.0);
    if rows == 0 {
        return;
    }
    let k = rows.min(PQ_CENTROIDS);
    for j in 0..k {
        let r = j * rows / k;
        out[j * per..(j + 1) * per].copy_from_slice(&points[r * per..(r + 1) * per]);
    }
    let mut assigned = vec![usize::MAX; rows];
    let mut sums = vec![0f64; k * per];
    let mut counts = vec![0usize; k];
    for _ in 0..PQ_KMEANS_ITERATIONS {
        let mut changed = false;
        for (r, p) in points.chunks_exact(per).enumerate() {
            let a = nearest(&out[..k * per], per, p);
            if assigned[r] != a {
                assigned[r] = a;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        sums.fill(0.0);
        counts.fill(0);
        for (r, p) in points.chunks_exact(per).enumerate() {
            let a = assigned[r];
            counts[a] += 1;
            for (s, x) in sums[a * per..(a + 1) * per].iter_mut().zip(p) {
                *s += f64::from(*x);
            }
        }
        for j in 0..k {
            // An empty cluster keeps its centroid.
            if counts[j] > 0 {
                for i in 0..per {
                    out[j * per + i] = (sums[j * per + i] / counts[j] as f64) as f32;
                }
            }
        }
    }
    // Fewer sample rows than centroids: the rest repeat the first (never nearer than it).
    for j in k..PQ_CENTROIDS {
        out.copy_within(0..per, j * per);
    }
}

/// Encodes `v` (one code byte per sub-vector) with `codebooks`
/// (`subs × PQ_CENTROIDS × per`).
pub fn encode(codebooks: &[f32], per: usize, v: &[f32], out: &mut [u8]) {
    let mut point = vec![0f32; per];
    let book = PQ_CENTROIDS * per;
    for (sub, c) in out.iter_mut().enumerate() {
        for (i, p) in point.iter_mut().enumerate() {
            *p = component(v, sub, per, i);
        }
        let centroids = codebooks.get(sub * book..(sub + 1) * book).unwrap_or(&[]);
        *c = nearest(centroids, per, &point) as u8;
    }
}

/// The query's partial internal scores against every centroid: `subs × PQ_CENTROIDS`.
pub fn table(
    codebooks: &[f32],
    distance: Distance,
    per: usize,
    subs: usize,
    q: &[f32],
) -> Vec<f32> {
    let mut t = Vec::with_capacity(subs * PQ_CENTROIDS);
    let mut point = vec![0f32; per];
    for sub in 0..subs {
        for (i, p) in point.iter_mut().enumerate() {
            *p = component(q, sub, per, i);
        }
        let book = PQ_CENTROIDS * per;
        let centroids = codebooks.get(sub * book..(sub + 1) * book).unwrap_or(&[]);
        for c in centroids.chunks_exact(per) {
            let s: f32 = match distance {
                Distance::Cosine | Distance::Dot => point.iter().zip(c).map(|(a, b)| a * b).sum(),
                Distance::Euclid => -squared(&point, c),
                Distance::Manhattan => {
                    -point.iter().zip(c).map(|(a, b)| (a - b).abs()).sum::<f32>()
                }
            };
            t.push(s);
        }
    }
    t
}

/// Internal score estimate of `code`: one lookup per sub-vector.
#[inline]
pub fn score(table: &[f32], code: &[u8]) -> f32 {
    code.iter()
        .enumerate()
        .map(|(sub, &c)| {
            table
                .get(sub * PQ_CENTROIDS + c as usize)
                .copied()
                .unwrap_or(0.0)
        })
        .sum()
}
