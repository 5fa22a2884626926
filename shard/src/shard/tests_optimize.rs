//! The background optimizer: merges and vacuums against their policy, the files they leave,
//! writes that race with them, every crash point, and the model test under heavy faults.

use std::path::Path;

use futures_lite::future::{block_on, poll_once};
use serde_json::json;
use vexfs_io::mem::{FaultConfig, MemStorage};
use vexfs_io::Storage;

use super::tests::{n, open, options, point, DIR};
use super::tests_model::run_with;
use super::*;
use crate::op::Payload;
use crate::point_id::PointId;
use crate::select::{PayloadSelector, Record, VectorSelector};
use crate::test_support::{sorted_files, unnamed_schema};

/// Seeds of the model test under heavy faults (each runs several crash rounds).
const FAULTY_SEEDS: u64 = 2_000;

fn upsert(shard: &Shard<MemStorage>, ids: impl Iterator<Item = u64>, k: i64) {
    let points = ids.map(|i| point(i, k)).collect();
    shard.write(WriteOp::Upsert(points)).unwrap();
}

fn delete(shard: &Shard<MemStorage>, ids: impl Iterator<Item = u64>) {
    shard.write(WriteOp::Delete(ids.map(n).collect())).unwrap();
}

/// Every point with its payload and vectors, in id order.
fn all(shard: &Shard<MemStorage>) -> Vec<Record> {
    shard.scroll(
        None,
        usize::MAX,
        None,
        &PayloadSelector::All,
        &VectorSelector::All,
    )
}

fn ids(records: &[Record]) -> Vec<u64> {
    records
        .iter()
        .map(|r| match r.id {
            PointId::Num(x) => x,
            PointId::Uuid(_) => panic!("uuid"),
        })
        .collect()
}

fn k_of(shard: &Shard<MemStorage>, i: u64) -> Option<serde_json::Value> {
    let r = shard.get(n(i), &PayloadSelector::All, &VectorSelector::None)?;
    r.payload?.get("k").cloned()
}

/// Merges as soon as there are more than `target` segments; vacuums nothing.
fn merge_down_to(target: usize) -> OptimizerOptions {
    OptimizerOptions {
        default_segment_number: target,
        vacuum_min_points: usize::MAX,
        ..OptimizerOptions::default()
    }
}

/// Vacuums any segment with a persisted deletion; merges nothing.
fn vacuum_eagerly() -> OptimizerOptions {
    OptimizerOptions {
        deleted_threshold: 0.0,
        vacuum_min_points: 1,
        default_segment_number: usize::MAX,
        ..OptimizerOptions::default()
    }
}

async fn segment_files(fs: &MemStorage) -> Vec<String> {
    sorted_files(fs, DIR, |n| n.starts_with("seg-")).await
}

/// Three flushed segments of ids 0..30, 30..60, 60..90.
async fn three_segments(fs: &MemStorage) -> Shard<MemStorage> {
    let shard = open(fs, options()).await;
    for s in 0..3 {
        upsert(&shard, s * 30..(s + 1) * 30, s as i64);
        assert!(shard.flush().await.unwrap());
    }
    assert_eq!(shard.segment_count(), 3);
    shard
}

#[test]
fn merge_replaces_the_smallest_segments_and_their_files() {
    block_on(async {
        let fs = MemStorage::new(1);
        let shard = three_segments(&fs).await;
        let before = all(&shard);
        // Index files as the indexer would leave them next to each segment.
        let m = shard.manifest.borrow().clone();
        for s in &m.segments {
            let path = Path::new(DIR).join(manifest::index_file_name(&s.file));
            fs.write_file_atomic(&path, b"index").await.unwrap();
        }
        shard.set_optimizer_options(merge_down_to(1));
        let plan = shard.next_optimization().unwrap();
        assert_eq!(plan.kind, OptimizationKind::Merge);
        assert_eq!(plan.sources, vec![0, 1, 2]);
        assert!(shard.optimize().await.unwrap());
        assert_eq!(shard.segment_count(), 1);
        assert_eq!(all(&shard), before);
        let name = merged_segment_name(shard.flushed_lsn(), 1);
        assert_eq!(segment_files(&fs).await, vec![name.clone()]);
        assert!(
            shard.next_optimization().is_none(),
            "one segment is the target"
        );
        let report = shard.optimizer_report();
        assert!(report.running.is_none() && report.error.is_none());
        let done = &report.completed[0];
        assert_eq!(done.status, OptimizationStatus::Done);
        assert_eq!(done.target.as_deref(), Some(name.as_str()));
        assert_eq!((done.points_done, done.points_total), (90, 90));
        drop(shard);
        fs.crash();
        let shard = open(&fs, options()).await;
        assert_eq!(shard.segment_count(), 1);
        assert_eq!(all(&shard), before);
    });
}

