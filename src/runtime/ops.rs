//! Point operations routed to the cores that own the shards, and merged back.
//!
//! A batch is split by owning shard (`stable_hash(id) % shard_number`) and then by owning
//! core; each core applies its part to its shards. Reads that span shards (count, scroll,
//! search) fan out to every core and merge on the core that received the request.

use std::collections::BTreeMap;
use std::rc::Rc;

use futures_util::future::join_all;
use vexfs_shard::distance::Metric;
use vexfs_shard::{
    PayloadSelector, PointId, Record, ScoredRecord, SearchParams, VectorSelector, WriteOp,
};

use std::sync::Arc;

use std::collections::HashMap;
use vexfs_io::dma::DmaStorage;
use vexfs_shard::filter::{Filter, JsonPath};
use vexfs_shard::score::Objective;
use vexfs_shard::sparse::idf;
use vexfs_shard::store::SparseStats;
use vexfs_shard::{Modifier, MultiVector, Shard, SparseVector, UpdateCondition, Vector};

use super::catalog::{owner_core, Collection};
use super::core::Core;
use super::error::RuntimeError;

/// What a read returns of each point.
#[derive(Clone, Debug, Default)]
pub struct ReadShape {
    pub payload: PayloadSelector,
    pub vectors: VectorSelector,
}

/// Result of a write: the highest log sequence number it produced (Qdrant's `operation_id`).
pub type OperationId = u64;

fn collection(core: &Core, name: &str) -> Result<Rc<Collection>, RuntimeError> {
    core.catalog.borrow().get(name)
}

fn shard_of(id: PointId, shard_number: usize) -> usize {
    (id.stable_hash() % shard_number as u64) as usize
}

/// Applies a write naming its points by id. Every vector is checked against the schema
/// before any shard is touched; each shard then checks the points it owns exist.
pub async fn write(
    core: &Rc<Core>,
    name: &str,
    op: WriteOp,
    wait: bool,
) -> Result<OperationId, RuntimeError> {
    write_if(core, name, op, None, wait).await
}

/// [`write`] under a condition (`update_mode`, `update_filter`), which each owning core
/// resolves against its shard's points right before logging ([`Shard::write_if`]).
pub async fn write_if(
    core: &Rc<Core>,
    name: &str,
    op: WriteOp,
    condition: Option<UpdateCondition>,
    wait: bool,
) -> Result<OperationId, RuntimeError> {
    let coll = collection(core, name)?;
    if consumes_resources(&op) {
        super::quotas::check(core)?;
    }
    let schema = &coll.config.schema;
    match &op {
        WriteOp::Upsert(points) => schema.check_points(points)?,
        WriteOp::UpdateVectors(points) => {
            for (_, vectors) in points {
                for (n, v) in vectors {
                    schema.check_any(n, v)?;
                }
            }
        }
        WriteOp::DeleteVectors { names, .. } => {
            for n in names {
                schema.check_name(n)?;
            }
        }
        _ => {}
    }
    let shard_number = coll.config.shard_number as usize;
    write_parts(
        core,
        name,
        shard_number,
        split_by_shard(op, shard_number).into_iter(),
        condition.map(Arc::new),
        wait,
    )
    .await
}

/// Whether an operation adds data (refused while a resource quota is reached); removals are
/// always allowed, since they are how an operator gets back under a quota.
fn consumes_resources(op: &WriteOp) -> bool {
    matches!(
        op,
        WriteOp::Upsert(_)
            | WriteOp::SetPayload { .. }
            | WriteOp::OverwritePayload { .. }
            | WriteOp::UpdateVectors(_)
    )
}

