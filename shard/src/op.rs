//! Write operations and their binary form in the write-ahead log.
//!
//! Layout (little endian): a tag byte, then the fields of the operation. Building blocks:
//! an id is `0 u8, u64` or `1 u8, u128`; a list is `count u32` then its items; a string is
//! `len u16` then UTF-8; a vector is `dim u32` then `f32 × dim`; an optional payload is
//! `len u32` (`u32::MAX` = none) then JSON. Upserts and vector updates are written with the
//! tags 9 and 10, whose vectors carry a kind byte (0 dense: `dim u32, f32 × dim`; 1 sparse:
//! `count u32, u32 × count, f32 × count`; 2 multi: `dim u32`, then the rows as a dense
//! vector of `rows × dim` floats); the older tags 1 and 7 (dense only, no kind byte)
//! are still read, so logs written before sparse vectors replay. Operations that name points by filter are
//! resolved to ids on the owning shard before they are logged, so replay is exact.
//! A change of the collection's vector spaces (tag 11) is `len u32` then the new schema
//! as JSON: logged in order with the writes, so replay sees each write under its schema.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::point_id::PointId;
use crate::schema::ShardSchema;
use crate::vector::{MultiVector, SparseVector, Vector};

/// A point's payload: a JSON object.
pub type Payload = Map<String, Value>;

/// Vectors of one point by name ("" = the unnamed vector).
pub type NamedVectors = Vec<(String, Vector)>;

/// One point as written: id, its vectors by name, payload.
#[derive(Clone, Debug, PartialEq)]
pub struct PointWrite {
    pub id: PointId,
    pub vectors: NamedVectors,
    pub payload: Option<Payload>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum WriteOp {
    /// Insert or fully replace points.
    Upsert(Vec<PointWrite>),
    /// Remove points; missing ids are ignored.
    Delete(Vec<PointId>),
    /// Merge `payload` into each point's payload (at the object under `key`, if given).
    SetPayload {
        ids: Vec<PointId>,
        payload: Payload,
        key: Option<String>,
    },
    /// Replace each point's payload.
    OverwritePayload { ids: Vec<PointId>, payload: Payload },
    /// Remove keys (dotted paths) from each point's payload.
    DeletePayload {
        ids: Vec<PointId>,
        keys: Vec<String>,
    },
    /// Remove the whole payload of each point.
    ClearPayload(Vec<PointId>),
    /// Replace the named vectors given, keeping the point's other vectors.
    UpdateVectors(Vec<(PointId, NamedVectors)>),
    /// Remove the named vectors from each point.
    DeleteVectors {
        ids: Vec<PointId>,
        names: Vec<String>,
    },
    /// The collection's vector spaces become these (a named vector created or deleted):
    /// points keep the vectors whose space remains; a new space starts empty.
    SetSchema(ShardSchema),
}

const TAG_UPSERT: u8 = 1;
const TAG_DELETE: u8 = 2;
const TAG_SET_PAYLOAD: u8 = 3;
const TAG_OVERWRITE_PAYLOAD: u8 = 4;
const TAG_DELETE_PAYLOAD: u8 = 5;
const TAG_CLEAR_PAYLOAD: u8 = 6;
const TAG_UPDATE_VECTORS: u8 = 7;
const TAG_DELETE_VECTORS: u8 = 8;
const TAG_UPSERT_KINDS: u8 = 9;
const TAG_UPDATE_VECTORS_KINDS: u8 = 10;
const TAG_SET_SCHEMA: u8 = 11;
const KIND_DENSE: u8 = 0;
const KIND_SPARSE: u8 = 1;
const KIND_MULTI: u8 = 2;
const ID_NUM: u8 = 0;
const ID_UUID: u8 = 1;
const NONE_LEN: u32 = u32::MAX;

impl WriteOp {
    /// Number of points the operation names.
    pub fn point_count(&self) -> usize {
        match self {
            WriteOp::Upsert(points) => points.len(),
            WriteOp::UpdateVectors(points) => points.len(),
            WriteOp::Delete(ids)
            | WriteOp::SetPayload { ids, .. }
            | WriteOp::OverwritePayload { ids, .. }
            | WriteOp::DeletePayload { ids, .. }
            | WriteOp::ClearPayload(ids)
            | WriteOp::DeleteVectors { ids, .. } => ids.len(),
            WriteOp::SetSchema(_) => 0,
        }
    }