#[test]
fn merge_keeps_under_the_size_cap_and_the_target() {
    block_on(async {
        let fs = MemStorage::new(2);
        let shard = open(&fs, options()).await;
        // Segments of 10, 20, 30 and 40 points, 5 floats (20 bytes) each.
        let mut next = 0;
        for size in [40, 10, 30, 20] {
            upsert(&shard, next..next + size, 0);
            next += size;
            assert!(shard.flush().await.unwrap());
        }
        // Target 3 of 4: the two smallest (10 + 20 points) merge.
        shard.set_optimizer_options(merge_down_to(3));
        assert_eq!(shard.next_optimization().unwrap().sources, vec![1, 3]);
        // A cap of 1 KB (51 points) still fits them; target 2 would merge 10+20+30, which
        // does not fit, so the largest of those is left out.
        shard.set_optimizer_options(OptimizerOptions {
            max_segment_kb: Some(1),
            ..merge_down_to(2)
        });
        assert_eq!(shard.next_optimization().unwrap().sources, vec![1, 3]);
        assert!(shard.optimize().await.unwrap());
        assert_eq!(shard.segment_count(), 3);
        // 30 + 30 points is 1200 bytes: over the cap, so nothing more merges.
        assert!(shard.next_optimization().is_none());
        // Disabled (max_optimization_threads = 0): nothing runs.
        shard.set_optimizer_options(OptimizerOptions {
            enabled: false,
            ..merge_down_to(1)
        });
        assert!(!shard.optimize().await.unwrap());
        assert_eq!(shard.len(), 100);
    });
}

#[test]
fn vacuum_drops_persisted_deletions_only() {
    block_on(async {
        let fs = MemStorage::new(3);
        let shard = open(&fs, options()).await;
        upsert(&shard, 0..50, 0);
        assert!(shard.flush().await.unwrap());
        delete(&shard, 0..20);
        shard.set_optimizer_options(OptimizerOptions {
            deleted_threshold: 0.3,
            vacuum_min_points: 10,
            default_segment_number: usize::MAX,
            ..OptimizerOptions::default()
        });
        // The deletions are in memory and the log only: nothing a rewrite could drop yet.
        assert!(shard.next_optimization().is_none());
        assert!(shard.flush().await.unwrap());
        let plan = shard.next_optimization().unwrap();
        assert_eq!(plan.kind, OptimizationKind::Vacuum);
        assert!(shard.optimize().await.unwrap());
        assert_eq!(shard.segment_count(), 1);
        assert_eq!(shard.parts.borrow().segments[0].segment.len(), 30);
        assert_eq!(ids(&all(&shard)), (20..50).collect::<Vec<_>>());
        // Under the threshold (10 of 30 is not above 0.34): no second vacuum.
        delete(&shard, 20..30);
        upsert(&shard, 100..101, 0);
        assert!(shard.flush().await.unwrap());
        shard.set_optimizer_options(OptimizerOptions {
            deleted_threshold: 0.34,
            vacuum_min_points: 10,
            default_segment_number: usize::MAX,
            ..OptimizerOptions::default()
        });
        assert!(shard.next_optimization().is_none());
        drop(shard);
        fs.crash();
        let shard = open(&fs, options()).await;
        let mut want: Vec<u64> = (30..50).collect();
        want.push(100);
        assert_eq!(ids(&all(&shard)), want);
    });
}

