//! Snapshots: point-in-time archives of a collection (or of every collection) that can be
//! downloaded and recovered from.
//!
//! On disk:
//! ```text
//! <storage>/snapshots/<collection>/<name>.snapshot        collection snapshot (tar, see format.rs)
//! <storage>/snapshots/<collection>/<name>.snapshot.info   {size, checksum, creation_time}
//! <storage>/full-snapshots/<name>.snapshot(.info)         full snapshots (every collection + aliases)
//! <storage>/.snapshot-tmp/<job>/                          work space of one job, cleared at startup
//! ```
//! A snapshot is written as `<name>.snapshot.tmp`, made durable, renamed, and only then gets
//! its `.info` file: the `.info` is the commit point that makes it listed with a checksum. A
//! `.snapshot` without `.info` (copied in by hand) is listed with its size and no checksum.
//! Full snapshots live in their own directory so no collection name can collide with them.
//!
//! Creation, deletion and recovery run on the coordinator core one at a time (a semaphore of
//! one), so names are picked and files replaced without races; listing and downloading run
//! on the core that received the request.
//!
//! Consistency (see `vexfs_shard::shard::snapshot` for the per-shard argument): each shard is
//! copied as of one LSN of its own, taken while writes go on (flushes of that shard wait for
//! its copy). Shards are captured concurrently on their cores but not at one common instant:
//! the snapshot holds, per shard, exactly the writes up to that shard's LSN. A batch that
//! spans shards and runs during the capture may be in the copy of some shards and not others
//! (no cross-shard point in time; there are no cross-shard transactions to break). A write
//! acknowledged before the snapshot request arrived is in it.

mod create;
mod format;
mod recover;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use glommio::sync::Semaphore;
use serde::{Deserialize, Serialize};
use vexfs_io::{File, Storage};

pub use create::{create_collection, create_full};
pub use recover::{recover_from_file, recover_from_upload};

use super::catalog::COORDINATOR_CORE;
use super::core::Core;
use super::error::RuntimeError;
use crate::http::BodyStream;

/// Piece size of a snapshot download: read from disk and sent one at a time.
pub const SNAPSHOT_DOWNLOAD_CHUNK_BYTES: u64 = 1 << 20;

const SNAPSHOTS_DIR: &str = "snapshots";
const FULL_SNAPSHOTS_DIR: &str = "full-snapshots";
const STAGING_DIR: &str = ".snapshot-tmp";
pub const SNAPSHOT_SUFFIX: &str = ".snapshot";
const INFO_SUFFIX: &str = ".info";
const TMP_SUFFIX: &str = ".tmp";

