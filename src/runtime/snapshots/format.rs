//! What is inside a snapshot file: a tar archive (readable with any `tar`) of
//!
//! ```text
//! snapshot.json                     SnapshotMeta: format version, kind, shard count and LSNs
//! config.json                       the collection's CollectionConfig, as in its directory
//! shard-<s>/manifest.json           per shard: the manifest as of the shard's LSN,
//! shard-<s>/seg-<lsn>.seg[.del-…]   the segments and deletion sidecars it names,
//! shard-<s>/seg-<lsn>.seg.<ext>     derived files of those segments (`.hnsw` graphs …)
//! shard-<s>/wal-<first lsn>.log     the log files, the last one cut after the shard's LSN
//! ```
//!
//! so that unpacking `shard-<s>/` gives a shard directory that opens as it was. A full snapshot
//! holds `snapshot.json`, `aliases.json` and one collection snapshot per collection as
//! `collections/<i>.snapshot`, named in `snapshot.json` in that order.

use serde::{Deserialize, Serialize};
use vexfs_shard::shard::MANIFEST_FILE_NAME;
use vexfs_shard::wal::{parse_wal_file_name, Lsn};

/// Version of the layout above; recovery refuses others.
pub const SNAPSHOT_FORMAT: u32 = 1;
pub const META_ENTRY: &str = "snapshot.json";
pub const CONFIG_ENTRY: &str = "config.json";
pub const ALIASES_ENTRY: &str = "aliases.json";
/// Largest `snapshot.json`, `config.json` or `aliases.json` read back, in bytes.
pub const META_MAX_BYTES: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotKind {
    Collection,
    Full,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub format: u32,
    pub kind: SnapshotKind,
    /// Creation time, UTC.
    pub created: String,
    /// Collection snapshots: the collection it was taken of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_number: Option<u32>,
    /// Collection snapshots: the LSN each shard was copied at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardMeta>,
    /// Full snapshots: collection `i` is in `collections/<i>.snapshot`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardMeta {
    pub id: u32,
    pub lsn: Lsn,
}

pub fn shard_dir_name(shard: u32) -> String {
    format!("shard-{shard}")
}

pub fn shard_entry(shard: u32, file: &str) -> String {
    format!("shard-{shard}/{file}")
}

pub fn full_collection_entry(i: usize) -> String {
    format!("collections/{i}.snapshot")
}

/// `(shard, file name)` of a shard entry whose file is one a shard directory holds; `None`
/// for anything else (which recovery refuses rather than unpacks).
pub fn parse_shard_entry(name: &str) -> Option<(u32, &str)> {
    let (dir, file) = name.split_once('/')?;
    let digits = dir.strip_prefix("shard-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 5 {
        return None;
    }
    let shard: u32 = digits.parse().ok()?;
    let known = file == MANIFEST_FILE_NAME
        || parse_wal_file_name(file).is_some()
        || (file.starts_with("seg-") && !file.ends_with(".tmp"));
    (known && !file.contains('/')).then_some((shard, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_entries() {
        assert_eq!(
            parse_shard_entry("shard-3/manifest.json"),
            Some((3, "manifest.json"))
        );
        let wal = "shard-0/wal-00000000000000000001.log";
        assert_eq!(parse_shard_entry(wal).map(|e| e.0), Some(0));
        for bad in [
            "shard-/manifest.json",
            "shard-1/x",
            "shard-1/a/manifest.json",
            "config.json",
            "shard-1/seg-1.seg.tmp",
        ] {
            assert_eq!(parse_shard_entry(bad), None, "{bad}");
        }
    }
}
