//! The indexer inside a shard: builds after a flush, searches use the graph, reopening loads
//! the file instead of rebuilding, damaged files are removed and rebuilt, stale ones go.

use std::path::Path;

use futures_lite::future::block_on;
use serde_json::json;
use vexfs_io::mem::MemStorage;
use vexfs_io::Storage;

use super::*;
use crate::filter::Filter;
use crate::op::{Payload, PointWrite, WriteOp};
use crate::point_id::PointId;
use crate::schema::{Distance, ShardSchema};
use crate::select::{PayloadSelector, VectorSelector};
use crate::shard::{Shard, ShardOptions};
use crate::store::SearchParams;
use crate::test_support::{seeded_vector, unnamed_schema};

const DIR: &str = "/shard";
const POINTS: u64 = 3_000;
const DIM: usize = 16;

fn schema() -> ShardSchema {
    unnamed_schema(DIM, Distance::Cosine)
}

fn options() -> ShardOptions {
    ShardOptions {
        flush_points: usize::MAX,
        flush_wal_records: u64::MAX,
        wal_preallocate_bytes: 1 << 20,
        ..ShardOptions::default()
    }
}

/// Indexes anything above 1 KiB of vectors.
fn settings() -> IndexSettings {
    IndexSettings {
        indexing_threshold_kb: 1,
        default: ColumnIndexSettings {
            m: 16,
            ef_construct: 64,
            // 1 KiB = 16 vectors of 16 floats: filters matching fewer points scan.
            full_scan_threshold_kb: 1,
            quantization: None,
        },
        ..IndexSettings::default()
    }
}

fn vector(i: u64) -> Vec<f32> {
    seeded_vector(i, DIM)
}

async fn open(fs: &MemStorage) -> Shard<MemStorage> {
    let s = Shard::open(fs, Path::new(DIR), schema(), options())
        .await
        .unwrap();
    s.set_index_settings(settings());
    s
}

async fn fill(shard: &Shard<MemStorage>) {
    let points = (0..POINTS)
        .map(|i| {
            let mut payload = Payload::new();
            payload.insert("k".into(), json!(i % 10));
            PointWrite {
                id: PointId::Num(i),
                vectors: vec![(String::new(), vector(i).into())],
                payload: Some(payload),
            }
        })
        .collect();
    // The write normalizes the vectors (Cosine) as a real upsert does.
    let lsn = shard.write(WriteOp::Upsert(points)).unwrap();
    shard.sync_to(lsn).await.unwrap();
    assert!(shard.flush().await.unwrap());
}

fn search(
    shard: &Shard<MemStorage>,
    q: &[f32],
    filter: Option<&Filter>,
    exact: bool,
    hnsw_ef: Option<usize>,
) -> Vec<u64> {
    let params = SearchParams {
        vector_name: "",
        query: q,
        top: 10,
        threshold: None,
        filter,
        hnsw_ef,
        exact,
        indexed_only: false,
        quantization: Default::default(),
    };
    shard
        .search(&params, &PayloadSelector::None, &VectorSelector::None)
        .unwrap()
        .into_iter()
        .map(|(_, r)| match r.id {
            PointId::Num(n) => n,
            PointId::Uuid(_) => u64::MAX,
        })
        .collect()
}

fn query(i: u64) -> Vec<f32> {
    let mut q = vector(i + 1_000_000);
    crate::distance::normalize(&mut q);
    q
}

#[test]
fn indexer_builds_searches_use_it_and_reopen_loads_it() {
    let fs = MemStorage::new(3);
    block_on(async {
        let shard = open(&fs).await;
        fill(&shard).await;
        assert_eq!(shard.indexed_segment_count(), 0);
        assert!(shard.indexing_pending());
        assert!(shard.index_next().await.unwrap());
        assert!(!shard.indexing_pending());
        assert!(!shard.index_next().await.unwrap(), "nothing left to index");
        assert_eq!(shard.indexed_segment_count(), 1);
        assert_eq!(shard.indexed_vectors_count(), POINTS as usize);
        assert_eq!(shard.index_stats().built, 1);

        let mut hits = 0;
        for i in 0..50 {
            let q = query(i);
            let exact = search(&shard, &q, None, true, None);
            let graph = search(&shard, &q, None, false, None);
            hits += exact.iter().filter(|id| graph.contains(id)).count();
            // ef below top is raised to top.
            assert_eq!(search(&shard, &q, None, false, Some(1)).len(), 10);
        }
        assert!(hits >= 475, "recall {hits}/500");

        // A filter matching 10% (300 points, above the 16-point full-scan threshold) walks
        // the graph and still returns only matching points.
        let filter: Filter =
            serde_json::from_value(json!({"must": [{"key": "k", "match": {"value": 3}}]})).unwrap();
        for i in 0..20 {
            let got = search(&shard, &query(i), Some(&filter), false, None);
            assert_eq!(got.len(), 10);
            assert!(got.iter().all(|id| id % 10 == 3), "{got:?}");
        }
        // A rare filter (1 point) is estimated below the threshold: exact scan.
        let rare: Filter = serde_json::from_value(json!({"must": [{"has_id": [77]}]})).unwrap();
        assert_eq!(
            search(&shard, &query(0), Some(&rare), false, None),
            vec![77]
        );
    });
    block_on(async {
        let shard = open(&fs).await;
        assert_eq!(shard.index_stats().loaded, 1, "reopen loads the index");
        assert_eq!(shard.indexed_segment_count(), 1);
        assert!(
            !shard.index_next().await.unwrap(),
            "no rebuild after reopen"
        );
        assert_eq!(shard.index_stats().built, 0);
    });
}

