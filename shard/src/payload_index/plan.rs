//! From a filter to candidate slots: the indexed conditions a point must pass (`must`, and
//! `should` when every one of its conditions is indexed) become posting lists, intersected.
//! Conditions the index cannot answer restrict nothing, so the result stays a superset of the
//! matches; `must_not` and `min_should` are never used (a negation has no posting list).

use super::PayloadIndex;
use crate::filter::{Condition, FieldCondition, Filter, Match, RangeInterface};

/// What the index knows about a filter in one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidates {
    /// No indexed condition applies: every slot is a candidate.
    All,
    /// Only these slots (sorted, distinct) can pass; the filter still decides each.
    Slots(Vec<u32>),
}

impl PayloadIndex {
    /// Slots that may pass `filter` (a superset of those that do).
    pub fn candidates(&self, filter: &Filter) -> Candidates {
        if self.is_empty() {
            return Candidates::All;
        }
        match self.of_filter(filter) {
            Some(v) => Candidates::Slots(v),
            None => Candidates::All,
        }
    }

    /// `None`: no restriction known.
    fn of_filter(&self, filter: &Filter) -> Option<Vec<u32>> {
        let mut acc: Option<Vec<u32>> = None;
        let mut narrow = |list: Vec<u32>| {
            acc = Some(match acc.take() {
                None => list,
                Some(a) => intersect(&a, &list),
            });
        };
        for c in &filter.must {
            if let Some(list) = self.of_condition(c) {
                narrow(list);
            }
        }
        if !filter.should.is_empty() {
            // Only when every alternative is indexed: one unindexed alternative could let
            // any point through.
            let lists: Option<Vec<Vec<u32>>> =
                filter.should.iter().map(|c| self.of_condition(c)).collect();
            if let Some(lists) = lists {
                narrow(union(lists));
            }
        }
        acc
    }

    fn of_condition(&self, c: &Condition) -> Option<Vec<u32>> {
        match c {
            Condition::Field(f) => self.of_field(f),
            Condition::Filter(f) => self.of_filter(f),
            _ => None,
        }
    }

    fn of_field(&self, c: &FieldCondition) -> Option<Vec<u32>> {
        // The flags and values_count decide before the value tests (see the evaluator), and a
        // geo shape is not indexed here: any of them makes the condition unanswerable.
        if c.is_empty.is_some()
            || c.is_null.is_some()
            || c.values_count.is_some()
            || c.geo_radius.is_some()
            || c.geo_bounding_box.is_some()
            || c.geo_polygon.is_some()
        {
            return None;
        }
        let field = self.field(c.key.as_str())?;
        let by_match = match &c.r#match {
            None => None,
            Some(Match::Value(v)) => Some(field.equal(v)?),
            Some(Match::Any(list)) => Some(field.any_of(list)?),
            Some(_) => return None,
        };
        let by_range = match &c.range {
            None => None,
            Some(RangeInterface::Float(r)) => Some(field.numbers_in(r)?),
            Some(RangeInterface::Datetime(r)) => Some(field.times_in(r)?),
        };
        // Both set (refused by validation) are ORed by the evaluator.
        match (by_match, by_range) {
            (Some(a), Some(b)) => Some(union(vec![a, b])),
            (Some(a), None) | (None, Some(a)) => Some(a),
            (None, None) => None,
        }
    }
}

fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::with_capacity(a.len().min(b.len())));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn union(lists: Vec<Vec<u32>>) -> Vec<u32> {
    let mut out: Vec<u32> = lists.into_iter().flatten().collect();
    out.sort_unstable();
    out.dedup();
    out
}
