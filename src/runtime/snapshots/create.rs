//! Taking snapshots.
//!
//! Every core copies its own shards (each as of its own LSN, see the consistency note in
//! `mod.rs`) into the job's work space; then the coordinator writes the archive from there.
//! Copying first keeps a shard's flushes held off only for the time of a plain file copy on
//! its own core, and keeps every shard's files touched by its owner only. The price is that
//! the data is written twice.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use vexfs_io::archive::{copy_file, ArchiveSummary, ArchiveWriter};
use vexfs_io::dma::DmaFileHandle;
use vexfs_io::{File, Storage};
use vexfs_shard::shard::{SnapshotCopy, MANIFEST_FILE_NAME};

use super::format::{
    full_collection_entry, shard_dir_name, shard_entry, ShardMeta, SnapshotKind, SnapshotMeta,
    ALIASES_ENTRY, CONFIG_ENTRY, META_ENTRY, SNAPSHOT_FORMAT,
};
use super::{
    collection_name, creation_time, name_time, on_coordinator, staging_dir, unix_now, Scope,
    SnapshotDescription, INFO_SUFFIX, SNAPSHOT_SUFFIX, TMP_SUFFIX,
};
use crate::runtime::catalog;
use crate::runtime::core::Core;
use crate::runtime::error::RuntimeError;

/// Longest part of a snapshot name taken from the collection name, in bytes, so that the
/// name plus time stamp and suffixes stays under the file system's 255-byte limit.
const NAME_PREFIX_MAX_BYTES: usize = 200;

pub(super) fn archive_err(e: vexfs_io::archive::ArchiveError) -> RuntimeError {
    match e {
        vexfs_io::archive::ArchiveError::Format(m) => {
            RuntimeError::WrongInput(format!("Bad request: invalid snapshot: {m}"))
        }
        vexfs_io::archive::ArchiveError::Io(e) => RuntimeError::Io(e),
    }
}

/// Takes a snapshot of collection `name` (or of the collection alias `name` points to).
pub async fn create_collection(
    core: &Rc<Core>,
    name: &str,
) -> Result<SnapshotDescription, RuntimeError> {
    let collection = collection_name(core, name)?;
    on_coordinator(core, move |coord| async move {
        let dir = Scope::Collection(collection.clone()).dir(&coord.shared.storage_root);
        let prefix = clip(&collection, NAME_PREFIX_MAX_BYTES).to_owned();
        let work = staging_dir(&coord).await?;
        let result = async {
            let now = unix_now();
            let (name, tmp) = new_snapshot_file(&coord, &dir, &prefix, now).await?;
            let out = coord.storage.open(&tmp).await?;
            let written = write_collection_archive(&coord, &collection, &work, out, now).await;
            publish(&coord, &dir, &name, &tmp, written, now).await
        }
        .await;
        remove_work_space(&coord, &work).await;
        result
    })
    .await
}

/// Takes a snapshot of every collection and of the aliases.
pub async fn create_full(core: &Rc<Core>) -> Result<SnapshotDescription, RuntimeError> {
    on_coordinator(core, move |coord| async move {
        let dir = Scope::Full.dir(&coord.shared.storage_root);
        let work = staging_dir(&coord).await?;
        let result = async {
            let now = unix_now();
            let (name, tmp) = new_snapshot_file(&coord, &dir, "full-snapshot", now).await?;
            let out = coord.storage.open(&tmp).await?;
            let written = write_full_archive(&coord, &work, out, now).await;
            publish(&coord, &dir, &name, &tmp, written, now).await
        }
        .await;
        remove_work_space(&coord, &work).await;
        result
    })
    .await
}

