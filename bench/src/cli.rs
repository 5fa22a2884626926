//! Command line: what to run, against whom, how hard, and for how long.

use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Default point-ops per request when `--batch` is not given, per scenario.
pub const DEFAULT_UPSERT_BATCH: usize = 100;
pub const DEFAULT_RETRIEVE_BATCH: usize = 10;
pub const DEFAULT_SCROLL_PAGE: usize = 100;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "vexfs-bench",
    version,
    about = "HTTP/1.1 load generator for Qdrant-compatible servers (glommio, thread-per-core)"
)]
pub struct Args {
    /// Server to load, `http://host:port`.
    #[arg(long, default_value = "http://127.0.0.1:6333")]
    pub target: String,
    /// Second server: the same scenario runs against it afterwards and ratios are printed.
    #[arg(long, value_name = "URL")]
    pub compare: Option<String>,
    /// Workload to run.
    #[arg(long, value_enum, default_value_t = Scenario::Search)]
    pub scenario: Scenario,
    /// Weights for `--scenario mixed`, e.g. `get=50,search=30,upsert=20`.
    #[arg(long, default_value = "get=50,search=30,upsert=20")]
    pub mix: String,
    /// CPUs to pin load-generator executors to, one executor each: `0` or `0,1` or `0-3`.
    #[arg(long, default_value = "0")]
    pub cpus: String,
    /// Keep-alive connections in total, shared out across executors.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Requests in flight per connection (HTTP/1.1 pipelining; responses match in order).
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Measured run time (`10s`, `500ms`, `2m`); ignored when `--requests` is given.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Stop after this many measured requests instead of after `--duration`.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Load applied before measuring starts; its requests are not counted.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Open-loop mode: total requests per second, sent on a fixed schedule. Latency is
    /// measured from the scheduled send time, so a stalled server is not hidden
    /// (coordinated omission).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Collection the benchmark creates, loads, and (unless `--keep`) deletes.
    #[arg(long, default_value = "vexfs_bench")]
    pub collection: String,
    /// Vector dimension.
    #[arg(long, default_value_t = 128)]
    pub dim: usize,
    /// Distance of the collection.
    #[arg(long, value_enum, default_value_t = DistanceArg::Cosine)]
    pub distance: DistanceArg,
    /// Points preloaded before the run (ids 0..points); `recall` defaults to 100,000.
    #[arg(long)]
    pub points: Option<u64>,
    /// Points per preload request (always `wait=true`).
    #[arg(long, default_value_t = 500)]
    pub preload_batch: usize,
    /// Points per request: upsert batch, retrieve ids, scroll page
    /// (default: upsert 100, retrieve 10, scroll 100).
    #[arg(long)]
    pub batch: Option<usize>,
    /// `wait` query parameter of upserts.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    pub wait: bool,
    /// `limit` of searches and queries.
    #[arg(long, default_value_t = 10)]
    pub top_k: usize,
    /// Seed of the vector and id generator: the same seed sends the same bodies.
    #[arg(long, default_value_t = 0x5eed)]
    pub seed: u64,
    /// Leave the collection in place after the run.
    #[arg(long)]
    pub keep: bool,
    /// Skip collection creation and preload (the collection must already exist).
    #[arg(long)]
    pub no_setup: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write an SVG latency-percentile plot here (x: percentile on a "nines" scale).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<std::path::PathBuf>,
    /// `recall`: measured queries per row (each run once per row).
    #[arg(long, default_value_t = 1000)]
    pub queries: usize,
    /// `recall`: `hnsw_ef` values swept, comma-separated.
    #[arg(long, default_value = "16,32,64,128,256")]
    pub ef: String,
    /// `recall`: concurrent clients per row, comma-separated (one connection each).
    #[arg(long, default_value = "1,64")]
    pub clients: String,
    /// `recall`: generate vectors around this many random centres (Gaussian spread
    /// `CLUSTER_SPREAD` per coordinate) instead of uniformly; real embeddings are clustered,
    /// uniform 128-dim data is the hard case for any graph index. 0 = uniform.
    #[arg(long, default_value_t = 0)]
    pub clusters: usize,
    /// `recall`: load base vectors from this `.fvecs` file instead of generating them.
    #[arg(long, value_name = "FILE")]
    pub fvecs: Option<std::path::PathBuf>,
    /// `recall`: query vectors (`.fvecs`); without it the last `--queries` base vectors are
    /// held out as queries.
    #[arg(long, value_name = "FILE")]
    pub fvecs_queries: Option<std::path::PathBuf>,
    /// `recall`: longest wait for the server to finish indexing.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub index_timeout: Duration,
    /// `recall`: the collection's `quantization_config` (scalar: int8, quantile 0.99;
    /// product: x16; binary: one bit).
    #[arg(long, value_enum, default_value_t = QuantizationArg::None)]
    pub quantization: QuantizationArg,
    /// `recall`: search `params.quantization.oversampling` (unset: the server's default).
    #[arg(long)]
    pub oversampling: Option<f64>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantizationArg {
    None,
    Scalar,
    Binary,
    Product,
}

impl QuantizationArg {
    /// The `quantization_config` JSON sent at creation.
    pub fn config_json(self) -> &'static str {
        match self {
            QuantizationArg::None => "null",
            QuantizationArg::Scalar => r#"{"scalar":{"type":"int8","quantile":0.99}}"#,
            QuantizationArg::Binary => r#"{"binary":{}}"#,
            QuantizationArg::Product => r#"{"product":{"compression":"x16"}}"#,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Upsert,
    Get,
    Retrieve,
    Search,
    Query,
    Scroll,
    Healthz,
    Mixed,
    /// Recall@k, QPS and latency over an `hnsw_ef` sweep, against locally computed exact
    /// ground truth (see `recall/`).
    Recall,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DistanceArg {
    Cosine,
    Dot,
    Euclid,
    Manhattan,
}

impl DistanceArg {
    /// Spelling of the distance in Qdrant's collection config.
    pub fn qdrant_name(self) -> &'static str {
        match self {
            DistanceArg::Cosine => "Cosine",
            DistanceArg::Dot => "Dot",
            DistanceArg::Euclid => "Euclid",
            DistanceArg::Manhattan => "Manhattan",
        }
    }
}

/// Default data set size of `recall` and of the other scenarios' preload.
pub const RECALL_DEFAULT_POINTS: u64 = 100_000;
pub const LOAD_DEFAULT_POINTS: u64 = 10_000;

impl Args {
    /// `--points`, or the scenario's default.
    pub fn points(&self) -> u64 {
        let default = if self.scenario == Scenario::Recall {
            RECALL_DEFAULT_POINTS
        } else {
            LOAD_DEFAULT_POINTS
        };
        self.points.unwrap_or(default)
    }
    /// Points per request for upserts.
    pub fn upsert_batch(&self) -> usize {
        self.batch.unwrap_or(DEFAULT_UPSERT_BATCH)
    }
    pub fn retrieve_batch(&self) -> usize {
        self.batch.unwrap_or(DEFAULT_RETRIEVE_BATCH)
    }
    pub fn scroll_page(&self) -> usize {
        self.batch.unwrap_or(DEFAULT_SCROLL_PAGE)
    }

