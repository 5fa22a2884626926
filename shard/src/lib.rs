//! vexfs-shard: the engine of one collection shard — points, payloads, search, write-ahead log.
//!
//! Deterministic and free of direct syscalls: every file goes through `vexfs_io`, so the whole
//! engine runs unchanged on the in-memory fault-injecting backend in tests.

mod archived;
pub mod distance;
pub mod error;
pub mod filter;
mod frame;
pub mod hnsw;
pub mod op;
pub mod payload_index;
pub mod point_id;
pub mod quant;
pub mod schema;
pub mod score;
pub mod segment;
pub mod select;
pub mod shard;
pub mod sparse;
pub mod store;
#[cfg(test)]
mod test_support;
pub mod topk;
pub mod vector;
pub mod wal;

pub use error::{Error, Result};
pub use op::{NamedVectors, Payload, PointWrite, WriteOp};
pub use point_id::PointId;
pub use schema::{Distance, Modifier, MultiSpec, ShardSchema, SparseSpec, VectorSpec};
pub use select::{PayloadSelector, Record, ScoredRecord, VectorSelector};
pub use shard::{
    run_flusher, run_indexer, IndexStats, OptimizerOptions, Shard, ShardOptions, UpdateCondition,
    UpdateMode,
};
pub use store::{PointStore, SearchParams};
pub use vector::{MultiVector, SparseVector, Vector, VectorRef};
