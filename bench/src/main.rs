//! `vexfs-bench`: load one (or two, with `--compare`) Qdrant-compatible servers with one
//! scenario and report throughput and latency.

mod cli;
mod client;
mod load;
mod plot;
mod recall;
mod report;
mod response;
mod rng;
mod setup;
mod stats;
mod target;
mod workload;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use hdrhistogram::Histogram;

use crate::cli::{Args, Scenario};
use crate::load::Plan;
use crate::report::{LoadShape, Report};
use crate::target::Target;
use crate::workload::Workload;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vexfs-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    args.validate()?;
    if args.scenario == Scenario::Recall {
        return recall::run(args);
    }
    let cpus = cli::parse_cpus(&args.cpus)?;
    let first = Target::parse(&args.target)?;
    let second = args.compare.as_deref().map(Target::parse).transpose()?;
    let (a, a_latency) = bench_one(args, &first, &cpus)?;
    let (b, b_latency) = match &second {
        Some(t) => {
            let (r, h) = bench_one(args, t, &cpus)?;
            (Some(r), Some(h))
        }
        None => (None, None),
    };
    if let Some(path) = &args.plot {
        let mut series = vec![(a.target.clone(), &a_latency)];
        if let (Some(b), Some(h)) = (&b, &b_latency) {
            series.push((b.target.clone(), h));
        }
        let title = format!("{}: latency (all request kinds)", a.load.scenario);
        plot::latency_percentiles(path, &title, &series)?;
        eprintln!("plot written to {}", path.display());
    }
    report::print_compared(
        &a,
        b.as_ref(),
        args.json,
        Report::render,
        report::render_ratio,
        report::ratio_json,
    )
}

/// Setup, load, teardown and report against one target; also the merged latency histogram.
fn bench_one(
    args: &Args,
    target: &Target,
    cpus: &[usize],
) -> Result<(Report, Histogram<u64>), String> {
    let needs_collection = args.scenario != Scenario::Healthz && !args.no_setup;
    if needs_collection {
        eprintln!(
            "{}: creating {:?} (dim {}, {}) and preloading {} points",
            target.url,
            args.collection,
            args.dim,
            args.distance.qdrant_name(),
            args.points()
        );
        setup::create_and_preload(args, target, args.json)?;
    }
    let workload = Arc::new(Workload::build(args, target)?);
    let plan = Plan {
        addr: target.addr,
        cpus: cpus.to_vec(),
        connections: args.connections,
        pipeline: args.pipeline,
        warmup: args.warmup,
        duration: args.duration,
        requests: args.requests,
        rate: args.rate,
        seed: args.seed,
    };
    eprintln!(
        "{}: {:?} with {} connections x pipeline {} ({:.1}s warmup)",
        target.url,
        args.scenario,
        args.connections,
        args.pipeline,
        args.warmup.as_secs_f64()
    );
    let outcome = load::run(&plan, workload.clone());
    // Tear down even when the load failed, so a rerun starts clean.
    if needs_collection && !args.keep {
        if let Err(e) = setup::delete(args, target) {
            eprintln!("vexfs-bench: cleanup: {e}");
        }
    }
    let outcome = outcome?;
    let shape = LoadShape {
        scenario: format!("{:?}", args.scenario).to_lowercase(),
        connections: args.connections,
        pipeline: args.pipeline,
        cpus: cpus.to_vec(),
        mode: if args.rate.is_some() {
            "open"
        } else {
            "closed"
        }
        .to_string(),
        rate: args.rate,
        warmup_s: args.warmup.as_secs_f64(),
    };
    let report = Report::new(&target.url, shape, &workload, &outcome);
    Ok((report, outcome.stats.overall_latency()))
}
