//! Model-based randomized test: random writes, flushes and optimizations (merges and vacuums
//! under tiny thresholds; whole, or cut short by dropping the future), crashes with torn
//! writes and injected power loss, reopen. After every reopen the
//! shard must equal the model after exactly the recovered prefix of the logged writes, which
//! includes every acknowledged one; while running it must equal the model of every write.

use std::collections::BTreeMap;

use futures_lite::future::{block_on, poll_once};
use serde_json::json;
use vexfs_io::mem::{FaultConfig, MemStorage, Rng};

use super::tests::{options, schema};
use super::*;
use crate::distance::Metric;
use crate::filter::Filter;
use crate::op::{NamedVectors, Payload, PointWrite};
use crate::point_id::PointId;
use crate::select::{PayloadSelector, Record, VectorSelector};
use crate::store::SearchParams;

/// Ids are drawn from `0..ID_SPACE`, so writes often hit points in every part.
const ID_SPACE: u64 = 24;
const SEEDS: u64 = 300;
const ROUNDS: usize = 6;

#[derive(Clone, Debug, PartialEq)]
struct MPoint {
    vectors: BTreeMap<String, crate::vector::Vector>,
    payload: Option<Payload>,
}

type Model = BTreeMap<u64, MPoint>;

fn apply(model: &mut Model, op: &WriteOp) {
    let num = |id: &PointId| match id {
        PointId::Num(x) => *x,
        PointId::Uuid(_) => unreachable!("the test writes numeric ids"),
    };
    match op {
        WriteOp::Upsert(points) => {
            for p in points {
                let vectors = p.vectors.iter().cloned().collect();
                let point = MPoint {
                    vectors,
                    payload: p.payload.clone(),
                };
                model.insert(num(&p.id), point);
            }
        }
        WriteOp::Delete(ids) => ids.iter().for_each(|id| {
            model.remove(&num(id));
        }),
        WriteOp::SetPayload { ids, payload, .. } => {
            for id in ids {
                let p = model.get_mut(&num(id)).expect("prepared");
                let target = p.payload.get_or_insert_with(Payload::new);
                for (k, v) in payload {
                    target.insert(k.clone(), v.clone());
                }
            }
        }
        WriteOp::OverwritePayload { ids, payload } => ids.iter().for_each(|id| {
            model.get_mut(&num(id)).expect("prepared").payload = Some(payload.clone());
        }),
        WriteOp::DeletePayload { ids, keys } => ids.iter().for_each(|id| {
            if let Some(p) = &mut model.get_mut(&num(id)).expect("prepared").payload {
                keys.iter().for_each(|k| {
                    p.remove(k);
                });
            }
        }),
        WriteOp::ClearPayload(ids) => ids.iter().for_each(|id| {
            model.get_mut(&num(id)).expect("prepared").payload = None;
        }),
        WriteOp::UpdateVectors(points) => {
            for (id, vectors) in points {
                let p = model.get_mut(&num(id)).expect("prepared");
                for (name, v) in vectors {
                    p.vectors.insert(name.clone(), v.clone());
                }
            }
        }
        WriteOp::DeleteVectors { ids, names } => ids.iter().for_each(|id| {
            let p = model.get_mut(&num(id)).expect("prepared");
            names.iter().for_each(|n| {
                p.vectors.remove(n);
            });
        }),
        WriteOp::SetSchema(_) => unreachable!("the model test keeps its spaces"),
    }
}

/// Small integers as floats: exact, and ties in search are common.
fn vector(rng: &mut Rng, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| rng.below(7) as f32 - 3.0).collect()
}

fn vectors(rng: &mut Rng) -> NamedVectors {
    let mut v = Vec::new();
    if rng.chance(0.9) {
        v.push((String::new(), vector(rng, 3).into()));
    }
    if rng.chance(0.6) {
        v.push(("b".into(), vector(rng, 2).into()));
    }
    v
}

fn payload(rng: &mut Rng) -> Payload {
    let mut p = Payload::new();
    p.insert("k".into(), json!(rng.below(3)));
    if rng.chance(0.5) {
        p.insert("s".into(), json!(format!("v{}", rng.below(100))));
    }
    p
}

