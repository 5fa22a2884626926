//! Targeted behaviour of a shard made of a mutable part and segments.

use std::path::Path;
use std::rc::Rc;

use futures_lite::future::{block_on, poll_once};
use serde_json::json;
use vexfs_io::mem::MemStorage;
use vexfs_io::Storage;

use super::*;
use crate::filter::Filter;
use crate::op::{Payload, PointWrite};
use crate::point_id::PointId;
use crate::schema::{Distance, VectorSpec};
use crate::select::{PayloadSelector, VectorSelector};
use crate::store::SearchParams;
use crate::wal::parse_wal_file_name;

pub(super) const DIR: &str = "/shard";

pub(super) fn schema() -> ShardSchema {
    ShardSchema {
        sparse: Vec::new(),
        multi: Vec::new(),
        vectors: vec![
            VectorSpec {
                name: String::new(),
                dim: 3,
                distance: Distance::Dot,
            },
            VectorSpec {
                name: "b".into(),
                dim: 2,
                distance: Distance::Euclid,
            },
        ],
    }
}

/// Manual flushes only, tiny chunks so builds yield often, small log files.
pub(super) fn options() -> ShardOptions {
    ShardOptions {
        flush_points: usize::MAX,
        flush_wal_records: u64::MAX,
        flush_chunk_points: 3,
        wal_preallocate_bytes: 16 << 10,
        ..ShardOptions::default()
    }
}

pub(super) async fn open(fs: &MemStorage, options: ShardOptions) -> Shard<MemStorage> {
    Shard::open(fs, Path::new(DIR), schema(), options)
        .await
        .unwrap()
}

pub(super) fn n(i: u64) -> PointId {
    PointId::Num(i)
}

pub(super) fn point(i: u64, k: i64) -> PointWrite {
    let mut payload = Payload::new();
    payload.insert("k".into(), json!(k));
    PointWrite {
        id: n(i),
        vectors: vec![
            (String::new(), vec![i as f32, 1.0, -(k as f32)].into()),
            ("b".into(), vec![k as f32, 0.5].into()),
        ],
        payload: Some(payload),
    }
}

fn upsert(shard: &Shard<MemStorage>, points: Vec<PointWrite>) -> u64 {
    shard.write(WriteOp::Upsert(points)).unwrap()
}

fn ids(records: &[crate::select::Record]) -> Vec<u64> {
    records
        .iter()
        .map(|r| match r.id {
            PointId::Num(x) => x,
            PointId::Uuid(_) => panic!("uuid"),
        })
        .collect()
}

fn scroll_all(shard: &Shard<MemStorage>) -> Vec<u64> {
    ids(&shard.scroll(
        None,
        usize::MAX,
        None,
        &PayloadSelector::None,
        &VectorSelector::None,
    ))
}

pub(super) fn k_of(shard: &Shard<MemStorage>, i: u64) -> Option<serde_json::Value> {
    let r = shard.get(n(i), &PayloadSelector::All, &VectorSelector::None)?;
    r.payload?.get("k").cloned()
}

#[test]
fn scroll_merges_mutable_and_segments_in_id_order() {
    block_on(async {
        let fs = MemStorage::new(1);
        let shard = open(&fs, options()).await;
        upsert(&shard, (1..20).step_by(3).map(|i| point(i, 0)).collect());
        assert!(shard.flush().await.unwrap());
        upsert(&shard, (2..20).step_by(3).map(|i| point(i, 1)).collect());
        assert!(shard.flush().await.unwrap());
        upsert(&shard, (3..20).step_by(3).map(|i| point(i, 2)).collect());
        assert_eq!(shard.segment_count(), 2);
        assert_eq!(scroll_all(&shard), (1..20).collect::<Vec<_>>());
        let page = shard.scroll(
            Some(n(5)),
            4,
            None,
            &PayloadSelector::None,
            &VectorSelector::None,
        );
        assert_eq!(ids(&page), vec![5, 6, 7, 8]);
        let filter: Filter =
            serde_json::from_value(json!({"must": [{"key": "k", "match": {"value": 1}}]})).unwrap();
        let page = shard.scroll(
            None,
            3,
            Some(&filter),
            &PayloadSelector::None,
            &VectorSelector::None,
        );
        assert_eq!(ids(&page), vec![2, 5, 8]);
        assert_eq!(shard.count(Some(&filter)), 6);
        assert_eq!(shard.len(), 19);
        let matching: Vec<PointId> = (2..20).step_by(3).map(n).collect();
        assert_eq!(shard.matching_ids(&filter), matching);
    });
}

