//! `Metric`: a collection's distance turned into the engine's "higher is closer" score and
//! back into the score Qdrant reports.

use super::{dot, manhattan, normalize, squared_euclid};
use crate::schema::Distance;

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
