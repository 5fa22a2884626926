//! Errors of the shard engine.

use crate::point_id::PointId;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is wrong for this collection (Qdrant's "Wrong input").
    #[error("Wrong input: {0}")]
    WrongInput(String),
    /// A vector of the wrong length.
    #[error("Wrong input: Vector dimension error: expected dim: {expected}, got {got}")]
    Dimension { expected: usize, got: usize },
    /// A point that does not exist.
    #[error("Not found: No point with id {0} found")]
    PointNotFound(PointId),
    /// The write-ahead log failed; the shard serves reads but refuses writes.
    #[error("Service unavailable: shard storage failed, writes are refused: {0}")]
    Wal(#[from] crate::wal::WalError),
    /// A record in the log does not decode although its checksum matched.
    #[error("corrupt log record: {0}")]
    Codec(String),
    #[error(transparent)]
    Io(#[from] vexfs_io::Error),
    #[error(transparent)]
    Segment(#[from] crate::segment::SegmentError),
    #[error(transparent)]
    Hnsw(#[from] crate::hnsw::HnswError),
    #[error(transparent)]
    Quant(#[from] crate::quant::QuantError),
    /// The shard's collection was deleted while the operation was under way.
    #[error("Not found: the collection was deleted")]
    Closed,
}
