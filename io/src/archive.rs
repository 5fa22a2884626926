//! Tar archives (POSIX ustar, regular files only) written and read through a [`File`], so that
//! snapshots stream through the same O_DIRECT path as everything else and any `tar` tool can
//! list or unpack them.
//!
//! Writing buffers up to [`ARCHIVE_IO_CHUNK_BYTES`] and writes whole aligned blocks; the last
//! partial block is padded for the write and the file is then cut to its exact length. The
//! SHA-256 of every byte written is computed on the way, so a snapshot's checksum costs no
//! second read. Reading checks every header's checksum, magic and type, and refuses entry
//! names that could leave the directory they are unpacked into.

use crate::checksum::Sha256Hex;
use crate::File;

/// Tar's unit: headers and padding are whole blocks.
pub const ARCHIVE_BLOCK_BYTES: usize = 512;
/// Bytes buffered before a write, and read per request when copying.
pub const ARCHIVE_IO_CHUNK_BYTES: usize = 1 << 20;
/// Longest entry name: ustar's 100-byte name field (the 155-byte prefix field is not used).
pub const ARCHIVE_NAME_MAX_BYTES: usize = 100;
/// Largest entry: what ustar's 11 octal digits of size can express (8 GiB - 1).
pub const ARCHIVE_ENTRY_MAX_BYTES: u64 = (1 << 33) - 1;

const USTAR_MAGIC: &[u8; 6] = b"ustar\0";
const TYPE_REGULAR: u8 = b'0';
const TYPE_REGULAR_OLD: u8 = 0;
const TYPE_DIRECTORY: u8 = b'5';

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The bytes are not an archive this module wrote (or a plain ustar one): the caller's input
    /// is wrong, not the disk.
    #[error("{0}")]
    Format(String),
    #[error(transparent)]
    Io(#[from] crate::Error),
}

type Result<T> = std::result::Result<T, ArchiveError>;

fn format_err(msg: impl Into<String>) -> ArchiveError {
    ArchiveError::Format(msg.into())
}

/// What [`ArchiveWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSummary {
    pub size: u64,
    /// SHA-256 of the whole archive, lowercase hex.
    pub sha256: String,
}

/// Writes an archive into `file` (new or to be overwritten from offset 0).
pub struct ArchiveWriter<F: File> {
    file: F,
    /// Bytes not yet written; they start at file offset `flushed`.
    buf: Vec<u8>,
    flushed: u64,
    hash: Sha256Hex,
    mtime_secs: u64,
}

impl<F: File> ArchiveWriter<F> {
    /// Entries get `mtime_secs` (Unix time) as modification time.
    pub fn new(file: F, mtime_secs: u64) -> Self {
        ArchiveWriter {
            file,
            buf: Vec::with_capacity(ARCHIVE_IO_CHUNK_BYTES + ARCHIVE_BLOCK_BYTES),
            flushed: 0,
            hash: Sha256Hex::new(),
            mtime_secs,
        }
    }

    /// Adds an entry holding `data`.
    pub async fn add_bytes(&mut self, name: &str, data: &[u8]) -> Result<()> {
        self.push(&header(name, data.len() as u64, self.mtime_secs)?)
            .await?;
        self.push(data).await?;
        self.pad_block(data.len() as u64).await
    }

    /// Adds an entry of `size` bytes: the first `copy` bytes of `src`, then zeros. The zeros
    /// let a caller take a prefix of a file that is still growing and round it up (a log cut
    /// at a record boundary, padded to its block size).
    pub async fn add_file<G: File>(
        &mut self,
        name: &str,
        src: &G,
        copy: u64,
        size: u64,
    ) -> Result<()> {
        assert!(copy <= size, "entry {name}: copy {copy} > size {size}");
        self.push(&header(name, size, self.mtime_secs)?).await?;
        let mut pos = 0u64;
        while pos < copy {
            let want = (copy - pos).min(ARCHIVE_IO_CHUNK_BYTES as u64) as usize;
            let chunk = src.read_at(pos, want).await?;
            if chunk.is_empty() {
                return Err(ArchiveError::Io(crate::Error::Invalid(format!(
                    "entry {name}: source ended at {pos} bytes, {copy} expected"
                ))));
            }
            self.push(&chunk).await?;
            pos += chunk.len() as u64;
        }
        let mut zeros = size - copy;
        while zeros > 0 {
            let n = zeros.min(ARCHIVE_IO_CHUNK_BYTES as u64) as usize;
            self.push(&vec![0; n]).await?;
            zeros -= n as u64;
        }
        self.pad_block(size).await
    }