#[test]
fn a_segment_with_every_point_deleted_is_dropped() {
    block_on(async {
        let fs = MemStorage::new(4);
        let shard = open(&fs, options()).await;
        upsert(&shard, 0..10, 0);
        assert!(shard.flush().await.unwrap());
        upsert(&shard, 10..20, 0);
        delete(&shard, 0..10);
        assert!(shard.flush().await.unwrap());
        shard.set_optimizer_options(vacuum_eagerly());
        assert!(shard.optimize().await.unwrap());
        assert_eq!(shard.segment_count(), 1);
        assert_eq!(ids(&all(&shard)), (10..20).collect::<Vec<_>>());
        let files = segment_files(&fs).await;
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(shard.manifest.borrow().segments[0].file, files[0]);
    });
}

/// Deletes, overwrites and payload updates of source points while the merge is running are
/// applied to the merged segment at install, survive a crash, and reach a sidecar at the
/// next flush.
#[test]
fn writes_during_a_merge_are_applied_at_install() {
    block_on(async {
        let fs = MemStorage::new(5);
        let shard = three_segments(&fs).await;
        // Deleted after the last flush, before the merge: not persisted for the sources.
        delete(&shard, 0..3);
        shard.set_optimizer_options(merge_down_to(1));
        let mut merge = Box::pin(shard.optimize());
        // A few polls: the build has started and yields between chunks of 3 points.
        for _ in 0..4 {
            assert!(poll_once(&mut merge).await.is_none());
        }
        assert!(shard.is_optimizing());
        assert!(
            !shard.flush().await.unwrap(),
            "one structural change at a time"
        );
        delete(&shard, 30..35);
        upsert(&shard, 60..62, 7);
        shard
            .write(WriteOp::SetPayload {
                ids: vec![n(80)],
                payload: serde_json::from_value(json!({"k": 9})).unwrap(),
                key: None,
            })
            .unwrap();
        assert!(merge.await.unwrap());
        assert!(!shard.is_optimizing());
        let want_ids: Vec<u64> = (3..30).chain(35..90).collect();
        assert_eq!(ids(&all(&shard)), want_ids);
        assert_eq!(k_of(&shard, 60), Some(json!(7)));
        assert_eq!(k_of(&shard, 80), Some(json!(9)));
        assert_eq!(k_of(&shard, 81), Some(json!(2)));
        let expected = all(&shard);
        let lsn = shard.last_lsn();
        shard.sync_to(lsn).await.unwrap();
        drop(shard);
        fs.crash();
        // Recovered from the merged segment (no sidecar) plus the log.
        let shard = open(&fs, options()).await;
        assert_eq!(all(&shard), expected);
        // The next flush persists the merged segment's deletions in a sidecar.
        assert!(shard.flush().await.unwrap());
        let m = shard.manifest.borrow().clone();
        assert!(m.segments[0].deleted.is_some());
        drop(shard);
        fs.crash();
        let shard = open(&fs, options()).await;
        assert_eq!(all(&shard), expected);
    });
}

/// Cut a merge short after every possible number of polls, crash (unsynced writes kept,
/// torn or lost at random) and reopen: the state is the same, and nothing is left behind.
#[test]
fn a_crash_at_any_step_of_a_merge_loses_nothing() {
    for polls in 0..80 {
        block_on(async {
            let fs = MemStorage::new(100 + polls);
            let shard = three_segments(&fs).await;
            delete(&shard, 10..40);
            assert!(shard.flush().await.unwrap());
            upsert(&shard, 40..45, 5);
            let lsn = shard.last_lsn();
            shard.sync_to(lsn).await.unwrap();
            let expected = all(&shard);
            shard.set_optimizer_options(OptimizerOptions {
                deleted_threshold: 0.0,
                vacuum_min_points: 1,
                ..merge_down_to(1)
            });
            let mut finished = false;
            {
                let mut run = Box::pin(shard.optimize());
                for _ in 0..polls {
                    if let Some(r) = poll_once(&mut run).await {
                        r.unwrap();
                        finished = true;
                        break;
                    }
                }
            }
            assert_eq!(all(&shard), expected, "polls {polls}: before the crash");
            drop(shard);
            fs.crash();
            let shard = open(&fs, options()).await;
            assert_eq!(
                all(&shard),
                expected,
                "polls {polls} (finished: {finished})"
            );
            let m = shard.manifest.borrow().clone();
            for name in segment_files(&fs).await {
                let named = m
                    .segments
                    .iter()
                    .any(|s| s.file == name || s.deleted.as_deref() == Some(name.as_str()));
                assert!(named, "polls {polls}: orphan {name}");
            }
        });
    }
}