/// Splits an operation into one per shard that owns some of its points.
fn split_by_shard(op: WriteOp, shard_number: usize) -> Vec<(usize, WriteOp)> {
    fn group<T>(items: Vec<T>, id: impl Fn(&T) -> PointId, n: usize) -> Vec<(usize, Vec<T>)> {
        let mut by: Vec<Vec<T>> = (0..n).map(|_| Vec::new()).collect();
        for item in items {
            by[shard_of(id(&item), n)].push(item);
        }
        by.into_iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }
    let n = shard_number;
    let per_id = |ids: Vec<PointId>, make: &dyn Fn(Vec<PointId>) -> WriteOp| {
        group(ids, |id| *id, n)
            .into_iter()
            .map(|(s, ids)| (s, make(ids)))
            .collect()
    };
    match op {
        WriteOp::Upsert(points) => group(points, |p| p.id, n)
            .into_iter()
            .map(|(s, v)| (s, WriteOp::Upsert(v)))
            .collect(),
        WriteOp::UpdateVectors(points) => group(points, |p| p.0, n)
            .into_iter()
            .map(|(s, v)| (s, WriteOp::UpdateVectors(v)))
            .collect(),
        WriteOp::Delete(ids) => per_id(ids, &WriteOp::Delete),
        WriteOp::ClearPayload(ids) => per_id(ids, &WriteOp::ClearPayload),
        WriteOp::SetPayload { ids, payload, key } => per_id(ids, &|ids| WriteOp::SetPayload {
            ids,
            payload: payload.clone(),
            key: key.clone(),
        }),
        WriteOp::OverwritePayload { ids, payload } => {
            per_id(ids, &|ids| WriteOp::OverwritePayload {
                ids,
                payload: payload.clone(),
            })
        }
        WriteOp::DeletePayload { ids, keys } => per_id(ids, &|ids| WriteOp::DeletePayload {
            ids,
            keys: keys.clone(),
        }),
        WriteOp::DeleteVectors { ids, names } => per_id(ids, &|ids| WriteOp::DeleteVectors {
            ids,
            names: names.clone(),
        }),
        // A change of spaces concerns every shard.
        WriteOp::SetSchema(schema) => (0..n)
            .map(|s| (s, WriteOp::SetSchema(schema.clone())))
            .collect(),
    }
}

/// Sends each shard's operation to its owning core; with `wait`, resolves once all are durable.
async fn write_parts(
    core: &Rc<Core>,
    name: &str,
    shard_number: usize,
    parts: impl Iterator<Item = (usize, WriteOp)>,
    condition: Option<Arc<UpdateCondition>>,
    wait: bool,
) -> Result<OperationId, RuntimeError> {
    let cores = core.cores();
    let mut by_core: BTreeMap<usize, Vec<(usize, WriteOp)>> = BTreeMap::new();
    for (s, op) in parts {
        debug_assert!(s < shard_number);
        by_core
            .entry(owner_core(s, cores))
            .or_default()
            .push((s, op));
    }
    let calls = by_core.into_iter().map(|(target, ops)| {
        let name = name.to_owned();
        let condition = condition.clone();
        core.submit_to(target, move |c| async move {
            let coll = collection(&c, &name)?;
            let mut pending = Vec::with_capacity(ops.len());
            for (s, op) in ops {
                let shard = coll.shards[s].clone().ok_or_else(|| {
                    RuntimeError::Internal(format!("shard {s} is not on core {}", c.id))
                })?;
                let lsn = match &condition {
                    None => Some(shard.write(op)?),
                    Some(cond) => shard.write_if(op, cond)?,
                };
                if let Some(lsn) = lsn {
                    pending.push((shard, lsn));
                }
            }
            flush(pending, wait).await
        })
    });
    let mut top = 0;
    for r in join_all(calls).await {
        top = top.max(r??);
    }
    Ok(top)
}

