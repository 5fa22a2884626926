//! Per-shard write-ahead log with group commit.
//!
//! Records are buffered in memory by [`Wal::append`] and made durable by [`Wal::sync_to`]: one
//! caller at a time (the leader) writes every pending record and issues a single fdatasync;
//! callers arriving meanwhile wait for that flush and, if their record was not in it, lead the
//! next one, so concurrent writers share syncs.
//!
//! The file is opened O_DIRECT, so it is written only in whole aligned blocks: the partly filled
//! last block stays in memory and is rewritten, from its aligned start and padded with zeros, by
//! the next flush. The file grows in preallocated, zero-extended steps so that the size rarely
//! changes at fdatasync time; the end of the log is the first all-zero header. See
//! [`format`] for the record layout and [`recovery`] for what happens at open.
//!
//! A log is a sequence of files (see [`files`]): [`Wal::begin_rotation`] fixes a boundary LSN,
//! records up to it are flushed to the current file, and [`Wal::finish_rotation`] switches to a
//! new empty file for every later record, so whole old files can be deleted once a segment
//! holds their records.
//!
//! Runtime-agnostic: it needs only a [`vexfs_io::File`] and runs on one thread through `&self`.
//! A flush whose future is dropped while its I/O is in flight leaves the file in an unknown state
//! and fails the log; callers that can be cancelled should run `sync_to` in a task of their own.

mod files;
mod format;
mod recovery;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_crash;
#[cfg(test)]
mod tests_rotate;
mod types;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use event_listener::Event;
use vexfs_io::File;

pub use files::{
    open_dir, parse_wal_file_name, remove_files_before, wal_file_name, WalDir, LEGACY_WAL_FILE_NAME,
};
pub use format::{
    WAL_HEADER_BYTES, WAL_PREALLOCATE_BYTES, WAL_RECORD_MAX_BYTES, WAL_RECOVERY_READ_BYTES,
};
pub use types::{RecoveryPolicy, WalError, WalOptions, WalStats};

/// Log sequence number: 1 for the first record ever appended, then consecutive.
pub type Lsn = u64;

struct State {
    /// Encoded records not yet durable; the first one has lsn `durable_lsn + 1`.
    pending: Vec<u8>,
    /// Durable bytes of the partly filled last block, rewritten by the next flush.
    tail: Vec<u8>,
    /// Aligned file offset where `tail` starts.
    tail_offset: u64,
    /// File size: everything below it is preallocated.
    allocated_end: u64,
    flushing: bool,
    /// Set by the first write or sync error; the log is dead from then on.
    failed: Option<String>,
    /// A switch to a new file requested by [`Wal::begin_rotation`] and not yet finished.
    rotation: Option<Rotation>,
    stats: WalStats,
}

/// Records up to `boundary` stay in the current file; later ones wait for the next file.
struct Rotation {
    boundary: Lsn,
    /// Bytes at the front of `pending` holding the records up to `boundary` not yet durable.
    split_bytes: usize,
}

pub struct Wal<F: File> {
    /// The file records are appended to; replaced by a rotation. Flushes hold a clone of the
    /// `Rc` across their I/O instead of a borrow.
    file: RefCell<Rc<F>>,
    path: RefCell<String>,
    alignment: u64,
    preallocate_bytes: u64,
    state: RefCell<State>,
    durable_lsn: Cell<Lsn>,
    last_lsn: Cell<Lsn>,
    /// LSN of the current file's first record (of the next one, while the file is empty).
    file_first_lsn: Cell<Lsn>,
    /// Notified whenever a flush ends, successfully or not.
    flush_done: Event,
}

fn align_down(v: u64, align: u64) -> u64 {
    v / align * align
}

fn align_up(v: u64, align: u64) -> u64 {
    v.div_ceil(align) * align
}

impl<F: File> Wal<F> {
    /// Opens and replays: returns the WAL plus every intact record's payload in order.
    pub async fn open(
        file: F,
        path_for_errors: String,
        policy: RecoveryPolicy,
    ) -> Result<(Self, Vec<Vec<u8>>), WalError> {
        let options = WalOptions {
            policy,
            ..WalOptions::default()
        };
        Self::open_with_options(file, path_for_errors, options).await
    }

