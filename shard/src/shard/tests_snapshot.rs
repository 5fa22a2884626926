//! A snapshot's files, copied while writes go on, open to exactly the state at its LSN.

use std::path::Path;

use futures_lite::future::block_on;
use serde_json::json;
use vexfs_io::mem::MemStorage;
use vexfs_io::{File, Storage};

use super::tests::{open, options, schema};
use super::*;
use crate::op::{Payload, PointWrite};
use crate::point_id::PointId;
use crate::select::{PayloadSelector, VectorSelector};

const COPY: &str = "/copy";

fn point(i: u64, k: i64) -> PointWrite {
    let mut payload = Payload::new();
    payload.insert("k".into(), json!(k));
    PointWrite {
        id: PointId::Num(i),
        vectors: vec![
            (String::new(), vec![i as f32, 1.0, 0.0].into()),
            ("b".into(), vec![k as f32, 0.5].into()),
        ],
        payload: Some(payload),
    }
}

fn state(shard: &Shard<MemStorage>) -> Vec<(PointId, Option<serde_json::Value>)> {
    shard
        .scroll(
            None,
            usize::MAX,
            None,
            &PayloadSelector::All,
            &VectorSelector::None,
        )
        .into_iter()
        .map(|r| (r.id, r.payload.and_then(|p| p.get("k").cloned())))
        .collect()
}

/// Copies what the snapshot lists, as the runtime does through an archive.
async fn copy_out(fs: &MemStorage, snap: &ShardSnapshot<'_, MemStorage>) {
    let to = Path::new(COPY);
    fs.create_dir_all(to).await.unwrap();
    fs.write_file_atomic(&to.join(MANIFEST_FILE_NAME), &snap.manifest)
        .await
        .unwrap();
    for f in &snap.files {
        let src = fs
            .open_read(&snap.dir.join(&f.name))
            .await
            .unwrap()
            .unwrap();
        let size = src.size().await.unwrap();
        let (copy, len) = match f.copy {
            SnapshotCopy::Whole => (size, size),
            SnapshotCopy::Prefix { bytes, padded } => (bytes, padded),
        };
        let mut data = src.read_at(0, copy as usize).await.unwrap();
        data.resize(len as usize, 0);
        let align = fs.alignment() as usize;
        let mut padded = data.clone();
        padded.resize(data.len().div_ceil(align) * align, 0);
        let dst = fs.open(&to.join(&f.name)).await.unwrap();
        dst.write_at(0, &padded).await.unwrap();
        dst.truncate(len).await.unwrap();
        dst.sync_data().await.unwrap();
    }
    fs.sync_dir(to).await.unwrap();
}

#[test]
fn copy_taken_during_writes_opens_to_the_snapshot_lsn() {
    block_on(async {
        let fs = MemStorage::new(7);
        let shard = open(&fs, options()).await;
        shard
            .write(WriteOp::Upsert((0..10).map(|i| point(i, 0)).collect()))
            .unwrap();
        assert!(shard.flush().await.unwrap());
        shard
            .write(WriteOp::Upsert((10..15).map(|i| point(i, 1)).collect()))
            .unwrap();
        shard.write(WriteOp::Delete(vec![PointId::Num(3)])).unwrap();
        // The deletion of a segment point goes to a sidecar at this flush.
        assert!(shard.flush().await.unwrap());
        shard
            .write(WriteOp::Upsert((15..20).map(|i| point(i, 2)).collect()))
            .unwrap();
        shard.write(WriteOp::Upsert(vec![point(1, 9)])).unwrap();
        let expected = state(&shard);

        let snap = shard.snapshot_files().await.unwrap();
        assert_eq!(snap.lsn, shard.last_lsn());
        assert!(snap.files.iter().any(|f| f.name.contains(".del-")));
        assert!(snap
            .files
            .iter()
            .any(|f| matches!(f.copy, SnapshotCopy::Prefix { .. })));
        // Writes go on; flushes wait for the copy.
        let later = shard
            .write(WriteOp::Upsert((20..25).map(|i| point(i, 3)).collect()))
            .unwrap();
        shard.sync_to(later).await.unwrap();
        assert!(!shard.needs_flush());
        assert!(!shard.flush().await.unwrap());
        copy_out(&fs, &snap).await;
        drop(snap);
        assert!(shard.flush().await.unwrap());

        let copy = Shard::open(&fs, Path::new(COPY), schema(), options())
            .await
            .unwrap();
        assert_eq!(state(&copy), expected);
        assert_eq!(copy.last_lsn(), later - 1);
        // The copy takes writes of its own.
        copy.write(WriteOp::Upsert(vec![point(30, 4)])).unwrap();
        copy.sync_to(copy.last_lsn()).await.unwrap();
        assert_eq!(state(&shard).len(), 24);
    });
}

/// 1 KiB of 3-dim vectors is 86 points: every segment below gets graphs.
fn index_everything() -> crate::hnsw::IndexSettings {
    crate::hnsw::IndexSettings {
        indexing_threshold_kb: 1,
        ..Default::default()
    }
}

#[test]
fn copy_carries_the_graphs_so_the_copy_needs_no_rebuild() {
    block_on(async {
        let fs = MemStorage::new(11);
        let shard = open(&fs, options()).await;
        shard.set_index_settings(index_everything());
        shard
            .write(WriteOp::Upsert((0..300).map(|i| point(i, 0)).collect()))
            .unwrap();
        assert!(shard.flush().await.unwrap());
        while shard.index_next().await.unwrap() {}
        let indexed = shard.indexed_vectors_count();
        assert_eq!(indexed, 600, "two columns of 300 vectors");
        assert!(!shard.indexing_pending());

        let snap = shard.snapshot_files().await.unwrap();
        assert!(snap.files.iter().any(|f| f.name.ends_with(".seg.hnsw")));
        copy_out(&fs, &snap).await;
        drop(snap);

        let copy = Shard::open(&fs, Path::new(COPY), schema(), options())
            .await
            .unwrap();
        copy.set_index_settings(index_everything());
        assert_eq!(copy.index_stats().loaded, 1);
        assert_eq!(copy.indexed_vectors_count(), indexed);
        assert!(!copy.indexing_pending());
        assert_eq!(state(&copy), state(&shard));
    });
}
