//! SHA-256 of bytes and of files, as lowercase hex (the form Qdrant reports snapshot checksums
//! in and accepts them back).

use sha2::{Digest, Sha256};

use crate::{File, Result};

/// Bytes read per request while hashing a file.
pub const CHECKSUM_READ_CHUNK_BYTES: usize = 1 << 20;

/// A running SHA-256.
#[derive(Default, Clone)]
pub struct Sha256Hex {
    hasher: Sha256,
}

impl Sha256Hex {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    /// The digest as 64 lowercase hex digits.
    pub fn finish(self) -> String {
        to_hex(&self.hasher.finalize())
    }
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = Sha256Hex::new();
    h.update(bytes);
    h.finish()
}

/// SHA-256 of the whole of `file` as lowercase hex, read in chunks.
pub async fn sha256_file<F: File>(file: &F) -> Result<String> {
    let size = file.size().await?;
    let mut h = Sha256Hex::new();
    let mut pos = 0u64;
    while pos < size {
        let want = (size - pos).min(CHECKSUM_READ_CHUNK_BYTES as u64) as usize;
        let chunk = file.read_at(pos, want).await?;
        if chunk.is_empty() {
            break;
        }
        h.update(&chunk);
        pos += chunk.len() as u64;
    }
    Ok(h.finish())
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
