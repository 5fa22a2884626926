//! WAL recovery after torn writes, corruption and random crashes.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::path::Path;
use std::task::{Context, Waker};

use futures_lite::future::block_on;
use vexfs_io::mem::{FaultConfig, MemStorage, Rng};
use vexfs_io::{File, Storage};

use super::tests::{join_all, open_wal, payload, LocalFuture, WAL_DIR, WAL_PATH};
use super::*;

/// A fresh file system whose WAL file holds exactly `image`, durably.
fn storage_with_image(seed: u64, image: &[u8]) -> MemStorage {
    let fs = MemStorage::new(seed);
    block_on(async {
        fs.create_dir_all(Path::new(WAL_DIR)).await.unwrap();
        let f = fs.open(Path::new(WAL_PATH)).await.unwrap();
        let align = f.alignment() as usize;
        let mut padded = image.to_vec();
        padded.resize(image.len().div_ceil(align) * align, 0);
        f.write_at(0, &padded).await.unwrap();
        f.truncate(image.len() as u64).await.unwrap();
        f.sync_data().await.unwrap();
    });
    fs
}

/// Writes `payloads`, syncing after each one when `sync_each` (one flush per record) or once at
/// the end; returns the file image and each record's byte offset.
fn build_log(payloads: &[Vec<u8>], sync_each: bool) -> (Vec<u8>, Vec<u64>) {
    let fs = MemStorage::new(0);
    block_on(async {
        let (wal, _) = open_wal(&fs, RecoveryPolicy::Strict).await.unwrap();
        for p in payloads {
            let lsn = wal.append(p).unwrap();
            if sync_each {
                wal.sync_to(lsn).await.unwrap();
            }
        }
        wal.sync_to(wal.last_lsn()).await.unwrap();
    });
    let mut offsets = Vec::new();
    let mut at = 0u64;
    for p in payloads {
        offsets.push(at);
        at += (WAL_HEADER_BYTES + p.len()) as u64;
    }
    (fs.contents(Path::new(WAL_PATH)).unwrap(), offsets)
}

fn sample_payloads(n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| payload(i, 40 + (i as usize * 211) % 700))
        .collect()
}

#[test]
fn torn_tail_at_every_byte_of_the_last_record_is_dropped() {
    let payloads = sample_payloads(6);
    let (image, offsets) = build_log(&payloads, true);
    let start = offsets[5] as usize;
    let end = start + WAL_HEADER_BYTES + payloads[5].len();
    for cut in start..end {
        // Only a prefix of the last record landed; the rest is zeros or stale garbage.
        for filler in [0u8, 0xA7] {
            let mut img = image.clone();
            img[cut..end].fill(filler);
            let fs = storage_with_image(cut as u64, &img);
            block_on(async {
                let (wal, recovered) = open_wal(&fs, RecoveryPolicy::Strict)
                    .await
                    .unwrap_or_else(|e| panic!("cut {cut} filler {filler}: {e}"));
                assert_eq!(recovered, payloads[..5], "cut {cut}");
                // The torn bytes must be gone so new records follow cleanly.
                let lsn = wal.append(b"next").unwrap();
                assert_eq!(lsn, 6);
                wal.sync_to(lsn).await.unwrap();
                drop(wal);
                let (_, again) = open_wal(&fs, RecoveryPolicy::Strict).await.unwrap();
                assert_eq!(again.len(), 6, "cut {cut}");
                assert_eq!(again[5], b"next");
            });
        }
    }
}