    /// Ends the archive (two zero blocks), writes what is buffered, cuts the file to its exact
    /// length, makes it durable and closes it.
    pub async fn finish(mut self) -> Result<ArchiveSummary> {
        self.push(&[0; 2 * ARCHIVE_BLOCK_BYTES]).await?;
        let size = self.flushed + self.buf.len() as u64;
        let align = self.file.alignment() as usize;
        let padded = self.buf.len().div_ceil(align) * align;
        self.buf.resize(padded, 0);
        self.file.write_at(self.flushed, &self.buf).await?;
        self.file.truncate(size).await?;
        self.file.sync_data().await?;
        self.file.close().await?;
        Ok(ArchiveSummary {
            size,
            sha256: self.hash.finish(),
        })
    }

    async fn push(&mut self, bytes: &[u8]) -> Result<()> {
        self.hash.update(bytes);
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= ARCHIVE_IO_CHUNK_BYTES {
            let align = self.file.alignment() as usize;
            let n = self.buf.len() / align * align;
            self.file.write_at(self.flushed, &self.buf[..n]).await?;
            self.flushed += n as u64;
            self.buf.drain(..n);
        }
        Ok(())
    }

    /// Zeros up to the next block after an entry of `len` bytes.
    async fn pad_block(&mut self, len: u64) -> Result<()> {
        let rem = (len % ARCHIVE_BLOCK_BYTES as u64) as usize;
        if rem > 0 {
            self.push(&[0; ARCHIVE_BLOCK_BYTES][rem..]).await?;
        }
        Ok(())
    }
}

/// One entry found by [`ArchiveReader::next_entry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    /// Relative path with `/` separators, checked to stay inside its directory.
    pub name: String,
    pub size: u64,
    data_at: u64,
}

/// Reads the entries of an archive file in order.
pub struct ArchiveReader<'a, F: File> {
    file: &'a F,
    len: u64,
    next: u64,
    ended: bool,
}

impl<'a, F: File> ArchiveReader<'a, F> {
    pub async fn new(file: &'a F) -> Result<Self> {
        let len = file.size().await?;
        Ok(ArchiveReader {
            file,
            len,
            next: 0,
            ended: false,
        })
    }

    /// The next regular-file entry; `None` at the end marker. Directory entries are skipped
    /// (unpacking creates directories as needed); any other type is refused.
    pub async fn next_entry(&mut self) -> Result<Option<ArchiveEntry>> {
        loop {
            if self.ended {
                return Ok(None);
            }
            if self.next + ARCHIVE_BLOCK_BYTES as u64 > self.len {
                return Err(format_err(format!(
                    "archive truncated: no end marker before byte {}",
                    self.len
                )));
            }
            let block = self.file.read_at(self.next, ARCHIVE_BLOCK_BYTES).await?;
            if block.len() != ARCHIVE_BLOCK_BYTES {
                return Err(format_err("archive truncated inside a header"));
            }
            if block.iter().all(|&b| b == 0) {
                self.ended = true;
                return Ok(None);
            }
            let at = self.next;
            let (name, size, kind) = parse_header(&block)
                .map_err(|e| format_err(format!("archive header at byte {at}: {e}")))?;
            let data_at = at + ARCHIVE_BLOCK_BYTES as u64;
            let padded = size.div_ceil(ARCHIVE_BLOCK_BYTES as u64) * ARCHIVE_BLOCK_BYTES as u64;
            if data_at + padded > self.len {
                return Err(format_err(format!(
                    "archive truncated: entry {name} needs {size} bytes past byte {data_at}"
                )));
            }
            self.next = data_at + padded;
            if kind == TYPE_DIRECTORY {
                continue;
            }
            return Ok(Some(ArchiveEntry {
                name,
                size,
                data_at,
            }));
        }
    }