/// Reads points by id, in the order asked, each at most once; missing ids are skipped.
pub async fn retrieve(
    core: &Rc<Core>,
    name: &str,
    ids: Vec<PointId>,
    shape: ReadShape,
) -> Result<Vec<Record>, RuntimeError> {
    let coll = collection(core, name)?;
    let shard_number = coll.config.shard_number as usize;
    let cores = core.cores();
    let mut by_core: BTreeMap<usize, Vec<(usize, PointId)>> = BTreeMap::new();
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let mut order = Vec::with_capacity(ids.len());
    for id in ids {
        if seen.insert(id) {
            let s = shard_of(id, shard_number);
            by_core
                .entry(owner_core(s, cores))
                .or_default()
                .push((s, id));
            order.push(id);
        }
    }
    let calls = by_core.into_iter().map(|(target, wanted)| {
        let name = name.to_owned();
        let shape = shape.clone();
        core.submit_to(target, move |c| async move {
            let coll = collection(&c, &name)?;
            let mut found = Vec::with_capacity(wanted.len());
            for (s, id) in wanted {
                if let Some(shard) = &coll.shards[s] {
                    if let Some(r) = shard.get(id, &shape.payload, &shape.vectors) {
                        found.push(r);
                    }
                }
            }
            Ok::<_, RuntimeError>(found)
        })
    });
    let mut by_id = std::collections::HashMap::new();
    for r in join_all(calls).await {
        for rec in r?? {
            by_id.insert(rec.id, rec);
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect())
}

/// Runs `f` on every core for the local shards of `name`, collecting the per-core results.
async fn fan_out<T, F>(core: &Rc<Core>, name: &str, f: F) -> Result<Vec<T>, RuntimeError>
where
    T: Send + 'static,
    F: Fn(&Collection) -> Result<T, RuntimeError> + Send + Clone + 'static,
{
    let name = name.to_owned();
    let results = core
        .broadcast(move |c| {
            let name = name.clone();
            let f = f.clone();
            async move { collection(&c, &name).and_then(|coll| f(&coll)) }
        })
        .await?;
    results.into_iter().collect()
}

/// Exact number of points passing `filter`.
pub async fn count(
    core: &Rc<Core>,
    name: &str,
    filter: Option<Arc<Filter>>,
) -> Result<usize, RuntimeError> {
    let parts = fan_out(core, name, move |coll| {
        Ok(coll
            .local_shards()
            .map(|(_, s)| s.count(filter.as_deref()))
            .sum::<usize>())
    })
    .await?;
    Ok(parts.into_iter().sum())
}

/// Vectors held in HNSW graphs over all shards (Qdrant's `indexed_vectors_count`), and
/// whether any shard has a segment waiting for its graphs.
pub async fn index_state(core: &Rc<Core>, name: &str) -> Result<(usize, bool), RuntimeError> {
    let parts = fan_out(core, name, |coll| {
        Ok(coll
            .local_shards()
            .fold((0, false), |(n, pending), (_, s)| {
                (
                    n + s.indexed_vectors_count(),
                    pending || s.indexing_pending(),
                )
            }))
    })
    .await?;
    Ok(parts
        .into_iter()
        .fold((0, false), |(n, p), (m, q)| (n + m, p || q)))
}

/// Points in each shard, by shard id.
pub async fn shard_counts(
    core: &Rc<Core>,
    name: &str,
) -> Result<Vec<(usize, usize)>, RuntimeError> {
    let parts = fan_out(core, name, |coll| {
        Ok(coll
            .local_shards()
            .map(|(id, s)| (id, s.count(None)))
            .collect::<Vec<_>>())
    })
    .await?;
    let mut all: Vec<(usize, usize)> = parts.into_iter().flatten().collect();
    all.sort_unstable();
    Ok(all)
}

/// Applies an id-based operation (`template`, its ids ignored) to every point passing
/// `filter`. Each shard resolves the filter on its owner core and logs the resolved ids.
pub async fn write_by_filter(
    core: &Rc<Core>,
    name: &str,
    filter: Filter,
    template: WriteOp,
    wait: bool,
) -> Result<OperationId, RuntimeError> {
    if consumes_resources(&template) {
        super::quotas::check(core)?;
    }
    if template.with_ids(Vec::new()).is_none() {
        return Err(RuntimeError::Internal(
            "operation cannot be aimed by filter".into(),
        ));
    }
    collection(core, name)?;
    let filter = Arc::new(filter);
    let template = Arc::new(template);
    let owned = name.to_owned();
    let per_core = core
        .broadcast(move |c| {
            let (filter, template, name) = (filter.clone(), template.clone(), owned.clone());
            async move {
                let coll = collection(&c, &name)?;
                let mut pending = Vec::new();
                for (_, shard) in coll.local_shards() {
                    let ids = shard.matching_ids(&filter);
                    if let Some(op) = template.with_ids(ids).filter(|op| !op.ids().is_empty()) {
                        pending.push((shard.clone(), shard.write(op)?));
                    }
                }
                flush(pending, wait).await
            }
        })
        .await?;
    let mut top = 0;
    for r in per_core {
        top = top.max(r?);
    }
    Ok(top)
}

/// Makes the logged writes durable: awaited with `wait`, started in the background otherwise.
/// Returns the highest LSN. Each flush runs in its own task: a flush whose future is dropped
/// mid-I/O fails the log, and the request future may be dropped if its connection goes away.
async fn flush(
    pending: Vec<(Rc<Shard<DmaStorage>>, u64)>,
    wait: bool,
) -> Result<OperationId, RuntimeError> {
    let top = pending.iter().map(|(_, l)| *l).max().unwrap_or(0);
    for (shard, lsn) in pending {
        let task = glommio::spawn_local(async move { shard.sync_to(lsn).await });
        if wait {
            task.await?;
        } else {
            task.detach();
        }
    }
    Ok(top)
}

/// One page of points in id order starting at `from`; also the first id of the next page.
pub async fn scroll(
    core: &Rc<Core>,
    name: &str,
    from: Option<PointId>,
    limit: usize,
    filter: Option<Arc<Filter>>,
    shape: ReadShape,
) -> Result<(Vec<Record>, Option<PointId>), RuntimeError> {
    let take = limit.saturating_add(1);
    let parts = fan_out(core, name, move |coll| {
        let mut recs: Vec<Record> = Vec::new();
        for (_, s) in coll.local_shards() {
            recs.extend(s.scroll(
                from,
                take,
                filter.as_deref(),
                &shape.payload,
                &shape.vectors,
            ));
        }
        recs.sort_by_key(|r| r.id);
        recs.truncate(take);
        Ok(recs)
    })
    .await?;
    let mut all: Vec<Record> = parts.into_iter().flatten().collect();
    all.sort_by_key(|r| r.id);
    let next = all.get(limit).map(|r| r.id);
    all.truncate(limit);
    Ok((all, next))
}

/// How a search may use the HNSW graphs and quantized codes (Qdrant's search `params`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IndexParams {
    /// Beam width; `None`: each graph's `ef_construct`.
    pub hnsw_ef: Option<usize>,
    /// Scan everything, ignore graphs.
    pub exact: bool,
    /// Leave out unindexed parts above the full-scan threshold.
    pub indexed_only: bool,
    /// `params.quantization`: ignore, rescore, oversampling.
    pub quantization: vexfs_shard::quant::QuantSearch,
}

