//! WAL behaviour on the in-memory backend: round trips, group commit, failure handling.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::task::Poll;

use futures_lite::future::{block_on, poll_once};
use vexfs_io::mem::{FaultConfig, MemFile, MemStorage};
use vexfs_io::{File, Storage};

use super::*;

pub(super) const WAL_DIR: &str = "/w";
pub(super) const WAL_PATH: &str = "/w/wal";
/// Small growth step so tests do not copy 64 MiB images around.
pub(super) const TEST_PREALLOCATE_BYTES: u64 = 16 << 10;

pub(super) type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

pub(super) async fn open_wal(
    fs: &MemStorage,
    policy: RecoveryPolicy,
) -> Result<(Wal<MemFile>, Vec<Vec<u8>>), WalError> {
    let io = |source| WalError::Io {
        path: WAL_PATH.into(),
        source,
    };
    fs.create_dir_all(Path::new(WAL_DIR)).await.map_err(io)?;
    let file = fs.open(Path::new(WAL_PATH)).await.map_err(io)?;
    let options = WalOptions {
        policy,
        preallocate_bytes: TEST_PREALLOCATE_BYTES,
        ..WalOptions::default()
    };
    Wal::open_with_options(file, WAL_PATH.into(), options).await
}

/// A payload that names its origin, so misplaced records are caught.
pub(super) fn payload(tag: u64, len: usize) -> Vec<u8> {
    let mut p = tag.to_le_bytes().to_vec();
    p.extend((0..len).map(|i| (i as u64).wrapping_mul(tag | 1) as u8));
    p.truncate(len);
    p
}