    /// Checks what clap's types cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.connections == 0 {
            return Err("--connections must be at least 1".into());
        }
        if self.pipeline == 0 {
            return Err("--pipeline must be at least 1".into());
        }
        if self.dim == 0 {
            return Err("--dim must be at least 1".into());
        }
        if self.batch == Some(0) || self.preload_batch == 0 || self.top_k == 0 {
            return Err("--batch, --preload-batch and --top-k must be at least 1".into());
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                return Err("--rate must be a positive number of requests per second".into());
            }
        }
        if self.requests == Some(0) {
            return Err("--requests must be at least 1".into());
        }
        if self.queries == 0 {
            return Err("--queries must be at least 1".into());
        }
        if self.scenario == Scenario::Recall && self.no_setup {
            return Err("--no-setup: recall always uploads its own data set".into());
        }
        if self.requests.is_none() && self.duration.is_zero() {
            return Err("--duration must be longer than zero".into());
        }
        Ok(())
    }
}

/// `10s`, `250ms`, `2m`, `1.5s`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad duration {s:?}: use e.g. 10s, 500ms, 2m"))?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("bad duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

/// `16,32,64` → `[16, 32, 64]`; each at least 1.
pub fn parse_list(name: &str, s: &str) -> Result<Vec<usize>, String> {
    let list: Vec<usize> = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<usize>().ok().filter(|v| *v > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("bad {name} list {s:?}: use e.g. 16,32,64"))?;
    if list.is_empty() {
        return Err(format!("{name} names no value"));
    }
    Ok(list)
}

/// `0`, `0,1`, `0-3`, `0,2-3` → CPU ids in order, without repeats.
pub fn parse_cpus(s: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("bad CPU list {s:?}: use e.g. 0 or 0,1 or 0-3");
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().map_err(|_| bad())?,
                b.trim().parse::<usize>().map_err(|_| bad())?,
            ),
            None => {
                let c = part.parse::<usize>().map_err(|_| bad())?;
                (c, c)
            }
        };
        if lo > hi {
            return Err(bad());
        }
        for c in lo..=hi {
            if !cpus.contains(&c) {
                cpus.push(c);
            }
        }
    }
    if cpus.is_empty() {
        return Err("--cpus names no CPU".into());
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpus("0"), Ok(vec![0]));
        assert_eq!(parse_cpus("0,1"), Ok(vec![0, 1]));
        assert_eq!(parse_cpus("0-2,1"), Ok(vec![0, 1, 2]));
        assert!(parse_cpus("2-1").is_err());
        assert!(parse_cpus("").is_err());
    }

    #[test]
    fn recall_defaults_and_checks() {
        let args = Args::parse_from(["vexfs-bench", "--scenario", "recall"]);
        assert_eq!(args.points(), RECALL_DEFAULT_POINTS);
        assert_eq!(args.validate(), Ok(()));
        let args = Args::parse_from(["vexfs-bench", "--scenario", "recall", "--no-setup"]);
        assert!(args.validate().is_err());
        let args = Args::parse_from(["vexfs-bench", "--scenario", "get", "--points", "7"]);
        assert_eq!(args.points(), 7);
        let args = Args::parse_from(["vexfs-bench"]);
        assert_eq!(args.points(), LOAD_DEFAULT_POINTS);
    }

    #[test]
    fn value_lists() {
        assert_eq!(parse_list("--ef", "16, 32,64"), Ok(vec![16, 32, 64]));
        assert!(parse_list("--ef", "16,x").is_err());
        assert!(parse_list("--ef", "0").is_err());
        assert!(parse_list("--ef", "").is_err());
    }
}
