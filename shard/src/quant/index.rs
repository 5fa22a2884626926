//! An open `.quant` file: validated once, then read in place; [`QuantColumn`] scores a
//! prepared query against the codes of one column.

use std::path::Path;

use rkyv::rancor;
use rkyv::util::AlignedVec;
use vexfs_io::Storage;

use super::build::QuantBytes;
use super::config::QuantConfig;
use super::format::{
    check_body, config_from_code, distance_from_code, u32s, verify_file, ArchivedBody,
    ArchivedColumnBody, QUANT_BUFFER_ALIGN_BYTES, QUANT_HEADER_BYTES,
};
use super::scalar::{ScalarQuery, ScalarRange};
use super::{binary, product, scalar, QuantError};
use crate::schema::Distance;
use crate::segment::Segment;

/// The quantized columns of one segment.
pub struct QuantIndex {
    path: String,
    /// The whole file; never mutated after validation (`body()` relies on it).
    buf: AlignedVec<QUANT_BUFFER_ALIGN_BYTES>,
    body_len: usize,
}

impl std::fmt::Debug for QuantIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuantIndex")
            .field("path", &self.path)
            .field("bytes", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl QuantIndex {
    /// Reads and validates the file at `path`; `Ok(None)` when there is none.
    pub async fn open<S: Storage>(storage: &S, path: &Path) -> Result<Option<Self>, QuantError> {
        let shown = path.display().to_string();
        let file = match storage.read_file(path).await {
            Ok(Some(file)) => file,
            Ok(None) => return Ok(None),
            Err(source) => {
                return Err(QuantError::Io {
                    path: shown,
                    source,
                })
            }
        };
        let mut buf = AlignedVec::<QUANT_BUFFER_ALIGN_BYTES>::with_capacity(file.len());
        buf.extend_from_slice(&file);
        drop(file);
        Self::from_aligned(shown, buf).map(Some)
    }

    pub fn from_bytes(path: &str, bytes: QuantBytes) -> Result<Self, QuantError> {
        Self::from_aligned(path.to_owned(), bytes.buf)
    }

    /// Validates arbitrary bytes (tests of damaged files).
    pub fn from_slice(path: &str, bytes: &[u8]) -> Result<Self, QuantError> {
        let mut buf = AlignedVec::<QUANT_BUFFER_ALIGN_BYTES>::with_capacity(bytes.len());
        buf.extend_from_slice(bytes);
        Self::from_aligned(path.to_owned(), buf)
    }

    fn from_aligned(
        path: String,
        buf: AlignedVec<QUANT_BUFFER_ALIGN_BYTES>,
    ) -> Result<Self, QuantError> {
        let (body_len, slots) = verify_file(&path, &buf)?;
        let bytes = &buf[QUANT_HEADER_BYTES..QUANT_HEADER_BYTES + body_len];
        let body = rkyv::access::<ArchivedBody, rancor::Error>(bytes)
            .map_err(|e| QuantError::corrupt(&path, format!("invalid archive: {e}")))?;
        check_body(&path, slots, body)?;
        Ok(QuantIndex {
            path,
            buf,
            body_len,
        })
    }

    fn body(&self) -> &ArchivedBody {
        let bytes = &self.buf[QUANT_HEADER_BYTES..QUANT_HEADER_BYTES + self.body_len];
        // SAFETY: `from_aligned` is the only constructor; it ran `rkyv::access` (full bytecheck
        // validation) on exactly this range of exactly this buffer and failed unless it
        // passed. `buf` and `body_len` are private and never change afterwards, and the
        // AlignedVec's heap allocation does not move with the struct.
        unsafe { rkyv::access_unchecked::<ArchivedBody>(bytes) }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn slots(&self) -> usize {
        self.body().slots.to_native() as usize
    }

    /// The codes of `column`, if quantized.
    pub fn column(&self, column: &str) -> Option<QuantColumn<'_>> {
        self.body()
            .columns
            .iter()
            .find(|c| c.column.as_str() == column)
            .and_then(QuantColumn::new)
    }

    /// Each quantized column with the config it was built with.
    pub fn configs(&self) -> impl Iterator<Item = (&str, QuantConfig)> + '_ {
        self.body().columns.iter().filter_map(|c| {
            Some((
                c.column.as_str(),
                config_from_code(c.kind, c.param.to_native())?,
            ))
        })
    }

    /// Bytes of codes and tables held (what quantization costs in memory).
    pub fn quantized_bytes(&self) -> usize {
        self.body()
            .columns
            .iter()
            .map(|c| c.codes.len() + 4 * c.floats.len())
            .sum()
    }

    /// Refuses codes built for another segment (slot count, lsn, size, column shapes).
    pub fn check_segment(&self, segment: &Segment) -> Result<(), QuantError> {
        let mismatch = |reason: String| QuantError::Mismatch {
            path: self.path.clone(),
            reason,
        };
        let body = self.body();
        if self.slots() != segment.len()
            || body.segment_lsn.to_native() != segment.flushed_lsn()
            || body.segment_bytes.to_native() != segment.file_bytes() as u64
        {
            return Err(mismatch("built for another segment of that name".into()));
        }
        for c in body.columns.iter() {
            let name = c.column.as_str();
            let Some(i) = segment.column(name) else {
                return Err(mismatch(format!("no column {name:?} in the segment")));
            };
            let info = &segment.columns()[i];
            if info.dim != c.dim.to_native() as usize
                || Some(info.distance) != distance_from_code(c.distance)
            {
                return Err(mismatch(format!("column {name:?} has another shape")));
            }
        }
        Ok(())
    }
}

