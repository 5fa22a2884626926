//! Payload indexes in a shard: built by the indexer step for the current definitions, used by
//! filtered searches, and never changing an answer.

use futures_lite::future::block_on;
use serde_json::json;
use vexfs_io::mem::MemStorage;

use super::tests::{open, options, point};
use super::*;
use crate::filter::{Filter, JsonPath};
use crate::payload_index::IndexKind;
use crate::select::{PayloadSelector, VectorSelector};
use crate::store::SearchParams;

fn search_ids(shard: &Shard<MemStorage>, filter: &Filter) -> Vec<(u64, u32)> {
    let q = [1.0, 0.5, -0.5];
    let params = SearchParams {
        vector_name: "",
        query: &q,
        top: 7,
        threshold: None,
        filter: Some(filter),
        hnsw_ef: None,
        exact: false,
        indexed_only: false,
        quantization: Default::default(),
    };
    shard
        .search(&params, &PayloadSelector::None, &VectorSelector::None)
        .unwrap()
        .into_iter()
        .map(|(score, r)| match r.id {
            crate::PointId::Num(n) => (n, score.to_bits()),
            crate::PointId::Uuid(_) => unreachable!("numeric ids only"),
        })
        .collect()
}

#[test]
fn filtered_search_answers_the_same_with_and_without_payload_indexes() {
    block_on(async {
        let fs = MemStorage::new(3);
        let shard = open(&fs, options()).await;
        // Two segments and a mutable part; k cycles through 0..5.
        for chunk in [0..40u64, 40..80] {
            shard
                .write(WriteOp::Upsert(
                    chunk.map(|i| point(i, (i % 5) as i64)).collect(),
                ))
                .unwrap();
            assert!(shard.flush().await.unwrap());
        }
        shard
            .write(WriteOp::Upsert(
                (80..90).map(|i| point(i, (i % 5) as i64)).collect(),
            ))
            .unwrap();
        shard
            .write(WriteOp::Delete(vec![crate::PointId::Num(3)]))
            .unwrap();
        let filters: Vec<Filter> = [
            json!({"must": [{"key": "k", "match": {"value": 3}}]}),
            json!({"must": [{"key": "k", "range": {"gte": 1, "lt": 3}}]}),
            json!({"should": [{"key": "k", "match": {"any": [0, 4]}}],
                   "must_not": [{"key": "k", "match": {"value": 0}}]}),
        ]
        .into_iter()
        .map(|f| Filter::from_value(f).unwrap())
        .collect();
        let before: Vec<_> = filters.iter().map(|f| search_ids(&shard, f)).collect();
        assert!(before.iter().all(|hits| !hits.is_empty()));

        shard.set_payload_indexes(vec![(JsonPath::parse("k").unwrap(), IndexKind::Integer)]);
        let mut built = 0;
        while shard.payload_index_next() {
            built += 1;
        }
        assert_eq!(built, 2, "one index per segment");
        assert_eq!(shard.payload_indexed_segment_count(), 2);
        let after: Vec<_> = filters.iter().map(|f| search_ids(&shard, f)).collect();
        assert_eq!(before, after);
        // The candidates really narrow: k == 3 in the first segment is 8 of 40 slots, less
        // point 3, deleted before the index was built.
        {
            let parts = shard.parts.borrow();
            let index = parts.segments[0].payload_index.as_ref().expect("built");
            match index.candidates(&filters[0]) {
                crate::payload_index::Candidates::Slots(c) => assert_eq!(c.len(), 7),
                other => panic!("{other:?}"),
            }
        }
        // New definitions make the indexes stale; the same list again changes nothing.
        shard.set_payload_indexes(vec![(JsonPath::parse("k").unwrap(), IndexKind::Integer)]);
        assert!(!shard.payload_index_next());
        shard.set_payload_indexes(Vec::new());
        assert!(shard.payload_index_next());
        assert!(shard.payload_index_next());
        assert!(!shard.payload_index_next());
        assert_eq!(
            filters
                .iter()
                .map(|f| search_ids(&shard, f))
                .collect::<Vec<_>>(),
            before
        );
    });
}