    /// The contents of a (small) entry; refused when larger than `max_bytes`.
    pub async fn read_entry(&self, entry: &ArchiveEntry, max_bytes: usize) -> Result<Vec<u8>> {
        if entry.size > max_bytes as u64 {
            return Err(format_err(format!(
                "entry {} is {} bytes, at most {max_bytes} expected",
                entry.name, entry.size
            )));
        }
        let data = self
            .file
            .read_at(entry.data_at, entry.size as usize)
            .await?;
        if data.len() as u64 != entry.size {
            return Err(format_err(format!("entry {} is truncated", entry.name)));
        }
        Ok(data)
    }

    /// Copies an entry into `dst` (new or to be overwritten), cuts it to length and makes it
    /// durable (not its name: the caller syncs the directory).
    pub async fn extract_entry<G: File>(&self, entry: &ArchiveEntry, dst: &G) -> Result<()> {
        copy_range(self.file, entry.data_at, entry.size, entry.size, dst)
            .await
            .map_err(|e| match e {
                ArchiveError::Format(_) => format_err(format!("entry {} is truncated", entry.name)),
                e => e,
            })
    }
}

/// Copies the first `copy` bytes of `src` into `dst` (new or to be overwritten), then zeros up
/// to `size` bytes, and makes `dst` durable (not its name: the caller syncs the directory).
pub async fn copy_file<F: File, G: File>(src: &F, dst: &G, copy: u64, size: u64) -> Result<()> {
    copy_range(src, 0, copy, size, dst).await
}

async fn copy_range<F: File, G: File>(
    src: &F,
    from: u64,
    copy: u64,
    size: u64,
    dst: &G,
) -> Result<()> {
    assert!(copy <= size, "copy {copy} > size {size}");
    let align = dst.alignment() as usize;
    let mut pos = 0u64;
    while pos < size {
        let want = (size - pos).min(ARCHIVE_IO_CHUNK_BYTES as u64) as usize;
        let from_src = copy.saturating_sub(pos).min(want as u64) as usize;
        let mut chunk = if from_src > 0 {
            src.read_at(from + pos, from_src).await?
        } else {
            Vec::new()
        };
        if chunk.len() != from_src {
            return Err(format_err(format!(
                "source ended before byte {}",
                from + pos + from_src as u64
            )));
        }
        // Chunks are multiples of the alignment except the last, which is padded here and cut
        // off by the truncate below.
        chunk.resize(want.div_ceil(align) * align, 0);
        dst.write_at(pos, &chunk).await?;
        pos += want as u64;
    }
    dst.truncate(size).await?;
    dst.sync_data().await?;
    Ok(())
}

/// A ustar header for a regular file.
fn header(name: &str, size: u64, mtime_secs: u64) -> Result<[u8; ARCHIVE_BLOCK_BYTES]> {
    check_name(name).map_err(|e| format_err(format!("entry name {name:?}: {e}")))?;
    if size > ARCHIVE_ENTRY_MAX_BYTES {
        return Err(format_err(format!(
            "entry {name} is {size} bytes, more than the {ARCHIVE_ENTRY_MAX_BYTES} a tar header holds"
        )));
    }
    let mut h = [0u8; ARCHIVE_BLOCK_BYTES];
    h[..name.len()].copy_from_slice(name.as_bytes());
    put_octal(&mut h[100..108], 0o644);
    put_octal(&mut h[108..116], 0);
    put_octal(&mut h[116..124], 0);
    put_octal(&mut h[124..136], size);
    put_octal(&mut h[136..148], mtime_secs.min(ARCHIVE_ENTRY_MAX_BYTES));
    h[156] = TYPE_REGULAR;
    h[257..263].copy_from_slice(USTAR_MAGIC);
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put_octal(&mut h[148..155], u64::from(sum));
    h[155] = b' ';
    Ok(h)
}

/// Writes `value` as zero-padded octal digits followed by a NUL, filling `field`.
fn put_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c| c == ' ' || c == '\0');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

