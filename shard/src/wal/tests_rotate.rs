//! A log split into files: rotation, truncation of whole files, recovery across files, and
//! crashes at every step of a rotation.

use std::path::{Path, PathBuf};

use futures_lite::future::block_on;
use vexfs_io::mem::{FaultConfig, MemFile, MemStorage, Rng};
use vexfs_io::{File, Storage};

use super::tests::{join_all, payload, LocalFuture, TEST_PREALLOCATE_BYTES};
use super::*;

const DIR: &str = "/log";

fn options() -> WalOptions {
    WalOptions {
        preallocate_bytes: TEST_PREALLOCATE_BYTES,
        ..WalOptions::default()
    }
}

async fn open(fs: &MemStorage, replay_from: Lsn) -> Result<WalDir<MemFile>, WalError> {
    fs.create_dir_all(Path::new(DIR)).await.unwrap();
    open_dir(fs, Path::new(DIR), replay_from, options()).await
}

/// The record payload of `lsn`: recovery must return exactly this under that LSN.
fn body(lsn: Lsn) -> Vec<u8> {
    payload(lsn, 20 + (lsn as usize * 37) % 300)
}

fn path_of(first: Lsn) -> PathBuf {
    Path::new(DIR).join(wal_file_name(first))
}

/// The whole rotation protocol after `begin_rotation`: make the old file durable, create the
/// next file and make its name durable, switch.
async fn finish(fs: &MemStorage, wal: &Wal<MemFile>, boundary: Lsn) -> Result<(), WalError> {
    wal.sync_to(boundary).await?;
    let path = path_of(boundary + 1);
    let io = |source| WalError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = fs.open(&path).await.map_err(io)?;
    fs.sync_dir(Path::new(DIR)).await.map_err(io)?;
    wal.finish_rotation(file, path.display().to_string())?;
    Ok(())
}

#[test]
fn file_names_round_trip_and_sort() {
    assert_eq!(wal_file_name(7), "wal-00000000000000000007.log");
    assert_eq!(
        parse_wal_file_name(&wal_file_name(u64::MAX)),
        Some(u64::MAX)
    );
    for bad in [
        "wal.log",
        "wal-7.log",
        "wal-0000000000000000000x.log",
        "x",
        &wal_file_name(0),
    ] {
        assert_eq!(parse_wal_file_name(bad), None, "{bad}");
    }
    assert!(wal_file_name(9) < wal_file_name(10));
}

#[test]
fn rotation_splits_records_at_the_boundary_and_recovery_joins_them() {
    block_on(async {
        let fs = MemStorage::new(1);
        let WalDir { wal, records } = open(&fs, 1).await.unwrap();
        assert!(records.is_empty());
        for lsn in 1..=5 {
            assert_eq!(wal.append(&body(lsn)).unwrap(), lsn);
        }
        wal.sync_to(2).await.unwrap();
        let boundary = wal.begin_rotation().unwrap();
        assert_eq!(boundary, 5);
        // Appends go on during the rotation; they belong to the next file.
        for lsn in 6..=8 {
            assert_eq!(wal.append(&body(lsn)).unwrap(), lsn);
        }
        finish(&fs, &wal, boundary).await.unwrap();
        wal.sync_to(8).await.unwrap();
        assert_eq!(fs.list_dir(Path::new(DIR)).await.unwrap().len(), 2);
        drop(wal);

        for replay_from in [1, 3, 5] {
            let WalDir { wal, records } = open(&fs, replay_from).await.unwrap();
            let want: Vec<(Lsn, Vec<u8>)> = (replay_from..=8).map(|l| (l, body(l))).collect();
            assert_eq!(records, want, "replay from {replay_from}");
            assert_eq!(wal.last_lsn(), 8);
        }
        // The old file starts at 1 and ends at 5: it goes once a segment holds lsn 5.
        assert_eq!(
            remove_files_before(&fs, Path::new(DIR), 5).await.unwrap(),
            0
        );
        assert_eq!(
            remove_files_before(&fs, Path::new(DIR), 6).await.unwrap(),
            1
        );
        assert_eq!(
            fs.list_dir(Path::new(DIR)).await.unwrap(),
            vec![wal_file_name(6)]
        );
        let WalDir { wal, records } = open(&fs, 9).await.unwrap();
        assert!(records.is_empty());
        drop(wal);
        let WalDir { wal, records } = open(&fs, 6).await.unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(wal.append(b"next").unwrap(), 9);
        // Replaying from before the oldest file is refused: those records are gone.
        drop(wal);
        assert!(matches!(open(&fs, 2).await, Err(WalError::Missing { .. })));
    });
}