/// A nearest-neighbour search.
#[derive(Clone, Debug)]
pub struct SearchRequest {
    pub vector_name: String,
    /// Dense (searched by the space's metric) or sparse (dot product over shared indices).
    pub vector: Vector,
    pub limit: usize,
    pub offset: usize,
    pub score_threshold: Option<f32>,
    pub filter: Option<Filter>,
    pub shape: ReadShape,
    pub index: IndexParams,
}

/// Search over all shards, merged; scores as Qdrant reports them.
pub async fn search(
    core: &Rc<Core>,
    name: &str,
    mut req: SearchRequest,
) -> Result<Vec<ScoredRecord>, RuntimeError> {
    let coll = collection(core, name)?;
    let schema = &coll.config.schema;
    let given = std::mem::replace(&mut req.vector, Vector::Dense(Vec::new()));
    if let Some(spec) = schema.multi_spec(&req.vector_name) {
        // A dense query on a multivector space is one row, as in Qdrant.
        let mut q = schema.conform_multi(&req.vector_name, given)?;
        q.preprocess(Metric(spec.distance));
        return search_special(core, name, SpecialQuery::Multi(q), req).await;
    }
    let query = match given {
        Vector::Dense(v) => v,
        Vector::Sparse(mut q) => {
            if schema.sparse(&req.vector_name)?.modifier == Modifier::Idf {
                let stats = sparse_stats(core, name, &req.vector_name, q.indices()).await?;
                idf::weight_query(&mut q, &stats);
            }
            return search_special(core, name, SpecialQuery::Sparse(q), req).await;
        }
        Vector::Multi(_) => {
            schema.spec(&req.vector_name)?;
            return Err(RuntimeError::WrongInput(format!(
                "Wrong input: {} is not a multivector",
                req.vector_name
            )));
        }
    };
    let spec = coll
        .config
        .schema
        .check_vector(&req.vector_name, &query)?
        .clone();
    let metric = Metric(spec.distance);
    let mut query = query;
    metric.preprocess(&mut query);
    req.vector = Vector::Dense(query);
    let top = req.offset.saturating_add(req.limit);
    let threshold = req.score_threshold.map(|t| metric.threshold_to_internal(t));
    let req = std::sync::Arc::new(req);
    let r = req.clone();
    let parts = fan_out(core, name, move |coll| {
        let params = SearchParams {
            vector_name: &r.vector_name,
            query: r.vector.as_dense().unwrap_or_default(),
            top,
            threshold,
            filter: r.filter.as_ref(),
            hnsw_ef: r.index.hnsw_ef,
            exact: r.index.exact,
            indexed_only: r.index.indexed_only,
            quantization: r.index.quantization,
        };
        let mut hits = Vec::new();
        for (_, s) in coll.local_shards() {
            hits.extend(s.search(&params, &r.shape.payload, &r.shape.vectors)?);
        }
        Ok(hits)
    })
    .await?;
    let mut hits: Vec<(f32, Record)> = parts.into_iter().flatten().collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    Ok(hits
        .into_iter()
        .skip(req.offset)
        .take(req.limit)
        .map(|(score, record)| ScoredRecord {
            score: metric.to_user_score(score),
            record,
        })
        .collect())
}

