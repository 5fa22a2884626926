//! Write operations and their binary form in the write-ahead log.
//!
//! Layout (little endian): `tag u8`, then for `Upsert`: `count u32` and per point
//! `id`, `vector count u16`, per vector `name len u16, name, dim u32, f32 × dim`, then
//! `payload len u32` (`u32::MAX` = no payload) and the payload as JSON; for `Delete`:
//! `count u32` and the ids. An id is `0 u8, u64` or `1 u8, u128`.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::point_id::PointId;

/// A point's payload: a JSON object.
pub type Payload = Map<String, Value>;

/// One point as written: id, its vectors by name ("" = the unnamed vector), payload.
#[derive(Clone, Debug, PartialEq)]
pub struct PointWrite {
    pub id: PointId,
    pub vectors: Vec<(String, Vec<f32>)>,
    pub payload: Option<Payload>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum WriteOp {
    /// Insert or fully replace points.
    Upsert(Vec<PointWrite>),
    /// Remove points; missing ids are ignored.
    Delete(Vec<PointId>),
}

const TAG_UPSERT: u8 = 1;
const TAG_DELETE: u8 = 2;
const ID_NUM: u8 = 0;
const ID_UUID: u8 = 1;
const NO_PAYLOAD: u32 = u32::MAX;

impl WriteOp {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            WriteOp::Upsert(points) => {
                out.push(TAG_UPSERT);
                put_u32(out, points.len());
                for p in points {
                    put_id(out, p.id);
                    out.extend_from_slice(&(p.vectors.len() as u16).to_le_bytes());
                    for (name, v) in &p.vectors {
                        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
                        out.extend_from_slice(name.as_bytes());
                        put_u32(out, v.len());
                        for x in v {
                            out.extend_from_slice(&x.to_le_bytes());
                        }
                    }
                    match &p.payload {
                        None => out.extend_from_slice(&NO_PAYLOAD.to_le_bytes()),
                        Some(map) => {
                            let at = out.len();
                            out.extend_from_slice(&[0; 4]);
                            // Writing JSON into a Vec cannot fail: keys are strings.
                            let _ = serde_json::to_writer(&mut *out, map);
                            let len = (out.len() - at - 4) as u32;
                            out[at..at + 4].copy_from_slice(&len.to_le_bytes());
                        }
                    }
                }
            }
            WriteOp::Delete(ids) => {
                out.push(TAG_DELETE);
                put_u32(out, ids.len());
                for id in ids {
                    put_id(out, *id);
                }
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<WriteOp> {
        let mut r = Reader { bytes, at: 0 };
        let op = match r.u8()? {
            TAG_UPSERT => {
                let count = r.u32()? as usize;
                let mut points = Vec::with_capacity(count.min(r.remaining()));
                for _ in 0..count {
                    let id = r.id()?;
                    let nvec = r.u16()? as usize;
                    let mut vectors = Vec::with_capacity(nvec.min(r.remaining()));
                    for _ in 0..nvec {
                        let name_len = r.u16()? as usize;
                        let name = std::str::from_utf8(r.take(name_len)?)
                            .map_err(|e| Error::Codec(e.to_string()))?
                            .to_owned();
                        let dim = r.u32()? as usize;
                        let raw = r.take(dim.checked_mul(4).ok_or_else(overflow)?)?;
                        let v = raw
                            .chunks_exact(4)
                            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                            .collect();
                        vectors.push((name, v));
                    }
                    let plen = r.u32()?;
                    let payload = if plen == NO_PAYLOAD {
                        None
                    } else {
                        let raw = r.take(plen as usize)?;
                        Some(serde_json::from_slice(raw).map_err(|e| Error::Codec(e.to_string()))?)
                    };
                    points.push(PointWrite {
                        id,
                        vectors,
                        payload,
                    });
                }
                WriteOp::Upsert(points)
            }
            TAG_DELETE => {
                let count = r.u32()? as usize;
                let mut ids = Vec::with_capacity(count.min(r.remaining()));
                for _ in 0..count {
                    ids.push(r.id()?);
                }
                WriteOp::Delete(ids)
            }
            tag => return Err(Error::Codec(format!("unknown operation tag {tag}"))),
        };
        if r.remaining() != 0 {
            return Err(Error::Codec(format!("{} trailing bytes", r.remaining())));
        }
        Ok(op)
    }
}

fn overflow() -> Error {
    Error::Codec("length overflow".into())
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

fn put_id(out: &mut Vec<u8>, id: PointId) {
    match id {
        PointId::Num(n) => {
            out.push(ID_NUM);
            out.extend_from_slice(&n.to_le_bytes());
        }
        PointId::Uuid(u) => {
            out.push(ID_UUID);
            out.extend_from_slice(&u.to_le_bytes());
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

    fn id(&mut self) -> Result<PointId> {
        match self.u8()? {
            ID_NUM => Ok(PointId::Num(u64::from_le_bytes(self.array()?))),
            ID_UUID => Ok(PointId::Uuid(u128::from_le_bytes(self.array()?))),
            t => Err(Error::Codec(format!("unknown id tag {t}"))),
        }
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
        let ops = [
            WriteOp::Upsert(vec![
                PointWrite {
                    id: PointId::Num(7),
                    vectors: vec![("".into(), vec![1.0, -2.5, f32::MIN_POSITIVE])],
                    payload: Some(payload),
                },
                PointWrite {
                    id: PointId::Uuid(u128::MAX - 3),
                    vectors: vec![("a".into(), vec![]), ("b".into(), vec![0.5])],
                    payload: None,
                },
            ]),
            WriteOp::Delete(vec![PointId::Num(1), PointId::Uuid(9)]),
            WriteOp::Upsert(vec![]),
        ];
        for op in ops {
            let mut buf = Vec::new();
            op.encode(&mut buf);
            assert_eq!(WriteOp::decode(&buf).expect("decode"), op);
            // Every strict prefix must be rejected, never panic.
            for cut in 0..buf.len() {
                assert!(
                    WriteOp::decode(&buf[..cut]).is_err(),
                    "prefix {cut} accepted"
                );
            }
        }
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bytes in [&[9u8][..], &[1, 255, 255, 255, 255], &[2, 1, 0, 0, 0, 7]] {
            assert!(WriteOp::decode(bytes).is_err());
        }
    }
}
