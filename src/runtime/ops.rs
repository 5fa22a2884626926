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
    PayloadSelector, PointId, PointWrite, Record, ScoredRecord, SearchParams, VectorSelector,
    WriteOp,
};

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

/// Upserts points. Every vector is checked before any shard is touched.
pub async fn upsert(
    core: &Rc<Core>,
    name: &str,
    points: Vec<PointWrite>,
    wait: bool,
) -> Result<OperationId, RuntimeError> {
    let coll = collection(core, name)?;
    coll.config.schema.check_points(&points)?;
    let shard_number = coll.config.shard_number as usize;
    let mut by_shard: Vec<Vec<PointWrite>> = (0..shard_number).map(|_| Vec::new()).collect();
    for p in points {
        by_shard[shard_of(p.id, shard_number)].push(p);
    }
    let parts = by_shard
        .into_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(s, v)| (s, WriteOp::Upsert(v)));
    write_parts(core, name, shard_number, parts, wait).await
}

/// Deletes points by id; ids that do not exist are ignored.
pub async fn delete(
    core: &Rc<Core>,
    name: &str,
    ids: Vec<PointId>,
    wait: bool,
) -> Result<OperationId, RuntimeError> {
    let coll = collection(core, name)?;
    let shard_number = coll.config.shard_number as usize;
    let mut by_shard: Vec<Vec<PointId>> = (0..shard_number).map(|_| Vec::new()).collect();
    for id in ids {
        by_shard[shard_of(id, shard_number)].push(id);
    }
    let parts = by_shard
        .into_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(s, v)| (s, WriteOp::Delete(v)));
    write_parts(core, name, shard_number, parts, wait).await
}

/// Sends each shard's operation to its owning core; with `wait`, resolves once all are durable.
async fn write_parts(
    core: &Rc<Core>,
    name: &str,
    shard_number: usize,
    parts: impl Iterator<Item = (usize, WriteOp)>,
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
        core.submit_to(target, move |c| async move {
            let coll = collection(&c, &name)?;
            let mut pending = Vec::with_capacity(ops.len());
            for (s, op) in ops {
                let shard = coll.shards[s].clone().ok_or_else(|| {
                    RuntimeError::Internal(format!("shard {s} is not on core {}", c.id))
                })?;
                let lsn = shard.write(op)?;
                pending.push((shard, lsn));
            }
            let top = pending.iter().map(|(_, l)| *l).max().unwrap_or(0);
            for (shard, lsn) in pending {
                // Its own task: a flush whose future is dropped mid-I/O fails the log, and
                // the request future may be dropped if its connection goes away.
                let flush = glommio::spawn_local(async move { shard.sync_to(lsn).await });
                if wait {
                    flush.await?;
                } else {
                    // Acknowledged now; durable at the group commit this starts.
                    flush.detach();
                }
            }
            Ok::<_, RuntimeError>(top)
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
                    if let Some(r) = shard.store().get(id, &shape.payload, &shape.vectors) {
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

/// Exact number of points.
pub async fn count(core: &Rc<Core>, name: &str) -> Result<usize, RuntimeError> {
    let parts = fan_out(core, name, |coll| {
        Ok(coll
            .local_shards()
            .map(|(_, s)| s.store().len())
            .sum::<usize>())
    })
    .await?;
    Ok(parts.into_iter().sum())
}

/// One page of points in id order starting at `from`; also the first id of the next page.
pub async fn scroll(
    core: &Rc<Core>,
    name: &str,
    from: Option<PointId>,
    limit: usize,
    shape: ReadShape,
) -> Result<(Vec<Record>, Option<PointId>), RuntimeError> {
    let take = limit.saturating_add(1);
    let parts = fan_out(core, name, move |coll| {
        let mut recs: Vec<Record> = Vec::new();
        for (_, s) in coll.local_shards() {
            recs.extend(s.store().scroll(from, take, &shape.payload, &shape.vectors));
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

/// A nearest-neighbour search.
#[derive(Clone, Debug)]
pub struct SearchRequest {
    pub vector_name: String,
    pub vector: Vec<f32>,
    pub limit: usize,
    pub offset: usize,
    pub score_threshold: Option<f32>,
    pub shape: ReadShape,
}

/// Exact search over all shards, merged; scores as Qdrant reports them.
pub async fn search(
    core: &Rc<Core>,
    name: &str,
    mut req: SearchRequest,
) -> Result<Vec<ScoredRecord>, RuntimeError> {
    let coll = collection(core, name)?;
    let spec = coll
        .config
        .schema
        .check_vector(&req.vector_name, &req.vector)?
        .clone();
    let metric = Metric(spec.distance);
    metric.preprocess(&mut req.vector);
    let top = req.offset.saturating_add(req.limit);
    let threshold = req.score_threshold.map(|t| metric.threshold_to_internal(t));
    let req = std::sync::Arc::new(req);
    let r = req.clone();
    let parts = fan_out(core, name, move |coll| {
        let params = SearchParams {
            vector_name: &r.vector_name,
            query: &r.vector,
            top,
            threshold,
        };
        let mut hits = Vec::new();
        for (_, s) in coll.local_shards() {
            hits.extend(
                s.store()
                    .search(&params, &r.shape.payload, &r.shape.vectors)?,
            );
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