#[test]
fn search_merges_all_parts_into_one_top_k() {
    block_on(async {
        let fs = MemStorage::new(2);
        let shard = open(&fs, options()).await;
        upsert(&shard, (0..10).map(|i| point(i, 0)).collect());
        shard.flush().await.unwrap();
        upsert(&shard, (10..20).map(|i| point(i, 0)).collect());
        let query = [1.0, 0.0, 0.0];
        let params = SearchParams {
            vector_name: "",
            query: &query,
            top: 5,
            threshold: None,
            filter: None,
            hnsw_ef: None,
            exact: false,
            indexed_only: false,
            quantization: Default::default(),
        };
        let hits = shard
            .search(&params, &PayloadSelector::None, &VectorSelector::None)
            .unwrap();
        let got: Vec<(f32, u64)> = hits
            .iter()
            .map(|(s, r)| (*s, ids(std::slice::from_ref(r))[0]))
            .collect();
        assert_eq!(
            got,
            vec![(19.0, 19), (18.0, 18), (17.0, 17), (16.0, 16), (15.0, 15)]
        );
        // Filters apply to segment points too.
        let filter: Filter =
            serde_json::from_value(json!({"must": [{"has_id": [3, 12, 4]}]})).unwrap();
        let params = SearchParams {
            filter: Some(&filter),
            ..params
        };
        let hits = shard
            .search(&params, &PayloadSelector::None, &VectorSelector::None)
            .unwrap();
        let got: Vec<u64> = hits
            .iter()
            .map(|(_, r)| ids(std::slice::from_ref(r))[0])
            .collect();
        assert_eq!(got, vec![12, 4, 3]);
        let bad = SearchParams {
            vector_name: "nope",
            ..params
        };
        assert!(shard
            .search(&bad, &PayloadSelector::None, &VectorSelector::None)
            .is_err());
    });
}

#[test]
fn updating_a_point_that_lives_in_a_segment_moves_it_up() {
    block_on(async {
        let fs = MemStorage::new(3);
        let shard = open(&fs, options()).await;
        upsert(&shard, vec![point(5, 1), point(6, 1)]);
        shard.flush().await.unwrap();
        let mut extra = Payload::new();
        extra.insert("x".into(), json!("y"));
        shard
            .write(WriteOp::SetPayload {
                ids: vec![n(5)],
                payload: extra,
                key: None,
            })
            .unwrap();
        shard
            .write(WriteOp::UpdateVectors(vec![(
                n(6),
                vec![("b".into(), vec![9.0, 9.0].into())],
            )]))
            .unwrap();
        let check = |shard: &Shard<MemStorage>| {
            let r = shard
                .get(n(5), &PayloadSelector::All, &VectorSelector::All)
                .unwrap();
            assert_eq!(
                r.payload.unwrap(),
                json!({"k": 1, "x": "y"}).as_object().unwrap().clone()
            );
            assert_eq!(r.vectors.unwrap(), point(5, 1).vectors);
            let r = shard
                .get(n(6), &PayloadSelector::All, &VectorSelector::All)
                .unwrap();
            assert_eq!(
                r.vectors.unwrap(),
                vec![
                    (String::new(), vec![6.0, 1.0, -1.0].into()),
                    ("b".into(), vec![9.0, 9.0].into())
                ]
            );
            assert_eq!(shard.len(), 2);
            assert_eq!(scroll_all(shard), vec![5, 6]);
        };
        check(&shard);
        assert_eq!(shard.mutable_len(), 2);
        // Missing points are still refused before anything is logged.
        let last = shard.last_lsn();
        assert!(shard.write(WriteOp::ClearPayload(vec![n(99)])).is_err());
        assert_eq!(shard.last_lsn(), last);
        shard.sync_to(last).await.unwrap();
        drop(shard);
        let shard = open(&fs, options()).await;
        check(&shard);
        shard.flush().await.unwrap();
        check(&shard);
        drop(shard);
        fs.crash();
        let shard = open(&fs, options()).await;
        check(&shard);
        assert_eq!(shard.segment_count(), 2);
    });
}