#[test]
fn records_past_the_boundary_wait_for_the_switch() {
    block_on(async {
        let fs = MemStorage::new(2);
        let WalDir { wal, .. } = open(&fs, 1).await.unwrap();
        wal.append(&body(1)).unwrap();
        let boundary = wal.begin_rotation().unwrap();
        wal.append(&body(2)).unwrap();
        let syncs_before = fs.stats().syncs;
        let futs: Vec<LocalFuture<'_, Result<(), WalError>>> = vec![
            Box::pin(wal.sync_to(2)),
            Box::pin(finish(&fs, &wal, boundary)),
        ];
        for r in join_all(futs).await {
            r.unwrap();
        }
        assert_eq!(wal.durable_lsn(), 2);
        // lsn 1 went to the old file, lsn 2 to the new one: one fdatasync each.
        assert_eq!(fs.stats().syncs - syncs_before, 2);
        let old = fs.durable_contents(&path_of(1)).unwrap();
        let new = fs.durable_contents(&path_of(2)).unwrap();
        assert_eq!(u64::from_le_bytes(old[8..16].try_into().unwrap()), 1);
        assert_eq!(u64::from_le_bytes(new[8..16].try_into().unwrap()), 2);
    });
}

#[test]
fn an_empty_new_file_continues_the_sequence() {
    block_on(async {
        let fs = MemStorage::new(3);
        let WalDir { wal, .. } = open(&fs, 1).await.unwrap();
        wal.append(&body(1)).unwrap();
        let b = wal.begin_rotation().unwrap();
        finish(&fs, &wal, b).await.unwrap();
        drop(wal);
        fs.crash();
        let WalDir { wal, records } = open(&fs, 2).await.unwrap();
        assert!(records.is_empty());
        assert_eq!(wal.append(&body(2)).unwrap(), 2);
        // A directory with no file at all starts the log where it is told.
        let fs = MemStorage::new(3);
        let WalDir { wal, .. } = open(&fs, 41).await.unwrap();
        assert_eq!(wal.append(&body(41)).unwrap(), 41);
    });
}

#[test]
fn a_short_earlier_file_is_refused() {
    block_on(async {
        let fs = MemStorage::new(4);
        let WalDir { wal, .. } = open(&fs, 1).await.unwrap();
        for lsn in 1..=3 {
            wal.append(&body(lsn)).unwrap();
        }
        let b = wal.begin_rotation().unwrap();
        finish(&fs, &wal, b).await.unwrap();
        wal.append(&body(4)).unwrap();
        wal.sync_to(4).await.unwrap();
        drop(wal);
        // Damage lsn 3 in the first file: the second file proves it had been durable.
        let first = fs.contents(&path_of(1)).unwrap();
        let at = first.len().min(2 * (WAL_HEADER_BYTES + 200));
        let third = (0..at).rev().find(|&i| first[i] != 0).unwrap();
        fs.corrupt(&path_of(1), third as u64, &[first[third] ^ 0xff]);
        match open(&fs, 1).await {
            Err(WalError::Missing {
                expected, found, ..
            }) => assert_eq!((expected, found), (3, 2)),
            other => panic!("expected Missing, got {:?}", other.err()),
        }
    });
}

#[test]
fn the_legacy_single_file_is_adopted() {
    block_on(async {
        let fs = MemStorage::new(5);
        fs.create_dir_all(Path::new(DIR)).await.unwrap();
        let legacy = Path::new(DIR).join(LEGACY_WAL_FILE_NAME);
        let file = fs.open(&legacy).await.unwrap();
        let (wal, _) = Wal::open_with_options(file, "legacy".into(), options())
            .await
            .unwrap();
        wal.append(&body(1)).unwrap();
        wal.sync_to(1).await.unwrap();
        drop(wal);
        let WalDir { wal, records } = open(&fs, 1).await.unwrap();
        assert_eq!(records, vec![(1, body(1))]);
        assert_eq!(wal.append(&body(2)).unwrap(), 2);
        assert_eq!(
            fs.list_dir(Path::new(DIR)).await.unwrap(),
            vec![wal_file_name(1)]
        );
    });
}

/// Where a rotation driven by the crash test stands.
enum Step {
    Idle,
    Begun(Lsn),
    Synced(Lsn),
    Created(Lsn, MemFile),
    Named(Lsn, MemFile),
}

