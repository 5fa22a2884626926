//! A log as a sequence of files in one directory, each named for the LSN of its first record.
//!
//! `wal-<first_lsn, 20 digits>.log`: names sort in LSN order, and an empty file still says
//! where the log continues. Records are consecutive across files: file `i` holds exactly
//! `[first_i, first_{i+1} - 1]`. A rotation creates the next file only after every record of
//! the current one is durable ([`super::Wal::finish_rotation`] insists), so only the last file
//! may end in a torn tail; a short earlier file means acknowledged records are gone.
//!
//! Truncation is whole files: once a segment holds every record up to `flushed_lsn`, each file
//! whose successor starts at or below `flushed_lsn + 1` holds nothing recovery needs.

use std::path::Path;

use vexfs_io::{File, Storage};

use super::{recovery, Lsn, Wal, WalError, WalOptions};

/// The single log file of shards written before logs were split into files: read as the file
/// starting at LSN 1.
pub const LEGACY_WAL_FILE_NAME: &str = "wal.log";

const PREFIX: &str = "wal-";
const SUFFIX: &str = ".log";
/// Digits of the LSN in a file name: every u64 fits, so names sort like numbers.
const LSN_DIGITS: usize = 20;

pub fn wal_file_name(first_lsn: Lsn) -> String {
    format!("{PREFIX}{first_lsn:0LSN_DIGITS$}{SUFFIX}")
}

/// The first LSN named by a log file name; `None` for any other name.
pub fn parse_wal_file_name(name: &str) -> Option<Lsn> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.len() != LSN_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&lsn| lsn >= 1)
}

/// The log files found in `dir`, by first LSN.
async fn list<S: Storage>(storage: &S, dir: &Path) -> Result<Vec<Lsn>, WalError> {
    let names = storage.list_dir(dir).await.map_err(|source| WalError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut lsns: Vec<Lsn> = names
        .iter()
        .filter_map(|n| parse_wal_file_name(n))
        .collect();
    lsns.sort_unstable();
    Ok(lsns)
}

/// Removes every log file that starts below `first_kept` and is followed by a file starting at
/// or below it (so it holds only records before `first_kept`), then syncs the directory.
/// Returns how many it removed.
pub async fn remove_files_before<S: Storage>(
    storage: &S,
    dir: &Path,
    first_kept: Lsn,
) -> Result<usize, WalError> {
    let files = list(storage, dir).await?;
    let mut removed = 0;
    for pair in files.windows(2) {
        if pair[1] <= first_kept {
            let path = dir.join(wal_file_name(pair[0]));
            storage
                .remove_file(&path)
                .await
                .map_err(|source| WalError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
            removed += 1;
        }
    }
    if removed > 0 {
        storage.sync_dir(dir).await.map_err(|source| WalError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    Ok(removed)
}

/// A log opened from a directory.
pub struct WalDir<F: File> {
    /// Appends go to the last file.
    pub wal: Wal<F>,
    /// `(lsn, payload)` of every intact record from `replay_from` on, in order.
    pub records: Vec<(Lsn, Vec<u8>)>,
}

/// Opens the log in `dir` (which must exist) and returns the records from `replay_from` on:
/// everything before it is held elsewhere (segments) and its files may be gone. Creates the
/// first file when there is none. `options.first_lsn` is ignored: file names say it.
pub async fn open_dir<S: Storage>(
    storage: &S,
    dir: &Path,
    replay_from: Lsn,
    options: WalOptions,
) -> Result<WalDir<S::File>, WalError> {
    assert!(replay_from >= 1, "LSNs start at 1");
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| WalError::Io { path, source }
    };
    let mut files = list(storage, dir).await?;
    if files.is_empty() {
        let legacy = dir.join(LEGACY_WAL_FILE_NAME);
        if storage
            .read_file(&legacy)
            .await
            .map_err(io(&legacy))?
            .is_some()
        {
            // Adopt the old single-file log as the file starting at LSN 1.
            let to = dir.join(wal_file_name(1));
            storage.rename(&legacy, &to).await.map_err(io(&legacy))?;
            storage.sync_dir(dir).await.map_err(io(dir))?;
            files.push(1);
        }
    }
    // Files wholly before `replay_from` are leftovers of a truncation cut short by a crash.
    if remove_files_before(storage, dir, replay_from).await? > 0 {
        files = list(storage, dir).await?;
    }
    if files.is_empty() {
        let path = dir.join(wal_file_name(replay_from));
        let file = storage.open(&path).await.map_err(io(&path))?;
        storage.sync_dir(dir).await.map_err(io(dir))?;
        let options = WalOptions {
            first_lsn: replay_from,
            ..options
        };
        let (wal, records) =
            Wal::open_with_options(file, path.display().to_string(), options).await?;
        assert!(records.is_empty(), "a new log file holds records");
        return Ok(WalDir {
            wal,
            records: Vec::new(),
        });
    }
    if files[0] > replay_from {
        return Err(WalError::Missing {
            path: dir.join(wal_file_name(files[0])).display().to_string(),
            expected: files[0] - 1,
            found: replay_from - 1,
        });
    }

    let mut records = Vec::new();
    let keep = |records: &mut Vec<(Lsn, Vec<u8>)>, first: Lsn, payloads: Vec<Vec<u8>>| {
        for (i, p) in payloads.into_iter().enumerate() {
            let lsn = first + i as Lsn;
            if lsn >= replay_from {
                records.push((lsn, p));
            }
        }
    };
    let (last, earlier) = files.split_last().expect("not empty");
    for (i, &first) in earlier.iter().enumerate() {
        let next = files[i + 1];
        let path = dir.join(wal_file_name(first));
        let file = storage.open(&path).await.map_err(io(&path))?;
        let replay = recovery::replay(&file, first).await.map_err(io(&path))?;
        // The next file was created only after this one was durable up to its end.
        if replay.last_lsn != next - 1 {
            return Err(WalError::Missing {
                path: path.display().to_string(),
                expected: next - 1,
                found: replay.last_lsn,
            });
        }
        keep(&mut records, first, replay.payloads);
        file.close().await.map_err(io(&path))?;
    }
    let path = dir.join(wal_file_name(*last));
    let file = storage.open(&path).await.map_err(io(&path))?;
    let options = WalOptions {
        first_lsn: *last,
        ..options
    };
    let (wal, payloads) = Wal::open_with_options(file, path.display().to_string(), options).await?;
    // A segment claims everything up to `replay_from - 1`; the log must reach that far, or new
    // records would reuse LSNs recovery skips.
    if wal.last_lsn() + 1 < replay_from {
        return Err(WalError::Missing {
            path: path.display().to_string(),
            expected: replay_from - 1,
            found: wal.last_lsn(),
        });
    }
    keep(&mut records, *last, payloads);
    Ok(WalDir { wal, records })
}