#[test]
fn delete_then_upsert_again_across_flushes_and_restarts() {
    block_on(async {
        let fs = MemStorage::new(4);
        let shard = open(&fs, options()).await;
        upsert(&shard, vec![point(7, 1), point(8, 1)]);
        shard.flush().await.unwrap();
        shard.write(WriteOp::Delete(vec![n(7)])).unwrap();
        assert_eq!(k_of(&shard, 7), None);
        assert_eq!(shard.len(), 1);
        // The deletion reaches a sidecar at the next flush, then the log is truncated.
        shard.flush().await.unwrap();
        let lsn = upsert(&shard, vec![point(7, 2)]);
        assert_eq!(k_of(&shard, 7), Some(json!(2)));
        shard.sync_to(lsn).await.unwrap();
        drop(shard);
        fs.crash();
        let shard = open(&fs, options()).await;
        assert_eq!(k_of(&shard, 7), Some(json!(2)));
        assert_eq!(scroll_all(&shard), vec![7, 8]);
        shard.write(WriteOp::Delete(vec![n(7), n(8)])).unwrap();
        let lsn = shard.last_lsn();
        shard.flush().await.unwrap();
        shard.sync_to(lsn).await.unwrap();
        drop(shard);
        fs.crash();
        let shard = open(&fs, options()).await;
        assert!(shard.is_empty());
        let names = fs.list_dir(Path::new(DIR)).await.unwrap();
        assert!(names.iter().any(|n| n.contains(".del-")), "{names:?}");
    });
}

#[test]
fn restart_after_a_flush_replays_only_the_tail() {
    block_on(async {
        let fs = MemStorage::new(5);
        let shard = open(&fs, options()).await;
        for i in 0..20 {
            upsert(&shard, vec![point(i, 0)]);
        }
        shard.flush().await.unwrap();
        assert_eq!(shard.flushed_lsn(), 20);
        for i in 20..23 {
            upsert(&shard, vec![point(i, 0)]);
        }
        shard.sync_to(23).await.unwrap();
        drop(shard);
        let names = fs.list_dir(Path::new(DIR)).await.unwrap();
        let wal_files: Vec<u64> = names
            .iter()
            .filter_map(|n| parse_wal_file_name(n))
            .collect();
        assert_eq!(
            wal_files,
            vec![21],
            "older log files are deleted: {names:?}"
        );
        let shard = open(&fs, options()).await;
        assert_eq!(shard.segment_count(), 1);
        assert_eq!(shard.mutable_len(), 3, "only the tail was replayed");
        assert_eq!(shard.len(), 23);
        assert_eq!(shard.last_lsn(), 23);
    });
}

#[test]
fn writes_go_on_while_a_flush_builds_its_segment() {
    block_on(async {
        let fs = MemStorage::new(6);
        let shard = open(&fs, options()).await;
        upsert(&shard, (0..30).map(|i| point(i, 0)).collect());
        let mut flush = Box::pin(shard.flush());
        let mut polls = 0;
        let mut next = 100;
        loop {
            if let Some(r) = poll_once(&mut flush).await {
                assert!(r.unwrap());
                break;
            }
            polls += 1;
            // Overwrite a frozen point, delete one, add one: all while the flush runs.
            upsert(&shard, vec![point(polls % 30, 7), point(next, 7)]);
            shard
                .write(WriteOp::Delete(vec![n((polls + 15) % 30)]))
                .unwrap();
            next += 1;
        }
        assert!(polls > 3, "the flush yielded {polls} times");
        drop(flush);
        let before = scroll_all(&shard);
        let lsn = shard.last_lsn();
        shard.sync_to(lsn).await.unwrap();
        drop(shard);
        fs.crash();
        let shard = open(&fs, options()).await;
        assert_eq!(scroll_all(&shard), before);
        assert_eq!(shard.segment_count(), 1);
    });
}

#[test]
fn the_flusher_flushes_past_the_threshold_and_ends_with_the_shard() {
    block_on(async {
        let fs = MemStorage::new(7);
        let opts = ShardOptions {
            flush_points: 10,
            ..options()
        };
        let shard = Rc::new(open(&fs, opts).await);
        let flusher = run_flusher(Rc::downgrade(&shard));
        let writer = async {
            for i in 0..35 {
                let lsn = upsert(&shard, vec![point(i, 0)]);
                shard.sync_to(lsn).await.unwrap();
                futures_lite::future::yield_now().await;
            }
            for _ in 0..50 {
                futures_lite::future::yield_now().await;
            }
            assert!(shard.segment_count() >= 3, "{}", shard.segment_count());
            assert!(shard.mutable_len() < 10);
            assert_eq!(shard.len(), 35);
            drop(shard);
        };
        futures_lite::future::zip(flusher, writer).await;
        let shard = open(&fs, options()).await;
        assert_eq!(shard.len(), 35);
    });
}
