//! JSON shapes shared by several routes: vectors in, payload/vector selectors, points out.

use schemars::JsonSchema;
use std::fmt;

use crate::runtime::ops::ReadShape;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};
use vexfs_shard::{
    MultiVector, PayloadSelector, Record, ScoredRecord, SparseVector, Vector, VectorSelector,
};

/// The `vector` of a point: one unnamed dense vector (or multivector, as the named form with
/// the name ""), or vectors by name (dense arrays, rows of a multivector, or sparse
/// `{"indices", "values"}` objects). Inference inputs parse (so the error can name them) but
/// are refused.
#[derive(Debug, Clone, PartialEq)]
pub enum VectorInput {
    Dense(Vec<f32>),
    Named(Vec<(String, Vector)>),
}

impl VectorInput {
    /// The vectors by name, "" standing for the unnamed one.
    pub fn into_named(self) -> Vec<(String, Vector)> {
        match self {
            VectorInput::Dense(v) => vec![(String::new(), Vector::Dense(v))],
            VectorInput::Named(v) => v,
        }
    }
}

/// What the deserializer below accepts.
impl JsonSchema for VectorInput {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VectorInput".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let dense =
            serde_json::json!({"type": "array", "items": {"type": "number", "format": "float"}});
        schemars::json_schema!({
            "description": "One dense vector (of the unnamed vector space), or vectors by \
                            vector name: dense arrays or sparse {indices, values} objects.",
            "anyOf": [
                dense,
                {"type": "array", "items": dense},
                {"type": "object", "additionalProperties": {"anyOf": [dense, {"type": "array", "items": dense}, sparse_schema()]}}
            ]
        })
    }
}

/// JSON schema of a sparse vector object.
pub fn sparse_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "required": ["indices", "values"],
        "properties": {
            "indices": {"type": "array", "items": {"type": "integer", "format": "uint32", "minimum": 0}},
            "values": {"type": "array", "items": {"type": "number", "format": "float"}}
        }
    })
}

/// An element of a JSON array of a vector: a number, or a row (multivector).
enum Elem {
    Num(f32),
    Row(Vec<f32>),
}

impl<'de> Deserialize<'de> for Elem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Elem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a row of numbers")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Elem, E> {
                Ok(Elem::Num(v as f32))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Elem, E> {
                Ok(Elem::Num(v as f32))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Elem, E> {
                Ok(Elem::Num(v as f32))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Elem, A::Error> {
                let mut row = Vec::with_capacity(
                    seq.size_hint()
                        .unwrap_or(0)
                        .min(crate::limits::VECTOR_DIM_MAX),
                );
                while let Some(x) = seq.next_element::<f32>()? {
                    row.push(x);
                }
                Ok(Elem::Row(row))
            }
        }
        d.deserialize_any(V)
    }
}

/// A vector given as a JSON array: numbers (dense) or rows of numbers (multivector).
struct ArrayVector(Vector);

