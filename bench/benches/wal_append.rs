//! The shard WAL (`vexfs_shard::wal::Wal`) on the in-memory `vexfs_io` backend: the CPU cost
//! of appending a record (header, CRC32C, copy) and of the group-commit flush that makes it
//! durable, without a disk in the way. `cargo bench -p vexfs-bench --bench wal_append`.
//!
//! Two shapes per payload size: `append+sync` (one record per flush, a `wait=true` upsert
//! alone) and `append64+sync` (64 records share one flush, group commit under load).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use futures_lite::future::block_on;
use vexfs_io::mem::{MemFile, MemStorage};
use vexfs_io::Storage;
use vexfs_shard::wal::{Wal, WalOptions};

/// Payload sizes: a delete by id, one 128-dim point, a 100 × 128 upsert batch (≈ JSON-free
/// binary size of what the shard logs).
const PAYLOAD_BYTES: [usize; 3] = [64, 600, 52_000];
/// Records per shared flush in the group-commit shape.
const GROUP: usize = 64;
/// Records appended to one log before a fresh one is opened (outside the timing), so the
/// in-memory file stays small whatever the iteration count.
const RECORDS_PER_LOG: u64 = 2048;
/// Growth step of the in-memory log file.
const PREALLOCATE_BYTES: u64 = 1 << 20;

fn fresh_wal(seed: u64) -> Wal<MemFile> {
    block_on(async {
        let fs = MemStorage::new(seed);
        fs.create_dir_all(Path::new("/w")).await.expect("mem dir");
        let file = fs.open(Path::new("/w/wal")).await.expect("mem file");
        let options = WalOptions {
            preallocate_bytes: PREALLOCATE_BYTES,
            ..WalOptions::default()
        };
        let (wal, replayed) = Wal::open_with_options(file, "/w/wal".into(), options)
            .await
            .expect("open an empty in-memory log");
        assert!(replayed.is_empty());
        wal
    })
}

/// Time for `iters` rounds of (`per_sync` appends, one sync), over as many fresh logs as
/// needed.
fn timed(iters: u64, per_sync: usize, payload: &[u8]) -> Duration {
    let rounds_per_log = (RECORDS_PER_LOG / per_sync as u64).max(1);
    let mut total = Duration::ZERO;
    let mut left = iters;
    let mut seed = 1;
    while left > 0 {
        let n = left.min(rounds_per_log);
        let wal = fresh_wal(seed);
        let start = Instant::now();
        for _ in 0..n {
            let mut last = 0;
            for _ in 0..per_sync {
                last = wal.append(black_box(payload)).expect("append");
            }
            block_on(wal.sync_to(last)).expect("sync");
        }
        total += start.elapsed();
        left -= n;
        seed += 1;
    }
    total
}

fn wal(c: &mut Criterion) {
    let mut g = c.benchmark_group("wal");
    for size in PAYLOAD_BYTES {
        let payload: Vec<u8> = (0..size).map(|i| (i * 131 % 251) as u8).collect();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("append+sync", size), &size, |b, _| {
            b.iter_custom(|iters| timed(iters, 1, &payload))
        });
        g.throughput(Throughput::Bytes((size * GROUP) as u64));
        g.bench_with_input(BenchmarkId::new("append64+sync", size), &size, |b, _| {
            b.iter_custom(|iters| timed(iters, GROUP, &payload))
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    wal(&mut c);
    c.final_summary();
}