/// A random write; `None` when it needs an existing point and there is none.
fn random_op(rng: &mut Rng, model: &Model) -> Option<WriteOp> {
    let existing: Vec<u64> = model.keys().copied().collect();
    let some_existing = |rng: &mut Rng| -> Option<Vec<PointId>> {
        if existing.is_empty() {
            return None;
        }
        let count = 1 + rng.below(2);
        Some(
            (0..count)
                .map(|_| PointId::Num(existing[rng.below(existing.len() as u64) as usize]))
                .collect(),
        )
    };
    Some(match rng.below(12) {
        0..=4 => WriteOp::Upsert(
            (0..1 + rng.below(3))
                .map(|_| PointWrite {
                    id: PointId::Num(rng.below(ID_SPACE)),
                    vectors: vectors(rng),
                    payload: rng.chance(0.8).then(|| payload(rng)),
                })
                .collect(),
        ),
        5 | 6 => WriteOp::Delete(
            (0..1 + rng.below(2))
                .map(|_| PointId::Num(rng.below(ID_SPACE)))
                .collect(),
        ),
        7 => WriteOp::SetPayload {
            ids: some_existing(rng)?,
            payload: payload(rng),
            key: None,
        },
        8 => WriteOp::OverwritePayload {
            ids: some_existing(rng)?,
            payload: payload(rng),
        },
        9 => match rng.below(2) {
            0 => WriteOp::DeletePayload {
                ids: some_existing(rng)?,
                keys: vec!["s".into()],
            },
            _ => WriteOp::ClearPayload(some_existing(rng)?),
        },
        10 => {
            let ids = some_existing(rng)?;
            WriteOp::UpdateVectors(ids.into_iter().map(|id| (id, vectors(rng))).collect())
        }
        _ => WriteOp::DeleteVectors {
            ids: some_existing(rng)?,
            names: vec![if rng.chance(0.5) { "b" } else { "" }.into()],
        },
    })
}

fn num(r: &Record) -> u64 {
    match r.id {
        PointId::Num(x) => x,
        PointId::Uuid(_) => unreachable!(),
    }
}

fn bits(v: &crate::vector::Vector) -> Vec<u32> {
    v.as_dense()
        .unwrap_or_default()
        .iter()
        .map(|x| x.to_bits())
        .collect()
}

fn filter_k(k: u64) -> Filter {
    serde_json::from_value(json!({"must": [{"key": "k", "match": {"value": k}}]})).unwrap()
}

fn passes_k(p: &MPoint, k: u64) -> bool {
    p.payload
        .as_ref()
        .and_then(|p| p.get("k"))
        .is_some_and(|v| *v == json!(k))
}