/// Random appends, syncs, rotation steps, truncations and crashes (with torn writes and
/// injected power loss); after every reopen the log must hold every acknowledged record, and
/// any later record only with its own payload, consecutively.
fn crash_run(seed: u64) {
    block_on(async {
        let fs = MemStorage::new(seed);
        fs.set_faults(FaultConfig {
            torn_write: 0.01,
            ..FaultConfig::default()
        });
        let mut rng = Rng::new(seed ^ 0x5eed);
        // Records before `replay_from` are "in a segment": the model forgets them.
        let mut replay_from: Lsn = 1;
        let mut acked: Lsn = 0;
        for _round in 0..8 {
            let WalDir { wal, records } = match open(&fs, replay_from).await {
                Ok(w) => w,
                Err(e) if fs.is_powered_off() => {
                    let _ = e;
                    fs.crash();
                    continue;
                }
                Err(e) => panic!("seed {seed}: reopen failed: {e}"),
            };
            for (i, (lsn, p)) in records.iter().enumerate() {
                assert_eq!(*lsn, replay_from + i as Lsn, "seed {seed}: gap");
                assert_eq!(p, &body(*lsn), "seed {seed}: payload of {lsn}");
            }
            let recovered = replay_from - 1 + records.len() as Lsn;
            assert!(
                recovered >= acked,
                "seed {seed}: lost acked {acked}, have {recovered}"
            );
            acked = recovered;
            assert_eq!(wal.last_lsn(), recovered);

            let mut step = Step::Idle;
            for _ in 0..rng.below(40) {
                let r = match rng.below(10) {
                    0..=3 => wal.append(&body(wal.last_lsn() + 1)).map(|_| ()),
                    4 | 5 => {
                        // Only records up to a pending boundary can be synced without the
                        // switch (which this single task drives).
                        let upto = match &step {
                            Step::Idle => wal.last_lsn(),
                            Step::Begun(b)
                            | Step::Synced(b)
                            | Step::Created(b, _)
                            | Step::Named(b, _) => (*b).min(wal.last_lsn()),
                        };
                        let r = if upto > wal.durable_lsn() {
                            wal.sync_to(upto).await
                        } else {
                            Ok(())
                        };
                        if r.is_ok() {
                            acked = acked.max(upto);
                        }
                        r
                    }
                    6..=8 => {
                        let (next, r) = match std::mem::replace(&mut step, Step::Idle) {
                            Step::Idle => match wal.begin_rotation() {
                                Ok(b) => (Step::Begun(b), Ok(())),
                                Err(e) => (Step::Idle, Err(e)),
                            },
                            Step::Begun(b) => match wal.sync_to(b).await {
                                Ok(()) => {
                                    acked = acked.max(b);
                                    (Step::Synced(b), Ok(()))
                                }
                                Err(e) => (Step::Begun(b), Err(e)),
                            },
                            Step::Synced(b) => match fs.open(&path_of(b + 1)).await {
                                Ok(f) => (Step::Created(b, f), Ok(())),
                                Err(e) => (
                                    Step::Synced(b),
                                    Err(WalError::Io {
                                        path: DIR.into(),
                                        source: e,
                                    }),
                                ),
                            },
                            Step::Created(b, f) => match fs.sync_dir(Path::new(DIR)).await {
                                Ok(()) => (Step::Named(b, f), Ok(())),
                                Err(e) => (
                                    Step::Created(b, f),
                                    Err(WalError::Io {
                                        path: DIR.into(),
                                        source: e,
                                    }),
                                ),
                            },
                            Step::Named(b, f) => {
                                let r =
                                    wal.finish_rotation(f, path_of(b + 1).display().to_string());
                                // Truncate sometimes: pretend a segment now holds everything
                                // up to the boundary.
                                if r.is_ok() && rng.chance(0.5) {
                                    replay_from = b + 1;
                                    let _ =
                                        remove_files_before(&fs, Path::new(DIR), replay_from).await;
                                }
                                (Step::Idle, r.map(|_| ()))
                            }
                        };
                        step = next;
                        r
                    }
                    _ => break,
                };
                if r.is_err() {
                    break;
                }
            }
            drop(step);
            drop(wal);
            fs.crash();
        }
    });
}

#[test]
fn crashes_at_every_step_of_rotation_lose_no_acknowledged_record() {
    for seed in 0..300 {
        crash_run(seed);
    }
}

#[test]
fn wal_io_error_during_rotation_fails_the_log() {
    block_on(async {
        let fs = MemStorage::new(6);
        let WalDir { wal, .. } = open(&fs, 1).await.unwrap();
        wal.append(&body(1)).unwrap();
        let _b = wal.begin_rotation().unwrap();
        wal.fail("segment write failed");
        assert!(matches!(wal.append(b"x"), Err(WalError::Failed { .. })));
        assert!(matches!(wal.sync_to(1).await, Err(WalError::Failed { .. })));
        assert!(wal.check().is_err());
        let _ = File::alignment(&fs.open(&path_of(1)).await.unwrap());
    });
}
