//! Resource quotas (Qdrant's `/quotas`): refuse memory- or disk-consuming updates while the
//! process's resident memory or the storage file system is above a configured percentage.
//!
//! The configuration is decided on core 0, persisted (`<storage>/quotas.json`) and installed
//! on every core. Each core reads usage itself, at most once per [`USAGE_REFRESH_MS`], and keeps
//! its own tripped/released state: once a limit is crossed, updates are refused until usage is
//! `release_margin_percent` below it, so a resource resting on the limit does not flap.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vexfs_io::Storage;

use super::catalog::COORDINATOR_CORE;
use super::core::Core;
use super::error::RuntimeError;

const QUOTAS_FILE_NAME: &str = "quotas.json";
/// How often a core re-reads memory and disk usage while quotas are enabled.
pub const USAGE_REFRESH_MS: u64 = 100;
/// Release margin when the configuration leaves it unset, in percentage points.
pub const RELEASE_MARGIN_DEFAULT_PERCENT: u8 = 5;

/// Qdrant's `QuotaConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    #[serde(default)]
    pub enabled: bool,
    pub max_resident_memory_percent: Option<u8>,
    pub max_disk_usage_percent: Option<u8>,
    pub release_margin_percent: Option<u8>,
}

impl QuotaConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (name, v, min) in [
            (
                "max_resident_memory_percent",
                self.max_resident_memory_percent,
                1,
            ),
            ("max_disk_usage_percent", self.max_disk_usage_percent, 1),
            ("release_margin_percent", self.release_margin_percent, 0),
        ] {
            if let Some(v) = v {
                if v < min || v > 100 {
                    return Err(format!(
                        "{name}: value {v} invalid, must be from {min} to 100"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Qdrant's `QuotaUsage`: `None` where the platform does not tell.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct QuotaUsage {
    pub resident_memory_percent: Option<u8>,
    pub disk_usage_percent: Option<u8>,
}

/// Per-core enforcement state.
#[derive(Default)]
pub struct QuotaState {
    pub config: std::cell::RefCell<Arc<QuotaConfig>>,
    memory_tripped: Cell<bool>,
    disk_tripped: Cell<bool>,
    last: Cell<Option<(Instant, QuotaUsage)>>,
}

fn file(core: &Core) -> PathBuf {
    core.shared.storage_root.join(QUOTAS_FILE_NAME)
}

pub async fn load(core: &Rc<Core>) -> Result<(), RuntimeError> {
    let path = file(core);
    if let Some(bytes) = core.storage.read_file(&path).await? {
        let config: QuotaConfig = serde_json::from_slice(&bytes)
            .map_err(|e| RuntimeError::ShardOpen(format!("{}: {e}", path.display())))?;
        *core.quotas.config.borrow_mut() = Arc::new(config);
    }
    Ok(())
}

/// Replaces the configuration everywhere (persisted first).
pub async fn set(core: &Rc<Core>, config: QuotaConfig) -> Result<(), RuntimeError> {
    core.submit_to(COORDINATOR_CORE, move |coord| async move {
        let bytes = serde_json::to_vec_pretty(&config)
            .map_err(|e| RuntimeError::Internal(e.to_string()))?;
        coord
            .storage
            .write_file_atomic(&file(&coord), &bytes)
            .await?;
        let config = Arc::new(config);
        coord
            .broadcast(move |c| {
                let config = config.clone();
                async move {
                    *c.quotas.config.borrow_mut() = config;
                    c.quotas.memory_tripped.set(false);
                    c.quotas.disk_tripped.set(false);
                }
            })
            .await?;
        Ok(())
    })
    .await?
}

/// Current usage, re-read at most every [`USAGE_REFRESH_MS`].
pub fn usage(core: &Core) -> QuotaUsage {
    if let Some((at, u)) = core.quotas.last.get() {
        if at.elapsed() < Duration::from_millis(USAGE_REFRESH_MS) {
            return u;
        }
    }
    let u = QuotaUsage {
        resident_memory_percent: memory_percent(),
        disk_usage_percent: disk_percent(&core.shared.storage_root),
    };
    core.quotas.last.set(Some((Instant::now(), u)));
    u
}

/// Refuses an update that needs memory or disk while a quota is exceeded.
pub fn check(core: &Core) -> Result<(), RuntimeError> {
    let config = core.quotas.config.borrow().clone();
    if !config.enabled {
        return Ok(());
    }
    let u = usage(core);
    let margin = config
        .release_margin_percent
        .unwrap_or(RELEASE_MARGIN_DEFAULT_PERCENT);
    let over = |limit: Option<u8>, used: Option<u8>, tripped: &Cell<bool>| -> Option<(u8, u8)> {
        let (limit, used) = (limit?, used?);
        let now = if tripped.get() {
            used.saturating_add(margin) >= limit
        } else {
            used >= limit
        };
        tripped.set(now);
        now.then_some((used, limit))
    };
    if let Some((used, limit)) = over(
        config.max_resident_memory_percent,
        u.resident_memory_percent,
        &core.quotas.memory_tripped,
    ) {
        return Err(RuntimeError::Unavailable(format!(
            "Service unavailable: resident memory at {used}% has reached the quota of {limit}%; updates are refused"
        )));
    }
    if let Some((used, limit)) = over(
        config.max_disk_usage_percent,
        u.disk_usage_percent,
        &core.quotas.disk_tripped,
    ) {
        return Err(RuntimeError::Unavailable(format!(
            "Service unavailable: storage disk at {used}% has reached the quota of {limit}%; updates are refused"
        )));
    }
    Ok(())
}

/// Resident memory of this process as a percentage of the memory available to it (cgroup v2
/// limit when one is set, else physical memory).
fn memory_percent() -> Option<u8> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let resident = resident_pages * u64::try_from(page).ok()?;
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let total = match cgroup {
        Some(limit) => limit,
        None => {
            let info = std::fs::read_to_string("/proc/meminfo").ok()?;
            let kib: u64 = info
                .lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            kib * 1024
        }
    };
    percent(resident, total)
}

/// Used share of the file system holding `path`.
fn disk_percent(path: &Path) -> Option<u8> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 || st.f_blocks == 0 {
        return None;
    }
    percent(st.f_blocks - st.f_bfree, st.f_blocks)
}

fn percent(part: u64, whole: u64) -> Option<u8> {
    (whole > 0).then(|| (part.saturating_mul(100) / whole).min(100) as u8)
}
