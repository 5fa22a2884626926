//! Conditional writes against points in every part: mutable, segment, and missing.

use futures_lite::future::block_on;
use serde_json::json;
use vexfs_io::mem::MemStorage;

use super::tests::{k_of, n, open, options, point};
use super::*;
use crate::filter::Filter;

fn k_is(k: i64) -> Filter {
    serde_json::from_value(json!({"must": [{"key": "k", "match": {"value": k}}]})).unwrap()
}

fn cond(filter: Option<Filter>, mode: UpdateMode) -> UpdateCondition {
    UpdateCondition { filter, mode }
}

/// Points 1 and 2 in a segment (k = 1 and 2), point 3 in the mutable part (k = 3).
async fn three_points(fs: &MemStorage) -> Shard<MemStorage> {
    let shard = open(fs, options()).await;
    shard
        .write(WriteOp::Upsert(vec![point(1, 1), point(2, 2)]))
        .unwrap();
    assert!(shard.flush().await.unwrap());
    shard.write(WriteOp::Upsert(vec![point(3, 3)])).unwrap();
    shard
}

#[test]
fn update_filter_changes_only_existing_points_that_match_and_inserts_new_ones() {
    block_on(async {
        let fs = MemStorage::new(1);
        let shard = three_points(&fs).await;
        let op = WriteOp::Upsert(vec![point(1, 10), point(2, 20), point(4, 40)]);
        let lsn = shard.write_if(op, &cond(Some(k_is(2)), UpdateMode::Upsert));
        assert!(lsn.unwrap().is_some());
        assert_eq!(
            k_of(&shard, 1),
            Some(json!(1)),
            "1 fails the filter: unchanged"
        );
        assert_eq!(k_of(&shard, 2), Some(json!(20)), "2 matches: replaced");
        assert_eq!(k_of(&shard, 4), Some(json!(40)), "4 is new: inserted");
    });
}

#[test]
fn insert_only_and_update_only_split_new_from_existing_points() {
    block_on(async {
        let fs = MemStorage::new(1);
        let shard = three_points(&fs).await;
        let op = WriteOp::Upsert(vec![point(3, 30), point(5, 50)]);
        shard
            .write_if(op, &cond(None, UpdateMode::InsertOnly))
            .unwrap();
        assert_eq!(k_of(&shard, 3), Some(json!(3)));
        assert_eq!(k_of(&shard, 5), Some(json!(50)));

        let op = WriteOp::Upsert(vec![point(1, 11), point(6, 60)]);
        shard
            .write_if(op, &cond(None, UpdateMode::UpdateOnly))
            .unwrap();
        assert_eq!(k_of(&shard, 1), Some(json!(11)));
        assert_eq!(k_of(&shard, 6), None, "update_only never inserts");
        assert!(shard
            .get(n(6), &Default::default(), &Default::default())
            .is_none());
    });
}

#[test]
fn a_condition_that_lets_nothing_through_logs_nothing_and_survives_a_restart() {
    block_on(async {
        let fs = MemStorage::new(1);
        let shard = three_points(&fs).await;
        let before = shard.last_lsn();
        let op = WriteOp::Upsert(vec![point(1, 100), point(3, 300)]);
        let lsn = shard.write_if(op, &cond(Some(k_is(99)), UpdateMode::Upsert));
        assert_eq!(lsn.unwrap(), None);
        assert_eq!(shard.last_lsn(), before);

        // What was let through is what replays.
        let op = WriteOp::Upsert(vec![point(1, 100), point(3, 300)]);
        let lsn = shard
            .write_if(op, &cond(Some(k_is(3)), UpdateMode::Upsert))
            .unwrap()
            .unwrap();
        shard.sync_to(lsn).await.unwrap();
        drop(shard);
        let shard = open(&fs, options()).await;
        assert_eq!(k_of(&shard, 1), Some(json!(1)));
        assert_eq!(k_of(&shard, 3), Some(json!(300)));
    });
}

#[test]
fn vector_updates_skip_existing_points_that_fail_the_filter_and_still_refuse_missing_ones() {
    block_on(async {
        let fs = MemStorage::new(1);
        let shard = three_points(&fs).await;
        let vectors = |x: f32| vec![("b".to_owned(), vec![x, x].into())];
        let op = WriteOp::UpdateVectors(vec![(n(1), vectors(7.0)), (n(2), vectors(8.0))]);
        shard
            .write_if(op, &cond(Some(k_is(2)), UpdateMode::Upsert))
            .unwrap();
        let b = |i| {
            let r = shard
                .get(n(i), &Default::default(), &crate::VectorSelector::All)
                .unwrap();
            r.vectors
                .unwrap()
                .into_iter()
                .find(|(name, _)| name == "b")
                .unwrap()
                .1
        };
        assert_eq!(b(1), vec![1.0, 0.5].into());
        assert_eq!(b(2), vec![8.0, 8.0].into());

        let op = WriteOp::UpdateVectors(vec![(n(9), vectors(1.0))]);
        let err = shard.write_if(op, &cond(Some(k_is(2)), UpdateMode::Upsert));
        assert!(
            matches!(err, Err(crate::Error::PointNotFound(_))),
            "{err:?}"
        );
    });
}
