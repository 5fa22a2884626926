//! Quantization (Qdrant's `quantization_config`): compact codes of a segment's dense vector
//! columns that a search scores instead of the f32 vectors, then rescores the best
//! candidates with the originals.
//!
//! - [`config`]: the Qdrant settings (collection, per vector, search `params.quantization`);
//! - [`scalar`] (int8), [`binary`] (1 bit), [`product`] (k-means codebooks): the codecs;
//! - [`build`]: training on a deterministic sample and encoding, in steps the indexer yields
//!   between; [`format`]: the `<segment file>.quant` layout (rkyv inside the shared frame,
//!   with the config each column was built with); [`index`]: the open file, read in place.
//!
//! Codes are derived data like HNSW graphs: built by the background indexer after a
//! segment's graphs, loaded at open when valid, removed and rebuilt when damaged or when the
//! column's config changed, removed with their segment.

pub mod binary;
pub mod build;
pub mod config;
mod format;
pub mod index;
pub mod product;
pub mod scalar;
pub mod search;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_shard;

use std::path::Path;

use vexfs_io::Storage;

pub use build::{sample_slots, ColumnCodesBuilder, QuantBytes, QuantFileBuilder};
pub use config::{Compression, QuantConfig, QuantConfigError, QuantSearch, QuantSetting};
pub use format::{QUANT_FORMAT_VERSION, QUANT_MAGIC};
pub use index::{QuantColumn, QuantIndex, QuantQuery};

/// Largest code array of one column of one segment (bounded memory for a build).
pub const QUANT_MAX_CODE_BYTES: usize = 1 << 34;

/// Why a quantization file was refused or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    #[error("quantization file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: vexfs_io::Error,
    },
    #[error("quantization file {path} is corrupt: {reason}")]
    Corrupt { path: String, reason: String },
    #[error(
        "quantization file {path} has format version {found}, this build reads version {supported}"
    )]
    UnsupportedVersion {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error("quantization file {path} does not match its segment: {reason}")]
    Mismatch { path: String, reason: String },
    #[error("quantization: serializing failed: {0}")]
    Serialize(String),
    #[error("quantization: {0}")]
    Config(String),
}

impl QuantError {
    pub(crate) fn corrupt(path: &str, reason: impl Into<String>) -> Self {
        QuantError::Corrupt {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Name of the quantization file of the segment file `segment`.
pub fn quant_file_name(segment: &str) -> String {
    format!("{segment}.quant")
}

/// Whether `name` is a quantization file and, if so, its segment's file name.
pub fn segment_of_quant_file(name: &str) -> Option<&str> {
    name.strip_suffix(".quant")
}

/// Writes a file atomically to `dir/name` (temp file, fdatasync, rename, directory fsync).
pub async fn write_quant<S: Storage>(
    storage: &S,
    dir: &Path,
    name: &str,
    bytes: &QuantBytes,
) -> Result<(), QuantError> {
    let path = dir.join(name);
    storage
        .write_file_atomic(&path, bytes.as_bytes())
        .await
        .map_err(|source| QuantError::Io {
            path: path.display().to_string(),
            source,
        })
}