impl<'de> Deserialize<'de> for ArrayVector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ArrayVector;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a vector (array of numbers, or of rows of numbers)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ArrayVector, A::Error> {
                let mut flat = Vec::with_capacity(
                    seq.size_hint()
                        .unwrap_or(0)
                        .min(crate::limits::VECTOR_DIM_MAX),
                );
                let mut dim: Option<usize> = None;
                let mut rows = 0usize;
                while let Some(e) = seq.next_element::<Elem>()? {
                    match (e, dim) {
                        (Elem::Num(x), None) if rows == 0 => flat.push(x),
                        (Elem::Row(r), d) if flat.is_empty() || d.is_some() => {
                            if d.is_some_and(|d| d != r.len()) {
                                return Err(de::Error::custom(
                                    "every row of a multivector must have the same dimension",
                                ));
                            }
                            dim = Some(r.len());
                            rows += 1;
                            flat.extend(r);
                        }
                        _ => {
                            return Err(de::Error::custom(
                                "a vector mixes numbers and rows of numbers",
                            ))
                        }
                    }
                }
                match dim {
                    None => Ok(ArrayVector(Vector::Dense(flat))),
                    Some(dim) => MultiVector::new(dim, flat)
                        .map(|m| ArrayVector(Vector::Multi(m)))
                        .map_err(|e| {
                            de::Error::custom(e.to_string().trim_start_matches("Wrong input: "))
                        }),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<ArrayVector, A::Error> {
                Err(de::Error::custom(
                    "expected a dense vector (array of numbers), got an object",
                ))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for VectorInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VectorInput;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a vector (array of numbers) or an object of named vectors")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<VectorInput, A::Error> {
                ArrayVector::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(
                    |v| match v.0 {
                        Vector::Dense(d) => VectorInput::Dense(d),
                        other => VectorInput::Named(vec![(String::new(), other)]),
                    },
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VectorInput, A::Error> {
                // Decided by value type, not by name: `{"image": [..]}` is a named dense
                // vector, `{"text": "..", "model": ".."}` an inference object.
                let mut named = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    match map.next_value::<NamedValue>()? {
                        NamedValue::Vector(v) => named.push((name, v)),
                        NamedValue::Other => {
                            return Err(de::Error::custom(format!(
                                "`{name}`: inference objects are not supported by this server yet"
                            )))
                        }
                    }
                }
                Ok(VectorInput::Named(named))
            }
        }
        d.deserialize_any(V)
    }
}

/// The value of one entry of a named-vector object (or of a batch's list of a name).
pub enum NamedValue {
    Vector(Vector),
    /// A string or number of an inference object, …
    Other,
}

/// Checks and sorts a sparse vector as sent.
fn sparse<E: de::Error>(indices: Option<Vec<u32>>, values: Option<Vec<f32>>) -> Result<Vector, E> {
    let (Some(indices), Some(values)) = (indices, values) else {
        return Err(E::custom("a sparse vector needs `indices` and `values`"));
    };
    SparseVector::new(indices, values)
        .map(Vector::Sparse)
        .map_err(|e| E::custom(e.to_string().trim_start_matches("Wrong input: ").to_owned()))
}

