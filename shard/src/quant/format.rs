//! The `.quant` file layout: the shared checksummed frame ([`crate::frame`], magic
//! "VEXFSQNT", item count = slots of the segment) around an rkyv archive of [`Body`]: one
//! [`ColumnBody`] per quantized vector column, with the config it was built with (so a
//! changed config is noticed and the codes rebuilt) and its codes, `code_bytes` per slot.
//!
//! [`check_body`] proves every length consistent with the slot count and the column's
//! shape once at open, so the readers slice codes without further checks.

use rkyv::{Archive, Serialize};

use super::config::{Compression, QuantConfig};
use super::QuantError;
pub(crate) use crate::archived::{distance_code, distance_from_code, u32s};
use crate::frame::{FrameError, FrameKind, FRAME_HEADER_BYTES};
use crate::segment::SEGMENT_MAX_DIM;

pub const QUANT_MAGIC: [u8; 8] = *b"VEXFSQNT";
/// Bumped on any change of `Body`'s layout or of how codes are computed.
pub const QUANT_FORMAT_VERSION: u32 = 1;
pub(crate) const QUANT_HEADER_BYTES: usize = FRAME_HEADER_BYTES;
/// Alignment of the in-memory buffer; the largest archived scalar is u64.
pub(crate) const QUANT_BUFFER_ALIGN_BYTES: usize = 16;
/// Centroids per sub-vector of product quantization (one code byte).
pub const PQ_CENTROIDS: usize = 256;

const _: () = assert!(QUANT_HEADER_BYTES.is_multiple_of(QUANT_BUFFER_ALIGN_BYTES));

pub(crate) const FRAME: FrameKind = FrameKind {
    magic: QUANT_MAGIC,
    version: QUANT_FORMAT_VERSION,
    what: "a quantization file",
};

pub(crate) const KIND_SCALAR: u8 = 0;
pub(crate) const KIND_BINARY: u8 = 1;
pub(crate) const KIND_PRODUCT: u8 = 2;

#[derive(Archive, Serialize)]
pub(crate) struct Body {
    /// Slots of the segment the codes were built for, with its `flushed_lsn` and file size.
    pub slots: u64,
    pub segment_lsn: u64,
    pub segment_bytes: u64,
    pub columns: Vec<ColumnBody>,
}

#[derive(Archive, Serialize)]
pub(crate) struct ColumnBody {
    pub column: String,
    pub dim: u32,
    /// Distance code ([`crate::archived::distance_code`]).
    pub distance: u8,
    /// [`KIND_SCALAR`], [`KIND_BINARY`] or [`KIND_PRODUCT`].
    pub kind: u8,
    /// Scalar: the quantile's f32 bits; product: dimensions per code; binary: 0.
    pub param: u32,
    /// Bytes of one slot's code.
    pub code_bytes: u32,
    /// `slots * code_bytes`; zeros for slots without a vector.
    pub codes: Vec<u8>,
    /// Scalar: `[lo, step]` as f32 bits. Product: the codebooks, f32 bits,
    /// `sub-vectors × PQ_CENTROIDS × dims per code`. Binary: empty.
    pub floats: Vec<u32>,
}

pub(crate) fn config_code(config: QuantConfig) -> (u8, u32) {
    match config {
        QuantConfig::Scalar { quantile } => (KIND_SCALAR, quantile.to_bits()),
        QuantConfig::Binary => (KIND_BINARY, 0),
        QuantConfig::Product { compression } => (KIND_PRODUCT, u32::from(compression.code())),
    }
}

pub(crate) fn config_from_code(kind: u8, param: u32) -> Option<QuantConfig> {
    match kind {
        KIND_SCALAR => {
            let quantile = f32::from_bits(param);
            (super::config::QUANTILE_MIN..=super::config::QUANTILE_MAX)
                .contains(&quantile)
                .then_some(QuantConfig::Scalar { quantile })
        }
        KIND_BINARY => (param == 0).then_some(QuantConfig::Binary),
        KIND_PRODUCT => u8::try_from(param)
            .ok()
            .and_then(Compression::from_code)
            .map(|compression| QuantConfig::Product { compression }),
        _ => None,
    }
}

/// Bytes of one code, and f32 values of the side table, for a column of `dim` dimensions.
pub(crate) fn code_shape(config: QuantConfig, dim: usize) -> (usize, usize) {
    match config {
        QuantConfig::Scalar { .. } => (dim, 2),
        QuantConfig::Binary => (dim.div_ceil(64) * 8, 0),
        QuantConfig::Product { compression } => {
            let per = compression.dims_per_code();
            let subs = dim.div_ceil(per);
            (subs, subs * PQ_CENTROIDS * per)
        }
    }
}

/// Verifies the frame; the body length and slot count.
pub(crate) fn verify_file(path: &str, file: &[u8]) -> Result<(usize, u64), QuantError> {
    match FRAME.verify(file) {
        Ok(h) => Ok((h.body_len, h.count)),
        Err(FrameError::Corrupt(reason)) => Err(QuantError::corrupt(path, reason)),
        Err(FrameError::UnsupportedVersion(found)) => Err(QuantError::UnsupportedVersion {
            path: path.to_owned(),
            found,
            supported: QUANT_FORMAT_VERSION,
        }),
    }
}

/// Checks rkyv cannot know about: after these, every slot below `slots` has a whole code
/// and side tables have the size their config implies.
pub(crate) fn check_body(path: &str, slots: u64, body: &ArchivedBody) -> Result<(), QuantError> {
    let corrupt = |reason: String| QuantError::corrupt(path, reason);
    if body.slots.to_native() != slots {
        return Err(corrupt(format!(
            "header says {slots} slots, the body {}",
            body.slots
        )));
    }
    let slots = usize::try_from(slots).map_err(|_| corrupt("slot count too large".into()))?;
    for (i, c) in body.columns.iter().enumerate() {
        let name = c.column.as_str();
        let bad = |reason: String| corrupt(format!("codes of {name:?}: {reason}"));
        if body.columns[..i].iter().any(|o| o.column.as_str() == name) {
            return Err(bad("appear twice".into()));
        }
        let dim = c.dim.to_native() as usize;
        if dim == 0 || dim > SEGMENT_MAX_DIM {
            return Err(bad(format!("dimension {dim}")));
        }
        if distance_from_code(c.distance).is_none() {
            return Err(bad(format!("unknown distance code {}", c.distance)));
        }
        let Some(config) = config_from_code(c.kind, c.param.to_native()) else {
            return Err(bad(format!("unknown quantization {}/{}", c.kind, c.param)));
        };
        let (code_bytes, floats) = code_shape(config, dim);
        if c.code_bytes.to_native() as usize != code_bytes {
            return Err(bad(format!("{} bytes per code", c.code_bytes)));
        }
        if Some(c.codes.len()) != slots.checked_mul(code_bytes) {
            return Err(bad(format!(
                "{} code bytes for {slots} slots",
                c.codes.len()
            )));
        }
        if c.floats.len() != floats {
            return Err(bad(format!("{} table values", c.floats.len())));
        }
        if u32s(c.floats.as_slice())
            .iter()
            .any(|&b| !f32::from_bits(b).is_finite())
        {
            return Err(bad("a table value is not finite".into()));
        }
        if c.kind == KIND_SCALAR && f32::from_bits(c.floats[1].to_native()) <= 0.0 {
            return Err(bad("scalar step is not positive".into()));
        }
    }
    Ok(())
}
