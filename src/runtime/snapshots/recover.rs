//! Recovering a collection from a snapshot file.
//!
//! Steps, all on the coordinator under the job lock:
//! 1. Check the source: it must lie under `<storage>/snapshots/` (a path outside would let a
//!    client read any file the server can), and match the checksum when one is given.
//! 2. Unpack it into the job's work space, refusing entries a shard directory does not hold,
//!    another format version, a full snapshot, or a shard count that does not match.
//! 3. Open every unpacked shard once (segment checksums, log records): a damaged snapshot is
//!    refused before anything is replaced.
//! 4. Swap it in (`catalog::replace_from_dir`): every core stops serving the old collection,
//!    the directories are exchanged by renames, every core opens the new one. The target
//!    name is the one in the request, whatever the snapshot was taken of.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use vexfs_io::archive::ArchiveReader;
use vexfs_io::checksum::{sha256_file, sha256_hex};
use vexfs_io::{File, Storage};
use vexfs_shard::shard::MANIFEST_FILE_NAME;
use vexfs_shard::Shard;

use super::create::{archive_err, remove_work_space};
use super::format::{
    parse_shard_entry, shard_dir_name, SnapshotKind, SnapshotMeta, CONFIG_ENTRY, META_ENTRY,
    META_MAX_BYTES, SNAPSHOT_FORMAT,
};
use super::{on_coordinator, snapshots_root, staging_dir};
use crate::limits;
use crate::runtime::catalog::{self, CollectionConfig, CONFIG_FILE_NAME};
use crate::runtime::core::Core;
use crate::runtime::error::RuntimeError;

fn bad(msg: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::WrongInput(format!("Bad request: {msg}"))
}

/// Recovers collection `target` from the snapshot file at `path` (from a `file://` location).
pub async fn recover_from_file(
    core: &Rc<Core>,
    target: String,
    path: PathBuf,
    checksum: Option<String>,
) -> Result<(), RuntimeError> {
    catalog::validate_name(&target).map_err(bad)?;
    let path = inside_snapshots(&core.shared.storage_root, &path)?;
    on_coordinator(core, move |coord| async move {
        let Some(file) = coord.storage.open_read(&path).await? else {
            return Err(RuntimeError::NotFound(format!(
                "Not found: Snapshot file `{}` does not exist",
                path.display()
            )));
        };
        if let Some(expected) = &checksum {
            check_checksum(expected, &sha256_file(&file).await?)?;
        }
        let result = recover_archive(&coord, &target, &file).await;
        file.close().await?;
        result
    })
    .await
}

/// Recovers collection `target` from an uploaded snapshot.
pub async fn recover_from_upload(
    core: &Rc<Core>,
    target: String,
    snapshot: Vec<u8>,
    checksum: Option<String>,
) -> Result<(), RuntimeError> {
    catalog::validate_name(&target).map_err(bad)?;
    if let Some(expected) = &checksum {
        check_checksum(expected, &sha256_hex(&snapshot))?;
    }
    on_coordinator(core, move |coord| async move {
        let work = staging_dir(&coord).await?;
        let result = async {
            let path = work.join("upload.snapshot");
            coord.storage.write_file_atomic(&path, &snapshot).await?;
            drop(snapshot);
            let Some(file) = coord.storage.open_read(&path).await? else {
                return Err(RuntimeError::Internal(
                    "the uploaded snapshot vanished".into(),
                ));
            };
            let result = recover_archive(&coord, &target, &file).await;
            file.close().await?;
            result
        }
        .await;
        remove_work_space(&coord, &work).await;
        result
    })
    .await
}

fn check_checksum(expected: &str, actual: &str) -> Result<(), RuntimeError> {
    if expected.trim().eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(bad(format!(
            "Snapshot checksum mismatch: expected {expected}, got {actual}"
        )))
    }
}

/// `path` made absolute, checked to lie under `<root>/snapshots/` without `..` parts.
fn inside_snapshots(root: &Path, path: &Path) -> Result<PathBuf, RuntimeError> {
    let absolute = |p: &Path| {
        std::path::absolute(p).map_err(|e| bad(format!("snapshot path {}: {e}", p.display())))
    };
    let allowed = absolute(&snapshots_root(root))?;
    let path = absolute(path)?;
    let escapes = path
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir));
    if escapes || !path.starts_with(&allowed) || path == allowed {
        return Err(bad(format!(
            "snapshot location {} is not a file under the snapshots directory {}",
            path.display(),
            allowed.display()
        )));
    }
    Ok(path)
}