impl<'de> Deserialize<'de> for NamedValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NamedValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a vector (array of numbers) or a sparse vector")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<NamedValue, A::Error> {
                ArrayVector::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(|v| NamedValue::Vector(v.0))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NamedValue, A::Error> {
                let (mut indices, mut values) = (None, None);
                let mut other = false;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "indices" => indices = Some(map.next_value::<Vec<u32>>()?),
                        "values" => values = Some(map.next_value::<Vec<f32>>()?),
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                            other = true;
                        }
                    }
                }
                if other {
                    return Ok(NamedValue::Other);
                }
                sparse(indices, values).map(NamedValue::Vector)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<NamedValue, E> {
                Ok(NamedValue::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<NamedValue, E> {
                Ok(NamedValue::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<NamedValue, E> {
                Ok(NamedValue::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<NamedValue, E> {
                Ok(NamedValue::Other)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<NamedValue, E> {
                Ok(NamedValue::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<NamedValue, E> {
                Ok(NamedValue::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// One vector of a batch's list for a name: dense or sparse.
pub struct BatchVector(pub Vector);

impl<'de> Deserialize<'de> for BatchVector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NamedValue::deserialize(d)? {
            NamedValue::Vector(v) => Ok(BatchVector(v)),
            NamedValue::Other => Err(de::Error::custom(
                "inference objects are not supported by this server yet",
            )),
        }
    }
}

impl JsonSchema for BatchVector {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BatchVector".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let dense =
            serde_json::json!({"type": "array", "items": {"type": "number", "format": "float"}});
        schemars::json_schema!({"anyOf": [dense, {"type": "array", "items": dense}, sparse_schema()]})
    }
}

/// `with_payload`: bool, list of keys, or `{include|exclude}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum WithPayload {
    Flag(bool),
    Keys(Vec<String>),
    Selector(PayloadSelectorIn),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PayloadSelectorIn {
    #[serde(default)]
    include: Option<OneOrMany>,
    #[serde(default)]
    exclude: Option<OneOrMany>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

impl WithPayload {
    pub fn selector(opt: Option<WithPayload>, default: bool) -> PayloadSelector {
        match opt {
            None if default => PayloadSelector::All,
            None | Some(WithPayload::Flag(false)) => PayloadSelector::None,
            Some(WithPayload::Flag(true)) => PayloadSelector::All,
            Some(WithPayload::Keys(k)) => PayloadSelector::Include(k),
            Some(WithPayload::Selector(s)) => match (s.include, s.exclude) {
                (Some(inc), _) => PayloadSelector::Include(inc.into_vec()),
                (None, Some(exc)) => PayloadSelector::Exclude(exc.into_vec()),
                (None, None) => PayloadSelector::All,
            },
        }
    }
}

/// `with_vector` (alias `with_vectors`): bool or list of names.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum WithVector {
    Flag(bool),
    Names(Vec<String>),
}

impl WithVector {
    pub fn selector(opt: Option<WithVector>) -> VectorSelector {
        match opt {
            None | Some(WithVector::Flag(false)) => VectorSelector::None,
            Some(WithVector::Flag(true)) => VectorSelector::All,
            Some(WithVector::Names(n)) => VectorSelector::Names(n),
        }
    }
}

/// What a read returns of each point, from a request's `with_payload` (`payload_default` when
/// absent) and `with_vector`.
pub fn read_shape(
    with_payload: Option<WithPayload>,
    payload_default: bool,
    with_vector: Option<WithVector>,
) -> ReadShape {
    ReadShape {
        payload: WithPayload::selector(with_payload, payload_default),
        vectors: WithVector::selector(with_vector),
    }
}

/// Vectors of a record as JSON: a bare array for an unnamed-vector collection, else a map.
struct VectorsOut<'a> {
    vectors: &'a [(String, Vector)],
    unnamed: bool,
}

impl Serialize for VectorsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The unnamed vector alone is a bare value; beside sparse vectors it is the entry ""
        // of the map, as in Qdrant.
        if let [(name, v)] = self.vectors {
            if self.unnamed && name.is_empty() {
                return VectorOut(v).serialize(s);
            }
        }
        let mut m = s.serialize_map(Some(self.vectors.len()))?;
        for (name, v) in self.vectors {
            m.serialize_entry(name, &VectorOut(v))?;
        }
        m.end()
    }
}

impl<'a> VectorsOut<'a> {
    /// The vectors of `record`, if the read asked for them.
    fn of(record: &'a Record, unnamed: bool) -> Option<Self> {
        record
            .vectors
            .as_deref()
            .map(|vectors| VectorsOut { vectors, unnamed })
    }
}

/// One vector as JSON: an array, or `{"indices", "values"}` for a sparse one.
pub struct VectorOut<'a>(pub &'a Vector);

impl Serialize for VectorOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Vector::Dense(v) => v.serialize(s),
            Vector::Multi(m) => s.collect_seq(m.rows()),
            Vector::Sparse(v) => {
                let mut st = s.serialize_struct("SparseVector", 2)?;
                st.serialize_field("indices", v.indices())?;
                st.serialize_field("values", v.values())?;
                st.end()
            }
        }
    }
}

/// A point as Qdrant's `Record`.
pub struct RecordOut<'a> {
    pub record: &'a Record,
    pub unnamed: bool,
}

impl Serialize for RecordOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.record;
        let mut st = s.serialize_struct("Record", 3)?;
        st.serialize_field("id", &r.id)?;
        st.serialize_field("payload", &r.payload)?;
        st.serialize_field("vector", &VectorsOut::of(r, self.unnamed))?;
        st.end()
    }
}

/// A search hit as Qdrant's `ScoredPoint`.
pub struct ScoredOut<'a> {
    pub hit: &'a ScoredRecord,
    pub unnamed: bool,
}