fn parse_header(h: &[u8]) -> std::result::Result<(String, u64, u8), String> {
    if &h[257..262] != b"ustar" {
        return Err("not a ustar header".into());
    }
    let stored = parse_octal(&h[148..156]).ok_or("unreadable checksum")?;
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| u64::from(if (148..156).contains(&i) { b' ' } else { b }))
        .sum();
    if stored != sum {
        return Err(format!("checksum {stored} does not match {sum}"));
    }
    let kind = h[156];
    if !matches!(kind, TYPE_REGULAR | TYPE_REGULAR_OLD | TYPE_DIRECTORY) {
        return Err(format!(
            "entry type {:?} is not a regular file",
            kind as char
        ));
    }
    let field = |r: std::ops::Range<usize>| {
        let f = &h[r];
        let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
        std::str::from_utf8(&f[..end])
            .map(str::to_owned)
            .map_err(|_| "entry name is not UTF-8".to_owned())
    };
    let (prefix, name) = (field(345..500)?, field(0..100)?);
    let mut full = if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    };
    if kind == TYPE_DIRECTORY {
        if let Some(stripped) = full.strip_suffix('/') {
            full = stripped.to_owned();
        }
    }
    check_name(&full).map_err(|e| format!("entry name {full:?}: {e}"))?;
    let size = parse_octal(&h[124..136]).ok_or("unreadable size")?;
    Ok((full, size, kind))
}

/// Relative, `/`-separated, no empty, `.` or `..` components, no NUL, fits the name field.
fn check_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() || name.len() > ARCHIVE_NAME_MAX_BYTES {
        return Err("must be 1 to 100 bytes long");
    }
    if name.contains('\0') || name.contains('\\') {
        return Err("contains NUL or a backslash");
    }
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err("must be a relative path without empty, . or .. parts");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::mem::MemStorage;
    use crate::Storage;

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        futures_lite::future::block_on(f)
    }

    #[test]
    fn round_trip_with_prefix_copy() {
        run(async {
            let fs = MemStorage::new(1);
            let src = fs.open(Path::new("/src")).await.unwrap();
            let mut data = vec![7u8; 3 * 512];
            data.extend_from_slice(b"tail that is not copied");
            let padded = data.len().div_ceil(512) * 512;
            data.resize(padded, 9);
            src.write_at(0, &data).await.unwrap();
            let out = fs.open(Path::new("/a.tar")).await.unwrap();
            let mut w = ArchiveWriter::new(out, 1_700_000_000);
            w.add_bytes("meta.json", b"{\"x\":1}").await.unwrap();
            w.add_file("shard-0/wal.log", &src, 1000, 1024)
                .await
                .unwrap();
            let sum = w.finish().await.unwrap();
            let bytes = fs.contents(Path::new("/a.tar")).unwrap();
            assert_eq!(bytes.len() as u64, sum.size);
            assert_eq!(sum.sha256, crate::checksum::sha256_hex(&bytes));

            let file = fs.open_read(Path::new("/a.tar")).await.unwrap().unwrap();
            let mut r = ArchiveReader::new(&file).await.unwrap();
            let e = r.next_entry().await.unwrap().unwrap();
            assert_eq!(e.name, "meta.json");
            assert_eq!(r.read_entry(&e, 100).await.unwrap(), b"{\"x\":1}");
            let e = r.next_entry().await.unwrap().unwrap();
            assert_eq!((e.name.as_str(), e.size), ("shard-0/wal.log", 1024));
            let dst = fs.open(Path::new("/wal")).await.unwrap();
            r.extract_entry(&e, &dst).await.unwrap();
            let got = fs.contents(Path::new("/wal")).unwrap();
            assert_eq!(&got[..1000], &data[..1000]);
            assert!(got[1000..].iter().all(|&b| b == 0));
            assert_eq!(r.next_entry().await.unwrap(), None);
        });
    }

    #[test]
    fn refuses_garbage_and_escaping_names() {
        run(async {
            let fs = MemStorage::new(2);
            let f = fs.open(Path::new("/g")).await.unwrap();
            f.write_at(0, &[0x41; 1024]).await.unwrap();
            let mut r = ArchiveReader::new(&f).await.unwrap();
            assert!(matches!(r.next_entry().await, Err(ArchiveError::Format(_))));

            let mut h = header("ok", 0, 0).unwrap();
            h[..3].copy_from_slice(b"../");
            h[148..156].fill(b' ');
            let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
            put_octal(&mut h[148..155], u64::from(sum));
            assert!(parse_header(&h).unwrap_err().contains(".."));
            assert!(header("/abs", 0, 0).is_err());

            let empty = fs.open(Path::new("/e")).await.unwrap();
            let mut r = ArchiveReader::new(&empty).await.unwrap();
            assert!(matches!(r.next_entry().await, Err(ArchiveError::Format(_))));
        });
    }
}
