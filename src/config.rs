//! Server configuration: embedded defaults, a TOML file, then command-line overrides.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::http::HttpLimits;
use crate::limits;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub dialects: DialectsConfig,
    pub runtime: RuntimeConfig,
    pub limits: LimitsConfig,
    pub log: LogConfig,
    pub service: ServiceConfig,
    pub tls: TlsConfig,
    pub admin: AdminConfig,
}

/// Where the admin routes (`/admin/…`, `/metrics`) are served.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// A separate port (on `[server] host`) for the admin routes, which the API port then no
    /// longer serves; unset = the API port serves them too. The health probes answer on both.
    pub port: Option<u16>,
}

/// HTTPS on the server port instead of plain HTTP (never both). The files are read and checked
/// once at start; a problem with them stops the start with one line naming the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub enabled: bool,
    /// PEM certificate chain, the server's certificate first.
    pub cert_path: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the first certificate.
    pub key_path: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Key for every route (`api-key` header or `Authorization: Bearer`). Env:
    /// `VEXFS__SERVICE__API_KEY` (or Qdrant's `QDRANT__SERVICE__API_KEY`).
    pub api_key: Option<String>,
    /// Key for routes that only read. Env: `VEXFS__SERVICE__READ_ONLY_API_KEY`.
    pub read_only_api_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub path: PathBuf,
    /// Points a shard's mutable part holds before it is written out as a segment.
    pub segment_flush_points: usize,
    /// Growth step of write-ahead-log files, in bytes (a multiple of 4096): space is reserved
    /// ahead so that fdatasync rarely has to update the file size.
    pub wal_preallocate_bytes: u64,
    /// What opening a shard does with a log damaged in the middle.
    pub wal_recovery: WalRecovery,
}

/// A shard's log is damaged in the middle when an intact record follows the damage, so it is
/// not the torn tail a crash leaves (that one is always cut silently: it was never
/// acknowledged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WalRecovery {
    /// Refuse to start, naming the file and offset: an operator must look at it.
    #[default]
    Strict,
    /// Keep the records before the damage, cut the log there (losing every later record,
    /// acknowledged ones included) and warn. Only the newest log file of a shard can be cut;
    /// damage in an older one still refuses to start.
    Truncate,
}