#[test]
fn damaged_index_is_removed_and_rebuilt_stale_one_removed() {
    let fs = MemStorage::new(4);
    let dir = Path::new(DIR);
    let name = block_on(async {
        let shard = open(&fs).await;
        fill(&shard).await;
        assert!(shard.index_next().await.unwrap());
        let name = fs
            .list_dir(dir)
            .await
            .unwrap()
            .into_iter()
            .find(|n| n.ends_with(".hnsw"))
            .unwrap();
        name
    });
    block_on(async {
        let path = dir.join(&name);
        let mut bytes = fs.read_file(&path).await.unwrap().unwrap();
        bytes[100] ^= 1;
        fs.write_file_atomic(&path, &bytes).await.unwrap();
        // An index of a segment the manifest does not name.
        fs.write_file_atomic(&dir.join("seg-00000000000000000099.seg.hnsw"), b"x")
            .await
            .unwrap();
        let shard = open(&fs).await;
        let stats = shard.index_stats();
        assert_eq!((stats.loaded, stats.refused), (0, 1));
        let names = fs.list_dir(dir).await.unwrap();
        assert!(!names.iter().any(|n| n.ends_with(".hnsw")), "{names:?}");
        assert!(shard.index_next().await.unwrap());
        assert_eq!(shard.indexed_segment_count(), 1);
        assert!(fs.read_file(&path).await.unwrap().is_some());
    });
}

#[test]
fn thresholds_and_m_zero_disable_indexing() {
    let fs = MemStorage::new(5);
    block_on(async {
        let shard = open(&fs).await;
        fill(&shard).await;
        for off in [
            IndexSettings {
                indexing_threshold_kb: 0,
                ..settings()
            },
            IndexSettings {
                // 3 000 × 16 floats = 187.5 KiB, below 200.
                indexing_threshold_kb: 200,
                ..settings()
            },
            IndexSettings {
                default: ColumnIndexSettings {
                    m: 0,
                    ..settings().default
                },
                ..settings()
            },
        ] {
            shard.set_index_settings(off);
            assert!(!shard.index_next().await.unwrap());
        }
        shard.set_index_settings(settings());
        assert!(shard.index_next().await.unwrap());
    });
}

#[test]
fn indexed_only_leaves_out_large_unindexed_parts() {
    let fs = MemStorage::new(6);
    block_on(async {
        let shard = open(&fs).await;
        fill(&shard).await;
        assert!(shard.index_next().await.unwrap());
        // 100 points in the mutable part: above the 16-vector full-scan threshold. Each is
        // the query itself, so a search that sees them ranks them first.
        let q = query(0);
        let points = (0..100u64)
            .map(|i| PointWrite {
                id: PointId::Num(POINTS + i),
                vectors: vec![(String::new(), q.clone().into())],
                payload: None,
            })
            .collect();
        shard.write(WriteOp::Upsert(points)).unwrap();
        let run = |indexed_only: bool, exact: bool| {
            let params = SearchParams {
                vector_name: "",
                query: &q,
                top: 10,
                threshold: None,
                filter: None,
                hnsw_ef: None,
                exact,
                indexed_only,
                quantization: Default::default(),
            };
            shard
                .search(&params, &PayloadSelector::None, &VectorSelector::None)
                .unwrap()
                .into_iter()
                .map(|(_, r)| r.id)
                .collect::<Vec<_>>()
        };
        let all = run(false, false);
        assert!(all.iter().all(|id| *id >= PointId::Num(POINTS)), "{all:?}");
        let indexed = run(true, false);
        assert_eq!(indexed.len(), 10);
        assert!(
            indexed.iter().all(|id| *id < PointId::Num(POINTS)),
            "{indexed:?}"
        );
        // `exact` scans the indexed segment; the large unindexed part stays out (as in
        // Qdrant, `indexed_only` does not depend on `exact`).
        let exact = run(true, true);
        assert!(
            exact.iter().all(|id| *id < PointId::Num(POINTS)),
            "{exact:?}"
        );
        assert_eq!(run(false, true), all);
    });
}