    /// Ids of the points the operation touches.
    pub fn ids(&self) -> Vec<PointId> {
        match self {
            WriteOp::Upsert(points) => points.iter().map(|p| p.id).collect(),
            WriteOp::UpdateVectors(points) => points.iter().map(|(id, _)| *id).collect(),
            WriteOp::Delete(ids)
            | WriteOp::SetPayload { ids, .. }
            | WriteOp::OverwritePayload { ids, .. }
            | WriteOp::DeletePayload { ids, .. }
            | WriteOp::ClearPayload(ids)
            | WriteOp::DeleteVectors { ids, .. } => ids.clone(),
            WriteOp::SetSchema(_) => Vec::new(),
        }
    }

    /// The same operation applied to `ids` instead; `None` for operations that carry
    /// per-point data (upsert, update vectors), which cannot be aimed by filter.
    pub fn with_ids(&self, ids: Vec<PointId>) -> Option<WriteOp> {
        Some(match self {
            WriteOp::Upsert(_) | WriteOp::UpdateVectors(_) | WriteOp::SetSchema(_) => return None,
            WriteOp::Delete(_) => WriteOp::Delete(ids),
            WriteOp::ClearPayload(_) => WriteOp::ClearPayload(ids),
            WriteOp::SetPayload { payload, key, .. } => WriteOp::SetPayload {
                ids,
                payload: payload.clone(),
                key: key.clone(),
            },
            WriteOp::OverwritePayload { payload, .. } => WriteOp::OverwritePayload {
                ids,
                payload: payload.clone(),
            },
            WriteOp::DeletePayload { keys, .. } => WriteOp::DeletePayload {
                ids,
                keys: keys.clone(),
            },
            WriteOp::DeleteVectors { names, .. } => WriteOp::DeleteVectors {
                ids,
                names: names.clone(),
            },
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        match self {
            WriteOp::Upsert(points) => {
                w.u8(TAG_UPSERT_KINDS);
                w.u32(points.len());
                for p in points {
                    w.id(p.id);
                    w.vectors(&p.vectors);
                    w.payload(p.payload.as_ref());
                }
            }
            WriteOp::Delete(ids) => {
                w.u8(TAG_DELETE);
                w.ids(ids);
            }
            WriteOp::SetPayload { ids, payload, key } => {
                w.u8(TAG_SET_PAYLOAD);
                w.ids(ids);
                w.payload(Some(payload));
                match key {
                    None => w.u8(0),
                    Some(k) => {
                        w.u8(1);
                        w.string(k);
                    }
                }
            }
            WriteOp::OverwritePayload { ids, payload } => {
                w.u8(TAG_OVERWRITE_PAYLOAD);
                w.ids(ids);
                w.payload(Some(payload));
            }
            WriteOp::DeletePayload { ids, keys } => {
                w.u8(TAG_DELETE_PAYLOAD);
                w.ids(ids);
                w.strings(keys);
            }
            WriteOp::ClearPayload(ids) => {
                w.u8(TAG_CLEAR_PAYLOAD);
                w.ids(ids);
            }
            WriteOp::UpdateVectors(points) => {
                w.u8(TAG_UPDATE_VECTORS_KINDS);
                w.u32(points.len());
                for (id, vectors) in points {
                    w.id(*id);
                    w.vectors(vectors);
                }
            }
            WriteOp::DeleteVectors { ids, names } => {
                w.u8(TAG_DELETE_VECTORS);
                w.ids(ids);
                w.strings(names);
            }
            WriteOp::SetSchema(schema) => {
                w.u8(TAG_SET_SCHEMA);
                // A schema is plain data (names, numbers, enums): serializing cannot fail.
                let json = serde_json::to_vec(schema).unwrap_or_default();
                w.u32(json.len());
                w.0.extend_from_slice(&json);
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<WriteOp> {
        let mut r = Reader { bytes, at: 0 };
        let op = match r.u8()? {
            tag @ (TAG_UPSERT | TAG_UPSERT_KINDS) => {
                let kinds = tag == TAG_UPSERT_KINDS;
                let count = r.count()?;
                let mut points = Vec::with_capacity(count);
                for _ in 0..count {
                    points.push(PointWrite {
                        id: r.id()?,
                        vectors: r.vectors(kinds)?,
                        payload: r.payload()?,
                    });
                }
                WriteOp::Upsert(points)
            }
            TAG_DELETE => WriteOp::Delete(r.ids()?),
            TAG_SET_PAYLOAD => WriteOp::SetPayload {
                ids: r.ids()?,
                payload: r
                    .payload()?
                    .ok_or_else(|| Error::Codec("set payload without payload".into()))?,
                key: match r.u8()? {
                    0 => None,
                    _ => Some(r.string()?),
                },
            },
            TAG_OVERWRITE_PAYLOAD => WriteOp::OverwritePayload {
                ids: r.ids()?,
                payload: r
                    .payload()?
                    .ok_or_else(|| Error::Codec("overwrite without payload".into()))?,
            },
            TAG_DELETE_PAYLOAD => WriteOp::DeletePayload {
                ids: r.ids()?,
                keys: r.strings()?,
            },
            TAG_CLEAR_PAYLOAD => WriteOp::ClearPayload(r.ids()?),
            tag @ (TAG_UPDATE_VECTORS | TAG_UPDATE_VECTORS_KINDS) => {
                let kinds = tag == TAG_UPDATE_VECTORS_KINDS;
                let count = r.count()?;
                let mut points = Vec::with_capacity(count);
                for _ in 0..count {
                    points.push((r.id()?, r.vectors(kinds)?));
                }
                WriteOp::UpdateVectors(points)
            }
            TAG_DELETE_VECTORS => WriteOp::DeleteVectors {
                ids: r.ids()?,
                names: r.strings()?,
            },
            TAG_SET_SCHEMA => {
                let len = r.count()?;
                let schema = serde_json::from_slice(r.take(len)?)
                    .map_err(|e| Error::Codec(format!("schema: {e}")))?;
                WriteOp::SetSchema(schema)
            }
            tag => return Err(Error::Codec(format!("unknown operation tag {tag}"))),
        };
        if r.remaining() != 0 {
            return Err(Error::Codec(format!("{} trailing bytes", r.remaining())));
        }
        Ok(op)
    }
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, b: u8) {
        self.0.push(b);
    }

    fn u32(&mut self, n: usize) {
        self.0.extend_from_slice(&(n as u32).to_le_bytes());
    }

    fn id(&mut self, id: PointId) {
        match id {
            PointId::Num(n) => {
                self.0.push(ID_NUM);
                self.0.extend_from_slice(&n.to_le_bytes());
            }
            PointId::Uuid(u) => {
                self.0.push(ID_UUID);
                self.0.extend_from_slice(&u.to_le_bytes());
            }
        }
    }

    fn ids(&mut self, ids: &[PointId]) {
        self.u32(ids.len());
        for id in ids {
            self.id(*id);
        }
    }

    fn string(&mut self, s: &str) {
        self.0.extend_from_slice(&(s.len() as u16).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn strings(&mut self, list: &[String]) {
        self.u32(list.len());
        for s in list {
            self.string(s);
        }
    }

    fn vectors(&mut self, vectors: &NamedVectors) {
        self.0
            .extend_from_slice(&(vectors.len() as u16).to_le_bytes());
        for (name, v) in vectors {
            self.string(name);
            match v {
                Vector::Dense(v) => {
                    self.u8(KIND_DENSE);
                    self.floats(v);
                }
                Vector::Multi(m) => {
                    self.u8(KIND_MULTI);
                    self.u32(m.dim());
                    self.floats(m.data());
                }
                Vector::Sparse(s) => {
                    self.u8(KIND_SPARSE);
                    self.u32(s.len());
                    for i in s.indices() {
                        self.0.extend_from_slice(&i.to_le_bytes());
                    }
                    for x in s.values() {
                        self.0.extend_from_slice(&x.to_le_bytes());
                    }
                }
            }
        }
    }

    fn floats(&mut self, v: &[f32]) {
        self.u32(v.len());
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }

    fn payload(&mut self, payload: Option<&Payload>) {
        match payload {
            None => self.0.extend_from_slice(&NONE_LEN.to_le_bytes()),
            Some(map) => {
                let at = self.0.len();
                self.0.extend_from_slice(&[0; 4]);
                // Writing JSON into a Vec cannot fail: keys are strings.
                let _ = serde_json::to_writer(&mut *self.0, map);
                let len = (self.0.len() - at - 4) as u32;
                self.0[at..at + 4].copy_from_slice(&len.to_le_bytes());
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::Codec(format!(
                "record ends early: need {n} bytes at offset {}",
                self.at
            )));
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A list length, bounded by the bytes left so a corrupt count cannot allocate wildly.
    fn count(&mut self) -> Result<usize> {
        let n = self.u32()? as usize;
        if n > self.remaining() {
            return Err(Error::Codec(format!("count {n} exceeds the record")));
        }
        Ok(n)
    }

    fn id(&mut self) -> Result<PointId> {
        match self.u8()? {
            ID_NUM => Ok(PointId::Num(u64::from_le_bytes(self.array()?))),
            ID_UUID => Ok(PointId::Uuid(u128::from_le_bytes(self.array()?))),
            t => Err(Error::Codec(format!("unknown id tag {t}"))),
        }
    }

    fn ids(&mut self) -> Result<Vec<PointId>> {
        let n = self.count()?;
        (0..n).map(|_| self.id()).collect()
    }

    fn string(&mut self) -> Result<String> {
        let len = self.u16()? as usize;
        std::str::from_utf8(self.take(len)?)
            .map(str::to_owned)
            .map_err(|e| Error::Codec(e.to_string()))
    }

    fn strings(&mut self) -> Result<Vec<String>> {
        let n = self.count()?;
        (0..n).map(|_| self.string()).collect()
    }

    /// Named vectors; `kinds`: each carries a kind byte (tags 9 and 10), else all are dense.
    fn vectors(&mut self, kinds: bool) -> Result<NamedVectors> {
        let n = self.u16()? as usize;
        let mut vectors = Vec::with_capacity(n.min(self.remaining()));
        for _ in 0..n {
            let name = self.string()?;
            let kind = if kinds { self.u8()? } else { KIND_DENSE };
            let v = match kind {
                KIND_DENSE => {
                    let dim = self.u32()? as usize;
                    Vector::Dense(self.floats(dim)?)
                }
                KIND_SPARSE => {
                    let len = self.u32()? as usize;
                    let indices = self
                        .words(len)?
                        .map(u32::from_le_bytes)
                        .collect::<Vec<u32>>();
                    let values = self.floats(len)?;
                    Vector::Sparse(
                        SparseVector::new(indices, values)
                            .map_err(|e| Error::Codec(format!("sparse vector: {e}")))?,
                    )
                }
                KIND_MULTI => {
                    let dim = self.u32()? as usize;
                    let len = self.u32()? as usize;
                    let data = self.floats(len)?;
                    Vector::Multi(
                        MultiVector::new(dim, data)
                            .map_err(|e| Error::Codec(format!("multivector: {e}")))?,
                    )
                }
                k => return Err(Error::Codec(format!("unknown vector kind {k}"))),
            };
            vectors.push((name, v));
        }
        Ok(vectors)
    }

    /// `n` little-endian 4-byte words.
    fn words(&mut self, n: usize) -> Result<impl Iterator<Item = [u8; 4]> + 'a> {
        let raw = self.take(
            n.checked_mul(4)
                .ok_or_else(|| Error::Codec("length overflow".into()))?,
        )?;
        Ok(raw.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]))
    }

    fn floats(&mut self, n: usize) -> Result<Vec<f32>> {
        Ok(self.words(n)?.map(f32::from_le_bytes).collect())
    }

    fn payload(&mut self) -> Result<Option<Payload>> {
        let len = self.u32()?;
        if len == NONE_LEN {
            return Ok(None);
        }
        let raw = self.take(len as usize)?;
        serde_json::from_slice(raw)
            .map(Some)
            .map_err(|e| Error::Codec(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_shape() {
        let mut payload = Payload::new();
        payload.insert("city".into(), Value::from("Zürich"));
        payload.insert("n".into(), serde_json::json!({"a": [1, 2.5, null]}));
        let ids = vec![PointId::Num(1), PointId::Uuid(9)];
        let ops = [
            WriteOp::Upsert(vec![
                PointWrite {
                    id: PointId::Num(7),
                    vectors: vec![("".into(), vec![1.0, -2.5, f32::MIN_POSITIVE].into())],
                    payload: Some(payload.clone()),
                },
                PointWrite {
                    id: PointId::Uuid(u128::MAX - 3),
                    vectors: vec![
                        ("a".into(), vec![].into()),
                        ("b".into(), vec![0.5].into()),
                        (
                            "s".into(),
                            SparseVector::new(vec![9, 2], vec![0.5, -1.0])
                                .expect("sparse")
                                .into(),
                        ),
                    ],
                    payload: None,
                },
            ]),
            WriteOp::Delete(ids.clone()),
            WriteOp::Upsert(vec![]),
            WriteOp::SetPayload {
                ids: ids.clone(),
                payload: payload.clone(),
                key: Some("a.b".into()),
            },
            WriteOp::SetPayload {
                ids: vec![],
                payload: Payload::new(),
                key: None,
            },
            WriteOp::OverwritePayload {
                ids: ids.clone(),
                payload,
            },
            WriteOp::DeletePayload {
                ids: ids.clone(),
                keys: vec!["x".into(), "y.z".into()],
            },
            WriteOp::ClearPayload(ids.clone()),
            WriteOp::UpdateVectors(vec![(
                PointId::Num(3),
                vec![
                    ("v".into(), vec![0.25, 4.0].into()),
                    ("s".into(), SparseVector::default().into()),
                    (
                        "m".into(),
                        Vector::Multi(MultiVector::new(2, vec![1.0, 2.0, 3.0, 4.0]).expect("m")),
                    ),
                ],
            )]),
            WriteOp::DeleteVectors {
                ids,
                names: vec!["v".into()],
            },
        ];
        for op in ops {
            let mut buf = Vec::new();
            op.encode(&mut buf);
            assert_eq!(WriteOp::decode(&buf).expect("decode"), op);
            // Every strict prefix must be rejected, never panic.
            for cut in 0..buf.len() {
                assert!(
                    WriteOp::decode(&buf[..cut]).is_err(),
                    "prefix {cut} of {op:?} accepted"
                );
            }
        }
    }

    /// Bytes of an upsert and a vector update as the encoder wrote them before vectors had a
    /// kind byte (tags 1 and 7): logs from then must still replay.
    #[test]
    fn decodes_records_of_the_dense_only_format() {
        let mut upsert = vec![TAG_UPSERT, 1, 0, 0, 0, ID_NUM];
        upsert.extend_from_slice(&7u64.to_le_bytes());
        upsert.extend_from_slice(&[1, 0, 1, 0, b'v', 2, 0, 0, 0]);
        upsert.extend_from_slice(&1.5f32.to_le_bytes());
        upsert.extend_from_slice(&(-2.0f32).to_le_bytes());
        upsert.extend_from_slice(&NONE_LEN.to_le_bytes());
        assert_eq!(
            WriteOp::decode(&upsert).expect("old upsert"),
            WriteOp::Upsert(vec![PointWrite {
                id: PointId::Num(7),
                vectors: vec![("v".into(), vec![1.5, -2.0].into())],
                payload: None,
            }])
        );
        let mut update = vec![TAG_UPDATE_VECTORS, 1, 0, 0, 0, ID_NUM];
        update.extend_from_slice(&3u64.to_le_bytes());
        update.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0]);
        update.extend_from_slice(&0.25f32.to_le_bytes());
        assert_eq!(
            WriteOp::decode(&update).expect("old update"),
            WriteOp::UpdateVectors(vec![(
                PointId::Num(3),
                vec![("".into(), vec![0.25].into())]
            )])
        );
    }

    #[test]
    fn a_schema_change_round_trips_and_a_damaged_one_is_refused() {
        use crate::schema::{Distance, Modifier, MultiSpec, SparseSpec, VectorSpec};
        let schema = ShardSchema {
            vectors: vec![VectorSpec {
                name: "d".into(),
                dim: 3,
                distance: Distance::Euclid,
            }],
            sparse: vec![SparseSpec {
                name: "sp".into(),
                modifier: Modifier::Idf,
            }],
            multi: vec![MultiSpec {
                name: "m".into(),
                dim: 2,
                distance: Distance::Cosine,
            }],
        };
        let op = WriteOp::SetSchema(schema);
        let mut bytes = Vec::new();
        op.encode(&mut bytes);
        assert_eq!(bytes[0], TAG_SET_SCHEMA);
        assert_eq!(WriteOp::decode(&bytes).unwrap(), op);
        assert!(op.ids().is_empty() && op.with_ids(Vec::new()).is_none());
        // Cut short, a length past the record, JSON that is not a schema.
        assert!(WriteOp::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut long = bytes.clone();
        long[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(WriteOp::decode(&long).is_err());
        let mut junk = vec![TAG_SET_SCHEMA, 2, 0, 0, 0];
        junk.extend_from_slice(b"[]");
        assert!(WriteOp::decode(&junk).is_err());
    }

    #[test]
    fn refuses_a_sparse_record_with_repeated_indices() {
        let mut bytes = vec![TAG_UPDATE_VECTORS_KINDS, 1, 0, 0, 0, ID_NUM];
        bytes.extend_from_slice(&3u64.to_le_bytes());
        bytes.extend_from_slice(&[1, 0, 1, 0, b's', KIND_SPARSE, 2, 0, 0, 0]);
        for x in [4u32, 4] {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        for x in [1.0f32, 2.0] {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        assert!(WriteOp::decode(&bytes).is_err());
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bytes in [
            &[9u8][..],
            &[1, 255, 255, 255, 255],
            &[2, 1, 0, 0, 0, 7],
            &[3, 0, 0, 0, 0, 255, 255, 255, 255],
        ] {
            assert!(WriteOp::decode(bytes).is_err());
        }
    }
}
