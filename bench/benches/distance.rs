//! Every distance kernel set this CPU can run (f32, f16 storage, u8 storage; each SIMD set
//! and its scalar twin) at common embedding sizes, as ns per vector compared, then a printed
//! summary in GB/s next to this machine's measured memory bandwidth.
//!
//! `cargo bench -p vexfs-bench --bench distance` (defaults: 0.5 s warm-up, 1 s measurement
//! per kernel; criterion's `--warm-up-time` / `--measurement-time` override them).
//!
//! Summary method: each kernel is timed again outside criterion (best of `SUMMARY_RUNS` runs
//! of `SUMMARY_CALLS` calls, both vectors in L1), and GB/s counts the *stored* vector's bytes
//! per second (dim × element size / time): the query stays in cache during a scan, stored
//! vectors stream from memory. Memory bandwidth is one core's streaming read: the best of
//! `BANDWIDTH_PASSES` passes summing a `BANDWIDTH_BYTES` buffer (far larger than the L3) as
//! u64 with eight independent accumulators. A kernel above 100 % would be memory-bound when
//! scanning vectors that do not fit in cache; below 100 %, compute-bound.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use vexfs_shard::distance::float16::{self, f16};
use vexfs_shard::distance::{self, uint8, Kernels};

/// Dimensions measured: small, MiniLM, BERT-base, OpenAI ada-002.
const DIMS: [usize; 4] = [128, 384, 768, 1536];
/// Buffer read to measure memory bandwidth (16× this box's 32 MiB L3).
const BANDWIDTH_BYTES: usize = 512 << 20;
/// Passes over that buffer; the fastest counts.
const BANDWIDTH_PASSES: usize = 5;
/// Calls per summary timing run, and runs (the fastest counts).
const SUMMARY_CALLS: usize = 20_000;
const SUMMARY_RUNS: usize = 7;

fn f32_vector(dim: usize, salt: u32) -> Vec<f32> {
    (0..dim as u32)
        .map(|i| ((i.wrapping_mul(2_654_435_761) ^ salt) % 2000) as f32 / 1000.0 - 1.0)
        .collect()
}

/// One kernel of a set.
type KernelFn<Q, S> = fn(&[Q], &[S]) -> f32;

/// One row of the printed summary.
struct Row {
    family: &'static str,
    kernel: &'static str,
    isa: &'static str,
    dim: usize,
    ns: f64,
    stored_bytes: usize,
}

/// Benchmarks the three kernels of every set in `sets` on (`q`, `s`) and times them again for
/// the summary.
#[allow(clippy::too_many_arguments)]
fn bench_sets<Q, S>(
    c: &mut Criterion,
    family: &'static str,
    sets: &[Kernels<Q, S>],
    elem_bytes: usize,
    make: impl Fn(usize) -> (Vec<Q>, Vec<S>),
    rows: &mut Vec<Row>,
) {
    let mut g = c.benchmark_group(format!("distance_{family}"));
    g.throughput(Throughput::Elements(1));
    for dim in DIMS {
        let (q, s) = make(dim);
        for set in sets {
            let kernels: [(&'static str, KernelFn<Q, S>); 3] = [
                ("dot", set.dot),
                ("squared_euclid", set.squared_euclid),
                ("manhattan", set.manhattan),
            ];
            for (name, f) in kernels {
                let id = BenchmarkId::new(format!("{name}/{}", set.isa), dim);
                g.bench_with_input(id, &dim, |bn, _| {
                    bn.iter(|| f(black_box(&q), black_box(&s)))
                });
                rows.push(Row {
                    family,
                    kernel: name,
                    isa: set.isa,
                    dim,
                    ns: time_per_call(|| f(black_box(&q), black_box(&s))),
                    stored_bytes: dim * elem_bytes,
                });
            }
        }
    }
    g.finish();
}

/// Nanoseconds per call of `f`: the fastest of `SUMMARY_RUNS` runs.
fn time_per_call(f: impl Fn() -> f32) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..SUMMARY_RUNS {
        let start = Instant::now();
        for _ in 0..SUMMARY_CALLS {
            black_box(f());
        }
        best = best.min(start.elapsed());
    }
    best.as_nanos() as f64 / SUMMARY_CALLS as f64
}

/// One core's streaming-read bandwidth in GB/s (method in the file comment).
fn memory_bandwidth_gbs() -> f64 {
    let words = vec![1u64; BANDWIDTH_BYTES / 8]; // Written, so every page is really mapped.
    let mut best = Duration::MAX;
    for _ in 0..BANDWIDTH_PASSES {
        let start = Instant::now();
        let mut acc = [0u64; 8];
        for chunk in black_box(&words).chunks_exact(8) {
            for (a, w) in acc.iter_mut().zip(chunk) {
                *a = a.wrapping_add(*w);
            }
        }
        black_box(acc);
        best = best.min(start.elapsed());
    }
    BANDWIDTH_BYTES as f64 / best.as_secs_f64() / 1e9
}

fn print_summary(rows: &[Row], bandwidth: f64) {
    println!();
    println!(
        "distance summary: ns/vector, GB/s of stored-vector bytes (both vectors in L1), % of one \
         core's streaming read bandwidth {bandwidth:.1} GB/s"
    );
    println!(
        "{:<8} {:<15} {:<14} {:>5} {:>9} {:>8} {:>8}",
        "storage", "kernel", "isa", "dim", "ns/vec", "GB/s", "% mem"
    );
    for r in rows {
        let gbs = r.stored_bytes as f64 / r.ns;
        println!(
            "{:<8} {:<15} {:<14} {:>5} {:>9.1} {:>8.1} {:>7.0}%",
            r.family,
            r.kernel,
            r.isa,
            r.dim,
            r.ns,
            gbs,
            100.0 * gbs / bandwidth
        );
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    let mut rows = Vec::new();
    bench_sets(
        &mut c,
        "f32",
        &distance::available(),
        4,
        |d| (f32_vector(d, 1), f32_vector(d, 7)),
        &mut rows,
    );
    bench_sets(
        &mut c,
        "f16",
        &float16::available(),
        2,
        |d| {
            let s = f32_vector(d, 7).into_iter().map(f16::from_f32).collect();
            (f32_vector(d, 1), s)
        },
        &mut rows,
    );
    bench_sets(
        &mut c,
        "u8",
        &uint8::available(),
        1,
        |d| {
            let q = (0..d).map(|i| (i * 31 % 256) as u8).collect();
            let s = (0..d).map(|i| (i * 17 % 253) as u8).collect();
            (q, s)
        },
        &mut rows,
    );
    c.final_summary();
    print_summary(&rows, memory_bandwidth_gbs());
}
