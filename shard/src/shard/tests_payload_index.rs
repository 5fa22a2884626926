//! Payload indexes in a shard: built by the indexer step for the current definitions, used by
//! filtered searches, and never changing an answer.

use futures_lite::future::block_on;
use serde_json::json;
use vexfs_io::mem::MemStorage;

use super::tests::{open, options, point};
use super::*;
use crate::filter::{Filter, JsonPath};
use crate::payload_index::IndexKind;
use crate::point_id::PointId;
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

/// Points 0..90 with `k` cycling through 0..5: two flushed segments and a mutable part.
async fn fill(shard: &Shard<MemStorage>) {
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
}

#[test]
fn filtered_search_answers_the_same_with_and_without_payload_indexes() {
    block_on(async {
        let fs = MemStorage::new(3);
        let shard = open(&fs, options()).await;
        fill(&shard).await;
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

/// Filtered scroll pages (from several starting ids), counts and id lists.
fn reads(shard: &Shard<MemStorage>, filter: &Filter) -> (Vec<Vec<PointId>>, usize, Vec<PointId>) {
    let pages = [None, Some(0), Some(37), Some(41), Some(85), Some(200)]
        .into_iter()
        .map(|from| {
            shard
                .scroll(
                    from.map(PointId::Num),
                    6,
                    Some(filter),
                    &PayloadSelector::None,
                    &VectorSelector::None,
                )
                .into_iter()
                .map(|r| r.id)
                .collect()
        })
        .collect();
    (pages, shard.count(Some(filter)), shard.matching_ids(filter))
}

#[test]
fn filtered_scroll_and_count_use_the_index_and_answer_the_same() {
    block_on(async {
        let fs = MemStorage::new(4);
        let shard = open(&fs, options()).await;
        fill(&shard).await;
        let filters: Vec<Filter> = [
            json!({"must": [{"key": "k", "match": {"value": 3}}]}),
            json!({"must": [{"key": "k", "range": {"gte": 1, "lt": 3}}]}),
            json!({"must": [{"key": "k", "match": {"any": [0, 4]}}],
                   "must_not": [{"has_id": [4, 44]}]}),
        ]
        .into_iter()
        .map(|f| Filter::from_value(f).unwrap())
        .collect();
        let before: Vec<_> = filters.iter().map(|f| reads(&shard, f)).collect();
        shard.set_payload_indexes(vec![(JsonPath::parse("k").unwrap(), IndexKind::Integer)]);
        while shard.payload_index_next() {}
        assert_eq!(shard.payload_indexed_segment_count(), 2);
        {
            let parts = shard.parts.borrow();
            let slots = super::read::indexed_slots(&parts.segments[1], Some(&filters[0]));
            assert_eq!(
                slots.map(|s| s.len()),
                Some(8),
                "k == 3 among points 40..80"
            );
        }
        assert_eq!(
            filters.iter().map(|f| reads(&shard, f)).collect::<Vec<_>>(),
            before
        );
        // k == 3: points 3, 8, …, 88 (18); pages from 37 start at 38.
        assert_eq!(before[0].1, 18);
        assert_eq!(before[0].0[2][0], PointId::Num(38));
        shard
            .write(WriteOp::Delete(vec![PointId::Num(38), PointId::Num(43)]))
            .unwrap();
        // Deleted after the index was built: their slots stay candidates, the bitmap decides.
        let (pages, count, ids) = reads(&shard, &filters[0]);
        assert_eq!(count, 16);
        assert_eq!(pages[2][..2], [PointId::Num(48), PointId::Num(53)]);
        assert_eq!(ids.len(), 16);
        assert!(!ids.contains(&PointId::Num(38)));
    });
}