/// Every read of the shard against the model.
fn check(shard: &Shard<MemStorage>, model: &Model, rng: &mut Rng, ctx: &str) {
    assert_eq!(shard.len(), model.len(), "{ctx}: len");
    let all = shard.scroll(
        None,
        usize::MAX,
        None,
        &PayloadSelector::All,
        &VectorSelector::All,
    );
    assert_eq!(
        all.iter().map(num).collect::<Vec<_>>(),
        model.keys().copied().collect::<Vec<_>>(),
        "{ctx}: scroll ids"
    );
    for r in &all {
        let m = &model[&num(r)];
        assert_eq!(
            r.payload.as_ref(),
            Some(&m.payload.clone().unwrap_or_default()),
            "{ctx}: payload of {}",
            num(r)
        );
        let got: BTreeMap<String, Vec<u32>> = r
            .vectors
            .iter()
            .flatten()
            .map(|(n, v)| (n.clone(), bits(v)))
            .collect();
        let want: BTreeMap<String, Vec<u32>> = m
            .vectors
            .iter()
            .map(|(n, v)| (n.clone(), bits(v)))
            .collect();
        assert_eq!(got, want, "{ctx}: vectors of {}", num(r));
        let one = shard.get(r.id, &PayloadSelector::All, &VectorSelector::All);
        assert_eq!(one.as_ref(), Some(r), "{ctx}: get {}", num(r));
    }
    for id in 0..ID_SPACE {
        if !model.contains_key(&id) {
            let got = shard.get(
                PointId::Num(id),
                &PayloadSelector::None,
                &VectorSelector::None,
            );
            assert!(got.is_none(), "{ctx}: {id} should be absent");
        }
    }
    let k = rng.below(3);
    let filter = filter_k(k);
    let want: Vec<u64> = model
        .iter()
        .filter(|(_, p)| passes_k(p, k))
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(shard.count(Some(&filter)), want.len(), "{ctx}: count");
    let got: Vec<u64> = shard
        .matching_ids(&filter)
        .iter()
        .map(|id| match id {
            PointId::Num(x) => *x,
            PointId::Uuid(_) => unreachable!(),
        })
        .collect();
    assert_eq!(got, want, "{ctx}: matching ids");
    let from = rng.below(ID_SPACE);
    let limit = 1 + rng.below(6) as usize;
    let page = shard.scroll(
        Some(PointId::Num(from)),
        limit,
        Some(&filter),
        &PayloadSelector::None,
        &VectorSelector::None,
    );
    let want_page: Vec<u64> = want
        .iter()
        .copied()
        .filter(|&i| i >= from)
        .take(limit)
        .collect();
    assert_eq!(
        page.iter().map(num).collect::<Vec<_>>(),
        want_page,
        "{ctx}: page"
    );

    for spec in &schema().vectors {
        let query = vector(rng, spec.dim);
        let top = 1 + rng.below(8) as usize;
        let filtered = rng.chance(0.5);
        let metric = Metric(spec.distance);
        let mut want: Vec<(u32, u64)> = Vec::new();
        let mut scored: Vec<(f32, u64)> = model
            .iter()
            .filter(|(_, p)| !filtered || passes_k(p, k))
            .filter_map(|(id, p)| {
                Some((
                    metric.score(&query, p.vectors.get(&spec.name)?.as_dense()?),
                    *id,
                ))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        want.extend(scored.iter().take(top).map(|(s, id)| (s.to_bits(), *id)));
        let params = SearchParams {
            vector_name: &spec.name,
            query: &query,
            top,
            threshold: None,
            filter: filtered.then_some(&filter),
            hnsw_ef: None,
            exact: false,
            indexed_only: false,
            quantization: Default::default(),
        };
        let got: Vec<(u32, u64)> = shard
            .search(&params, &PayloadSelector::None, &VectorSelector::None)
            .unwrap()
            .iter()
            .map(|(s, r)| (s.to_bits(), num(r)))
            .collect();
        assert_eq!(got, want, "{ctx}: search {:?}", spec.name);
    }
}

/// The logged writes since the last acknowledged one: the model after each LSN.
struct History {
    acked: u64,
    logged: u64,
    after: BTreeMap<u64, Model>,
}

impl History {
    fn new(lsn: u64, model: Model) -> Self {
        History {
            acked: lsn,
            logged: lsn,
            after: BTreeMap::from([(lsn, model)]),
        }
    }

    fn logged(&mut self, lsn: u64, model: &Model) {
        assert_eq!(lsn, self.logged + 1, "LSNs are consecutive");
        self.logged = lsn;
        self.after.insert(lsn, model.clone());
    }

    fn acked(&mut self, lsn: u64) {
        self.acked = self.acked.max(lsn);
        self.after = self.after.split_off(&self.acked);
    }
}

/// Applies one random write to the shard and, when it is logged, to the model.
fn write(shard: &Shard<MemStorage>, model: &mut Model, hist: &mut History, rng: &mut Rng) -> bool {
    let Some(op) = random_op(rng, model) else {
        return true;
    };
    match shard.write(op.clone()) {
        Ok(lsn) => {
            apply(model, &op);
            hist.logged(lsn, model);
            true
        }
        Err(_) => false,
    }
}

/// Optimizer thresholds small enough that the few segments and deletions of a run trigger
/// merges and vacuums often; sometimes a size cap that blocks merges.
fn tiny_optimizer(rng: &mut Rng) -> OptimizerOptions {
    OptimizerOptions {
        enabled: true,
        deleted_threshold: [0.0, 0.1, 0.3][rng.below(3) as usize],
        vacuum_min_points: 1 + rng.below(3) as usize,
        default_segment_number: rng.below(4) as usize,
        max_segment_kb: rng.chance(0.2).then_some(0),
    }
}

/// Every segment file in the shard directory is named by the manifest (or is the index of one
/// it names): nothing a cut-short flush or optimization wrote survives recovery.
async fn check_no_orphans(fs: &MemStorage, shard: &Shard<MemStorage>, ctx: &str) {
    let manifest = shard.manifest.borrow().clone();
    for name in fs
        .list_dir(std::path::Path::new(super::tests::DIR))
        .await
        .unwrap()
    {
        if !manifest::is_segment_file(&name) {
            continue;
        }
        let named = manifest.segments.iter().any(|m| {
            m.file == name
                || m.deleted.as_deref() == Some(name.as_str())
                || manifest::index_file_name(&m.file) == name
        });
        assert!(named, "{ctx}: orphan file {name}");
    }
}

fn run(seed: u64) -> OptimizeCounts {
    run_with(
        seed,
        FaultConfig {
            torn_write: 0.003,
            sync_eio: 0.002,
            ..FaultConfig::default()
        },
    )
}

/// Optimizations a run saw finish, by outcome.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct OptimizeCounts {
    pub merges: usize,
    pub vacuums: usize,
    pub failed: usize,
    pub cancelled: usize,
}

impl OptimizeCounts {
    fn add(&mut self, report: &OptimizerReport) {
        for r in &report.completed {
            match (&r.status, r.kind) {
                (OptimizationStatus::Done, OptimizationKind::Merge) => self.merges += 1,
                (OptimizationStatus::Done, OptimizationKind::Vacuum) => self.vacuums += 1,
                (OptimizationStatus::Failed(_), _) => self.failed += 1,
                (OptimizationStatus::Cancelled, _) => self.cancelled += 1,
                (OptimizationStatus::Running, _) => unreachable!("finished"),
            }
        }
    }
}

/// One seed of the model test with the given faults injected.
pub(super) fn run_with(seed: u64, faults: FaultConfig) -> OptimizeCounts {
    let mut counts = OptimizeCounts::default();
    block_on(async {
        let fs = MemStorage::new(seed);
        fs.set_faults(faults);
        let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9) ^ 0xabc);
        let mut hist = History::new(0, Model::new());
        for round in 0..ROUNDS {
            let shard = loop {
                match Shard::open(
                    &fs,
                    std::path::Path::new(super::tests::DIR),
                    schema(),
                    options(),
                )
                .await
                {
                    Ok(s) => break s,
                    Err(e) => {
                        // Only an injected fault may stop recovery; it retries after a restart.
                        let injected = fs.is_powered_off() || e.to_string().contains("injected");
                        assert!(injected, "seed {seed} round {round}: open: {e}");
                        fs.crash();
                    }
                }
            };
            shard.set_optimizer_options(tiny_optimizer(&mut rng));
            let recovered = shard.last_lsn();
            let ctx = format!(
                "seed {seed} round {round} (acked {}, logged {}, recovered {recovered})",
                hist.acked, hist.logged
            );
            assert!(
                (hist.acked..=hist.logged).contains(&recovered),
                "{ctx}: recovered outside the logged range"
            );
            let mut model = hist.after[&recovered].clone();
            check(&shard, &model, &mut rng, &ctx);
            check_no_orphans(&fs, &shard, &ctx).await;
            hist = History::new(recovered, model.clone());

            for step in 0..10 + rng.below(50) {
                let ctx = format!("seed {seed} round {round} step {step}");
                let ok = match rng.below(100) {
                    0..=49 => write(&shard, &mut model, &mut hist, &mut rng),
                    50..=63 => {
                        let lsn = shard.last_lsn();
                        let r = shard.sync_to(lsn).await;
                        if r.is_ok() {
                            hist.acked(lsn);
                        }
                        r.is_ok()
                    }
                    64..=70 => shard.flush().await.is_ok(),
                    71..=75 => {
                        // An optimizer error leaves reads and writes working.
                        let _ = shard.optimize().await;
                        true
                    }
                    76..=85 => {
                        // A flush or optimization interleaved with writes and reads, maybe cut
                        // short.
                        let polls = rng.below(40);
                        let mut flush: std::pin::Pin<Box<dyn std::future::Future<Output = _>>> =
                            if rng.chance(0.5) {
                                Box::pin(shard.flush())
                            } else {
                                Box::pin(shard.optimize())
                            };
                        let mut done = None;
                        for _ in 0..polls {
                            if let Some(r) = poll_once(&mut flush).await {
                                done = Some(r.is_ok());
                                break;
                            }
                            if rng.chance(0.5) {
                                write(&shard, &mut model, &mut hist, &mut rng);
                            }
                            if rng.chance(0.2) {
                                check(&shard, &model, &mut rng, &ctx);
                            }
                        }
                        drop(flush);
                        done.unwrap_or(false)
                    }
                    86..=93 => {
                        check(&shard, &model, &mut rng, &ctx);
                        true
                    }
                    _ => false,
                };
                if !ok && (rng.chance(0.5) || shard.wal.check().is_err()) {
                    break;
                }
            }
            check(
                &shard,
                &model,
                &mut rng,
                &format!("seed {seed} round {round} end"),
            );
            counts.add(&shard.optimizer_report());
            drop(shard);
            fs.crash();
        }
    });
    counts
}

#[test]
fn random_writes_flushes_and_crashes_match_the_model() {
    let mut total = OptimizeCounts::default();
    for seed in 0..SEEDS {
        let c = run(seed);
        total.merges += c.merges;
        total.vacuums += c.vacuums;
        total.failed += c.failed;
        total.cancelled += c.cancelled;
    }
    eprintln!("{total:?}");
}