/// A query on a sparse or multivector space, ready to score (idf weights applied, rows
/// preprocessed).
enum SpecialQuery {
    Sparse(SparseVector),
    /// A custom objective whose similarity is the sparse dot product (scans every point).
    SparseObjective(Objective<SparseVector>),
    Multi(MultiVector),
}

/// Search of a sparse space ranked by a custom objective over stored sparse examples
/// (recommend `best_score` / `sum_scores`); scores are the objective's own.
pub async fn search_sparse_objective(
    core: &Rc<Core>,
    name: &str,
    objective: Objective<SparseVector>,
    req: SearchRequest,
) -> Result<Vec<ScoredRecord>, RuntimeError> {
    collection(core, name)?
        .config
        .schema
        .sparse(&req.vector_name)?;
    search_special(core, name, SpecialQuery::SparseObjective(objective), req).await
}

/// Search of a sparse space (dot product over shared indices; with the idf modifier the
/// caller has weighted the query with counts over the whole collection) or a multivector
/// space (max_sim, by scanning) over all shards, merged best first (ties by id). Scores are
/// reported as computed.
async fn search_special(
    core: &Rc<Core>,
    name: &str,
    query: SpecialQuery,
    req: SearchRequest,
) -> Result<Vec<ScoredRecord>, RuntimeError> {
    let top = req.offset.saturating_add(req.limit);
    let req = Arc::new((req, query));
    let r = req.clone();
    let parts = fan_out(core, name, move |coll| {
        let (req, query) = &*r;
        let params = SearchParams {
            vector_name: &req.vector_name,
            query: &[],
            top,
            threshold: req.score_threshold,
            filter: req.filter.as_ref(),
            hnsw_ef: None,
            exact: false,
            indexed_only: false,
            // Codes exist for dense columns only.
            quantization: Default::default(),
        };
        let (name, shape) = (&req.vector_name, &req.shape);
        let mut hits = Vec::new();
        for (_, s) in coll.local_shards() {
            hits.extend(match query {
                SpecialQuery::Sparse(q) => {
                    s.search_sparse(name, q, &params, &shape.payload, &shape.vectors)?
                }
                SpecialQuery::SparseObjective(o) => {
                    s.search_sparse_by(name, o, &params, &shape.payload, &shape.vectors)?
                }
                SpecialQuery::Multi(q) => {
                    s.search_multi(name, q, &params, &shape.payload, &shape.vectors)?
                }
            });
        }
        Ok(hits)
    })
    .await?;
    let mut hits: Vec<(f32, Record)> = parts.into_iter().flatten().collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    Ok(hits
        .into_iter()
        .skip(req.0.offset)
        .take(req.0.limit)
        .map(|(score, record)| ScoredRecord { score, record })
        .collect())
}

/// Counts of the sparse space `vector_name` over every shard, for the idf modifier.
pub async fn sparse_stats(
    core: &Rc<Core>,
    name: &str,
    vector_name: &str,
    indices: &[u32],
) -> Result<SparseStats, RuntimeError> {
    let (vector_name, indices) = (vector_name.to_owned(), Arc::new(indices.to_vec()));
    let parts = fan_out(core, name, move |coll| {
        let mut stats = SparseStats::default();
        for (_, s) in coll.local_shards() {
            stats.add(&s.sparse_stats(&vector_name, &indices));
        }
        Ok(stats)
    })
    .await?;
    let mut total = SparseStats {
        points: 0,
        with_index: vec![0; indices_len(&parts)],
    };
    for p in &parts {
        total.add(p);
    }
    Ok(total)
}

fn indices_len(parts: &[SparseStats]) -> usize {
    parts.iter().map(|p| p.with_index.len()).max().unwrap_or(0)
}

