//! Payload indexes of one immutable part: for each indexed key, the slots holding each value,
//! so a filter's indexed conditions become a candidate set instead of a scan of every payload.
//!
//! The contract that makes this safe: [`PayloadIndex::candidates`] returns a *superset* of the
//! slots whose payload passes the filter (it never drops a match), so callers still evaluate
//! the whole filter on each candidate and get exactly the answer of a full scan, only faster.
//! To keep the superset property the index extracts values with the same path walk
//! ([`crate::filter::JsonPath::any_value`]) and the same one-level array flattening as
//! [`crate::filter::Filter::matches`], and answers only condition kinds whose matching values
//! it holds completely (see [`field`]); anything else is "no restriction".
//!
//! Which keys are indexed, and as what, is the collection's business (`PUT /index`); the index
//! of a part is built from its payloads when the part is opened or written.

mod field;
mod plan;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::filter::JsonPath;
use crate::op::Payload;

pub use field::FieldIndex;
pub use plan::Candidates;

/// The declared type of an indexed key, with Qdrant's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IndexKind {
    Keyword,
    Integer,
    Float,
    Bool,
    Datetime,
    Uuid,
    /// Full-text: declared and reported, not used for candidates (text matching tokenizes).
    Text,
    /// Declared and reported, not used for candidates.
    Geo,
}

impl IndexKind {
    /// `"keyword"`, `"integer"`, … as in Qdrant's `PayloadSchemaType`.
    pub fn parse(name: &str) -> Option<IndexKind> {
        Some(match name {
            "keyword" => IndexKind::Keyword,
            "integer" => IndexKind::Integer,
            "float" => IndexKind::Float,
            "bool" => IndexKind::Bool,
            "datetime" => IndexKind::Datetime,
            "uuid" => IndexKind::Uuid,
            "text" => IndexKind::Text,
            "geo" => IndexKind::Geo,
            _ => return None,
        })
    }
}

/// The indexes of one part, by key path text.
#[derive(Debug, Default)]
pub struct PayloadIndex {
    fields: BTreeMap<String, FieldIndex>,
}

impl PayloadIndex {
    /// Indexes `slots` slots; `payload(slot)` gives the live payload of a slot (`None` for
    /// none, or for a deleted slot, which then is simply never a candidate).
    pub fn build<F>(defs: &[(JsonPath, IndexKind)], slots: u32, mut payload: F) -> PayloadIndex
    where
        F: FnMut(u32) -> Option<Payload>,
    {
        let mut fields: BTreeMap<String, FieldIndex> = defs
            .iter()
            .map(|(path, kind)| (path.as_str().to_owned(), FieldIndex::new(*kind)))
            .collect();
        if !fields.is_empty() {
            for slot in 0..slots {
                let Some(p) = payload(slot) else { continue };
                for (path, _) in defs {
                    if let Some(f) = fields.get_mut(path.as_str()) {
                        f.add(path, &p, slot);
                    }
                }
            }
        }
        for f in fields.values_mut() {
            f.seal();
        }
        PayloadIndex { fields }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub(crate) fn field(&self, key: &str) -> Option<&FieldIndex> {
        self.fields.get(key)
    }
}