/// Steps 2–4 with the job's own work space.
async fn recover_archive<F: File>(
    coord: &Rc<Core>,
    target: &str,
    file: &F,
) -> Result<(), RuntimeError> {
    let work = staging_dir(coord).await?;
    let result = async {
        let staged = work.join("collection");
        let config = unpack(coord, file, &staged).await?;
        for s in 0..config.shard_number {
            let dir = staged.join(shard_dir_name(s));
            let shard = Shard::open(
                &coord.storage,
                &dir,
                config.schema.clone(),
                coord.shared.shard_options,
            )
            .await
            .map_err(|e| bad(format!("invalid snapshot: shard {s}: {e}")))?;
            drop(shard);
        }
        catalog::replace_from_dir(coord, target, &staged, &work.join("replaced"), config).await
    }
    .await;
    remove_work_space(coord, &work).await;
    result
}

/// Unpacks a collection snapshot into `staged` (a complete collection directory, durable) and
/// returns its configuration.
async fn unpack<F: File>(
    coord: &Core,
    file: &F,
    staged: &Path,
) -> Result<CollectionConfig, RuntimeError> {
    let storage = &coord.storage;
    storage.create_dir_all(staged).await?;
    let mut reader = ArchiveReader::new(file).await.map_err(archive_err)?;
    let mut meta: Option<SnapshotMeta> = None;
    let mut config: Option<CollectionConfig> = None;
    let mut dirs = BTreeSet::new();
    let mut manifests = BTreeSet::new();
    while let Some(entry) = reader.next_entry().await.map_err(archive_err)? {
        match entry.name.as_str() {
            META_ENTRY => {
                let bytes = reader
                    .read_entry(&entry, META_MAX_BYTES)
                    .await
                    .map_err(archive_err)?;
                meta = Some(
                    serde_json::from_slice(&bytes)
                        .map_err(|e| bad(format!("invalid snapshot: {META_ENTRY}: {e}")))?,
                );
            }
            CONFIG_ENTRY => {
                let bytes = reader
                    .read_entry(&entry, META_MAX_BYTES)
                    .await
                    .map_err(archive_err)?;
                config = Some(
                    serde_json::from_slice(&bytes)
                        .map_err(|e| bad(format!("invalid snapshot: {CONFIG_ENTRY}: {e}")))?,
                );
            }
            name => {
                let Some((shard, file_name)) =
                    parse_shard_entry(name).filter(|(s, _)| *s < limits::SHARDS_MAX_COUNT)
                else {
                    return Err(bad(format!(
                        "invalid snapshot: unexpected entry `{name}` (a full snapshot or not a \
                         snapshot of this server?)"
                    )));
                };
                let dir = staged.join(shard_dir_name(shard));
                if dirs.insert(shard) {
                    storage.create_dir_all(&dir).await?;
                }
                let dst = storage.open(&dir.join(file_name)).await?;
                reader
                    .extract_entry(&entry, &dst)
                    .await
                    .map_err(archive_err)?;
                dst.close().await?;
                if file_name == MANIFEST_FILE_NAME {
                    manifests.insert(shard);
                }
            }
        }
    }
    let meta = meta.ok_or_else(|| bad(format!("invalid snapshot: no {META_ENTRY}")))?;
    if meta.format != SNAPSHOT_FORMAT {
        return Err(bad(format!(
            "snapshot format {} is not supported (this server reads {SNAPSHOT_FORMAT})",
            meta.format
        )));
    }
    if meta.kind != SnapshotKind::Collection {
        return Err(bad("a full snapshot cannot be recovered as a collection"));
    }
    let config = config.ok_or_else(|| bad(format!("invalid snapshot: no {CONFIG_ENTRY}")))?;
    let n = config.shard_number;
    if n == 0 || n > limits::SHARDS_MAX_COUNT {
        return Err(bad(format!(
            "invalid snapshot: shard_number {n} is not between 1 and {}",
            limits::SHARDS_MAX_COUNT
        )));
    }
    let all: BTreeSet<u32> = (0..n).collect();
    if meta.shard_number != Some(n) || manifests != all || dirs.iter().any(|&s| s >= n) {
        return Err(bad(format!(
            "invalid snapshot: it must hold the manifest of each of its {n} shards and nothing else"
        )));
    }
    let bytes =
        serde_json::to_vec_pretty(&config).map_err(|e| RuntimeError::Internal(e.to_string()))?;
    storage
        .write_file_atomic(&staged.join(CONFIG_FILE_NAME), &bytes)
        .await?;
    for s in dirs {
        storage.sync_dir(&staged.join(shard_dir_name(s))).await?;
    }
    storage.sync_dir(staged).await?;
    Ok(config)
}
