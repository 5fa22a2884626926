//! Building the codes of one segment: per column, train on a deterministic sample (in
//! bounded steps the indexer yields between), encode every slot (in chunks), then serialize
//! all columns into one `.quant` file image ([`QuantFileBuilder`]).

use rkyv::rancor;
use rkyv::util::AlignedVec;

use super::config::QuantConfig;
use super::format::{
    code_shape, config_code, distance_code, Body, ColumnBody, FRAME, PQ_CENTROIDS,
    QUANT_BUFFER_ALIGN_BYTES, QUANT_HEADER_BYTES,
};
use super::{binary, product, scalar, QuantError, QUANT_MAX_CODE_BYTES};
use crate::frame::FRAME_FILE_ALIGN_BYTES;
use crate::schema::Distance;
use crate::segment::Segment;

/// Vectors sampled (evenly over the segment's live slots) to train a column's quantizer:
/// scalar ranges sort `dim` values of each, product k-means assigns each to 256 centroids
/// per sub-vector per iteration, so this bounds a training step's work.
pub const QUANT_SAMPLE_VECTORS: usize = 2_048;

/// The codes of one column being built.
pub struct ColumnCodesBuilder {
    name: String,
    dim: usize,
    distance: Distance,
    config: QuantConfig,
    code_bytes: usize,
    codes: Vec<u8>,
    floats: Vec<f32>,
}

impl ColumnCodesBuilder {
    pub fn new(
        name: &str,
        dim: usize,
        distance: Distance,
        config: QuantConfig,
        slots: usize,
    ) -> Result<Self, QuantError> {
        let (code_bytes, floats) = code_shape(config, dim);
        let total = slots
            .checked_mul(code_bytes)
            .filter(|&b| b <= QUANT_MAX_CODE_BYTES)
            .ok_or_else(|| {
                QuantError::Config(format!(
                    "{slots} slots × {code_bytes} bytes exceed {QUANT_MAX_CODE_BYTES} bytes"
                ))
            })?;
        let mut floats = vec![0f32; floats];
        if let QuantConfig::Scalar { .. } = config {
            floats[1] = 1.0;
        }
        Ok(ColumnCodesBuilder {
            name: name.to_owned(),
            dim,
            distance,
            config,
            code_bytes,
            codes: vec![0; total],
            floats,
        })
    }

    /// Training steps [`Self::train`] takes (the indexer yields between two).
    pub fn train_steps(&self) -> usize {
        match self.config {
            QuantConfig::Scalar { .. } => 1,
            QuantConfig::Binary => 0,
            QuantConfig::Product { .. } => self.code_bytes,
        }
    }

    /// Runs training step `step` on `sample` (rows of `dim` live vectors).
    pub fn train(&mut self, sample: &[f32], step: usize) {
        match self.config {
            QuantConfig::Scalar { quantile } => {
                let mut values = sample.to_vec();
                let r = scalar::train(&mut values, quantile);
                self.floats[0] = r.lo;
                self.floats[1] = r.step;
            }
            QuantConfig::Binary => {}
            QuantConfig::Product { compression } => {
                let per = compression.dims_per_code();
                let book = PQ_CENTROIDS * per;
                if let Some(out) = self.floats.get_mut(step * book..(step + 1) * book) {
                    product::train_subspace(sample, self.dim, step, per, out);
                }
            }
        }
    }

    /// Encodes the vector of `slot` (after training).
    pub fn encode(&mut self, slot: u32, v: &[f32]) {
        let at = slot as usize * self.code_bytes;
        let Some(out) = self.codes.get_mut(at..at + self.code_bytes) else {
            return;
        };
        match self.config {
            QuantConfig::Scalar { .. } => {
                let range = scalar::ScalarRange {
                    lo: self.floats[0],
                    step: self.floats[1],
                };
                scalar::encode(range, v, out);
            }
            QuantConfig::Binary => binary::encode(v, out),
            QuantConfig::Product { compression } => {
                product::encode(&self.floats, compression.dims_per_code(), v, out)
            }
        }
    }

    fn into_body(self) -> ColumnBody {
        let (kind, param) = config_code(self.config);
        ColumnBody {
            column: self.name,
            dim: self.dim as u32,
            distance: distance_code(self.distance),
            kind,
            param,
            code_bytes: self.code_bytes as u32,
            codes: self.codes,
            floats: self.floats.iter().map(|f| f.to_bits()).collect(),
        }
    }
}

/// A serialized `.quant` file, aligned for reading in place.
pub struct QuantBytes {
    pub(crate) buf: AlignedVec<QUANT_BUFFER_ALIGN_BYTES>,
}

impl QuantBytes {
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

/// Collects the columns of one segment's file.
pub struct QuantFileBuilder {
    slots: usize,
    segment_lsn: u64,
    segment_bytes: u64,
    columns: Vec<ColumnBody>,
}

impl QuantFileBuilder {
    pub fn new(segment: &Segment) -> Self {
        QuantFileBuilder {
            slots: segment.len(),
            segment_lsn: segment.flushed_lsn(),
            segment_bytes: segment.file_bytes() as u64,
            columns: Vec::new(),
        }
    }

    pub fn add(&mut self, column: ColumnCodesBuilder) -> Result<(), QuantError> {
        if column.codes.len() != self.slots * column.code_bytes {
            return Err(QuantError::Config(format!(
                "codes of {:?} are not over the segment's {} slots",
                column.name, self.slots
            )));
        }
        if self.columns.iter().any(|c| c.column == column.name) {
            return Err(QuantError::Config(format!(
                "two code sets of column {:?}",
                column.name
            )));
        }
        self.columns.push(column.into_body());
        Ok(())
    }

    pub fn finish(self) -> Result<QuantBytes, QuantError> {
        let body = Body {
            slots: self.slots as u64,
            segment_lsn: self.segment_lsn,
            segment_bytes: self.segment_bytes,
            columns: self.columns,
        };
        let mut buf = AlignedVec::<QUANT_BUFFER_ALIGN_BYTES>::new();
        buf.extend_from_slice(&[0u8; QUANT_HEADER_BYTES]);
        let mut buf = rkyv::api::high::to_bytes_in::<_, rancor::Error>(&body, buf)
            .map_err(|e| QuantError::Serialize(e.to_string()))?;
        let header = FRAME.encode_header(&buf[QUANT_HEADER_BYTES..], body.slots);
        buf[..QUANT_HEADER_BYTES].copy_from_slice(&header);
        let padded = buf.len().next_multiple_of(FRAME_FILE_ALIGN_BYTES);
        buf.resize(padded, 0);
        Ok(QuantBytes { buf })
    }
}

/// Live slots of `column` to train on: every one when few, else evenly spaced ones.
pub fn sample_slots(segment: &Segment, column: usize) -> Vec<u32> {
    let live: Vec<u32> = (0..segment.len() as u32)
        .filter(|&s| segment.has_vector(column, s) && !segment.is_deleted(s))
        .collect();
    if live.len() <= QUANT_SAMPLE_VECTORS {
        return live;
    }
    (0..QUANT_SAMPLE_VECTORS)
        .map(|i| live[i * live.len() / QUANT_SAMPLE_VECTORS])
        .collect()
}
