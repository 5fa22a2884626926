//! Codes inside a shard: the indexer builds them after the graph, a reopen loads the file
//! instead of rebuilding, a damaged file is removed and rebuilt, a changed config rebuilds,
//! "Disabled" removes them, and a file of a segment the manifest does not name goes away.

use std::path::Path;

use futures_lite::future::block_on;
use vexfs_io::mem::MemStorage;
use vexfs_io::Storage;

use super::*;
use crate::hnsw::{ColumnIndexSettings, IndexSettings};
use crate::op::{PointWrite, WriteOp};
use crate::point_id::PointId;
use crate::schema::{Distance, ShardSchema};
use crate::shard::{Shard, ShardOptions};
use crate::test_support::{sorted_files, unnamed_schema};

const DIR: &str = "/shard";
const POINTS: u64 = 2_000;
const DIM: usize = 16;

fn schema() -> ShardSchema {
    unnamed_schema(DIM, Distance::Dot)
}

fn settings(quantization: Option<QuantConfig>) -> IndexSettings {
    IndexSettings {
        indexing_threshold_kb: 1,
        default: ColumnIndexSettings {
            m: 8,
            ef_construct: 32,
            full_scan_threshold_kb: 1,
            quantization,
        },
        ..IndexSettings::default()
    }
}

async fn open(fs: &MemStorage, quantization: Option<QuantConfig>) -> Shard<MemStorage> {
    let options = ShardOptions {
        flush_points: usize::MAX,
        flush_wal_records: u64::MAX,
        wal_preallocate_bytes: 1 << 20,
        ..ShardOptions::default()
    };
    let s = Shard::open(fs, Path::new(DIR), schema(), options)
        .await
        .unwrap();
    s.set_index_settings(settings(quantization));
    s
}

/// Runs the indexer's steps until nothing is left to do.
async fn settle(shard: &Shard<MemStorage>) {
    while shard.index_next().await.unwrap() {}
    while shard.quantize_next().await.unwrap() {}
    assert!(!shard.indexing_pending());
}

async fn quant_files(fs: &MemStorage) -> Vec<String> {
    sorted_files(fs, DIR, |n| n.ends_with(".quant")).await
}

const SCALAR: QuantConfig = QuantConfig::Scalar { quantile: 1.0 };

#[test]
fn codes_are_built_loaded_rebuilt_and_removed() {
    let fs = MemStorage::new(4);
    let dir = Path::new(DIR);
    block_on(async {
        let shard = open(&fs, Some(SCALAR)).await;
        let points = (0..POINTS)
            .map(|i| PointWrite {
                id: PointId::Num(i),
                vectors: vec![(
                    String::new(),
                    (0..DIM)
                        .map(|d| ((i * 7 + d as u64) % 13) as f32)
                        .collect::<Vec<f32>>()
                        .into(),
                )],
                payload: None,
            })
            .collect();
        let lsn = shard.write(WriteOp::Upsert(points)).unwrap();
        shard.sync_to(lsn).await.unwrap();
        assert!(shard.flush().await.unwrap());
        assert!(shard.indexing_pending());
        settle(&shard).await;
        let (quantized, original) = shard.quantized_bytes();
        assert_eq!(original, POINTS as usize * DIM * 4);
        assert_eq!(
            quantized,
            POINTS as usize * DIM + 8,
            "one byte per component + range"
        );
        assert_eq!(quant_files(&fs).await.len(), 1);
    });
    let name = block_on(quant_files(&fs)).remove(0);
    // Reopen: loaded, nothing to build.
    block_on(async {
        let shard = open(&fs, Some(SCALAR)).await;
        assert!(shard.quantized_bytes().0 > 0);
        assert!(!shard.indexing_pending());
    });
    // Damaged: removed at open, rebuilt by the indexer; a stray file of an unknown segment
    // goes at open too.
    block_on(async {
        let path = dir.join(&name);
        let mut bytes = fs.read_file(&path).await.unwrap().unwrap();
        bytes[100] ^= 1;
        fs.write_file_atomic(&path, &bytes).await.unwrap();
        fs.write_file_atomic(&dir.join("seg-00000000000000000099.seg.quant"), b"x")
            .await
            .unwrap();
        let shard = open(&fs, Some(SCALAR)).await;
        assert_eq!(shard.quantized_bytes().0, 0);
        assert!(quant_files(&fs).await.is_empty());
        settle(&shard).await;
        assert_eq!(quant_files(&fs).await, vec![name.clone()]);
        // Another config: rebuilt with it.
        shard.set_index_settings(settings(Some(QuantConfig::Binary)));
        assert!(shard.indexing_pending());
        settle(&shard).await;
        assert_eq!(shard.quantized_bytes().0, POINTS as usize * 8);
        // Disabled: removed.
        shard.set_index_settings(settings(None));
        settle(&shard).await;
        assert_eq!(shard.quantized_bytes().0, 0);
        assert!(quant_files(&fs).await.is_empty());
    });
}