/// Removes a job's work directory; a failure only warns (startup clears it again).
pub(super) async fn remove_work_space(core: &Core, work: &Path) {
    if let Err(e) = core.storage.remove_dir_all(work).await {
        tracing::warn!(dir = %work.display(), "removing a snapshot work space: {e}");
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
fn clip(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A name not taken yet in `dir` (`<prefix>-<time>.snapshot`, then `-1`, `-2`, … before the
/// suffix) and the temp path to write it at. Names are picked under the job lock.
async fn new_snapshot_file(
    core: &Core,
    dir: &Path,
    prefix: &str,
    now: u64,
) -> Result<(String, PathBuf), RuntimeError> {
    core.storage.create_dir_all(dir).await?;
    let taken = core.storage.list_dir(dir).await?;
    let base = format!("{prefix}-{}", name_time(now));
    let name = (0..)
        .map(|i| match i {
            0 => format!("{base}{SNAPSHOT_SUFFIX}"),
            i => format!("{base}-{i}{SNAPSHOT_SUFFIX}"),
        })
        .find(|n| !taken.contains(n))
        .expect("an unbounded range has a free name");
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    Ok((name, tmp))
}

/// Renames the finished temp file into place and writes its info (the commit point). On a
/// failed write, removes the temp file instead.
async fn publish(
    core: &Core,
    dir: &Path,
    name: &str,
    tmp: &Path,
    written: Result<ArchiveSummary, RuntimeError>,
    now: u64,
) -> Result<SnapshotDescription, RuntimeError> {
    let summary = match written {
        Ok(s) => s,
        Err(e) => {
            if let Err(rm) = core.storage.remove_file(tmp).await {
                tracing::warn!(file = %tmp.display(), "removing a failed snapshot: {rm}");
            }
            return Err(e);
        }
    };
    core.storage.rename(tmp, &dir.join(name)).await?;
    core.storage.sync_dir(dir).await?;
    let description = SnapshotDescription {
        name: name.to_owned(),
        creation_time: Some(creation_time(now)),
        size: summary.size,
        checksum: Some(summary.sha256),
    };
    let info =
        serde_json::to_vec(&description).map_err(|e| RuntimeError::Internal(e.to_string()))?;
    core.storage
        .write_file_atomic(&dir.join(format!("{name}{INFO_SUFFIX}")), &info)
        .await?;
    Ok(description)
}

fn json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, RuntimeError> {
    serde_json::to_vec_pretty(value).map_err(|e| RuntimeError::Internal(e.to_string()))
}

/// Writes the snapshot of `collection` into `out`, using `work` for the shard copies.
async fn write_collection_archive(
    coord: &Rc<Core>,
    collection: &str,
    work: &Path,
    out: DmaFileHandle,
    now: u64,
) -> Result<ArchiveSummary, RuntimeError> {
    let config = coord.catalog.borrow().get(collection)?.config.clone();
    let staged = work.join("shards");
    let (name, to) = (collection.to_owned(), staged.clone());
    let per_core = coord
        .broadcast(move |c| {
            let (name, to) = (name.clone(), to.clone());
            async move { stage_local_shards(&c, &name, &to).await }
        })
        .await?;
    let mut shards = Vec::new();
    for part in per_core {
        shards.extend(part?);
    }
    shards.sort_by_key(|s| s.id);
    let meta = SnapshotMeta {
        format: SNAPSHOT_FORMAT,
        kind: SnapshotKind::Collection,
        created: creation_time(now),
        collection: Some(collection.to_owned()),
        shard_number: Some(config.shard_number),
        shards,
        collections: Vec::new(),
    };
    let mut w = ArchiveWriter::new(out, now);
    w.add_bytes(META_ENTRY, &json(&meta)?)
        .await
        .map_err(archive_err)?;
    w.add_bytes(CONFIG_ENTRY, &json(&*config)?)
        .await
        .map_err(archive_err)?;
    for s in 0..config.shard_number {
        let dir = staged.join(shard_dir_name(s));
        for file in coord.storage.list_dir(&dir).await? {
            let path = dir.join(&file);
            let Some(src) = coord.storage.open_read(&path).await? else {
                return Err(RuntimeError::Internal(format!(
                    "{} vanished from the snapshot work space",
                    path.display()
                )));
            };
            let size = src.size().await?;
            w.add_file(&shard_entry(s, &file), &src, size, size)
                .await
                .map_err(archive_err)?;
            src.close().await?;
        }
    }
    w.finish().await.map_err(archive_err)
}

/// On one core: copies every local shard of `collection`, each as of one LSN of its own, into
/// `to/shard-<s>/`. Flushes of a shard wait only while its own files are copied.
async fn stage_local_shards(
    core: &Rc<Core>,
    collection: &str,
    to: &Path,
) -> Result<Vec<ShardMeta>, RuntimeError> {
    let Some(coll) = core.catalog.borrow().collections.get(collection).cloned() else {
        return Err(RuntimeError::CollectionNotFound(collection.to_owned()));
    };
    let mut done = Vec::new();
    for (s, shard) in coll.local_shards() {
        let dir = to.join(shard_dir_name(s as u32));
        core.storage.create_dir_all(&dir).await?;
        let snap = shard.snapshot_files().await?;
        core.storage
            .write_file_atomic(&dir.join(MANIFEST_FILE_NAME), &snap.manifest)
            .await?;
        for f in &snap.files {
            let path = snap.dir.join(&f.name);
            let Some(src) = core.storage.open_read(&path).await? else {
                return Err(RuntimeError::Internal(format!(
                    "{} is listed for a snapshot but missing",
                    path.display()
                )));
            };
            let (copy, size) = match f.copy {
                SnapshotCopy::Whole => {
                    let n = src.size().await?;
                    (n, n)
                }
                SnapshotCopy::Prefix { bytes, padded } => (bytes, padded),
            };
            let dst = core.storage.open(&dir.join(&f.name)).await?;
            copy_file(&src, &dst, copy, size)
                .await
                .map_err(archive_err)?;
            dst.close().await?;
            src.close().await?;
        }
        done.push(ShardMeta {
            id: s as u32,
            lsn: snap.lsn,
        });
        drop(snap);
        core.storage.sync_dir(&dir).await?;
    }
    Ok(done)
}

/// Writes a full snapshot into `out`: each collection's snapshot is built in `work` first.
async fn write_full_archive(
    coord: &Rc<Core>,
    work: &Path,
    out: DmaFileHandle,
    now: u64,
) -> Result<ArchiveSummary, RuntimeError> {
    let aliases = coord.catalog.borrow().aliases.clone();
    let mut parts: Vec<(String, PathBuf)> = Vec::new();
    for (i, name) in catalog::names(coord).into_iter().enumerate() {
        let space = work.join(format!("c{i}"));
        coord.storage.create_dir_all(&space).await?;
        let path = work.join(format!("{i}{SNAPSHOT_SUFFIX}"));
        let file = coord.storage.open(&path).await?;
        match write_collection_archive(coord, &name, &space, file, now).await {
            Ok(_) => parts.push((name, path)),
            // Deleted while the others were copied: not part of the snapshot.
            Err(RuntimeError::CollectionNotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let meta = SnapshotMeta {
        format: SNAPSHOT_FORMAT,
        kind: SnapshotKind::Full,
        created: creation_time(now),
        collection: None,
        shard_number: None,
        shards: Vec::new(),
        collections: parts.iter().map(|(n, _)| n.clone()).collect(),
    };
    let mut w = ArchiveWriter::new(out, now);
    w.add_bytes(META_ENTRY, &json(&meta)?)
        .await
        .map_err(archive_err)?;
    w.add_bytes(ALIASES_ENTRY, &json(&*aliases)?)
        .await
        .map_err(archive_err)?;
    for (i, (_, path)) in parts.iter().enumerate() {
        let Some(src) = coord.storage.open_read(path).await? else {
            return Err(RuntimeError::Internal(format!(
                "{} vanished from the snapshot work space",
                path.display()
            )));
        };
        let size = src.size().await?;
        w.add_file(&full_collection_entry(i), &src, size, size)
            .await
            .map_err(archive_err)?;
        src.close().await?;
    }
    w.finish().await.map_err(archive_err)
}