    /// [`Wal::open`] with explicit tunables.
    pub async fn open_with_options(
        file: F,
        path: String,
        options: WalOptions,
    ) -> Result<(Self, Vec<Vec<u8>>), WalError> {
        let alignment = file.alignment();
        assert!(
            alignment.is_power_of_two(),
            "file alignment {alignment} is not a power of two"
        );
        assert!(
            options.preallocate_bytes > 0 && options.preallocate_bytes.is_multiple_of(alignment),
            "preallocation step {} is not a positive multiple of the alignment {alignment}",
            options.preallocate_bytes
        );
        let io = |source| WalError::Io {
            path: path.clone(),
            source,
        };
        assert!(options.first_lsn >= 1, "LSNs start at 1");
        let replay = recovery::replay(&file, options.first_lsn)
            .await
            .map_err(io)?;
        if let Some(later_offset) = replay.later_flush_start {
            let expected_lsn = replay.last_lsn + 1;
            match options.policy {
                RecoveryPolicy::Strict => {
                    return Err(WalError::Corrupt {
                        path,
                        offset: replay.end,
                        expected_lsn,
                        later_offset,
                        reason: replay.stop_reason,
                    })
                }
                RecoveryPolicy::TruncateCorrupt => tracing::warn!(
                    wal = %path,
                    offset = replay.end,
                    expected_lsn,
                    later_offset,
                    reason = %replay.stop_reason,
                    "WAL corrupt in the middle; truncating it and losing every later record"
                ),
            }
        }

        let end = replay.end;
        let tail_offset = align_down(end, alignment);
        let tail = file
            .read_at(tail_offset, (end - tail_offset) as usize)
            .await
            .map_err(io)?;
        assert_eq!(
            tail.len() as u64,
            end - tail_offset,
            "tail shorter than replayed"
        );
        let mut allocated_end = replay.file_size;
        if replay.dirty_after_end {
            // Clear the torn tail (or the cut-off rest) so no stale record can later be taken
            // for a durable one: rewrite the last block zero-padded and drop whole blocks after.
            if end > tail_offset {
                let mut block = tail.clone();
                block.resize(alignment as usize, 0);
                file.write_at(tail_offset, &block).await.map_err(io)?;
            }
            allocated_end = align_up(end, alignment);
            file.truncate(allocated_end).await.map_err(io)?;
        }
        // Whatever was recovered may still sit only in the page cache (a process crash, not
        // power loss); make it durable before new records are built on top of it.
        file.sync_data().await.map_err(io)?;

        let wal = Wal {
            file: RefCell::new(Rc::new(file)),
            path: RefCell::new(path),
            alignment,
            preallocate_bytes: options.preallocate_bytes,
            state: RefCell::new(State {
                pending: Vec::new(),
                tail,
                tail_offset,
                allocated_end,
                flushing: false,
                failed: None,
                rotation: None,
                stats: WalStats::default(),
            }),
            durable_lsn: Cell::new(replay.last_lsn),
            last_lsn: Cell::new(replay.last_lsn),
            file_first_lsn: Cell::new(options.first_lsn),
            flush_done: Event::new(),
        };
        Ok((wal, replay.payloads))
    }

    /// Buffers one record in memory (no I/O); returns its LSN. Fails once the WAL has failed.
    pub fn append(&self, payload: &[u8]) -> Result<Lsn, WalError> {
        if payload.len() > WAL_RECORD_MAX_BYTES {
            return Err(WalError::RecordTooLarge {
                len: payload.len(),
                max: WAL_RECORD_MAX_BYTES,
            });
        }
        let mut state = self.state.borrow_mut();
        if let Some(cause) = &state.failed {
            return Err(self.failed(cause));
        }
        let lsn = self.last_lsn.get() + 1;
        format::encode(&mut state.pending, lsn, payload);
        self.last_lsn.set(lsn);
        Ok(lsn)
    }

    /// Group commit: resolves when every record up to `lsn` is durable. If a flush is running,
    /// waits for it; then one caller writes all pending records and issues one fdatasync for all
    /// of them, and concurrent callers share that flush.
    pub async fn sync_to(&self, lsn: Lsn) -> Result<(), WalError> {
        loop {
            let listener = {
                let state = self.state.borrow();
                if let Some(cause) = &state.failed {
                    return Err(self.failed(cause));
                }
                if lsn <= self.durable_lsn.get() {
                    return Ok(());
                }
                if lsn > self.last_lsn.get() {
                    return Err(WalError::NotAppended {
                        path: self.path(),
                        lsn,
                        last: self.last_lsn.get(),
                    });
                }
                // Records past a rotation boundary wait for the next file to be installed.
                let awaiting_file = state
                    .rotation
                    .as_ref()
                    .is_some_and(|r| r.boundary == self.durable_lsn.get());
                // Registered before the borrow ends: the flush (or the rotation) cannot finish
                // in between, since everything runs on this thread.
                (state.flushing || awaiting_file).then(|| self.flush_done.listen())
            };
            match listener {
                Some(listener) => listener.await,
                None => self.flush().await?,
            }
        }
    }

