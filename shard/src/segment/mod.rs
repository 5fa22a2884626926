//! Immutable on-disk segments: a frozen copy of points (ids, versions, vector columns, payloads)
//! that is written once, validated once at open, and then read zero-copy.
//!
//! A segment file is a fixed [`format::SEGMENT_HEADER_BYTES`] header (magic, format version,
//! body length, crc32c of the body, crc32c of the header) followed by an rkyv archive of the body
//! and zero padding to [`SEGMENT_FILE_ALIGN_BYTES`]. Slots are in ascending id order, so the id
//! → slot lookup is a binary search and scroll is a walk over slots.
//!
//! The file never changes after it is written. Deletions that happen later are kept outside it
//! in a [`DeletedSet`] (in memory, persisted by the caller as a small sidecar with
//! [`DeletedSet::encode`] / [`DeletedSet::decode`]) and applied to the open [`Segment`].
//!
//! Flow: [`SegmentBuilder`] → [`SegmentBytes`] → [`write_segment`] → [`Segment::open`];
//! deletions: [`Segment::delete`] → [`write_deleted`] … [`read_deleted`] →
//! [`Segment::apply_deleted`].

mod bitmap;
mod builder;
mod error;
mod format;
mod reader;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_kinds;

use std::path::Path;

use vexfs_io::Storage;

pub use bitmap::DeletedSet;
pub use builder::{SegmentBuilder, SegmentBytes};
pub use error::SegmentError;
pub use format::{
    SEGMENT_FILE_ALIGN_BYTES, SEGMENT_FORMAT_VERSION, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC,
    SEGMENT_MAX_DIM, SEGMENT_MAX_POINTS,
};
pub use reader::{ColumnInfo, Segment};

// Archived floats are little endian; reading them in place as `&[f32]` is only correct on a
// little-endian machine. Every target we run on is; refuse to build elsewhere rather than
// silently return byte-swapped vectors.
#[cfg(not(target_endian = "little"))]
compile_error!("segment files are read zero-copy and require a little-endian target");

/// Writes a finished segment to `dir/name` so that after a crash either the complete file or
/// nothing (or its previous content) is found under that name. `dir` must exist.
///
/// Uses [`Storage::write_file_atomic`] (temp file, write, fdatasync, rename, fsync of the
/// directory): the trait has no rename of its own, so this is the only atomic path it offers.
pub async fn write_segment<S: Storage>(
    storage: &S,
    dir: &Path,
    name: &str,
    bytes: &SegmentBytes,
) -> Result<(), SegmentError> {
    let path = dir.join(name);
    storage
        .write_file_atomic(&path, bytes.as_bytes())
        .await
        .map_err(|source| SegmentError::Io {
            path: path.display().to_string(),
            source,
        })
}

/// Persists the deletions of a segment as a sidecar file at `path`, atomically (the old sidecar
/// or the new one survives a crash).
pub async fn write_deleted<S: Storage>(
    storage: &S,
    path: &Path,
    set: &DeletedSet,
) -> Result<(), SegmentError> {
    storage
        .write_file_atomic(path, &set.encode())
        .await
        .map_err(|source| SegmentError::Io {
            path: path.display().to_string(),
            source,
        })
}

/// Reads a sidecar written by [`write_deleted`]; `None` when there is none (nothing deleted
/// since the segment was written).
pub async fn read_deleted<S: Storage>(
    storage: &S,
    path: &Path,
) -> Result<Option<DeletedSet>, SegmentError> {
    let shown = path.display().to_string();
    match storage.read_file(path).await {
        Ok(None) => Ok(None),
        Ok(Some(bytes)) => DeletedSet::decode(&shown, &bytes).map(Some),
        Err(source) => Err(SegmentError::Io {
            path: shown,
            source,
        }),
    }
}