impl Serialize for ScoredOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = &self.hit.record;
        let mut st = s.serialize_struct("ScoredPoint", 5)?;
        st.serialize_field("id", &r.id)?;
        st.serialize_field("version", &r.version)?;
        st.serialize_field("score", &self.hit.score)?;
        st.serialize_field("payload", &r.payload)?;
        st.serialize_field("vector", &VectorsOut::of(r, self.unnamed))?;
        st.end()
    }
}

/// A list serialized lazily from an iterator of items, without collecting.
pub struct SeqOut<I>(pub std::cell::RefCell<Option<I>>);

impl<I: Iterator<Item = T>, T: Serialize> Serialize for SeqOut<I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let iter = self.0.borrow_mut().take();
        s.collect_seq(iter.into_iter().flatten())
    }
}

pub fn seq<I: Iterator<Item = T>, T: Serialize>(iter: I) -> SeqOut<I> {
    SeqOut(std::cell::RefCell::new(Some(iter)))
}

/// Qdrant's `UpdateResult`.
#[derive(Serialize)]
pub struct UpdateResult {
    pub operation_id: u64,
    pub status: &'static str,
}

impl UpdateResult {
    pub fn new(operation_id: u64, waited: bool) -> Self {
        UpdateResult {
            operation_id,
            status: if waited { "completed" } else { "acknowledged" },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<VectorInput, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn vector_shapes() {
        assert_eq!(
            parse("[1, 2.5, -3]").expect("dense"),
            VectorInput::Dense(vec![1.0, 2.5, -3.0])
        );
        assert_eq!(
            parse(r#"{"a": [1], "b": []}"#).expect("named"),
            VectorInput::Named(vec![
                ("a".into(), vec![1.0].into()),
                ("b".into(), vec![].into())
            ])
        );
        assert_eq!(
            parse("[[1,2],[3,4]]").expect("multi"),
            VectorInput::Named(vec![(
                String::new(),
                Vector::Multi(MultiVector::new(2, vec![1.0, 2.0, 3.0, 4.0]).expect("rows"))
            )])
        );
        for bad in ["[[1,2],[3]]", "[[1,2],3]", "[1,[2]]", "[[]]"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // Sparse vectors are sorted by index on the way in.
        assert_eq!(
            parse(r#"{"a": {"indices": [5, 1], "values": [0.5, -1]}}"#).expect("sparse"),
            VectorInput::Named(vec![(
                "a".into(),
                SparseVector::new(vec![1, 5], vec![-1.0, 0.5])
                    .expect("valid")
                    .into()
            )])
        );
        let e = parse(r#"{"a": {"indices": [1, 1], "values": [0.5, 1]}}"#).expect_err("dup");
        assert!(e.to_string().contains("unique"), "{e}");
        let e = parse(r#"{"a": {"indices": [1], "values": []}}"#).expect_err("lengths");
        assert!(e.to_string().contains("same length"), "{e}");
        let e = parse(r#"{"a": {"indices": [1]}}"#).expect_err("no values");
        assert!(e.to_string().contains("values"), "{e}");
        let e = parse(r#"{"text": "hello", "model": "m"}"#).expect_err("inference");
        assert!(e.to_string().contains("inference"), "{e}");
        assert_eq!(
            parse(r#"{"image": [1], "text": [2, 3]}"#).expect("names from Qdrant's docs"),
            VectorInput::Named(vec![
                ("image".into(), vec![1.0].into()),
                ("text".into(), vec![2.0, 3.0].into())
            ])
        );
        assert!(parse(r#"["x"]"#).is_err());
        assert!(parse("3").is_err());
    }

    #[test]
    fn payload_selector_forms() {
        let p =
            |s: &str| WithPayload::selector(Some(serde_json::from_str(s).expect("parse")), false);
        assert_eq!(p("true"), PayloadSelector::All);
        assert_eq!(p("false"), PayloadSelector::None);
        assert_eq!(p(r#"["a"]"#), PayloadSelector::Include(vec!["a".into()]));
        assert_eq!(
            p(r#"{"exclude": ["b"]}"#),
            PayloadSelector::Exclude(vec!["b".into()])
        );
        assert_eq!(WithPayload::selector(None, true), PayloadSelector::All);
    }
}
