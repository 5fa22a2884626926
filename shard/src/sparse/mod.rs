//! Sparse vectors in immutable segments: the inverted index (postings) built with a segment
//! and searched in place, and the idf weighting of queries.
//!
//! A segment stores each sparse space twice: per slot (sorted indices and values, for reads
//! and rebuilds) and as postings, index → (slot, value) sorted by slot, for search. A search
//! walks only the postings of the query's indices, so only points sharing an index with the
//! query are scored, and the scores are exact dot products (the same additions, in the same
//! order, as [`crate::vector::sparse_dot`]).

pub mod idf;
pub mod postings;

#[cfg(test)]
mod tests;
