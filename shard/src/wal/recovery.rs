//! Replaying the log at open: read records in order until the first one that is not intact,
//! then decide whether that point is a torn tail (drop it) or corruption in the middle.

use vexfs_io::File;

use super::format::{verify, Header, WAL_HEADER_BYTES, WAL_RECOVERY_READ_BYTES};
use super::Lsn;

/// What recovery found.
#[derive(Debug)]
pub(crate) struct Replay {
    pub payloads: Vec<Vec<u8>>,
    /// LSN of the last intact record; `first_lsn - 1` when there is none.
    pub last_lsn: Lsn,
    /// Byte offset just past the last intact record: where the log continues.
    pub end: u64,
    /// Why reading stopped at `end` (for messages).
    pub stop_reason: String,
    pub file_size: u64,
    /// Offset of an intact flush-start record after `end` that proves `end` is corruption, not a
    /// torn tail.
    pub later_flush_start: Option<u64>,
    /// Some byte at or after `end` is not zero (a torn tail or corruption to clear away).
    pub dirty_after_end: bool,
}

/// Sequential reader over the file that keeps a window of recently read bytes.
struct SeqReader<'a, F: File> {
    file: &'a F,
    size: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'a, F: File> SeqReader<'a, F> {
    /// Bytes `[pos, pos + len)`, or `None` when the file ends first. `pos` never moves back
    /// before an earlier call's `pos`.
    async fn bytes(&mut self, pos: u64, len: usize) -> vexfs_io::Result<Option<&[u8]>> {
        let end = pos + len as u64;
        if end > self.size {
            return Ok(None);
        }
        assert!(pos >= self.buf_start, "SeqReader moved backwards");
        if end > self.buf_start + self.buf.len() as u64 {
            let consumed = ((pos - self.buf_start) as usize).min(self.buf.len());
            self.buf.drain(..consumed);
            self.buf_start += consumed as u64;
            while self.buf_start + (self.buf.len() as u64) < end {
                let at = self.buf_start + self.buf.len() as u64;
                let want = ((end - at) as usize).max(WAL_RECOVERY_READ_BYTES);
                let chunk = self.file.read_at(at, want).await?;
                if chunk.is_empty() {
                    return Ok(None); // the file is shorter than it said
                }
                self.buf.extend_from_slice(&chunk);
            }
        }
        let off = (pos - self.buf_start) as usize;
        Ok(Some(&self.buf[off..off + len]))
    }
}

/// Reads every intact record from the start of the file, whose first record must carry
/// `first_lsn`.
pub(crate) async fn replay<F: File>(file: &F, first_lsn: Lsn) -> vexfs_io::Result<Replay> {
    let size = file.size().await?;
    let mut reader = SeqReader {
        file,
        size,
        buf: Vec::new(),
        buf_start: 0,
    };
    let mut payloads = Vec::new();
    let mut last_lsn: Lsn = first_lsn - 1;
    let mut pos = 0u64;
    let stop_reason = loop {
        let Some(raw) = reader.bytes(pos, WAL_HEADER_BYTES).await? else {
            break if pos == size {
                "end of file".to_string()
            } else {
                "header cut off by the end of the file".to_string()
            };
        };
        let h = Header::parse(raw);
        if h.is_end() {
            break "end-of-log marker".to_string();
        }
        if !h.plausible() {
            break format!(
                "implausible header (length {}, lsn {})",
                h.payload_len(),
                h.lsn
            );
        }
        if h.lsn != last_lsn + 1 {
            break format!("lsn {} does not follow lsn {last_lsn}", h.lsn);
        }
        let Some(record) = reader.bytes(pos, h.record_len()).await? else {
            break format!(
                "record of {} bytes cut off by the end of the file",
                h.record_len()
            );
        };
        if !verify(&h, record) {
            break format!("checksum mismatch in record lsn {}", h.lsn);
        }
        payloads.push(record[WAL_HEADER_BYTES..].to_vec());
        last_lsn = h.lsn;
        pos += h.record_len() as u64;
    };
    let (later_flush_start, dirty_after_end) = scan_after(file, size, pos, last_lsn).await?;
    Ok(Replay {
        payloads,
        last_lsn,
        end: pos,
        stop_reason,
        file_size: size,
        later_flush_start,
        dirty_after_end,
    })
}

/// Scans every byte offset from `from` on for an intact flush-start record with an LSN above
/// `last_lsn`. Also reports whether the region holds any non-zero byte. Records sit at arbitrary
/// offsets, so after a damaged one there is no way to know where the next begins but to try
/// them all; zero chunks (the common case: preallocated space) are skipped wholesale.
async fn scan_after<F: File>(
    file: &F,
    size: u64,
    from: u64,
    last_lsn: Lsn,
) -> vexfs_io::Result<(Option<u64>, bool)> {
    let mut dirty = false;
    let mut at = from;
    while at + WAL_HEADER_BYTES as u64 <= size {
        // Overlap chunks by a header minus one byte so no candidate offset is missed.
        let chunk = file
            .read_at(at, WAL_RECOVERY_READ_BYTES + WAL_HEADER_BYTES - 1)
            .await?;
        if chunk.len() < WAL_HEADER_BYTES {
            dirty |= chunk.iter().any(|b| *b != 0);
            break;
        }
        let candidates = chunk.len() - (WAL_HEADER_BYTES - 1);
        if chunk.iter().all(|b| *b == 0) {
            at += candidates as u64;
            continue;
        }
        dirty = true;
        for i in 0..candidates {
            let h = Header::parse(&chunk[i..]);
            if !h.flush_start() || !h.plausible() || h.lsn <= last_lsn {
                continue;
            }
            let offset = at + i as u64;
            if offset + h.record_len() as u64 > size {
                continue;
            }
            let intact = if i + h.record_len() <= chunk.len() {
                verify(&h, &chunk[i..i + h.record_len()])
            } else {
                verify(&h, &file.read_at(offset, h.record_len()).await?)
            };
            if intact {
                return Ok((Some(offset), true));
            }
        }
        at += candidates as u64;
    }
    // The last few bytes (shorter than a header) were not covered by a chunk when `at` stopped
    // early; they cannot hold a record but do count as dirt.
    if at < size {
        let rest = file.read_at(at, (size - at) as usize).await?;
        dirty |= rest.iter().any(|b| *b != 0);
    }
    Ok((None, dirty))
}
