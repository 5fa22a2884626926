//! Payload indexes of the shard's segments: which keys are indexed (the collection's
//! `payload_schema`, set with [`Shard::set_payload_indexes`]), and the indexer step that builds
//! a segment's in-memory [`PayloadIndex`] when it lacks one for the current definitions.
//!
//! Indexes are derived data kept in memory only: they are rebuilt from the segment's payloads
//! after every open, and a search that finds none yet falls back to evaluating the filter on
//! every slot (same answer, slower). The mutable part is small and always scanned.

use vexfs_io::Storage;

use super::Shard;
use crate::filter::JsonPath;
use crate::payload_index::{IndexKind, PayloadIndex};

impl<S: Storage> Shard<S> {
    /// Replaces the indexed keys. Segments get indexes for the new list from the indexer;
    /// until then they keep answering from the old ones (still a superset of the matches for
    /// the keys both lists have, and unused keys are simply not consulted).
    pub fn set_payload_indexes(&self, defs: Vec<(JsonPath, IndexKind)>) {
        {
            let mut current = self.payload_defs.borrow_mut();
            if current.1 == defs {
                return;
            }
            current.0 += 1;
            current.1 = defs;
        }
        self.wake_indexer();
    }

    /// Segments whose payload index is built for the current definitions (tests and stats).
    pub fn payload_indexed_segment_count(&self) -> usize {
        let version = self.payload_defs.borrow().0;
        let parts = self.parts.borrow();
        parts
            .segments
            .iter()
            .filter(|e| e.payload_index_version == version)
            .count()
    }

    /// Builds the payload index of one segment that lacks one for the current definitions.
    /// Returns false when none does. Synchronous (one pass over the segment's payloads); the
    /// caller yields between segments.
    pub(super) fn payload_index_next(&self) -> bool {
        let (version, defs) = self.payload_defs.borrow().clone();
        let target = {
            let parts = self.parts.borrow();
            parts
                .segments
                .iter()
                .position(|e| e.payload_index_version != version)
        };
        let Some(i) = target else { return false };
        let index = if defs.is_empty() {
            None
        } else {
            let parts = self.parts.borrow();
            let seg = &parts.segments[i].segment;
            Some(PayloadIndex::build(&defs, seg.len() as u32, |slot| {
                if seg.is_deleted(slot) {
                    return None;
                }
                // Checksummed at open: a payload that does not parse reads as none, as the
                // filter evaluator reads it.
                seg.payload(slot).ok().flatten()
            }))
        };
        let mut parts = self.parts.borrow_mut();
        let e = &mut parts.segments[i];
        e.payload_index = index;
        e.payload_index_version = version;
        true
    }
}
