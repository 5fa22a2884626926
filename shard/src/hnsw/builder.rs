//! Building graphs one point at a time ([`HnswBuilder`]) and packing a segment's graphs into
//! the bytes of one index file ([`HnswFileBuilder`]).

use rkyv::rancor;
use rkyv::util::AlignedVec;

use super::format::{
    distance_code, encode_header, Body, GraphBody, LayerBody, HNSW_BUFFER_ALIGN_BYTES,
    HNSW_FILE_ALIGN_BYTES, HNSW_HEADER_BYTES, NO_ENTRY,
};
use super::level::{LevelRng, HNSW_LEVEL_SEED};
use super::traverse::{greedy, search_layer, Links, Scored, Visited};
use super::{HnswConfig, HnswError, HNSW_MAX_EF, HNSW_MAX_M};
use crate::distance::Metric;
use crate::schema::Distance;
use crate::segment::Segment;

/// Links of a graph under construction: per slot, per layer the node is on.
struct BuildLinks {
    lists: Vec<Vec<Vec<u32>>>,
}

impl Links for BuildLinks {
    fn neighbours(&self, layer: usize, node: u32) -> &[u32] {
        self.lists
            .get(node as usize)
            .and_then(|l| l.get(layer))
            .map_or(&[], Vec::as_slice)
    }
}

/// Builds the graph of one column of one segment. Insert each slot once (any order; the
/// indexer uses slot order), reading vectors from the column passed to every call, so the
/// caller holds no borrow of the segment between calls and may yield.
pub struct HnswBuilder {
    column: String,
    dim: usize,
    distance: Distance,
    config: HnswConfig,
    slots: usize,
    links: BuildLinks,
    entry: Option<u32>,
    max_level: usize,
    inserted: u64,
    rng: LevelRng,
    visited: Visited,
}

impl HnswBuilder {
    pub fn new(
        column: &str,
        dim: usize,
        distance: Distance,
        config: HnswConfig,
        slots: usize,
    ) -> Result<Self, HnswError> {
        if config.m == 0 || config.m > HNSW_MAX_M {
            return Err(HnswError::Config(format!(
                "m must be in 1..={HNSW_MAX_M}, got {}",
                config.m
            )));
        }
        if slots > u32::MAX as usize {
            return Err(HnswError::Config(format!("{slots} slots, above u32")));
        }
        Ok(HnswBuilder {
            column: column.to_owned(),
            dim,
            distance,
            config: HnswConfig {
                m: config.m,
                ef_construct: config.ef_construct.clamp(1, HNSW_MAX_EF),
            },
            slots,
            links: BuildLinks {
                lists: vec![Vec::new(); slots],
            },
            entry: None,
            max_level: 0,
            inserted: 0,
            rng: LevelRng::new(HNSW_LEVEL_SEED),
            visited: Visited::new(slots),
        })
    }

    /// Points inserted so far.
    pub fn inserted(&self) -> u64 {
        self.inserted
    }

    /// Adds `slot`, whose vector is `data[slot*dim .. (slot+1)*dim]`. A slot out of range,
    /// already inserted, or whose vector `data` does not hold is ignored (returns false).
    pub fn insert(&mut self, data: &[f32], slot: u32) -> bool {
        let dim = self.dim;
        let metric = Metric(self.distance);
        let vector = |s: u32| {
            let start = (s as usize).checked_mul(dim)?;
            data.get(start..start.checked_add(dim)?)
        };
        let Some(q) = vector(slot) else { return false };
        match self.links.lists.get(slot as usize) {
            Some(l) if l.is_empty() => {}
            _ => return false,
        }
        let level = self.rng.level(self.config.m);
        self.links.lists[slot as usize] = vec![Vec::new(); level + 1];
        self.inserted += 1;
        let Some(entry) = self.entry else {
            self.entry = Some(slot);
            self.max_level = level;
            return true;
        };
        let mut score = |n: u32| vector(n).map(|v| metric.score(q, v));
        let Some(entry_score) = score(entry) else {
            return true;
        };
        let mut cur = Scored {
            score: entry_score,
            slot: entry,
        };
        for layer in (level + 1..=self.max_level).rev() {
            cur = greedy(&self.links, layer, cur, &mut score);
        }
        let mut entries = vec![cur];
        for layer in (0..=level.min(self.max_level)).rev() {
            let found = search_layer(
                &self.links,
                layer,
                &entries,
                self.config.ef_construct,
                &mut self.visited,
                &mut score,
                &mut |n| n != slot,
            );
            let max = self.config.max_links(layer);
            let chosen = select_neighbours(&found, max, metric, &vector);
            self.links.lists[slot as usize][layer] = chosen.iter().map(|c| c.slot).collect();
            for c in &chosen {
                self.connect(c.slot, slot, c.score, layer, metric, &vector);
            }
            if !found.is_empty() {
                entries = found;
            }
        }
        if level > self.max_level {
            self.entry = Some(slot);
            self.max_level = level;
        }
        true
    }

