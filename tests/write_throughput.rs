//! Measurement, not a check (run by hand on the device that holds the storage directory):
//! how fast segments reach the disk through a shard's flush and merge, next to a plain
//! O_DIRECT sequential write through the same `DmaStorage` in the same run.
//!
//! `VEXFS_THROUGHPUT_DIR=/path/on/the/device cargo test --release --test write_throughput --
//! --ignored --nocapture` (default: a directory under the cargo target dir).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use glommio::LocalExecutorBuilder;
use vexfs_io::dma::DmaStorage;
use vexfs_io::{File, Storage};
use vexfs_shard::segment::{write_segment, SegmentBuilder};
use vexfs_shard::{
    Distance, PointId, PointWrite, Shard, ShardOptions, ShardSchema, Vector, VectorSpec, WriteOp,
};

/// Kept within the box's locked-memory limit (see ARCHITECTURE.md).
const IO_MEMORY_BYTES: usize = 2 << 20;
/// The raw write: this many bytes, in pieces of `RAW_PIECE_BYTES`, one fdatasync at the end.
const RAW_TOTAL_BYTES: usize = 512 << 20;
const RAW_PIECE_BYTES: usize = 8 << 20;
/// Each flush writes one segment of this many points.
const FLUSH_POINTS: u64 = 50_000;
const FLUSHES: u64 = 4;
const DIM: usize = 128;
/// Points per logged write (the size of a typical upsert batch).
const BATCH_POINTS: u64 = 500;

fn dir() -> PathBuf {
    match std::env::var_os("VEXFS_THROUGHPUT_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_TARGET_TMPDIR")).join("write_throughput"),
    }
}

fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / took.as_secs_f64()
}

/// Segment files in `dir`, with their sizes.
fn segments(dir: &Path) -> Vec<(String, u64)> {
    std::fs::read_dir(dir)
        .expect("shard dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .map(|e| {
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            (e.file_name().to_string_lossy().into_owned(), len)
        })
        .collect()
}

fn segment_bytes(dir: &Path) -> u64 {
    segments(dir).iter().map(|(_, len)| len).sum()
}

async fn raw_write(path: &Path) -> Duration {
    let fs = DmaStorage;
    let file = fs.open(path).await.expect("open");
    let piece: Vec<u8> = (0..RAW_PIECE_BYTES).map(|i| (i % 251) as u8).collect();
    let t = Instant::now();
    for k in 0..RAW_TOTAL_BYTES / RAW_PIECE_BYTES {
        file.write_at((k * RAW_PIECE_BYTES) as u64, &piece)
            .await
            .expect("write");
    }
    file.sync_data().await.expect("sync");
    let took = t.elapsed();
    file.close().await.expect("close");
    fs.remove_file(path).await.expect("remove");
    took
}

/// Builds one segment in memory, then times only its write to disk.
async fn segment_file_write(fs: &DmaStorage, root: &Path) -> (u64, Duration) {
    let schema = ShardSchema {
        vectors: vec![VectorSpec {
            name: String::new(),
            dim: DIM,
            distance: Distance::Dot,
        }],
        ..ShardSchema::default()
    };
    let mut builder =
        SegmentBuilder::with_capacity(&schema, FLUSH_POINTS as usize).expect("builder");
    for i in 0..FLUSH_POINTS {
        builder.push_point(&point(i), i).expect("push");
    }
    let bytes = builder.finish().expect("finish");
    let t = Instant::now();
    write_segment(fs, root, "one.seg", &bytes)
        .await
        .expect("write");
    let took = t.elapsed();
    fs.remove_file(&root.join("one.seg")).await.expect("remove");
    (bytes.len() as u64, took)
}

fn point(i: u64) -> PointWrite {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let vector: Vec<f32> = (0..DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 1000) as f32 / 1000.0
        })
        .collect();
    PointWrite {
        id: PointId::Num(i),
        vectors: vec![(String::new(), Vector::Dense(vector))],
        payload: None,
    }
}

#[test]
#[ignore]
fn segment_writes_against_raw_sequential_writes() {
    let root = dir();
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("dir");
    let shard_dir = root.join("shard");
    let raw_path = root.join("raw.bin");
    let scratch = root.clone();
    LocalExecutorBuilder::default()
        .io_memory(IO_MEMORY_BYTES)
        .spawn(move || async move {
            let raw = raw_write(&raw_path).await;
            let fs = DmaStorage;
            let (file_bytes, file_write) = segment_file_write(&fs, &scratch).await;
            let schema = ShardSchema {
                vectors: vec![VectorSpec {
                    name: String::new(),
                    dim: DIM,
                    distance: Distance::Dot,
                }],
                ..ShardSchema::default()
            };
            let options = ShardOptions {
                flush_points: usize::MAX,
                flush_wal_records: u64::MAX,
                ..ShardOptions::default()
            };
            let shard = Shard::open(&fs, &shard_dir, schema, options)
                .await
                .expect("open");
            shard.set_optimizer_options(vexfs_shard::OptimizerOptions {
                default_segment_number: 1,
                ..Default::default()
            });
            let mut flush_time = Duration::ZERO;
            for f in 0..FLUSHES {
                let first = f * FLUSH_POINTS;
                for b in (first..first + FLUSH_POINTS).step_by(BATCH_POINTS as usize) {
                    let points = (b..b + BATCH_POINTS).map(point).collect();
                    let lsn = shard.write(WriteOp::Upsert(points)).expect("write");
                    shard.sync_to(lsn).await.expect("sync");
                }
                let t = Instant::now();
                assert!(shard.flush().await.expect("flush"));
                flush_time += t.elapsed();
            }
            let flushed = segment_bytes(&shard_dir);
            let (mut merge_time, mut merged, mut merges) = (Duration::ZERO, 0, 0);
            while shard.next_optimization().is_some() {
                let before = segments(&shard_dir);
                let t = Instant::now();
                assert!(shard.optimize().await.expect("merge"));
                merge_time += t.elapsed();
                merges += 1;
                merged += segments(&shard_dir)
                    .into_iter()
                    .filter(|s| !before.contains(s))
                    .map(|(_, len)| len)
                    .sum::<u64>();
            }
            assert_eq!(shard.segment_count(), 1);
            eprintln!(
                "raw O_DIRECT sequential write: {} MiB in {raw:?} = {:.0} MB/s",
                RAW_TOTAL_BYTES >> 20,
                mb_per_s(RAW_TOTAL_BYTES as u64, raw)
            );
            eprintln!(
                "one segment file ({FLUSH_POINTS} x {DIM}) through write_segment (write, \
                 fdatasync, rename, dir fsync): {} MiB in {file_write:?} = {:.0} MB/s",
                file_bytes >> 20,
                mb_per_s(file_bytes, file_write)
            );
            eprintln!(
                "flush ({FLUSHES} x {FLUSH_POINTS} x {DIM}, build + write + manifest): {} MiB in \
                 {flush_time:?} = {:.0} MB/s",
                flushed >> 20,
                mb_per_s(flushed, flush_time)
            );
            eprintln!(
                "merge ({merges} rewrites down to one segment): {} MiB written in {merge_time:?} \
                 = {:.0} MB/s",
                merged >> 20,
                mb_per_s(merged, merge_time)
            );
        })
        .expect("executor")
        .join()
        .expect("executor thread");
    let _ = std::fs::remove_dir_all(&root);
}