/// Polls all futures until every one is done (a tiny local executor).
pub(super) async fn join_all<T>(mut futs: Vec<LocalFuture<'_, T>>) -> Vec<T> {
    let mut out: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    futures_lite::future::poll_fn(|cx| {
        let mut all_done = true;
        for (slot, fut) in out.iter_mut().zip(futs.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    out.into_iter().map(|v| v.expect("all done")).collect()
}

#[test]
fn append_sync_reopen_returns_identical_payloads() {
    block_on(async {
        let fs = MemStorage::new(1);
        let (wal, recovered) = open_wal(&fs, RecoveryPolicy::Strict).await.unwrap();
        assert!(recovered.is_empty());
        let sizes = [
            0usize, 1, 100, 495, 496, 497, 511, 512, 513, 5000, 20_000, 3,
        ];
        let payloads: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, len)| payload(i as u64, *len))
            .collect();
        for (i, p) in payloads.iter().enumerate() {
            let lsn = wal.append(p).unwrap();
            assert_eq!(lsn, i as u64 + 1);
            if i % 3 == 0 {
                wal.sync_to(lsn).await.unwrap();
                assert_eq!(wal.durable_lsn(), lsn);
            }
        }
        wal.sync_to(wal.last_lsn()).await.unwrap();
        wal.close().await.unwrap();

        let (wal, recovered) = open_wal(&fs, RecoveryPolicy::Strict).await.unwrap();
        assert_eq!(recovered, payloads);
        assert_eq!((wal.last_lsn(), wal.durable_lsn()), (12, 12));
        let lsn = wal.append(b"after reopen").unwrap();
        assert_eq!(lsn, 13);
        wal.sync_to(lsn).await.unwrap();
        drop(wal);
        fs.crash();

        let (_, recovered) = open_wal(&fs, RecoveryPolicy::Strict).await.unwrap();
        assert_eq!(recovered.len(), 13);
        assert_eq!(recovered[..12], payloads[..]);
        assert_eq!(recovered[12], b"after reopen");
    });
}

#[test]
fn default_options_preallocate_and_extend_the_file() {
    block_on(async {
        let fs = MemStorage::with_alignment(2, 4096);
        fs.create_dir_all(Path::new(WAL_DIR)).await.unwrap();
        let file = fs.open(Path::new(WAL_PATH)).await.unwrap();
        let (wal, _) = Wal::open(file, WAL_PATH.into(), RecoveryPolicy::Strict)
            .await
            .unwrap();
        let lsn = wal.append(b"x").unwrap();
        wal.sync_to(lsn).await.unwrap();
        let size = fs.contents(Path::new(WAL_PATH)).unwrap().len() as u64;
        assert_eq!(size, WAL_PREALLOCATE_BYTES);
        drop(wal);
        fs.crash();
        let file = fs.open(Path::new(WAL_PATH)).await.unwrap();
        let (_, recovered) = Wal::open(file, WAL_PATH.into(), RecoveryPolicy::Strict)
            .await
            .unwrap();
        assert_eq!(recovered, vec![b"x".to_vec()]);
    });
}

#[test]
fn concurrent_sync_to_callers_share_flushes() {
    const TASKS: u64 = 8;
    const RECORDS_PER_TASK: u64 = 25;
    block_on(async {
        let fs = MemStorage::new(3);
        let (wal, _) = open_wal(&fs, RecoveryPolicy::Strict).await.unwrap();
        let syncs_at_open = fs.stats().syncs;
        let wal = &wal;
        let tasks: Vec<LocalFuture<'_, ()>> = (0..TASKS)
            .map(|t| {
                Box::pin(async move {
                    for i in 0..RECORDS_PER_TASK {
                        let lsn = wal.append(&payload(t * 1000 + i, 64)).unwrap();
                        wal.sync_to(lsn).await.unwrap();
                        assert!(wal.durable_lsn() >= lsn);
                    }
                }) as LocalFuture<'_, ()>
            })
            .collect();
        join_all(tasks).await;
        let records = TASKS * RECORDS_PER_TASK;
        let stats = wal.stats();
        assert_eq!(stats.records_flushed, records);
        assert!(
            stats.flushes * 2 < records,
            "group commit should share syncs: {stats:?}"
        );
        assert_eq!(
            fs.stats().syncs - syncs_at_open,
            stats.flushes,
            "one fdatasync per flush"
        );

        let (_, recovered) = open_wal(&fs, RecoveryPolicy::Strict).await.unwrap();
        let mut got = recovered.clone();
        let mut want: Vec<Vec<u8>> = (0..TASKS)
            .flat_map(|t| (0..RECORDS_PER_TASK).map(move |i| payload(t * 1000 + i, 64)))
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
    });
}

#[test]
fn one_sync_covers_everything_appended_before_it() {
    block_on(async {
        let fs = MemStorage::new(4);
        let (wal, _) = open_wal(&fs, RecoveryPolicy::Strict).await.unwrap();
        for i in 0..100 {
            wal.append(&payload(i, 10)).unwrap();
        }
        wal.sync_to(50).await.unwrap();
        assert_eq!(wal.durable_lsn(), 100);
        wal.sync_to(100).await.unwrap();
        assert_eq!(wal.stats().flushes, 1);
        assert!(matches!(
            wal.sync_to(101).await,
            Err(WalError::NotAppended { .. })
        ));
    });
}

#[test]
fn oversized_record_is_refused() {
    let fs = MemStorage::new(5);
    let (wal, _) = block_on(open_wal(&fs, RecoveryPolicy::Strict)).unwrap();
    let big = vec![0u8; WAL_RECORD_MAX_BYTES + 1];
    assert!(matches!(
        wal.append(&big),
        Err(WalError::RecordTooLarge { .. })
    ));
    assert_eq!(wal.last_lsn(), 0);
}

fn assert_failed_forever(fs: &MemStorage, wal: &Wal<MemFile>) {
    fs.set_faults(FaultConfig::none());
    assert!(matches!(wal.append(b"more"), Err(WalError::Failed { .. })));
    assert!(matches!(
        block_on(wal.sync_to(1)),
        Err(WalError::Failed { .. })
    ));
    assert_eq!(wal.durable_lsn(), 0);
}

#[test]
fn eio_on_sync_fails_the_wal_forever() {
    let fs = MemStorage::new(6);
    let (wal, _) = block_on(open_wal(&fs, RecoveryPolicy::Strict)).unwrap();
    fs.set_faults(FaultConfig {
        sync_eio: 1.0,
        ..FaultConfig::none()
    });
    let lsn = wal.append(b"a").unwrap();
    let err = block_on(wal.sync_to(lsn)).unwrap_err();
    assert!(matches!(err, WalError::Io { .. }), "{err}");
    assert!(err.to_string().contains(WAL_PATH));
    assert_failed_forever(&fs, &wal);
}

#[test]
fn eio_on_write_fails_the_wal_forever() {
    let fs = MemStorage::new(7);
    let (wal, _) = block_on(open_wal(&fs, RecoveryPolicy::Strict)).unwrap();
    fs.set_faults(FaultConfig {
        write_eio: 1.0,
        ..FaultConfig::none()
    });
    let lsn = wal.append(b"a").unwrap();
    assert!(matches!(
        block_on(wal.sync_to(lsn)),
        Err(WalError::Io { .. })
    ));
    assert_failed_forever(&fs, &wal);
}

#[test]
fn waiters_of_a_failed_flush_see_failed() {
    let fs = MemStorage::new(8);
    let (wal, _) = block_on(open_wal(&fs, RecoveryPolicy::Strict)).unwrap();
    fs.set_faults(FaultConfig {
        sync_eio: 1.0,
        ..FaultConfig::none()
    });
    let wal = &wal;
    let tasks: Vec<LocalFuture<'_, Result<(), WalError>>> = (0..4)
        .map(|i| {
            Box::pin(async move {
                let lsn = wal.append(&payload(i, 8))?;
                wal.sync_to(lsn).await
            }) as LocalFuture<'_, _>
        })
        .collect();
    let results = block_on(join_all(tasks));
    assert!(matches!(results[0], Err(WalError::Io { .. })));
    for r in &results[1..] {
        assert!(matches!(r, Err(WalError::Failed { .. })), "{r:?}");
    }
}

#[test]
fn cancelled_flush_fails_the_wal() {
    let fs = MemStorage::new(9);
    let (wal, _) = block_on(open_wal(&fs, RecoveryPolicy::Strict)).unwrap();
    let lsn = wal.append(b"a").unwrap();
    {
        let mut fut = Box::pin(wal.sync_to(lsn));
        // The in-memory write yields once, so the first poll leaves the flush mid-I/O.
        assert!(block_on(poll_once(fut.as_mut())).is_none());
    }
    assert!(matches!(wal.append(b"b"), Err(WalError::Failed { .. })));
}

#[test]
fn every_write_is_aligned() {
    // MemStorage rejects misaligned writes, so a clean run with many odd sizes proves the
    // block-rewrite logic keeps offsets and lengths aligned at both common alignments.
    for alignment in [512u64, 4096] {
        block_on(async {
            let fs = MemStorage::with_alignment(10, alignment);
            let (wal, _) = open_wal(&fs, RecoveryPolicy::Strict).await.unwrap();
            for i in 0..200u64 {
                let lsn = wal.append(&payload(i, (i * 37 % 1500) as usize)).unwrap();
                if i % 7 == 0 {
                    wal.sync_to(lsn).await.unwrap();
                }
            }
            wal.sync_to(wal.last_lsn()).await.unwrap();
            drop(wal);
            let (_, recovered) = open_wal(&fs, RecoveryPolicy::Strict).await.unwrap();
            assert_eq!(recovered.len(), 200);
        });
    }
}

#[test]
fn file_alignment_is_reported() {
    let fs = MemStorage::with_alignment(1, 4096);
    let f = block_on(fs.open(Path::new("f"))).unwrap();
    assert_eq!(f.alignment(), 4096);
}