    /// Adds the link `from → to` on `layer`, shrinking `from`'s list with the heuristic when
    /// it is full.
    fn connect<'d>(
        &mut self,
        from: u32,
        to: u32,
        score: f32,
        layer: usize,
        metric: Metric,
        vector: &impl Fn(u32) -> Option<&'d [f32]>,
    ) {
        let max = self.config.max_links(layer);
        let Some(list) = self
            .links
            .lists
            .get_mut(from as usize)
            .and_then(|l| l.get_mut(layer))
        else {
            return;
        };
        if list.contains(&to) {
            return;
        }
        if list.len() < max {
            list.push(to);
            return;
        }
        let Some(base) = vector(from) else { return };
        let mut cands: Vec<Scored> = list
            .iter()
            .filter_map(|&n| {
                vector(n).map(|v| Scored {
                    score: metric.score(base, v),
                    slot: n,
                })
            })
            .collect();
        cands.push(Scored { score, slot: to });
        cands.sort_unstable_by(|a, b| b.cmp(a));
        let chosen = select_neighbours(&cands, max, metric, vector);
        *list = chosen.into_iter().map(|c| c.slot).collect();
    }

    /// The finished graph in its archived form.
    fn into_body(self) -> GraphBody {
        let layers_count = self.entry.map_or(0, |_| self.max_level + 1);
        let mut layers = Vec::with_capacity(layers_count);
        for layer in 0..layers_count {
            let mut nodes = Vec::new();
            let mut offsets = vec![0u64];
            let mut links = Vec::new();
            for (slot, lists) in self.links.lists.iter().enumerate() {
                match lists.get(layer) {
                    Some(list) => {
                        if layer > 0 {
                            nodes.push(slot as u32);
                        }
                        links.extend_from_slice(list);
                        offsets.push(links.len() as u64);
                    }
                    None if layer == 0 => offsets.push(links.len() as u64),
                    None => {}
                }
            }
            layers.push(LayerBody {
                nodes,
                offsets,
                links,
            });
        }
        GraphBody {
            column: self.column,
            dim: self.dim as u32,
            distance: distance_code(self.distance),
            m: self.config.m as u32,
            ef_construct: self.config.ef_construct as u32,
            indexed: self.inserted,
            entry: self.entry.unwrap_or(NO_ENTRY),
            layers,
        }
    }
}

/// The neighbour-selection heuristic of the HNSW paper (algorithm 4, without extension or
/// refill): walking `cands` best first, keep a candidate only if it is closer to the base
/// than to every one kept so far, so links spread in different directions. `cands` must be
/// sorted best first by their score to the base.
fn select_neighbours<'d>(
    cands: &[Scored],
    max: usize,
    metric: Metric,
    vector: &impl Fn(u32) -> Option<&'d [f32]>,
) -> Vec<Scored> {
    let mut chosen: Vec<Scored> = Vec::with_capacity(max);
    for &c in cands {
        if chosen.len() >= max {
            break;
        }
        let Some(vc) = vector(c.slot) else { continue };
        let diverse = chosen
            .iter()
            .all(|r| vector(r.slot).is_none_or(|vr| metric.score(vc, vr) < c.score));
        if diverse {
            chosen.push(c);
        }
    }
    chosen
}

/// The bytes of one index file: header, archive, zero padding, aligned for zero-copy reads.
pub struct HnswBytes {
    pub(crate) buf: AlignedVec<HNSW_BUFFER_ALIGN_BYTES>,
}

impl HnswBytes {
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_slice()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Collects the finished graphs of one segment's columns into one file.
pub struct HnswFileBuilder {
    slots: usize,
    segment_lsn: u64,
    segment_bytes: u64,
    graphs: Vec<GraphBody>,
}

impl HnswFileBuilder {
    /// An index of `segment`'s graphs.
    pub fn new(segment: &Segment) -> Self {
        HnswFileBuilder {
            slots: segment.len(),
            segment_lsn: segment.flushed_lsn(),
            segment_bytes: segment.file_bytes() as u64,
            graphs: Vec::new(),
        }
    }

    /// Adds a finished graph; it must be over the segment's slots.
    pub fn add(&mut self, graph: HnswBuilder) -> Result<(), HnswError> {
        if graph.slots != self.slots {
            return Err(HnswError::Config(format!(
                "graph over {} slots added to an index of {}",
                graph.slots, self.slots
            )));
        }
        if self.graphs.iter().any(|g| g.column == graph.column) {
            return Err(HnswError::Config(format!(
                "two graphs of column {:?}",
                graph.column
            )));
        }
        self.graphs.push(graph.into_body());
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.graphs.is_empty()
    }

    pub fn finish(self) -> Result<HnswBytes, HnswError> {
        let body = Body {
            slots: self.slots as u64,
            segment_lsn: self.segment_lsn,
            segment_bytes: self.segment_bytes,
            graphs: self.graphs,
        };
        let mut buf = AlignedVec::<HNSW_BUFFER_ALIGN_BYTES>::new();
        buf.extend_from_slice(&[0u8; HNSW_HEADER_BYTES]);
        let mut buf = rkyv::api::high::to_bytes_in::<_, rancor::Error>(&body, buf)
            .map_err(|e| HnswError::Serialize(e.to_string()))?;
        let header = encode_header(&buf[HNSW_HEADER_BYTES..], body.slots);
        buf[..HNSW_HEADER_BYTES].copy_from_slice(&header);
        let padded = buf.len().next_multiple_of(HNSW_FILE_ALIGN_BYTES);
        buf.resize(padded, 0);
        Ok(HnswBytes { buf })
    }
}
