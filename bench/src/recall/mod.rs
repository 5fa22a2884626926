//! The `recall` scenario: how many of the true nearest neighbours a server returns, and how
//! fast, over a sweep of `hnsw_ef` and client counts, unfiltered and with a 10 % filter.
//!
//! Order of a run: build the data set (`dataset`), compute exact ground truth locally with the
//! engine's kernels on every core (`truth`), then per target: create, upload, wait for
//! indexing (`server`), run every row (`query`), score and report (`report`). Both targets of
//! `--compare` get the same data, queries and ground truth. `--quantization` sets the
//! collection's `quantization_config`, `--oversampling` the searches' oversampling.

mod dataset;
mod query;
pub mod report;
mod server;
mod truth;

use std::fmt::Write as _;
use std::sync::Arc;

use vexfs_shard::distance::Metric;
use vexfs_shard::Distance;

use crate::cli::{self, Args, DistanceArg};
use crate::setup;
use crate::target::Target;
use dataset::{Dataset, FILTER_TAG, TAG_FIELD};
use report::{RecallReport, RecallRow};

/// Both ground truths of a run.
struct Truth {
    plain: Vec<Vec<u64>>,
    filtered: Vec<Vec<u64>>,
}

/// Runs the scenario against `--target` (and `--compare`) and prints the result.
pub fn run(args: &Args) -> Result<(), String> {
    let cpus = cli::parse_cpus(&args.cpus)?;
    let efs = cli::parse_list("--ef", &args.ef)?;
    let clients = cli::parse_list("--clients", &args.clients)?;
    let first = Target::parse(&args.target)?;
    let second = args.compare.as_deref().map(Target::parse).transpose()?;
    let points = usize::try_from(args.points()).map_err(|_| "--points too large".to_string())?;

    let data = match &args.fvecs {
        Some(base) => Dataset::load(
            base,
            args.fvecs_queries.as_deref(),
            points,
            args.queries,
            args.seed,
        )?,
        None if args.clusters > 0 => {
            Dataset::clustered(points, args.queries, args.dim, args.clusters, args.seed)
        }
        None => Dataset::generate(points, args.queries, args.dim, args.seed),
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    eprintln!(
        "ground truth: {} queries x {} points x {} dims on {threads} threads",
        data.query_count(),
        data.len(),
        data.dim
    );
    let started = std::time::Instant::now();
    let metric = Metric(distance_of(args.distance));
    let tagged = |i: usize| data.tags[i] == FILTER_TAG;
    let truth = Truth {
        plain: truth::exact_top_k(&data, metric, args.top_k, threads, None),
        filtered: truth::exact_top_k(&data, metric, args.top_k, threads, Some(&tagged)),
    };
    eprintln!("ground truth: {:.2}s", started.elapsed().as_secs_f64());

    let a = run_target(args, &first, &data, &truth, &efs, &clients, cpus[0])?;
    let b = match &second {
        Some(t) => Some(run_target(args, t, &data, &truth, &efs, &clients, cpus[0])?),
        None => None,
    };
    if let Some(path) = &args.plot {
        let mut series = Vec::new();
        for report in std::iter::once(&a).chain(&b) {
            for row in &report.rows {
                let name = if b.is_some() {
                    format!("{} {}", report.target, row.label())
                } else {
                    row.label()
                };
                series.push((name, &row.latency));
            }
        }
        crate::plot::latency_percentiles(path, "recall runs: search latency", &series)?;
        eprintln!("plot written to {}", path.display());
    }
    crate::report::print_compared(
        &a,
        b.as_ref(),
        args.json,
        RecallReport::render,
        report::render_ratio,
        report::ratio_json,
    )
}

fn distance_of(d: DistanceArg) -> Distance {
    match d {
        DistanceArg::Cosine => Distance::Cosine,
        DistanceArg::Dot => Distance::Dot,
        DistanceArg::Euclid => Distance::Euclid,
        DistanceArg::Manhattan => Distance::Manhattan,
    }
}

/// Upload, index, and every row against one target; the collection is deleted afterwards
/// unless `--keep`.
fn run_target(
    args: &Args,
    target: &Target,
    data: &Dataset,
    truth: &Truth,
    efs: &[usize],
    clients: &[usize],
    cpu: usize,
) -> Result<RecallReport, String> {
    eprintln!(
        "{}: creating {:?} and uploading {} points",
        target.url,
        args.collection,
        data.len()
    );
    let loaded = server::create_and_fill(args, target, data, args.json)?;
    eprintln!(
        "{}: upload {:.2}s, index build {:.2}s",
        target.url,
        loaded.upload.as_secs_f64(),
        loaded.build.as_secs_f64()
    );
    let rows = run_rows(args, target, data, truth, efs, clients, cpu);
    if !args.keep {
        if let Err(e) = setup::delete(args, target) {
            eprintln!("vexfs-bench: cleanup: {e}");
        }
    }
    let (rows, first_error) = rows?;
    Ok(RecallReport {
        target: target.url.clone(),
        data: data.source.clone(),
        points: data.len(),
        dim: data.dim,
        distance: args.distance.qdrant_name().to_string(),
        queries: data.query_count(),
        k: args.top_k,
        upload_s: loaded.upload.as_secs_f64(),
        build_s: loaded.build.as_secs_f64(),
        indexed_vectors: loaded.indexed_vectors,
        first_error,
        rows,
    })
}

fn run_rows(
    args: &Args,
    target: &Target,
    data: &Dataset,
    truth: &Truth,
    efs: &[usize],
    clients: &[usize],
    cpu: usize,
) -> Result<(Vec<RecallRow>, Option<String>), String> {
    let mut rows = Vec::new();
    let mut first_error = None;
    for &ef in efs {
        for &c in clients {
            for filtered in [false, true] {
                let requests = Arc::new(search_requests(args, target, data, ef, filtered));
                let out = query::run_row(target.addr, cpu, c, requests)?;
                let truth = if filtered {
                    &truth.filtered
                } else {
                    &truth.plain
                };
                let recall = truth
                    .iter()
                    .zip(&out.answers)
                    .map(|(t, got)| truth::recall(t, got))
                    .sum::<f64>()
                    / truth.len().max(1) as f64;
                let us = |q: f64| out.latency.value_at_quantile(q) as f64 / 1_000.0;
                let row = RecallRow {
                    hnsw_ef: ef,
                    clients: c,
                    filtered,
                    recall,
                    qps: out.answers.len() as f64 / out.wall.as_secs_f64().max(f64::MIN_POSITIVE),
                    p50_us: us(0.50),
                    p99_us: us(0.99),
                    errors: out.errors,
                    latency: out.latency,
                };
                eprintln!(
                    "{}: {} recall {:.4}, {:.0} QPS",
                    target.url,
                    row.label(),
                    row.recall,
                    row.qps
                );
                if first_error.is_none() {
                    first_error = out.first_error;
                }
                rows.push(row);
            }
        }
    }
    Ok((rows, first_error))
}

/// One whole HTTP search request per query.
fn search_requests(
    args: &Args,
    target: &Target,
    data: &Dataset,
    ef: usize,
    filtered: bool,
) -> Vec<Vec<u8>> {
    let path = format!("/collections/{}/points/search", args.collection);
    (0..data.query_count())
        .map(|i| {
            let mut s = String::with_capacity(data.dim * 12 + 160);
            s.push_str("{\"vector\":");
            crate::workload::push_vector(&mut s, data.query(i));
            let quantization = match args.oversampling {
                Some(o) => format!(",\"quantization\":{{\"oversampling\":{o}}}"),
                None => String::new(),
            };
            let _ = write!(
                s,
                ",\"limit\":{},\"params\":{{\"hnsw_ef\":{ef}{quantization}}},\"with_payload\":false",
                args.top_k
            );
            if filtered {
                let _ = write!(
                    s,
                    ",\"filter\":{{\"must\":[{{\"key\":\"{TAG_FIELD}\",\"match\":{{\"value\":\"t{FILTER_TAG}\"}}}}]}}"
                );
            }
            s.push('}');
            target.request("POST", &path, Some(s.as_bytes()))
        })
        .collect()
}