/// A search ranked by a custom objective (recommend `best_score` / `sum_scores`, discover,
/// context) instead of the distance to one vector.
#[derive(Clone, Debug)]
pub struct ObjectiveSearch {
    pub vector_name: String,
    /// Example vectors as given; checked and preprocessed here.
    pub objective: Objective,
    pub limit: usize,
    pub offset: usize,
    /// Compared with the objective's score as is (Qdrant converts only distance scores).
    pub score_threshold: Option<f32>,
    pub filter: Option<Filter>,
    pub shape: ReadShape,
    pub index: IndexParams,
}

/// Search by a custom objective over all shards, merged best first (ties by id).
/// Scores are the objective's own: no distance post-processing.
pub async fn search_objective(
    core: &Rc<Core>,
    name: &str,
    mut req: ObjectiveSearch,
) -> Result<Vec<ScoredRecord>, RuntimeError> {
    let coll = collection(core, name)?;
    let schema = &coll.config.schema;
    let spec = schema.spec(&req.vector_name)?.clone();
    let examples = req.objective.vectors_mut();
    if examples.is_empty() {
        return Err(RuntimeError::WrongInput(
            "a custom search objective needs at least one example vector".into(),
        ));
    }
    for v in examples {
        schema.check_vector(&req.vector_name, v)?;
    }
    req.objective.preprocess(Metric(spec.distance));
    let top = req.offset.saturating_add(req.limit);
    let req = Arc::new(req);
    let r = req.clone();
    let parts = fan_out(core, name, move |coll| {
        let params = SearchParams {
            vector_name: &r.vector_name,
            query: &[],
            top,
            threshold: r.score_threshold,
            filter: r.filter.as_ref(),
            hnsw_ef: r.index.hnsw_ef,
            exact: r.index.exact,
            indexed_only: r.index.indexed_only,
            quantization: r.index.quantization,
        };
        let mut hits = Vec::new();
        for (_, s) in coll.local_shards() {
            hits.extend(s.search_by(&params, &r.objective, &r.shape.payload, &r.shape.vectors)?);
        }
        Ok(hits)
    })
    .await?;
    let mut hits: Vec<(f32, Record)> = parts.into_iter().flatten().collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    Ok(hits
        .into_iter()
        .skip(req.offset)
        .take(req.limit)
        .map(|(score, record)| ScoredRecord { score, record })
        .collect())
}

/// A payload value a facet counts: strings, integers and booleans (Qdrant's `FacetValue`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FacetKey {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// Points whose facet values one shard reads back per scroll page.
const FACET_PAGE_POINTS: usize = 4096;

/// For each value reached by `key` (one level into a final array), how many points passing
/// `filter` have it; a point counts once per distinct value. Unordered.
pub async fn facet_counts(
    core: &Rc<Core>,
    name: &str,
    key: JsonPath,
    filter: Option<Arc<Filter>>,
) -> Result<Vec<(FacetKey, usize)>, RuntimeError> {
    let parts = fan_out(core, name, move |coll| {
        // Only the key's top-level field is read back, not the whole payload.
        let payload = PayloadSelector::Include(vec![key.first_key().to_owned()]);
        let mut counts: HashMap<FacetKey, usize> = HashMap::new();
        let mut seen: Vec<FacetKey> = Vec::new();
        for (_, s) in coll.local_shards() {
            let mut from = None;
            loop {
                // Paged, so only one page of payload values is in memory at a time.
                let mut recs = s.scroll(
                    from,
                    FACET_PAGE_POINTS + 1,
                    filter.as_deref(),
                    &payload,
                    &VectorSelector::None,
                );
                from = (recs.len() > FACET_PAGE_POINTS).then(|| recs[FACET_PAGE_POINTS].id);
                recs.truncate(FACET_PAGE_POINTS);
                for rec in recs {
                    seen.clear();
                    key.any_value(rec.payload.as_ref(), |v| {
                        let mut add = |v: &serde_json::Value| {
                            if let Some(k) = facet_key(v) {
                                if !seen.contains(&k) {
                                    seen.push(k);
                                }
                            }
                        };
                        match v {
                            serde_json::Value::Array(items) => items.iter().for_each(&mut add),
                            v => add(v),
                        }
                        false
                    });
                    for k in seen.drain(..) {
                        *counts.entry(k).or_default() += 1;
                    }
                }
                if from.is_none() {
                    break;
                }
            }
        }
        Ok(counts.into_iter().collect::<Vec<_>>())
    })
    .await?;
    let mut total: HashMap<FacetKey, usize> = HashMap::new();
    for (k, n) in parts.into_iter().flatten() {
        *total.entry(k).or_default() += n;
    }
    Ok(total.into_iter().collect())
}

