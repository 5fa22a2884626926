//! Vector spaces created and deleted on a shard with points in every part: the change is
//! ordered with the writes, hides a deleted space's data in older parts (also when a space
//! of the same name is created again), and survives reopening and merging.

use std::path::Path;

use futures_lite::future::block_on;
use vexfs_io::mem::MemStorage;

use super::tests::{n, options, point, schema, DIR};
use super::*;
use crate::op::PointWrite;
use crate::point_id::PointId;
use crate::schema::{Distance, VectorSpec};
use crate::select::{PayloadSelector, VectorSelector};
use crate::store::SearchParams;

/// The test schema without its space "b".
fn without_b() -> ShardSchema {
    let mut s = schema();
    s.vectors.retain(|v| v.name != "b");
    s
}

/// The test schema with "b" made again: 4 dimensions, Cosine.
fn with_new_b() -> ShardSchema {
    let mut s = without_b();
    s.vectors.push(VectorSpec {
        name: "b".into(),
        dim: 4,
        distance: Distance::Cosine,
    });
    s
}

/// Names of the vectors point `i` has.
fn names_of(shard: &Shard<MemStorage>, i: u64) -> Vec<String> {
    let r = shard
        .get(n(i), &PayloadSelector::None, &VectorSelector::All)
        .expect("point exists");
    r.vectors
        .unwrap_or_default()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// Ids found by a search of `b` for `query`.
fn search_b(shard: &Shard<MemStorage>, query: &[f32]) -> crate::error::Result<Vec<PointId>> {
    let params = SearchParams {
        vector_name: "b",
        query,
        top: 10,
        threshold: None,
        filter: None,
        hnsw_ef: None,
        exact: true,
        indexed_only: false,
        quantization: Default::default(),
    };
    let hits = shard.search(&params, &PayloadSelector::None, &VectorSelector::None)?;
    Ok(hits.into_iter().map(|(_, r)| r.id).collect())
}

/// Points a `has_vector: b` filter passes.
fn count_with_b(shard: &Shard<MemStorage>) -> usize {
    let filter: crate::filter::Filter =
        serde_json::from_value(serde_json::json!({"must": [{"has_vector": "b"}]})).unwrap();
    shard.count(Some(&filter))
}

async fn reopen(fs: &MemStorage, schema: ShardSchema) -> Shard<MemStorage> {
    Shard::open(fs, Path::new(DIR), schema, options())
        .await
        .unwrap()
}

#[test]
fn deleted_space_is_gone_from_every_part_and_a_new_one_starts_empty() {
    block_on(async {
        let fs = MemStorage::new(7);
        let shard = reopen(&fs, schema()).await;
        shard
            .write(WriteOp::Upsert(vec![point(1, 1), point(2, 2)]))
            .unwrap();
        assert!(shard.flush().await.unwrap());
        shard.write(WriteOp::Upsert(vec![point(3, 3)])).unwrap();
        assert_eq!(search_b(&shard, &[1.0, 0.5]).unwrap().len(), 3);

        let lsn = shard.set_schema(without_b()).unwrap();
        shard.sync_to(lsn).await.unwrap();
        for i in 1..=3 {
            assert_eq!(names_of(&shard, i), vec![String::new()], "point {i}");
        }
        assert!(search_b(&shard, &[1.0, 0.5]).is_err());
        assert_eq!(count_with_b(&shard), 0);
        // Writes naming it are refused.
        assert!(shard.write(WriteOp::Upsert(vec![point(4, 4)])).is_err());

        let lsn = shard.set_schema(with_new_b()).unwrap();
        shard.sync_to(lsn).await.unwrap();
        assert!(search_b(&shard, &[1.0, 0.0, 0.0, 0.0]).unwrap().is_empty());
        assert_eq!(names_of(&shard, 1), vec![String::new()]);
        let p5 = PointWrite {
            id: n(5),
            vectors: vec![
                (String::new(), vec![1.0, 0.0, 0.0].into()),
                ("b".into(), vec![0.0, 1.0, 0.0, 0.0].into()),
            ],
            payload: None,
        };
        let lsn = shard.write(WriteOp::Upsert(vec![p5])).unwrap();
        shard.sync_to(lsn).await.unwrap();
        assert_eq!(search_b(&shard, &[0.0, 1.0, 0.0, 0.0]).unwrap(), vec![n(5)]);
        drop(shard);

        // Replayed from the log, then from a flushed segment, then after a merge.
        let check = |shard: &Shard<MemStorage>| {
            assert_eq!(shard.schema(), with_new_b());
            assert_eq!(shard.len(), 4);
            assert_eq!(search_b(shard, &[0.0, 1.0, 0.0, 0.0]).unwrap(), vec![n(5)]);
            for i in 1..=3 {
                assert_eq!(names_of(shard, i), vec![String::new()], "point {i}");
            }
            assert_eq!(names_of(shard, 5), vec![String::new(), "b".to_owned()]);
            assert_eq!(count_with_b(shard), 1);
        };
        let shard = reopen(&fs, with_new_b()).await;
        check(&shard);
        assert!(shard.flush().await.unwrap());
        drop(shard);
        let shard = reopen(&fs, with_new_b()).await;
        check(&shard);
        shard.set_optimizer_options(OptimizerOptions {
            default_segment_number: 1,
            ..OptimizerOptions::default()
        });
        while shard.next_optimization().is_some() {
            shard.optimize().await.unwrap();
        }
        assert_eq!(shard.segment_count(), 1);
        check(&shard);
        drop(shard);
        check(&reopen(&fs, with_new_b()).await);
    });
}

#[test]
fn a_shard_behind_the_catalog_catches_up_at_open() {
    block_on(async {
        let fs = MemStorage::new(8);
        let shard = reopen(&fs, schema()).await;
        let lsn = shard.write(WriteOp::Upsert(vec![point(1, 1)])).unwrap();
        shard.sync_to(lsn).await.unwrap();
        assert!(shard.flush().await.unwrap());
        drop(shard);
        // The catalog changed, the shard was not told before a crash.
        let shard = reopen(&fs, without_b()).await;
        assert_eq!(names_of(&shard, 1), vec![String::new()]);
        drop(shard);
        let shard = reopen(&fs, with_new_b()).await;
        assert_eq!(names_of(&shard, 1), vec![String::new()]);
        assert!(search_b(&shard, &[1.0, 0.0, 0.0, 0.0]).unwrap().is_empty());
    });
}

#[test]
fn graphs_of_a_deleted_space_are_not_counted_and_reopen_keeps_the_others() {
    let settings = || crate::hnsw::IndexSettings {
        indexing_threshold_kb: 1,
        ..Default::default()
    };
    block_on(async {
        let fs = MemStorage::new(9);
        let shard = reopen(&fs, schema()).await;
        shard.set_index_settings(settings());
        let points: Vec<PointWrite> = (1..=200).map(|i| point(i, i as i64 % 5)).collect();
        shard.write(WriteOp::Upsert(points)).unwrap();
        assert!(shard.flush().await.unwrap());
        assert!(shard.index_next().await.unwrap());
        assert_eq!(shard.indexed_vectors_count(), 400, "graphs of \"\" and b");

        let lsn = shard.set_schema(without_b()).unwrap();
        shard.sync_to(lsn).await.unwrap();
        assert_eq!(shard.indexed_vectors_count(), 200);
        drop(shard);

        // The segment's file still holds b and its graph: the open neither refuses nor
        // rebuilds them, and the graph of "" still answers.
        let shard = reopen(&fs, without_b()).await;
        shard.set_index_settings(settings());
        assert_eq!(shard.index_stats().loaded, 1);
        assert_eq!(shard.indexed_vectors_count(), 200);
        assert!(!shard.index_next().await.unwrap(), "nothing to build");
        assert_eq!(names_of(&shard, 7), vec![String::new()]);
        let params = SearchParams {
            vector_name: "",
            query: &[1.0, 0.0, 0.0],
            top: 3,
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
        let ids: Vec<PointId> = hits.into_iter().map(|(_, r)| r.id).collect();
        assert_eq!(ids, vec![n(200), n(199), n(198)]);
    });
}

#[test]
fn codes_of_a_deleted_space_are_dropped_and_not_rebuilt() {
    let settings = || crate::hnsw::IndexSettings {
        indexing_threshold_kb: 1,
        default: crate::hnsw::ColumnIndexSettings {
            quantization: Some(crate::quant::QuantConfig::Scalar { quantile: 1.0 }),
            ..Default::default()
        },
        ..Default::default()
    };
    block_on(async {
        let fs = MemStorage::new(10);
        let shard = reopen(&fs, schema()).await;
        shard.set_index_settings(settings());
        let points: Vec<PointWrite> = (1..=200).map(|i| point(i, i as i64 % 5)).collect();
        shard.write(WriteOp::Upsert(points)).unwrap();
        assert!(shard.flush().await.unwrap());
        while shard.index_next().await.unwrap() {}
        while shard.quantize_next().await.unwrap() {}
        // Originals of the codes: 200 × (3 + 2) floats.
        assert_eq!(shard.quantized_bytes().1, 200 * 5 * 4);

        let lsn = shard.set_schema(without_b()).unwrap();
        shard.sync_to(lsn).await.unwrap();
        assert!(shard.quantize_next().await.unwrap(), "rebuilt without b");
        assert!(!shard.quantize_next().await.unwrap());
        assert_eq!(shard.quantized_bytes().1, 200 * 3 * 4, "codes of \"\" only");
    });
}