impl WalRecovery {
    pub fn policy(self) -> vexfs_shard::wal::RecoveryPolicy {
        match self {
            WalRecovery::Strict => vexfs_shard::wal::RecoveryPolicy::Strict,
            WalRecovery::Truncate => vexfs_shard::wal::RecoveryPolicy::TruncateCorrupt,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialectsConfig {
    /// Qdrant's REST API. The only dialect this build serves.
    pub qdrant: bool,
    /// A native API of our own; not part of this build, so it must stay off.
    pub native: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Executor threads, one pinned per CPU. 0 = every CPU this process may run on.
    pub cores: usize,
    /// Registered io_uring buffer memory per executor, in KiB.
    pub io_memory_kib: usize,
    /// How long an idle executor spins before it parks in the kernel, in microseconds. A
    /// parked core must be woken to take a request or a cross-core call (tens to hundreds of
    /// µs); spinning trades that latency for CPU time burnt while idle. 0 = park at once.
    pub spin_before_park_us: u64,
    /// Entries of each executor's io_uring rings: how many I/O requests one core can have in
    /// flight. glommio's default is 128.
    pub io_ring_depth: usize,
    /// How long a task may run before cooperative yield points give way to other tasks, in
    /// milliseconds (request handlers, the optimizer and the indexer check it). Lower values
    /// cut the tail latency others see behind a long task, at some throughput cost.
    pub preempt_timer_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub body_max_bytes: usize,
    pub head_max_bytes: usize,
    pub headers_max_count: usize,
    pub head_timeout_ms: u64,
    pub body_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    /// Open connections per core; beyond it new connections get 503 and are closed.
    pub connections_max_per_core: usize,
    /// Pipelined requests answered before their answers are flushed (and input reading waits).
    pub pipeline_max_in_flight: usize,
    /// Deepest array/object nesting in a JSON body; deeper → 400 before parsing.
    pub json_depth_max: usize,
    /// Points (or ids) one request may carry; more → 422.
    pub points_per_request_max: usize,
    /// Searches per batch request and operations per `points/batch`; more → 422.
    pub searches_per_batch_max: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// tracing filter, e.g. "info" or "vexfs_server=debug"; RUST_LOG overrides it.
    pub level: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 6333,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            path: PathBuf::from("./storage"),
            segment_flush_points: vexfs_shard::shard::SEGMENT_FLUSH_POINTS,
            wal_preallocate_bytes: WAL_PREALLOCATE_BYTES,
            wal_recovery: WalRecovery::Strict,
        }
    }
}

impl Default for DialectsConfig {
    fn default() -> Self {
        DialectsConfig {
            qdrant: true,
            native: false,
        }
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cores: 0,
            io_memory_kib: limits::IO_MEMORY_BYTES / 1024,
            spin_before_park_us: 0,
            io_ring_depth: limits::IO_RING_DEPTH,
            preempt_timer_ms: limits::PREEMPT_TIMER_MS,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            body_max_bytes: limits::BODY_MAX_BYTES,
            head_max_bytes: limits::HEAD_MAX_BYTES,
            headers_max_count: limits::HEADERS_MAX_COUNT,
            head_timeout_ms: limits::HEAD_TIMEOUT_MS,
            body_timeout_ms: limits::BODY_TIMEOUT_MS,
            idle_timeout_ms: limits::IDLE_TIMEOUT_MS,
            connections_max_per_core: limits::CONNECTIONS_MAX_PER_CORE,
            pipeline_max_in_flight: limits::PIPELINE_MAX_IN_FLIGHT,
            json_depth_max: limits::JSON_DEPTH_MAX,
            points_per_request_max: limits::POINTS_PER_REQUEST_MAX,
            searches_per_batch_max: limits::SEARCHES_PER_BATCH_MAX,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

/// Default growth step of log files: 16 MiB keeps a fresh shard's disk footprint small while
/// an fdatasync that must extend the file stays rare (once per 16 MiB of log).
const WAL_PREALLOCATE_BYTES: u64 = 16 * 1024 * 1024;
/// Alignment log growth steps must keep (the largest O_DIRECT block size in use).
const WAL_PREALLOCATE_ALIGN_BYTES: u64 = 4096;

/// Smallest io_memory glommio accepts, in KiB.
const IO_MEMORY_MIN_KIB: usize = 512;

impl Config {
    /// Reads a TOML file; every problem is one line naming the file.
    pub fn from_file(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        Config::from_toml(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// Applies keys from the environment, which override the file (as in Qdrant).
    pub fn apply_env(&mut self) {
        let var = |names: [&str; 2]| names.iter().find_map(|n| std::env::var(n).ok());
        if let Some(k) = var(["VEXFS__SERVICE__API_KEY", "QDRANT__SERVICE__API_KEY"]) {
            self.service.api_key = Some(k);
        }
        if let Some(k) = var([
            "VEXFS__SERVICE__READ_ONLY_API_KEY",
            "QDRANT__SERVICE__READ_ONLY_API_KEY",
        ]) {
            self.service.read_only_api_key = Some(k);
        }
    }

    pub fn from_toml(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if !self.dialects.qdrant {
            return Err("dialects.qdrant = false leaves nothing to serve; this build serves only the Qdrant dialect".into());
        }
        if self.dialects.native {
            return Err(
                "dialects.native = true: the native dialect is not part of this build".into(),
            );
        }
        if self.runtime.io_memory_kib < IO_MEMORY_MIN_KIB {
            return Err(format!(
                "runtime.io_memory_kib = {} is below glommio's minimum of {IO_MEMORY_MIN_KIB}",
                self.runtime.io_memory_kib
            ));
        }
        if self.runtime.io_ring_depth == 0 || self.runtime.preempt_timer_ms == 0 {
            return Err(
                "runtime.io_ring_depth and runtime.preempt_timer_ms must be at least 1".into(),
            );
        }
        if self.limits.body_max_bytes == 0 || self.limits.head_max_bytes < 256 {
            return Err("limits.body_max_bytes must be > 0 and limits.head_max_bytes ≥ 256".into());
        }
        if self.server.port == 0 {
            return Err(
                "server.port must be between 1 and 65535 (every core listens on the same port)"
                    .into(),
            );
        }
        let step = self.storage.wal_preallocate_bytes;
        if step == 0 || !step.is_multiple_of(WAL_PREALLOCATE_ALIGN_BYTES) {
            return Err(format!(
                "storage.wal_preallocate_bytes = {step} must be a positive multiple of {WAL_PREALLOCATE_ALIGN_BYTES}"
            ));
        }
        if self.storage.segment_flush_points == 0 {
            return Err("storage.segment_flush_points must be at least 1".into());
        }
        if self.storage.path.as_os_str().is_empty() {
            return Err("storage.path is empty".into());
        }
        if let Some(port) = self.admin.port {
            if port == 0 || port == self.server.port {
                return Err(format!(
                    "admin.port = {port} must be a port of its own (1-65535, not server.port)"
                ));
            }
        }
        if self.tls.enabled && (self.tls.cert_path.is_none() || self.tls.key_path.is_none()) {
            return Err("tls.enabled = true needs both tls.cert_path and tls.key_path".into());
        }
        Ok(())
    }

    /// The shared rustls configuration when `[tls]` is enabled: reads and checks the
    /// certificate and key files (one-line error naming the file otherwise).
    pub fn tls_server_config(&self) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
        match (&self.tls.enabled, &self.tls.cert_path, &self.tls.key_path) {
            (false, _, _) => Ok(None),
            (true, Some(cert), Some(key)) => crate::http::tls_server_config(cert, key).map(Some),
            (true, _, _) => {
                Err("tls.enabled = true needs both tls.cert_path and tls.key_path".into())
            }
        }
    }

    pub fn http_limits(&self) -> HttpLimits {
        HttpLimits {
            head_max_bytes: self.limits.head_max_bytes,
            headers_max_count: self.limits.headers_max_count,
            body_max_bytes: self.limits.body_max_bytes,
            head_timeout_ms: self.limits.head_timeout_ms,
            body_timeout_ms: self.limits.body_timeout_ms,
            idle_timeout_ms: self.limits.idle_timeout_ms,
            // 0 would refuse every connection, never answer, or refuse every JSON body: read
            // as the smallest working value rather than a server that cannot serve.
            connections_max_per_core: self.limits.connections_max_per_core.max(1),
            pipeline_max_in_flight: self.limits.pipeline_max_in_flight.max(1),
            json_depth_max: self.limits.json_depth_max.max(1),
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_embedded_defaults() {
        let c = Config::from_toml("").expect("empty is valid");
        assert_eq!(c.server.host, "127.0.0.1");
        assert_eq!(c.server.port, 6333);
        assert_eq!(c.storage.path, PathBuf::from("./storage"));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn sections_override_defaults() {
        let c = Config::from_toml(
            "[server]\nport = 7000\n[storage]\npath = \"/tmp/x\"\n[runtime]\ncores = 1\n",
        )
        .expect("valid");
        assert_eq!(c.server.port, 7000);
        assert_eq!(c.server.host, "127.0.0.1");
        assert_eq!(c.runtime.cores, 1);
    }

    #[test]
    fn wal_recovery_is_strict_unless_truncate_is_asked_for() {
        let strict = Config::from_toml("").expect("valid").storage.wal_recovery;
        assert_eq!(strict.policy(), vexfs_shard::wal::RecoveryPolicy::Strict);
        let c = Config::from_toml("[storage]\nwal_recovery = \"truncate\"\n").expect("valid");
        assert_eq!(
            c.storage.wal_recovery.policy(),
            vexfs_shard::wal::RecoveryPolicy::TruncateCorrupt
        );
        let e = Config::from_toml("[storage]\nwal_recovery = \"lenient\"\n").expect_err("bad");
        assert!(e.contains("lenient") || e.contains("variant"), "{e}");
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_one_line_errors() {
        let e = Config::from_toml("[server]\nprot = 1\n").expect_err("unknown key");
        assert!(e.contains("prot"), "{e}");
        assert!(!e.contains('\n'));
        let e = Config::from_toml("[server]\nport = \"x\"\n").expect_err("wrong type");
        assert!(e.contains("port") || e.contains("integer"), "{e}");
        let e = Config::from_toml("[nope]\n").expect_err("unknown section");
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn validation_refuses_unservable_settings() {
        let mut c = Config::default();
        c.dialects.native = true;
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.runtime.io_memory_kib = 100;
        assert!(c.validate().is_err());
    }

    #[test]
    fn tls_needs_both_files_and_reports_the_bad_one() {
        let c =
            Config::from_toml("[tls]\nenabled = true\ncert_path = \"/x.pem\"\n").expect("parses");
        assert!(c.validate().unwrap_err().contains("tls.key_path"));
        let c = Config::from_toml("[tls]\ncert_path = \"/x.pem\"\n").expect("parses");
        assert!(c.validate().is_ok(), "disabled TLS needs nothing");
        assert!(matches!(c.tls_server_config(), Ok(None)));
        let c = Config::from_toml(
            "[tls]\nenabled = true\ncert_path = \"/nonexistent/c.pem\"\nkey_path = \"/nonexistent/k.pem\"\n",
        )
        .expect("parses");
        let e = c.tls_server_config().expect_err("missing file");
        assert!(e.contains("tls.cert_path /nonexistent/c.pem"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = Config::from_toml("[tls]\nenable = true\n").expect_err("unknown key");
        assert!(e.contains("enable"), "{e}");
    }
}
