//! The load generator: one glommio executor pinned per `--cpus` entry, each driving its share
//! of the connections; their counts are merged when all have finished.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::{LocalExecutorBuilder, Placement};

use crate::client::{self, Schedule};
use crate::stats::Stats;
use crate::workload::Workload;

/// io_uring buffer memory per executor, in bytes: RLIMIT_MEMLOCK is 8 MiB on the reference
/// box and the server's executors need theirs too; sockets do not use registered buffers.
pub const IO_MEMORY_BYTES: usize = 1024 * 1024;
/// Time between spawning executors and the common start, for connections to open.
const START_DELAY: Duration = Duration::from_millis(300);
/// Upper bound on the measured part of a `--requests` run, so it always ends by itself.
pub const REQUESTS_MODE_MAX: Duration = Duration::from_secs(600);

/// How hard and how long to load one target.
pub struct Plan {
    pub addr: SocketAddr,
    pub cpus: Vec<usize>,
    pub connections: usize,
    pub pipeline: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub requests: Option<u64>,
    /// Open loop: requests per second over all connections.
    pub rate: Option<f64>,
    pub seed: u64,
}

/// Merged counts and the measured window they cover.
pub struct Outcome {
    pub stats: Stats,
    pub elapsed: Duration,
}

pub fn run(plan: &Plan, workload: Arc<Workload>) -> Result<Outcome, String> {
    let start = Instant::now() + START_DELAY;
    let measure_from = start + plan.warmup;
    let deadline = measure_from + plan.requests.map_or(plan.duration, |_| REQUESTS_MODE_MAX);
    let executors = plan.cpus.len().min(plan.connections);
    let mut handles = Vec::with_capacity(executors);
    for (e, &cpu) in plan.cpus.iter().take(executors).enumerate() {
        // Connection j runs on executor j % executors.
        let conns: Vec<usize> = (e..plan.connections).step_by(executors).collect();
        let schedules: Vec<(usize, Schedule)> = conns
            .into_iter()
            .map(|j| (j, schedule_of(plan, j, start, measure_from, deadline)))
            .collect();
        let workload = workload.clone();
        let (addr, seed) = (plan.addr, plan.seed);
        let handle = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("vexfs-bench-{e}"))
            .io_memory(IO_MEMORY_BYTES)
            .spawn(move || async move {
                let stats = Rc::new(RefCell::new(Stats::new(workload.pools.len())));
                let tasks: Vec<_> = schedules
                    .into_iter()
                    .map(|(j, sched)| {
                        let conn_seed = seed ^ (j as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
                        glommio::spawn_local(client::drive(
                            addr,
                            conn_seed,
                            workload.clone(),
                            sched,
                            stats.clone(),
                        ))
                    })
                    .collect();
                for t in tasks {
                    t.await;
                }
                // Every task has finished, so this is the last reference.
                Rc::try_unwrap(stats)
                    .map(RefCell::into_inner)
                    .unwrap_or_else(|rc| std::mem::replace(&mut rc.borrow_mut(), Stats::new(0)))
            })
            .map_err(|e| format!("cannot start a load executor on CPU {cpu}: {e}"))?;
        handles.push(handle);
    }
    let mut merged = Stats::new(workload.pools.len());
    for h in handles {
        let s = h
            .join()
            .map_err(|e| format!("a load executor failed: {e}"))?;
        merged.merge(s);
    }
    let elapsed = match plan.requests {
        None => plan.duration,
        Some(_) => merged.last_completion.map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(measure_from)
        }),
    };
    Ok(Outcome {
        stats: merged,
        elapsed,
    })
}

/// Connection `j`'s part of the run.
fn schedule_of(
    plan: &Plan,
    j: usize,
    start: Instant,
    measure_from: Instant,
    deadline: Instant,
) -> Schedule {
    let quota = plan.requests.map(|n| {
        let c = plan.connections as u64;
        n / c + u64::from((j as u64) < n % c)
    });
    let open_loop = plan.rate.map(|rate| {
        let per_conn = rate / plan.connections as f64;
        let gap = Duration::from_secs_f64(1.0 / per_conn);
        // Stagger first sends so connections do not fire in lockstep.
        let offset = gap.mul_f64(j as f64 / plan.connections as f64);
        (start + offset, gap)
    });
    Schedule {
        start,
        measure_from,
        deadline,
        quota,
        open_loop,
        pipeline: plan.pipeline,
    }
}
