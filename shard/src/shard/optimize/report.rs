//! What the optimizer of a shard is doing and has done, for `GET /collections/{c}` (status)
//! and `GET /collections/{c}/optimizations`.

use std::collections::VecDeque;

use super::plan::OptimizationKind;

/// Finished optimizations remembered per shard (Qdrant's default `completed_limit` is 16).
pub const OPTIMIZATIONS_COMPLETED_MAX: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptimizationStatus {
    Running,
    Done,
    /// Stopped half way without an error (the shard was closed or its task dropped).
    Cancelled,
    Failed(String),
}

/// One optimization, running or finished.
#[derive(Debug, Clone)]
pub struct OptimizationReport {
    /// Unique within the shard's lifetime.
    pub seq: u64,
    pub kind: OptimizationKind,
    /// `(segment file, points live in it as of the last flush)` of each source.
    pub sources: Vec<(String, usize)>,
    /// The segment written, once named (`None` while building, or when nothing was live).
    pub target: Option<String>,
    pub points_done: usize,
    pub points_total: usize,
    /// No start time or duration: the engine reads no clock (it is deterministic), and the
    /// API's timing fields are optional.
    pub status: OptimizationStatus,
}

/// The optimizer's state as reported.
#[derive(Debug, Clone, Default)]
pub struct OptimizerReport {
    pub running: Option<OptimizationReport>,
    /// Newest last, at most [`OPTIMIZATIONS_COMPLETED_MAX`].
    pub completed: Vec<OptimizationReport>,
    /// Why the optimizer stopped, if it did; it stays stopped until the shard is reopened.
    pub error: Option<String>,
}

#[derive(Default)]
pub(in crate::shard) struct OptimizerState {
    pub running: Option<OptimizationReport>,
    pub completed: VecDeque<OptimizationReport>,
    pub error: Option<String>,
    pub next_seq: u64,
}

impl OptimizerState {
    /// Moves the running optimization to the finished ones with `status`.
    pub fn finish(&mut self, status: OptimizationStatus) {
        let Some(mut r) = self.running.take() else {
            return;
        };
        if let OptimizationStatus::Failed(e) = &status {
            self.error = Some(e.clone());
        }
        r.status = status;
        if self.completed.len() == OPTIMIZATIONS_COMPLETED_MAX {
            self.completed.pop_front();
        }
        self.completed.push_back(r);
    }

    pub fn report(&self) -> OptimizerReport {
        OptimizerReport {
            running: self.running.clone(),
            completed: self.completed.iter().cloned().collect(),
            error: self.error.clone(),
        }
    }
}

/// A stable UUID for a name (a segment file, an optimization), since the API identifies
/// segments and optimizations by UUID. Four CRC32C lanes with different seeds: an identifier,
/// not a security property.
pub fn name_uuid(name: &str) -> uuid::Uuid {
    const LANE_SEEDS: [u32; 4] = [0x5EA5_0001, 0x5EA5_0002, 0x5EA5_0003, 0x5EA5_0004];
    let mut v: u128 = 0;
    for seed in LANE_SEEDS {
        v = (v << 32) | u128::from(crc32c::crc32c_append(seed, name.as_bytes()));
    }
    uuid::Uuid::from_u128(v)
}