/// One column's codes, borrowed from its file.
#[derive(Clone, Copy)]
pub struct QuantColumn<'a> {
    body: &'a ArchivedColumnBody,
    config: QuantConfig,
    distance: Distance,
    dim: usize,
    code_bytes: usize,
}

/// A query prepared for one column's codes.
#[derive(Clone, Debug)]
pub enum QuantQuery {
    Scalar(ScalarQuery),
    Binary(Vec<u8>),
    /// Partial scores per sub-vector and centroid.
    Product(Vec<f32>),
}

impl<'a> QuantColumn<'a> {
    fn new(body: &'a ArchivedColumnBody) -> Option<Self> {
        Some(QuantColumn {
            body,
            config: config_from_code(body.kind, body.param.to_native())?,
            distance: distance_from_code(body.distance)?,
            dim: body.dim.to_native() as usize,
            code_bytes: body.code_bytes.to_native() as usize,
        })
    }

    pub fn config(&self) -> QuantConfig {
        self.config
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    fn floats(&self) -> &'a [f32] {
        bytemuck::cast_slice(u32s(self.body.floats.as_slice()))
    }

    fn range(&self) -> ScalarRange {
        let f = self.floats();
        ScalarRange {
            lo: f.first().copied().unwrap_or(0.0),
            step: f.get(1).copied().unwrap_or(1.0),
        }
    }

    /// Encodes `query` (preprocessed like stored vectors, `dim` long) for [`Self::score`].
    pub fn prepare(&self, query: &[f32]) -> QuantQuery {
        match self.config {
            QuantConfig::Scalar { .. } => QuantQuery::Scalar(scalar::prepare(self.range(), query)),
            QuantConfig::Binary => QuantQuery::Binary(binary::prepare(query)),
            QuantConfig::Product { compression } => QuantQuery::Product(product::table(
                self.floats(),
                self.distance,
                compression.dims_per_code(),
                self.code_bytes,
                query,
            )),
        }
    }

    /// The code of `slot` (empty when out of range).
    fn code(&self, slot: u32) -> &'a [u8] {
        let at = slot as usize * self.code_bytes;
        self.body
            .codes
            .as_slice()
            .get(at..at + self.code_bytes)
            .unwrap_or(&[])
    }

    /// Estimated internal ("higher is closer") score of `slot` for a prepared query; `None`
    /// for a slot out of range or a query prepared for another kind of codes.
    #[inline]
    pub fn score(&self, query: &QuantQuery, slot: u32) -> Option<f32> {
        let code = self.code(slot);
        if code.is_empty() {
            return None;
        }
        match query {
            QuantQuery::Scalar(q) => Some(scalar::score(self.range(), self.distance, q, code)),
            QuantQuery::Binary(q) => Some(binary::score(self.distance, self.dim, q, code)),
            QuantQuery::Product(t) => Some(product::score(t, code)),
        }
    }
}