#[test]
fn an_io_error_stops_the_optimizer_and_loses_nothing() {
    block_on(async {
        let fs = MemStorage::new(6);
        let shard = three_segments(&fs).await;
        let expected = all(&shard);
        shard.set_optimizer_options(merge_down_to(1));
        fs.set_faults(FaultConfig {
            write_eio: 1.0,
            ..FaultConfig::none()
        });
        assert!(shard.optimize().await.is_err());
        fs.set_faults(FaultConfig::none());
        let report = shard.optimizer_report();
        assert!(report.error.as_deref().unwrap().contains("merge failed"));
        assert!(matches!(
            report.completed[0].status,
            OptimizationStatus::Failed(_)
        ));
        // Stopped until reopened; reads and writes go on.
        assert!(shard.next_optimization().is_none());
        assert_eq!(all(&shard), expected);
        upsert(&shard, 200..201, 0);
        assert!(shard.flush().await.unwrap());
        drop(shard);
        fs.crash();
        let shard = open(&fs, options()).await;
        assert_eq!(shard.len(), 91);
        shard.set_optimizer_options(merge_down_to(1));
        assert!(shard.optimize().await.unwrap());
        assert_eq!(shard.len(), 91);
        assert_eq!(segment_files(&fs).await.len(), 1);
    });
}

#[test]
fn snapshots_and_optimizations_exclude_each_other() {
    block_on(async {
        let fs = MemStorage::new(7);
        let shard = three_segments(&fs).await;
        shard.set_optimizer_options(merge_down_to(1));
        {
            let snap = shard.snapshot_files().await.unwrap();
            assert!(shard.next_optimization().is_none());
            assert!(!shard.optimize().await.unwrap());
            assert_eq!(
                snap.files
                    .iter()
                    .filter(|f| f.name.starts_with("seg-"))
                    .count(),
                3
            );
        }
        let mut run = Box::pin(shard.optimize());
        assert!(poll_once(&mut run).await.is_none());
        // The snapshot waits for the merge, then sees its result.
        let mut snap = Box::pin(shard.snapshot_files());
        assert!(poll_once(&mut snap).await.is_none());
        assert!(run.await.unwrap());
        let snap = snap.await.unwrap();
        let segs: Vec<&str> = snap
            .files
            .iter()
            .map(|f| f.name.as_str())
            .filter(|n| n.starts_with("seg-"))
            .collect();
        assert_eq!(segs, vec![merged_segment_name(shard.flushed_lsn(), 1)]);
    });
}

#[test]
fn unreferenced_segments_and_their_indexes_are_removed_at_open() {
    block_on(async {
        let fs = MemStorage::new(8);
        let shard = three_segments(&fs).await;
        let live = shard.manifest.borrow().segments[0].file.clone();
        drop(shard);
        let dir = Path::new(DIR);
        let stray = merged_segment_name(1, 1);
        for name in [stray.clone(), manifest::index_file_name(&stray)] {
            fs.write_file_atomic(&dir.join(name), b"x").await.unwrap();
        }
        let shard = open(&fs, options()).await;
        let files = segment_files(&fs).await;
        assert!(files.contains(&live), "{files:?}");
        assert!(!files.iter().any(|f| f.starts_with(&stray)), "{files:?}");
        // (A live segment's index is kept when valid and rebuilt when damaged: see the
        // HNSW tests in `hnsw/tests_shard.rs`.)
        assert_eq!(shard.len(), 90);
    });
}

#[test]
fn merged_names_skip_taken_ones() {
    block_on(async {
        let fs = MemStorage::new(9);
        let shard = three_segments(&fs).await;
        let f = shard.flushed_lsn();
        // A leftover of an optimization whose manifest write failed after the rename.
        let dir = Path::new(DIR);
        fs.write_file_atomic(&dir.join(merged_segment_name(f, 1)), b"x")
            .await
            .unwrap();
        shard.set_optimizer_options(merge_down_to(2));
        assert!(shard.optimize().await.unwrap());
        let m = shard.manifest.borrow().clone();
        assert!(m
            .segments
            .iter()
            .any(|s| s.file == merged_segment_name(f, 2)));
        // The leftover is unreferenced, so the install removed it.
        assert!(!segment_files(&fs)
            .await
            .contains(&merged_segment_name(f, 1)));
        // Another merge at the same flushed LSN takes the next free name.
        shard.set_optimizer_options(merge_down_to(1));
        assert!(shard.optimize().await.unwrap());
        let m = shard.manifest.borrow().clone();
        assert_eq!(m.segments.len(), 1);
        assert_eq!(m.segments[0].file, merged_segment_name(f, 1));
        assert_eq!(shard.len(), 90);
    });
}

