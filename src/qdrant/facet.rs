//! `POST /collections/{name}/facet`: how many points have each value of a payload key.
//!
//! As in Qdrant, the key needs a payload index of a type facets are defined for (keyword,
//! integer, bool, uuid), and only values of that type are counted; a point counts once per
//! distinct value (a value inside an array counts like a single one). Counts are always
//! exact here (scans), so `exact` changes nothing. Hits are ordered by count, descending, then
//! by value, ascending.

use schemars::JsonSchema;
use std::rc::Rc;
use std::sync::Arc;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use vexfs_shard::filter::{Filter, JsonPath};

use super::error::Error;
use super::json::parse_body;
use super::model::seq;
use super::{check_filter, check_limit, refuse_shard_key, write_result};
use crate::runtime::core::Core;
use crate::runtime::ops::{self, FacetKey};

/// Default number of values returned (Qdrant's).
const FACET_LIMIT_DEFAULT: usize = 10;

/// Index types a facet can count, as Qdrant names them.
const FACET_INDEX_TYPES: [&str; 4] = ["keyword", "integer", "bool", "uuid"];

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct FacetBody {
    key: String,
    limit: Option<usize>,
    filter: Option<Filter>,
    #[allow(dead_code)]
    exact: Option<bool>,
    shard_key: Option<Value>,
}

struct HitOut<'a>(&'a (FacetKey, usize));

impl Serialize for HitOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (key, count) = self.0;
        let mut st = s.serialize_struct("FacetValueHit", 2)?;
        match key {
            FacetKey::Str(v) => st.serialize_field("value", v)?,
            FacetKey::Int(v) => st.serialize_field("value", v)?,
            FacetKey::Bool(v) => st.serialize_field("value", v)?,
        }
        st.serialize_field("count", count)?;
        st.end()
    }
}

/// The index type of `key`, if it has one facets can count.
fn facet_index_type(core: &Core, name: &str, key: &str) -> Result<&'static str, Error> {
    let coll = core.catalog.borrow().get(name)?;
    let ty = coll.config.payload_indexes.get(key).and_then(|schema| {
        let ty = match schema {
            Value::String(s) => Some(s.as_str()),
            Value::Object(m) => m.get("type").and_then(Value::as_str),
            _ => None,
        }?;
        FACET_INDEX_TYPES.iter().copied().find(|t| *t == ty)
    });
    ty.ok_or_else(|| {
        Error::BadRequest(format!(
            "Bad request: Index required but not found for \"{key}\" of one of the following types: [{}]. Help: Create an index for this key or use a different key.",
            FACET_INDEX_TYPES.join(", ")
        ))
    })
}

/// `POST /collections/{name}/facet`
pub async fn facet(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: FacetBody = parse_body(body)?;
    refuse_shard_key(&req.shard_key)?;
    let limit = check_limit(req.limit.unwrap_or(FACET_LIMIT_DEFAULT))?;
    let filter = check_filter(req.filter)?.map(Arc::new);
    let path = JsonPath::parse(&req.key).map_err(|e| Error::Validation(format!("key: {e}")))?;
    let ty = facet_index_type(core, name, &req.key)?;
    let mut hits = ops::facet_counts(core, name, path, filter).await?;
    hits.retain(|(k, _)| match k {
        FacetKey::Str(_) => ty == "keyword" || ty == "uuid",
        FacetKey::Int(_) => ty == "integer",
        FacetKey::Bool(_) => ty == "bool",
    });
    hits.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    hits.truncate(limit);
    #[derive(Serialize)]
    struct FacetResponse<H> {
        hits: H,
    }
    write_result(
        out,
        &FacetResponse {
            hits: seq(hits.iter().map(HitOut)),
        },
    )
}
