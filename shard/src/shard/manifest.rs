//! The shard manifest: which segment files and deletion sidecars make up the shard, and from
//! which LSN the log must be replayed over them.
//!
//! Why a manifest rather than deriving the set from file names: a flush changes several files
//! at once — a new segment and new sidecars of older segments — and those must take effect
//! together with the point where replay starts. A sidecar newer than the replay start would
//! apply deletions before replay reaches the writes that caused them (a payload update would
//! then find its point already gone); a segment without its sidecars would resurrect deleted
//! points. One file replaced atomically (`write_file_atomic`) is the single commit point;
//! files it does not name are leftovers of a flush cut short and are removed at open.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vexfs_io::Storage;

use crate::error::Result;
use crate::schema::ShardSchema;
use crate::segment::SegmentError;
use crate::wal::Lsn;

pub const MANIFEST_FILE_NAME: &str = "manifest.json";
const MANIFEST_FORMAT: u32 = 1;

/// One segment and its current deletion sidecar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSegment {
    pub file: String,
    pub deleted: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// Every write up to this LSN is in the segments and sidecars; replay starts after it.
    pub flushed_lsn: Lsn,
    /// Oldest first.
    pub segments: Vec<ManifestSegment>,
    /// The vector spaces as of `flushed_lsn` (replay starts from them); absent in manifests
    /// written before spaces could change, whose shards start from the catalog's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<ShardSchema>,
    /// LSN at which each space was last created, as of `flushed_lsn`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub spaces_since: BTreeMap<String, Lsn>,
}

/// Name of the segment file holding the writes up to `lsn`.
pub fn segment_file_name(lsn: Lsn) -> String {
    format!("seg-{lsn:020}.seg")
}

/// Name of the sidecar holding the deletions of `segment` as of `lsn`. A new name per flush,
/// so a sidecar the manifest names is never overwritten.
pub fn sidecar_file_name(segment: &str, lsn: Lsn) -> String {
    format!("{segment}.del-{lsn:020}")
}

/// Name of the vector index of a segment, built next to it by the indexer; it lives and dies
/// with the segment.
#[cfg(test)]
pub use crate::hnsw::index_file_name;

/// Whether `name` is a file this module creates (segments, sidecars, their temp files).
pub fn is_segment_file(name: &str) -> bool {
    name.starts_with("seg-")
}

impl Manifest {
    pub fn empty() -> Self {
        Manifest {
            format: MANIFEST_FORMAT,
            flushed_lsn: 0,
            segments: Vec::new(),
            schema: None,
            spaces_since: BTreeMap::new(),
        }
    }

    /// Reads the manifest of `dir`; the empty one when there is none (a new shard, or one
    /// written before segments existed: its log starts at LSN 1).
    pub async fn load<S: Storage>(storage: &S, dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE_NAME);
        let Some(bytes) = storage.read_file(&path).await? else {
            return Ok(Manifest::empty());
        };
        // Reported like a damaged segment: the manifest is part of the segment set.
        let corrupt = |reason: String| SegmentError::Corrupt {
            path: path.display().to_string(),
            reason,
        };
        let m: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("manifest: {e}")))?;
        if m.format != MANIFEST_FORMAT {
            return Err(corrupt(format!(
                "manifest format {} (this build reads {MANIFEST_FORMAT})",
                m.format
            ))
            .into());
        }
        Ok(m)
    }

    /// Replaces the manifest atomically: after a crash the old or the new one is found.
    pub async fn store<S: Storage>(&self, storage: &S, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| SegmentError::Serialize(format!("manifest: {e}")))?;
        storage
            .write_file_atomic(&dir.join(MANIFEST_FILE_NAME), &bytes)
            .await?;
        Ok(())
    }
}