fn facet_key(v: &serde_json::Value) -> Option<FacetKey> {
    match v {
        serde_json::Value::String(s) => Some(FacetKey::Str(s.clone())),
        serde_json::Value::Bool(b) => Some(FacetKey::Bool(*b)),
        serde_json::Value::Number(n) => n.as_i64().map(FacetKey::Int),
        _ => None,
    }
}

/// Up to `sample` ids of points passing `filter`: those whose mixed id hash is smallest, a
/// uniform sample that is the same on every call and on every shard layout.
pub async fn sample_ids(
    core: &Rc<Core>,
    name: &str,
    filter: Arc<Filter>,
    sample: usize,
) -> Result<Vec<PointId>, RuntimeError> {
    let pick = move |ids: &mut Vec<(u64, PointId)>| {
        ids.sort_unstable();
        ids.truncate(sample);
    };
    let parts = fan_out(core, name, move |coll| {
        let mut ids: Vec<(u64, PointId)> = Vec::new();
        for (_, s) in coll.local_shards() {
            let matching = s.matching_ids(&filter);
            ids.extend(matching.into_iter().map(|id| (sample_rank(id), id)));
            pick(&mut ids);
        }
        Ok(ids)
    })
    .await?;
    let mut all: Vec<(u64, PointId)> = parts.into_iter().flatten().collect();
    pick(&mut all);
    Ok(all.into_iter().map(|(_, id)| id).collect())
}

/// The id's placement hash mixed again (murmur3's finalizer), so the sample is not biased
/// toward the low shard numbers that the placement hash modulo picks.
fn sample_rank(id: PointId) -> u64 {
    let mut h = id.stable_hash() ^ 0x9e37_79b9_7f4a_7c15;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Log counters summed over every shard of every collection (since each shard was opened):
/// flushes (one fdatasync each), records they made durable, bytes written.
pub async fn wal_totals(core: &Rc<Core>) -> Result<(u64, u64, u64), RuntimeError> {
    let per_core = core
        .broadcast(|c| async move {
            let collections: Vec<Rc<Collection>> =
                c.catalog.borrow().collections.values().cloned().collect();
            let mut t = (0, 0, 0);
            for coll in collections {
                for (_, shard) in coll.local_shards() {
                    let s = shard.wal_stats();
                    t = (
                        t.0 + s.flushes,
                        t.1 + s.records_flushed,
                        t.2 + s.bytes_written,
                    );
                }
            }
            t
        })
        .await?;
    Ok(per_core
        .into_iter()
        .fold((0, 0, 0), |a, t| (a.0 + t.0, a.1 + t.1, a.2 + t.2)))
}

/// Up to `sample` ids of points passing `filter`, chosen uniformly at random without
/// replacement: each id is ranked by a hash of it mixed with `seed`, and the smallest ranks
/// win (a bottom-k sample, exact across shards). A fresh seed gives a fresh sample; the
/// result is in rank order, itself random.
pub async fn random_sample_ids(
    core: &Rc<Core>,
    name: &str,
    filter: Arc<Filter>,
    sample: usize,
    seed: u64,
) -> Result<Vec<PointId>, RuntimeError> {
    let pick = move |ids: &mut Vec<(u64, PointId)>| {
        ids.sort_unstable();
        ids.truncate(sample);
    };
    let parts = fan_out(core, name, move |coll| {
        let mut ids: Vec<(u64, PointId)> = Vec::new();
        for (_, s) in coll.local_shards() {
            let matching = s.matching_ids(&filter);
            ids.extend(
                matching
                    .into_iter()
                    .map(|id| (mix64(id.stable_hash() ^ seed), id)),
            );
            pick(&mut ids);
        }
        Ok(ids)
    })
    .await?;
    let mut all: Vec<(u64, PointId)> = parts.into_iter().flatten().collect();
    pick(&mut all);
    Ok(all.into_iter().map(|(_, id)| id).collect())
}

/// murmur3's 64-bit finalizer: every input bit affects every output bit.
fn mix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}
