//! Qdrant-compatible payload filtering: the filter model as Qdrant's REST API spells it, and
//! its evaluation against one point at a time.
//!
//! Use: deserialize a [`Filter`] (or call [`Filter::from_value`], which also validates), call
//! [`Filter::validate`] once per request, then [`Filter::matches`] per candidate point with a
//! [`PointView`]. Evaluation never allocates.
//!
//! Semantics follow Qdrant 1.19.1 (see `eval.rs` for the details and where Qdrant was unclear).
//!
//! Stack safety: deserialization recursion is bounded by the JSON parser upstream (serde_json
//! and simd-json stop at 128 levels), so a filter that exists in memory is at most that deep;
//! [`Filter::validate`] rejects anything deeper than [`FILTER_DEPTH_MAX`] filter levels, and
//! evaluation of a validated filter therefore recurses at most that deep.

mod datetime;
mod eval;
mod geo;
mod model;
mod path;
mod schema;
mod slice;
mod text;
mod validate;
mod values;

#[cfg(test)]
mod tests_de;
#[cfg(test)]
mod tests_eval;
#[cfg(test)]
mod tests_logic;
#[cfg(test)]
pub(crate) mod tests_prop;
#[cfg(test)]
mod tests_ref;
#[cfg(test)]
mod tests_validate;

pub use datetime::Timestamp;
pub use geo::{GeoBoundingBox, GeoLineString, GeoPoint, GeoPolygon, GeoRadius};
pub use model::{
    Condition, FieldCondition, Filter, HasIdCondition, HasVectorCondition, IsEmptyCondition,
    IsNullCondition, MinShould, Nested, NestedCondition, PayloadField, SliceCondition, ValuesCount,
};
pub use path::{JsonPath, PathItem};
pub use slice::Slice;
pub use text::TextQuery;
pub use values::{AnyVariants, DatetimeRange, Match, Range, RangeInterface, ValueVariant};

use crate::op::Payload;
use crate::point_id::PointId;

/// Deepest nesting of filters (a filter inside a condition list, or a `nested` condition's
/// filter, is one level deeper) that [`Filter::validate`] accepts. Real filters are a few
/// levels deep; the limit keeps evaluation recursion far from the stack's end.
pub const FILTER_DEPTH_MAX: usize = 32;

/// Most items (keys, `[n]`, `[]`) one payload key path may have; paths are walked recursively.
pub const PATH_ITEMS_MAX: usize = 64;

/// One point as the filter sees it. Cheap to build: all borrowed.
pub struct PointView<'a> {
    pub id: PointId,
    /// `None` is the same as an empty payload.
    pub payload: Option<&'a Payload>,
    /// Whether the point has the named vector ("" = the unnamed vector).
    pub has_vector: &'a dyn Fn(&str) -> bool,
}
