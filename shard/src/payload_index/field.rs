//! The index of one key: posting lists (sorted, distinct slots) per value, and sorted
//! `(value, slot)` runs for ranges. Each answers only what it holds completely.

use std::collections::BTreeMap;

use serde_json::Value;

use super::IndexKind;
use crate::filter::{AnyVariants, DatetimeRange, JsonPath, Range, Timestamp, ValueVariant};
use crate::op::Payload;

#[derive(Debug)]
pub struct FieldIndex {
    kind: IndexKind,
    /// Keyword and uuid: string values.
    strings: BTreeMap<String, Vec<u32>>,
    /// Integer: values that are 64-bit integers (what `match` on integers compares).
    ints: BTreeMap<i64, Vec<u32>>,
    /// Integer and float: every number as f64 (what `range` compares), sorted.
    numbers: Vec<(f64, u32)>,
    /// Bool: slots holding false, true.
    bools: [Vec<u32>; 2],
    /// Datetime: strings that parse as datetimes, sorted.
    times: Vec<(Timestamp, u32)>,
}

impl FieldIndex {
    pub fn new(kind: IndexKind) -> FieldIndex {
        FieldIndex {
            kind,
            strings: BTreeMap::new(),
            ints: BTreeMap::new(),
            numbers: Vec::new(),
            bools: [Vec::new(), Vec::new()],
            times: Vec::new(),
        }
    }

    /// Adds the values `path` reaches in `payload`, looking one level into arrays, as filters
    /// do.
    pub(super) fn add(&mut self, path: &JsonPath, payload: &Payload, slot: u32) {
        path.any_value(Some(payload), |v| {
            match v {
                Value::Array(items) => items.iter().for_each(|x| self.add_one(x, slot)),
                x => self.add_one(x, slot),
            }
            false
        });
    }

    fn add_one(&mut self, v: &Value, slot: u32) {
        match self.kind {
            IndexKind::Keyword | IndexKind::Uuid => {
                if let Value::String(s) = v {
                    self.strings.entry(s.clone()).or_default().push(slot);
                }
            }
            IndexKind::Integer | IndexKind::Float => {
                if let Some(i) = v.as_i64().filter(|_| self.kind == IndexKind::Integer) {
                    self.ints.entry(i).or_default().push(slot);
                }
                if let Some(x) = v.as_f64() {
                    self.numbers.push((x, slot));
                }
            }
            IndexKind::Bool => {
                if let Value::Bool(b) = v {
                    self.bools[usize::from(*b)].push(slot);
                }
            }
            IndexKind::Datetime => {
                if let Some(t) = v.as_str().and_then(Timestamp::parse) {
                    self.times.push((t, slot));
                }
            }
            IndexKind::Text | IndexKind::Geo => {}
        }
    }

    /// Sorts and deduplicates everything once all slots are added.
    pub(super) fn seal(&mut self) {
        let tidy = |v: &mut Vec<u32>| {
            v.sort_unstable();
            v.dedup();
            v.shrink_to_fit();
        };
        self.strings.values_mut().for_each(tidy);
        self.ints.values_mut().for_each(tidy);
        self.bools.iter_mut().for_each(tidy);
        self.numbers
            .sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        self.times.sort_unstable();
    }

    /// Slots holding `value`; `None` when this index cannot tell (a value of another type).
    pub fn equal(&self, value: &ValueVariant) -> Option<Vec<u32>> {
        let list = match (self.kind, value) {
            (IndexKind::Keyword | IndexKind::Uuid, ValueVariant::Keyword(s)) => self.strings.get(s),
            (IndexKind::Integer, ValueVariant::Integer(i)) => self.ints.get(i),
            (IndexKind::Bool, ValueVariant::Bool(b)) => Some(&self.bools[usize::from(*b)]),
            _ => return None,
        };
        Some(list.cloned().unwrap_or_default())
    }

    /// Slots holding one of `values`.
    pub fn any_of(&self, values: &AnyVariants) -> Option<Vec<u32>> {
        let lists: Vec<&Vec<u32>> = match (self.kind, values) {
            (IndexKind::Keyword | IndexKind::Uuid, AnyVariants::Keywords(list)) => {
                list.iter().filter_map(|s| self.strings.get(s)).collect()
            }
            (IndexKind::Integer, AnyVariants::Integers(list)) => {
                list.iter().filter_map(|i| self.ints.get(i)).collect()
            }
            _ => return None,
        };
        let mut out: Vec<u32> = lists.into_iter().flatten().copied().collect();
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    /// Slots holding a number in `range`.
    pub fn numbers_in(&self, range: &Range) -> Option<Vec<u32>> {
        if !matches!(self.kind, IndexKind::Integer | IndexKind::Float) {
            return None;
        }
        let low = |x: f64| range.gt.is_none_or(|b| x > b) && range.gte.is_none_or(|b| x >= b);
        let high = |x: f64| range.lt.is_none_or(|b| x < b) && range.lte.is_none_or(|b| x <= b);
        let start = self.numbers.partition_point(|(x, _)| !low(*x));
        let end = self.numbers.partition_point(|(x, _)| high(*x)).max(start);
        Some(sorted_slots(self.numbers[start..end].iter().map(|e| e.1)))
    }

    /// Slots holding a datetime in `range`.
    pub fn times_in(&self, range: &DatetimeRange) -> Option<Vec<u32>> {
        if self.kind != IndexKind::Datetime {
            return None;
        }
        let low = |t: Timestamp| range.gt.is_none_or(|b| t > b) && range.gte.is_none_or(|b| t >= b);
        let high =
            |t: Timestamp| range.lt.is_none_or(|b| t < b) && range.lte.is_none_or(|b| t <= b);
        let start = self.times.partition_point(|(t, _)| !low(*t));
        let end = self.times.partition_point(|(t, _)| high(*t)).max(start);
        Some(sorted_slots(self.times[start..end].iter().map(|e| e.1)))
    }
}

fn sorted_slots(slots: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut v: Vec<u32> = slots.collect();
    v.sort_unstable();
    v.dedup();
    v
}