/// The model test with optimizations under every kind of fault, over many seeds: every
/// acknowledged write survives, state equals the model, no orphan files after recovery.
#[test]
fn model_with_optimizations_under_heavy_faults() {
    let mut merges = 0;
    let mut vacuums = 0;
    let mut failed = 0;
    for seed in 0..FAULTY_SEEDS {
        let c = run_with(
            10_000 + seed,
            FaultConfig {
                torn_write: 0.004,
                sync_eio: 0.004,
                write_eio: 0.004,
                read_eio: 0.002,
                ..FaultConfig::default()
            },
        );
        merges += c.merges;
        vacuums += c.vacuums;
        failed += c.failed;
    }
    // The runs did exercise what they claim to.
    assert!(merges > 200, "merges {merges}");
    assert!(vacuums > 200, "vacuums {vacuums}");
    assert!(failed > 10, "failed optimizations {failed}");
}

/// Measurement, not a check (run by hand: `cargo test --release -p vexfs-shard
/// measure_rewrite -- --ignored --nocapture`): where a 200k x 128 rewrite spends its time
/// without a yield (the builder's finish and the validation of the new segment), the parts
/// that hold up the core's other requests.
#[test]
#[ignore]
#[allow(clippy::disallowed_methods)]
fn measure_rewrite_steps_that_do_not_yield() {
    use crate::schema::Distance;
    use crate::segment::{Segment, SegmentBuilder};
    use std::cell::Cell;
    use std::time::{Duration, Instant};
    const DIM: usize = 128;
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
        static LONGEST: Cell<Duration> = const { Cell::new(Duration::ZERO) };
    }
    fn pause() -> super::PauseFuture {
        let now = Instant::now();
        if let Some(last) = LAST.with(|l| l.get()) {
            LONGEST.with(|m| m.set(m.get().max(now - last)));
        }
        LAST.with(|l| l.set(Some(now)));
        Box::pin(async {})
    }
    let schema = unnamed_schema(DIM, Distance::Dot);
    let v: Vec<f32> = (0..DIM).map(|d| d as f32 / 7.0).collect();
    let mut payload = Payload::new();
    payload.insert("i".into(), json!(1));
    for points in [50_000u64, 200_000] {
        let build = || {
            let mut builder = SegmentBuilder::with_capacity(&schema, points as usize).unwrap();
            for i in 0..points {
                builder
                    .push(n(i), i, [("", v.as_slice())], Some(&payload))
                    .unwrap();
            }
            builder
        };
        let builder = build();
        let t = Instant::now();
        let bytes = builder.finish().unwrap();
        let finished = t.elapsed();
        drop(bytes);
        let builder = build();
        let pace = super::Pace {
            should_yield: || true,
            pause,
            pause_every_chunk: false,
        };
        LONGEST.with(|m| m.set(Duration::ZERO));
        let t = Instant::now();
        LAST.with(|l| l.set(Some(t)));
        let bytes = futures_lite::future::block_on(builder.finish_paced(pace)).unwrap();
        let paced = t.elapsed();
        let tail = LAST
            .with(|l| l.get())
            .map_or(Duration::ZERO, |l| l.elapsed());
        let longest = LONGEST.with(|m| m.get()).max(tail);
        let len = bytes.len();
        let t = Instant::now();
        let segment = Segment::from_bytes("m", bytes).unwrap();
        let opened = t.elapsed();
        eprintln!(
            "{points} x {DIM}: finish {finished:?} in one step; finish_paced {paced:?}, \
             longest step {longest:?}; validate {opened:?}; {len} bytes"
        );
        assert_eq!(segment.len(), points as usize);
    }
}
