//! One ranked candidate of a query stage: a point id, its score and, for `order_by` stages,
//! the payload value it was ordered by. Stages pass these between each other; payloads and
//! vectors are read only for the final page.

use serde_json::Value;
use vexfs_shard::{PointId, ScoredRecord};

#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: PointId,
    pub score: f32,
    /// The value an `order_by` query ordered the point by (Qdrant's `order_value`).
    pub order_value: Option<Value>,
}

impl Hit {
    pub fn new(id: PointId, score: f32) -> Hit {
        Hit {
            id,
            score,
            order_value: None,
        }
    }

    pub fn from_scored(s: &ScoredRecord) -> Hit {
        Hit::new(s.record.id, s.score)
    }
}

/// Best first; equal scores by ascending id, so results never depend on shard layout.
pub fn sort_best_first(hits: &mut [Hit]) {
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
}
