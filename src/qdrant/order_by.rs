//! `scroll` with `order_by`: points ordered by a numeric payload field instead of by id.
//!
//! As in Qdrant, the field needs a range-capable payload index (integer or float), `offset`
//! cannot be combined with it (pages continue with `start_from`), a point with several values
//! appears once per value, and every record carries its `order_value`.

use schemars::JsonSchema;
use std::cmp::Ordering;
use std::rc::Rc;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use vexfs_shard::filter::Filter;
use vexfs_shard::{PayloadSelector, PointId, VectorSelector};

use super::error::Error;
use super::model::RecordOut;
use super::write_result;
use crate::runtime::core::Core;
use crate::runtime::ops::{self, ReadShape};

/// `order_by`: a key, or `{key, direction, start_from}`.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OrderByIn {
    Key(String),
    Full(OrderBy),
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBy {
    key: String,
    direction: Option<Direction>,
    start_from: Option<f64>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Direction {
    Asc,
    Desc,
}

impl OrderByIn {
    fn into_full(self) -> OrderBy {
        match self {
            OrderByIn::Key(key) => OrderBy {
                key,
                direction: None,
                start_from: None,
            },
            OrderByIn::Full(o) => o,
        }
    }
}

/// Numbers at dotted `path` in a payload (arrays contribute each numeric element).
fn values_at(payload: Option<&serde_json::Map<String, Value>>, path: &str) -> Vec<f64> {
    let mut cur = payload.map(|p| Value::Object(p.clone()));
    for part in path.split('.') {
        cur = cur.and_then(|v| match v {
            Value::Object(mut m) => m.remove(part),
            _ => None,
        });
    }
    match cur {
        Some(Value::Number(n)) => n.as_f64().into_iter().collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_f64).collect(),
        _ => Vec::new(),
    }
}

/// Runs an ordered scroll and writes the page.
pub async fn scroll(
    core: &Rc<Core>,
    name: &str,
    order: OrderByIn,
    limit: usize,
    filter: Option<Arc<Filter>>,
    shape: ReadShape,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let order = order.into_full();
    let coll = core.catalog.borrow().get(name)?;
    let unnamed = coll.config.unnamed_vector;
    let indexed = coll.config.payload_indexes.get(&order.key).cloned();
    let kind = indexed.as_ref().and_then(|s| match s {
        Value::String(t) => Some(t.clone()),
        Value::Object(m) => m.get("type").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    });
    if !matches!(kind.as_deref(), Some("integer" | "float")) {
        return Err(Error::BadRequest(format!(
            "Bad request: No range index for `order_by` key: `{}`. Create an integer or float payload index to use `order_by`",
            order.key
        )));
    }
    let desc = order.direction == Some(Direction::Desc);
    // Every matching point's values of the key (the full scan an index will replace).
    let only_key = ReadShape {
        payload: PayloadSelector::Include(vec![order.key.clone()]),
        vectors: VectorSelector::None,
    };
    let (all, _) = ops::scroll(core, name, None, usize::MAX - 1, filter, only_key).await?;
    let mut entries: Vec<(f64, PointId)> = all
        .iter()
        .flat_map(|r| {
            values_at(r.payload.as_ref(), &order.key)
                .into_iter()
                .map(move |v| (v, r.id))
        })
        .filter(|(v, _)| match order.start_from {
            None => true,
            Some(s) if desc => *v <= s,
            Some(s) => *v >= s,
        })
        .collect();
    entries.sort_by(|a, b| {
        let by_value = a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal);
        let by_value = if desc { by_value.reverse() } else { by_value };
        by_value.then_with(|| a.1.cmp(&b.1))
    });
    entries.truncate(limit);
    let ids: Vec<PointId> = entries.iter().map(|(_, id)| *id).collect();
    let records = ops::retrieve(core, name, ids, shape).await?;
    let by_id: std::collections::HashMap<PointId, &vexfs_shard::Record> =
        records.iter().map(|r| (r.id, r)).collect();
    let mut points = Vec::with_capacity(entries.len());
    for (value, id) in &entries {
        let Some(record) = by_id.get(id) else {
            continue;
        };
        let mut v = serde_json::to_value(RecordOut { record, unnamed })
            .map_err(|e| Error::Internal(format!("serializing a record: {e}")))?;
        // Integer-valued keys report integers, as Qdrant does for integer indexes.
        v["order_value"] = if kind.as_deref() == Some("integer") && value.fract() == 0.0 {
            Value::from(*value as i64)
        } else {
            Value::from(*value)
        };
        points.push(v);
    }
    write_result(
        out,
        &serde_json::json!({"points": points, "next_page_offset": null}),
    )
}
