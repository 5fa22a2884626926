//! Errors of building, writing and opening segments. Every error about a file names it.

use crate::point_id::PointId;

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("segment {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: vexfs_io::Error,
    },
    #[error("segment {path} does not exist")]
    Missing { path: String },
    /// The file's bytes are damaged or not a segment: checksum, length, magic, structure.
    #[error("segment {path} is corrupt: {reason}")]
    Corrupt { path: String, reason: String },
    /// Written by a newer (or unknown) format version.
    #[error("segment {path} has format version {found}, this build reads version {supported}")]
    UnsupportedVersion {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error("segment builder: vector name {name:?} is not in the schema")]
    UnknownVector { name: String },
    #[error("segment builder: vector {name:?} has dimension {got}, the schema says {expected}")]
    Dimension {
        name: String,
        expected: usize,
        got: usize,
    },
    #[error("segment builder: point {0} was pushed twice")]
    DuplicateId(PointId),
    #[error("segment builder: more than {max} points")]
    TooManyPoints { max: usize },
    #[error("segment builder: vector {name:?} has dimension {dim}, above the limit {max}")]
    DimTooLarge {
        name: String,
        dim: usize,
        max: usize,
    },
    #[error("segment builder: serializing the archive failed: {0}")]
    Serialize(String),
    /// A deletion sidecar does not match the segment it is applied to.
    #[error("deletion set of {got} slots applied to segment {path} of {expected} slots")]
    DeletedSetMismatch {
        path: String,
        expected: usize,
        got: usize,
    },
}

impl SegmentError {
    pub(crate) fn corrupt(path: &str, reason: impl Into<String>) -> Self {
        SegmentError::Corrupt {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}