#[test]
fn corrupt_middle_record_strict_names_offset_and_truncate_recovers_prefix() {
    let payloads = sample_payloads(10);
    let (image, offsets) = build_log(&payloads, true);
    // Damage the payload, then (separately) the header of record lsn 5.
    for damage_at in [offsets[4] + WAL_HEADER_BYTES as u64 + 7, offsets[4] + 9] {
        let fs = storage_with_image(1, &image);
        fs.corrupt(Path::new(WAL_PATH), damage_at, &[0xFF, 0x00, 0x13]);
        let err = block_on(open_wal(&fs, RecoveryPolicy::Strict))
            .err()
            .expect("strict open must fail");
        match &err {
            WalError::Corrupt {
                path,
                offset,
                expected_lsn,
                later_offset,
                ..
            } => {
                assert_eq!(path, WAL_PATH);
                assert_eq!(*offset, offsets[4]);
                assert_eq!(*expected_lsn, 5);
                assert_eq!(*later_offset, offsets[5]);
            }
            other => panic!("expected Corrupt, got {other}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(WAL_PATH) && msg.contains(&format!("byte offset {}", offsets[4])));

        block_on(async {
            let (wal, recovered) = open_wal(&fs, RecoveryPolicy::TruncateCorrupt)
                .await
                .unwrap();
            assert_eq!(recovered, payloads[..4]);
            let lsn = wal.append(b"after repair").unwrap();
            assert_eq!(lsn, 5);
            wal.sync_to(lsn).await.unwrap();
            drop(wal);
            let (_, again) = open_wal(&fs, RecoveryPolicy::Strict).await.unwrap();
            assert_eq!(again[..4], payloads[..4]);
            assert_eq!(again[4], b"after repair");
            assert_eq!(again.len(), 5);
        });
    }
}

#[test]
fn damage_inside_the_last_flush_reads_as_a_torn_tail() {
    // All ten records went out in one flush: on disk that is indistinguishable from a flush
    // whose blocks landed out of order before power loss, so recovery keeps the prefix.
    let payloads = sample_payloads(10);
    let (image, offsets) = build_log(&payloads, false);
    let fs = storage_with_image(2, &image);
    fs.corrupt(Path::new(WAL_PATH), offsets[4] + 20, &[0x55]);
    let (_, recovered) = block_on(open_wal(&fs, RecoveryPolicy::Strict)).unwrap();
    assert_eq!(recovered, payloads[..4]);
}

/// Polls `fut` at most `budget` times, then gives up on it (dropping it mid-flight, as a crash
/// would). Returns whether it finished.
fn poll_with_budget<F: Future>(fut: F, budget: u64) -> bool {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..budget {
        if fut.as_mut().poll(&mut cx).is_ready() {
            return true;
        }
    }
    false
}

/// Bounded retries of an open that hits injected faults; each failed try crashes the machine.
const OPEN_ATTEMPTS_MAX: usize = 50;

/// One seeded life of a WAL: rounds of concurrent appends and syncs under injected faults,
/// each ended by a crash (sometimes mid-flush), then recovery, checked against a model.
fn random_crash_run(seed: u64) {
    let alignment = if seed.is_multiple_of(2) { 512 } else { 4096 };
    let fs = MemStorage::with_alignment(seed, alignment);
    let mut rng = Rng::new(seed ^ 0x005E_ED0F_CAFE);
    let faults = FaultConfig {
        write_eio: 0.02,
        sync_eio: 0.02,
        torn_write: 0.03,
        read_eio: 0.01,
        ..FaultConfig::default()
    };
    // Payload of every lsn that may exist on disk; `acked` of them are known durable.
    let history: RefCell<Vec<Vec<u8>>> = RefCell::new(Vec::new());
    let mut acked = 0u64;
    for round in 0..6u64 {
        fs.set_faults(faults.clone());
        let mut attempts = 0;
        let (wal, recovered) = loop {
            attempts += 1;
            assert!(
                attempts <= OPEN_ATTEMPTS_MAX,
                "seed {seed}: open keeps failing"
            );
            match block_on(open_wal(&fs, RecoveryPolicy::Strict)) {
                Ok(opened) => break opened,
                Err(WalError::Io { .. }) => fs.crash(),
                Err(e) => panic!("seed {seed} round {round}: {e}"),
            }
        };
        {
            let history = history.borrow();
            let n = recovered.len();
            assert!(
                n as u64 >= acked,
                "seed {seed} round {round}: {n} recovered < {acked} acknowledged"
            );
            assert!(n <= history.len(), "seed {seed}: records from nowhere");
            assert!(
                recovered[..] == history[..n],
                "seed {seed} round {round}: recovered records differ"
            );
        }
        history.borrow_mut().truncate(recovered.len());
        acked = recovered.len() as u64;
        assert_eq!(wal.last_lsn(), acked);

        let max_acked = Cell::new(acked);
        let tasks: Vec<LocalFuture<'_, ()>> = (0..3u64)
            .map(|t| {
                let mut task_rng = Rng::new(rng.next_u64());
                let (wal, history, max_acked) = (&wal, &history, &max_acked);
                Box::pin(async move {
                    for i in 0..task_rng.below(12) {
                        let len = match task_rng.below(10) {
                            0 => 3000 + task_rng.below(3000) as usize,
                            _ => task_rng.below(700) as usize,
                        };
                        let p = payload(seed << 32 | round << 16 | t << 8 | i, len);
                        let Ok(lsn) = wal.append(&p) else { return };
                        {
                            let mut h = history.borrow_mut();
                            assert_eq!(h.len() as u64 + 1, lsn);
                            h.push(p);
                        }
                        if task_rng.chance(0.6) {
                            if wal.sync_to(lsn).await.is_err() {
                                return;
                            }
                            max_acked.set(max_acked.get().max(lsn));
                        }
                    }
                }) as LocalFuture<'_, ()>
            })
            .collect();
        // Sometimes cut the round short: power fails wherever the tasks happen to be.
        let budget = if rng.chance(0.5) {
            1 + rng.below(60)
        } else {
            u64::MAX
        };
        poll_with_budget(join_all(tasks), budget);
        acked = max_acked.get();
        drop(wal);
        fs.crash();
    }
}

#[test]
fn random_crashes_never_lose_acknowledged_records() {
    for seed in 0..300 {
        random_crash_run(seed);
    }
}
