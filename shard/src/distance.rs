//! Distance kernels over f32 slices.
//!
//! Scores inside the engine are "higher is closer" for every metric so that one top-k heap
//! serves all of them: Euclid keeps the negated squared distance, Manhattan the negated sum.
//! [`Metric::to_user_score`] turns them into what Qdrant reports (Euclid: the distance itself).
//! The loops keep `LANES` independent accumulators so the compiler can vectorize them without
//! reassociating one long floating-point chain.

use crate::schema::Distance;

const LANES: usize = 8;

#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; LANES];
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

#[inline]
pub fn squared_euclid(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; LANES];
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| (x - y) * (x - y)).sum();
    acc.iter().sum::<f32>() + tail
}

#[inline]
pub fn manhattan(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; LANES];
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..LANES {
            acc[i] += (x[i] - y[i]).abs();
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| (x - y).abs()).sum();
    acc.iter().sum::<f32>() + tail
}

/// Scales `v` to unit length in place (Cosine vectors are stored normalized, as Qdrant does).
/// A zero vector stays zero.
pub fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > f32::EPSILON {
        for x in v.iter_mut() {
            *x /= norm;
        }
    }
}

/// A distance with its internal "higher is closer" score.
#[derive(Clone, Copy, Debug)]
pub struct Metric(pub Distance);

impl Metric {
    /// Prepares a stored or query vector (normalizes for Cosine).
    pub fn preprocess(self, v: &mut [f32]) {
        if self.0 == Distance::Cosine {
            normalize(v);
        }
    }

    /// Internal score: larger is closer.
    #[inline]
    pub fn score(self, a: &[f32], b: &[f32]) -> f32 {
        match self.0 {
            Distance::Cosine | Distance::Dot => dot(a, b),
            Distance::Euclid => -squared_euclid(a, b),
            Distance::Manhattan => -manhattan(a, b),
        }
    }

    /// The score Qdrant reports for an internal score.
    pub fn to_user_score(self, internal: f32) -> f32 {
        match self.0 {
            Distance::Cosine | Distance::Dot => internal,
            Distance::Euclid => (-internal).max(0.0).sqrt(),
            Distance::Manhattan => -internal,
        }
    }

    /// The internal score matching a user-given `score_threshold`.
    pub fn threshold_to_internal(self, user: f32) -> f32 {
        match self.0 {
            Distance::Cosine | Distance::Dot => user,
            Distance::Euclid => -(user * user),
            Distance::Manhattan => -user,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    #[test]
    fn kernels_match_scalar_reference_at_every_length() {
        for len in 0..70 {
            let a: Vec<f32> = (0..len)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 3.0)
                .collect();
            let b: Vec<f32> = (0..len)
                .map(|i| ((i * 5 % 11) as f32 - 5.0) / 2.0)
                .collect();
            let d: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
            assert!((dot(&a, &b) as f64 - scalar_dot(&a, &b)).abs() < 1e-3);
            assert!((squared_euclid(&a, &b) as f64 - scalar_dot(&d, &d)).abs() < 1e-3);
            let man: f64 = d.iter().map(|x| x.abs() as f64).sum();
            assert!((manhattan(&a, &b) as f64 - man).abs() < 1e-3);
        }
    }

    #[test]
    fn user_scores_follow_qdrant() {
        let a = [0.0, 3.0];
        let b = [4.0, 0.0];
        let e = Metric(Distance::Euclid);
        assert_eq!(e.to_user_score(e.score(&a, &b)), 5.0);
        let m = Metric(Distance::Manhattan);
        assert_eq!(m.to_user_score(m.score(&a, &b)), 7.0);
        assert!(e.score(&a, &b) >= e.threshold_to_internal(5.0));
        assert!(e.score(&a, &b) < e.threshold_to_internal(4.9));
        let mut v = [3.0, 4.0];
        Metric(Distance::Cosine).preprocess(&mut v);
        assert_eq!(v, [0.6, 0.8]);
    }
}