    /// LSN up to which every record is durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.durable_lsn.get()
    }

    /// LSN of the last appended record (0 when none).
    pub fn last_lsn(&self) -> Lsn {
        self.last_lsn.get()
    }

    pub fn stats(&self) -> WalStats {
        self.state.borrow().stats
    }

    /// LSN of the current file's first record; `last_lsn() + 1` while the file is empty.
    pub fn file_first_lsn(&self) -> Lsn {
        self.file_first_lsn.get()
    }

    /// `(durable_lsn, end)`: every record up to `durable_lsn` is durable and the current file's
    /// records up to it end at byte `end`. The bytes below `end` never change again (a later
    /// flush rewrites the last block with the same prefix), so a copy of them taken while
    /// writes go on is a valid log. `None` while a rotation is pending: the durable records may
    /// then end in the previous file.
    pub fn durable_end(&self) -> Option<(Lsn, u64)> {
        let state = self.state.borrow();
        if state.rotation.is_some() {
            return None;
        }
        Some((
            self.durable_lsn.get(),
            state.tail_offset + state.tail.len() as u64,
        ))
    }

    /// Alignment of the log file's writes, in bytes.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Path of the current file (for messages).
    pub fn path(&self) -> String {
        self.path.borrow().clone()
    }

    /// Closes the file. Records not yet synced are dropped.
    pub async fn close(self) -> Result<(), WalError> {
        let path = self.path.into_inner();
        match Rc::try_unwrap(self.file.into_inner()) {
            Ok(file) => file
                .close()
                .await
                .map_err(|source| WalError::Io { path, source }),
            // Only a cancelled flush can still hold the file; dropping it closes it.
            Err(_) => Ok(()),
        }
    }

    fn failed(&self, cause: &str) -> WalError {
        WalError::Failed {
            path: self.path(),
            cause: cause.to_string(),
        }
    }

    /// Fails the log for good, e.g. when a step outside it that its durability depends on (a
    /// segment flush, a rotation) hit an I/O error. Wakes every waiter.
    pub fn fail(&self, cause: &str) {
        let mut state = self.state.borrow_mut();
        if state.failed.is_none() {
            state.failed = Some(cause.to_string());
        }
        drop(state);
        self.flush_done.notify(usize::MAX);
    }

    /// Error if the log has failed.
    pub fn check(&self) -> Result<(), WalError> {
        match &self.state.borrow().failed {
            Some(cause) => Err(self.failed(cause)),
            None => Ok(()),
        }
    }

    /// Starts a switch to a new file: every record appended so far (up to the returned
    /// boundary LSN) stays in the current file, every later record goes to the file given to
    /// [`Wal::finish_rotation`]. Later records can be appended meanwhile, but none of them
    /// becomes durable before the switch. Synchronous, so the caller can pair the boundary
    /// with a snapshot of its own state taken at the same instant.
    pub fn begin_rotation(&self) -> Result<Lsn, WalError> {
        let mut state = self.state.borrow_mut();
        if let Some(cause) = &state.failed {
            return Err(self.failed(cause));
        }
        assert!(state.rotation.is_none(), "two WAL rotations at once");
        let boundary = self.last_lsn.get();
        state.rotation = Some(Rotation {
            boundary,
            split_bytes: state.pending.len(),
        });
        Ok(boundary)
    }

    /// Switches to `file` (new and empty, its name already durable), whose first record will
    /// be the boundary + 1. Requires `sync_to(boundary)` to have returned, so the old file holds
    /// exactly the records up to the boundary, all durable. Returns the old file to close.
    pub fn finish_rotation(&self, file: F, path: String) -> Result<Option<F>, WalError> {
        let mut state = self.state.borrow_mut();
        if let Some(cause) = &state.failed {
            return Err(self.failed(cause));
        }
        let Some(rotation) = state.rotation.take() else {
            panic!("finish_rotation without begin_rotation");
        };
        assert_eq!(
            rotation.boundary,
            self.durable_lsn.get(),
            "finish_rotation before the records up to the boundary were durable"
        );
        // Nothing past the boundary can have been flushed, so no flush is running.
        assert!(!state.flushing, "rotation during a flush");
        state.tail.clear();
        state.tail_offset = 0;
        state.allocated_end = 0;
        let old = self.file.replace(Rc::new(file));
        self.file_first_lsn.set(rotation.boundary + 1);
        *self.path.borrow_mut() = path;
        drop(state);
        self.flush_done.notify(usize::MAX);
        Ok(Rc::try_unwrap(old).ok())
    }

    /// Writes every pending record and fdatasyncs once. Only one runs at a time.
    async fn flush(&self) -> Result<(), WalError> {
        let (buf, data_len, offset, flushed_bytes, upto) = {
            let mut state = self.state.borrow_mut();
            assert!(!state.flushing, "two WAL flushes at once");
            // sync_to only flushes when durable_lsn < lsn <= last_lsn, so records are pending;
            // returning here instead would make sync_to spin forever.
            assert!(!state.pending.is_empty(), "WAL flush with nothing pending");
            // Before a pending rotation only the records up to its boundary may be written, and
            // they go to the old file.
            let (take, upto) = match &state.rotation {
                Some(r) => {
                    assert!(
                        r.split_bytes > 0 && self.durable_lsn.get() < r.boundary,
                        "WAL flush past a rotation boundary before the switch"
                    );
                    (r.split_bytes, r.boundary)
                }
                None => (state.pending.len(), self.last_lsn.get()),
            };
            state.flushing = true;
            // Idempotent, so a flush retried after a cancelled one may re-mark the same record.
            format::mark_flush_start(&mut state.pending);
            let data_len = state.tail.len() + take;
            let mut buf = Vec::with_capacity(align_up(data_len as u64, self.alignment) as usize);
            buf.extend_from_slice(&state.tail);
            buf.extend_from_slice(&state.pending[..take]);
            buf.resize(align_up(data_len as u64, self.alignment) as usize, 0);
            let offset = state.tail_offset;
            (buf, data_len, offset, take, upto)
        };
        let file = self.file.borrow().clone();

        let mut guard = FlushGuard {
            wal: self,
            armed: true,
        };
        let result = self.write_and_sync(&file, offset, &buf).await;
        guard.armed = false;

        let mut state = self.state.borrow_mut();
        state.flushing = false;
        match result {
            Ok(()) => {
                state.pending.drain(..flushed_bytes);
                if let Some(r) = &mut state.rotation {
                    // A flush that started before the rotation request wrote a prefix of the
                    // records that belong to the old file.
                    r.split_bytes -= flushed_bytes;
                }
                let end = offset + data_len as u64;
                let tail_offset = align_down(end, self.alignment);
                state.tail = buf[(tail_offset - offset) as usize..data_len].to_vec();
                state.tail_offset = tail_offset;
                state.stats.flushes += 1;
                state.stats.records_flushed += upto - self.durable_lsn.get();
                state.stats.bytes_written += buf.len() as u64;
                self.durable_lsn.set(upto);
                drop(state);
                self.flush_done.notify(usize::MAX);
                Ok(())
            }
            Err(source) => {
                // Never retry: after a failed write or fdatasync the kernel may have dropped the
                // dirty data, so a later "successful" sync would prove nothing.
                state.failed = Some(source.to_string());
                drop(state);
                self.flush_done.notify(usize::MAX);
                Err(WalError::Io {
                    path: self.path(),
                    source,
                })
            }
        }
    }

    async fn write_and_sync(&self, file: &F, offset: u64, buf: &[u8]) -> vexfs_io::Result<()> {
        let end = offset + buf.len() as u64;
        let allocated_end = self.state.borrow().allocated_end;
        if end > allocated_end {
            let new_end = align_up(end, self.preallocate_bytes);
            file.preallocate(new_end).await?;
            // Extend the visible size too, so appends inside it do not change the size that
            // fdatasync must persist; zeros read as the end-of-log marker.
            file.truncate(new_end).await?;
            self.state.borrow_mut().allocated_end = new_end;
        }
        file.write_at(offset, buf).await?;
        file.sync_data().await
    }
}

/// Fails the log when a flush's future is dropped mid-I/O: a write still in flight could land
/// after a later flush's write of the same block and undo it.
struct FlushGuard<'a, F: File> {
    wal: &'a Wal<F>,
    armed: bool,
}

impl<F: File> Drop for FlushGuard<'_, F> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = self.wal.state.borrow_mut();
            state.flushing = false;
            state.failed = Some("a flush was cancelled while its I/O was in flight".into());
            drop(state);
            self.wal.flush_done.notify(usize::MAX);
        }
    }
}
