//! Point identifiers: unsigned integers or UUIDs, as in Qdrant.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point's id. Integers order before UUIDs (the order scroll pages follow).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum PointId {
    Num(u64),
    Uuid(u128),
}

impl PointId {
    /// A hash that never changes between runs or builds: it decides which shard owns the point,
    /// so it is part of the on-disk format.
    pub fn stable_hash(&self) -> u64 {
        match *self {
            PointId::Num(n) => mix64(n),
            PointId::Uuid(u) => mix64((u as u64) ^ mix64((u >> 64) as u64)),
        }
    }

    /// Parses the textual form used in URL paths: a decimal integer or a UUID.
    pub fn parse(text: &str) -> Option<PointId> {
        if let Ok(n) = text.parse::<u64>() {
            return Some(PointId::Num(n));
        }
        uuid::Uuid::try_parse(text)
            .ok()
            .map(|u| PointId::Uuid(u.as_u128()))
    }
}

/// splitmix64 finalizer: cheap and well distributed, fixed forever.
fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PointId::Num(n) => write!(f, "{n}"),
            PointId::Uuid(u) => write!(f, "{}", uuid::Uuid::from_u128(u).hyphenated()),
        }
    }
}

impl Serialize for PointId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            PointId::Num(n) => s.serialize_u64(n),
            PointId::Uuid(u) => {
                let mut buf = uuid::Uuid::encode_buffer();
                s.serialize_str(uuid::Uuid::from_u128(u).hyphenated().encode_lower(&mut buf))
            }
        }
    }
}

impl<'de> Deserialize<'de> for PointId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PointIdVisitor)
    }
}

struct PointIdVisitor;

impl Visitor<'_> for PointIdVisitor {
    type Value = PointId;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an unsigned integer or a UUID string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<PointId, E> {
        Ok(PointId::Num(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<PointId, E> {
        u64::try_from(v)
            .map(PointId::Num)
            .map_err(|_| E::custom(format!("point id must be unsigned, got {v}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<PointId, E> {
        uuid::Uuid::try_parse(v)
            .map(|u| PointId::Uuid(u.as_u128()))
            .map_err(|_| E::custom(format!("Unable to parse UUID: {v}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_order_before_uuids() {
        assert!(PointId::Num(u64::MAX) < PointId::Uuid(0));
    }

    #[test]
    fn parses_both_forms_and_round_trips() {
        let u = "550e8400-e29b-41d4-a716-446655440000";
        let id = PointId::parse(u).expect("uuid");
        assert_eq!(id.to_string(), u);
        assert_eq!(PointId::parse("42"), Some(PointId::Num(42)));
        assert_eq!(PointId::parse("-1"), None);
        let json = serde_json::to_string(&id).expect("ser");
        assert_eq!(json, format!("\"{u}\""));
        let back: PointId = serde_json::from_str(&json).expect("de");
        assert_eq!(back, id);
        assert!(serde_json::from_str::<PointId>("-3").is_err());
        assert!(serde_json::from_str::<PointId>("\"nope\"").is_err());
    }

    #[test]
    fn stable_hash_is_fixed() {
        // Changing these values would move points to other shards on restart.
        assert_eq!(PointId::Num(0).stable_hash(), 0xE220_A839_7B1D_CDAF);
        assert_ne!(PointId::Num(1).stable_hash(), PointId::Num(2).stable_hash());
    }
}