/// Qdrant's `SnapshotDescription`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SnapshotDescription {
    pub name: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SS` (Qdrant's partial-date-time).
    pub creation_time: Option<String>,
    pub size: u64,
    /// SHA-256 of the file, lowercase hex.
    pub checksum: Option<String>,
}

/// Which snapshots: of one collection, or full ones.
#[derive(Debug, Clone)]
pub enum Scope {
    Collection(String),
    Full,
}

impl Scope {
    fn dir(&self, root: &Path) -> PathBuf {
        match self {
            Scope::Collection(c) => root.join(SNAPSHOTS_DIR).join(c),
            Scope::Full => root.join(FULL_SNAPSHOTS_DIR),
        }
    }
}

/// The root of every collection's snapshot directory (recovery reads only below it).
pub fn snapshots_root(root: &Path) -> PathBuf {
    root.join(SNAPSHOTS_DIR)
}

thread_local! {
    /// One snapshot job at a time on the coordinator.
    static JOBS: OnceCell<Rc<Semaphore>> = const { OnceCell::new() };
}

fn job_lock() -> Rc<Semaphore> {
    JOBS.with(|j| j.get_or_init(|| Rc::new(Semaphore::new(1))).clone())
}

/// Runs `job` on the coordinator while no other snapshot job runs there.
async fn on_coordinator<T, F, Fut>(core: &Rc<Core>, job: F) -> Result<T, RuntimeError>
where
    F: FnOnce(Rc<Core>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, RuntimeError>> + 'static,
    T: Send + 'static,
{
    core.submit_to(COORDINATOR_CORE, move |coord| async move {
        let lock = job_lock();
        let _permit = lock
            .acquire_permit(1)
            .await
            .map_err(|e| RuntimeError::Internal(format!("snapshot job lock: {e}")))?;
        job(coord).await
    })
    .await?
}

/// A fresh work directory for one job.
async fn staging_dir(core: &Core) -> Result<PathBuf, RuntimeError> {
    let dir = core
        .shared
        .storage_root
        .join(STAGING_DIR)
        .join(uuid::Uuid::new_v4().to_string());
    core.storage.create_dir_all(&dir).await?;
    Ok(dir)
}

/// Removes what jobs cut short by a crash left behind: the work space and half-written
/// snapshot files. Runs on the coordinator at startup, before anything is served.
pub async fn clean_staging(core: &Core) -> Result<(), RuntimeError> {
    let root = &core.shared.storage_root;
    core.storage.remove_dir_all(&root.join(STAGING_DIR)).await?;
    let mut dirs = vec![Scope::Full.dir(root)];
    let snapshots = snapshots_root(root);
    for name in core.storage.list_dir(&snapshots).await? {
        dirs.push(snapshots.join(name));
    }
    for dir in dirs {
        // Something other than a directory put there by hand is none of ours.
        let Ok(names) = core.storage.list_dir(&dir).await else {
            continue;
        };
        for name in names {
            if name.ends_with(TMP_SUFFIX) {
                core.storage.remove_file(&dir.join(name)).await?;
            }
        }
    }
    Ok(())
}

/// Whether `name` can be the name of a snapshot file (and so cannot leave its directory).
fn check_snapshot_name(name: &str) -> Result<(), RuntimeError> {
    let ok = name.len() > SNAPSHOT_SUFFIX.len()
        && name.ends_with(SNAPSHOT_SUFFIX)
        && !name
            .chars()
            .any(|c| matches!(c, '/' | '\\' | '\0') || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(not_found(name))
    }
}

fn not_found(name: &str) -> RuntimeError {
    RuntimeError::NotFound(format!("Not found: Snapshot `{name}` not found"))
}

/// Fails when the collection (or alias) does not exist; its real name otherwise.
fn collection_name(core: &Core, name: &str) -> Result<String, RuntimeError> {
    Ok(core.catalog.borrow().get(name)?.name.clone())
}

/// Resolves a scope given by the client (an alias names its collection).
pub fn resolve(core: &Core, scope: Scope) -> Result<Scope, RuntimeError> {
    match scope {
        Scope::Collection(c) => Ok(Scope::Collection(collection_name(core, &c)?)),
        Scope::Full => Ok(Scope::Full),
    }
}

/// The snapshots of a scope, by name.
pub async fn list(core: &Rc<Core>, scope: Scope) -> Result<Vec<SnapshotDescription>, RuntimeError> {
    let scope = resolve(core, scope)?;
    let dir = scope.dir(&core.shared.storage_root);
    let mut out = Vec::new();
    for name in core.storage.list_dir(&dir).await? {
        if check_snapshot_name(&name).is_err() {
            continue;
        }
        if let Some(d) = describe(core, &dir, &name).await? {
            out.push(d);
        }
    }
    Ok(out)
}

/// The description of one snapshot file; `None` when it vanished meanwhile.
async fn describe(
    core: &Core,
    dir: &Path,
    name: &str,
) -> Result<Option<SnapshotDescription>, RuntimeError> {
    let info_path = dir.join(format!("{name}{INFO_SUFFIX}"));
    if let Some(bytes) = core.storage.read_file(&info_path).await? {
        if let Ok(d) = serde_json::from_slice::<SnapshotDescription>(&bytes) {
            return Ok(Some(SnapshotDescription {
                name: name.to_owned(),
                ..d
            }));
        }
        tracing::warn!(file = %info_path.display(), "unreadable snapshot info; listing without it");
    }
    let Some(file) = core.storage.open_read(&dir.join(name)).await? else {
        return Ok(None);
    };
    let size = file.size().await?;
    file.close().await?;
    Ok(Some(SnapshotDescription {
        name: name.to_owned(),
        creation_time: None,
        size,
        checksum: None,
    }))
}

/// One snapshot file as a stream of [`SNAPSHOT_DOWNLOAD_CHUNK_BYTES`] pieces, so a download
/// of any size holds one piece in memory at a time.
pub async fn open_stream(
    core: &Rc<Core>,
    scope: Scope,
    name: &str,
) -> Result<BodyStream, RuntimeError> {
    let scope = resolve(core, scope)?;
    check_snapshot_name(name)?;
    let path = scope.dir(&core.shared.storage_root).join(name);
    let Some(file) = core.storage.open_read(&path).await? else {
        return Err(not_found(name));
    };
    let len = file.size().await?;
    let chunks = futures_lite::stream::unfold(Some((file, 0u64)), move |state| async move {
        let (file, pos) = state?;
        if pos >= len {
            if let Err(e) = file.close().await {
                tracing::warn!("closing a downloaded snapshot: {e}");
            }
            return None;
        }
        let want = (len - pos).min(SNAPSHOT_DOWNLOAD_CHUNK_BYTES) as usize;
        match file.read_at(pos, want).await {
            Ok(chunk) if chunk.is_empty() => Some((
                Err(std::io::Error::other("snapshot file shrank while read")),
                None,
            )),
            Ok(chunk) => {
                let next = pos + chunk.len() as u64;
                Some((Ok(chunk), Some((file, next))))
            }
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
        }
    });
    Ok(BodyStream {
        len,
        chunks: Box::pin(chunks),
    })
}

/// Deletes one snapshot; not found when it does not exist.
pub async fn delete(core: &Rc<Core>, scope: Scope, name: String) -> Result<(), RuntimeError> {
    let scope = resolve(core, scope)?;
    check_snapshot_name(&name)?;
    on_coordinator(core, move |coord| async move {
        let dir = scope.dir(&coord.shared.storage_root);
        if !coord.storage.list_dir(&dir).await?.contains(&name) {
            return Err(not_found(&name));
        }
        // The info first: a crash in between leaves a file listed without a checksum, never
        // a checksum without its file.
        let info = dir.join(format!("{name}{INFO_SUFFIX}"));
        coord.storage.remove_file(&info).await?;
        coord.storage.remove_file(&dir.join(&name)).await?;
        coord.storage.sync_dir(&dir).await?;
        Ok(())
    })
    .await
}

/// Unix time in seconds.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `(year, month, day, hour, minute, second)` in UTC (civil-from-days).
fn civil(secs: u64) -> (i64, i64, i64, i64, i64, i64) {
    let secs = secs as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `YYYY-MM-DDTHH:MM:SS`, as Qdrant reports `creation_time`.
fn creation_time(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
}

/// `YYYY-MM-DD-HH-MM-SS`, as in Qdrant's snapshot names.
fn name_time(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}-{h:02}-{mi:02}-{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_names() {
        assert_eq!(creation_time(1_659_610_150), "2022-08-04T10:49:10");
        assert_eq!(name_time(0), "1970-01-01-00-00-00");
        assert!(check_snapshot_name("c-2022.snapshot").is_ok());
        assert!(check_snapshot_name(".hidden-2022.snapshot").is_ok());
        for bad in [
            "x",
            ".snapshot",
            "../a.snapshot",
            "a/b.snapshot",
            "a\nb.snapshot",
        ] {
            assert!(check_snapshot_name(bad).is_err(), "{bad}");
        }
    }
}
