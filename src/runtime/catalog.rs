//! The collections one core knows, and the shards of them it owns.
//!
//! Every core holds the full list of collections (to route requests) but opens only the
//! shards it owns: shard `s` of a collection lives on core `s % cores`. Creations and
//! deletions are decided on core 0 (one place that can answer "already exists" without races)
//! and then installed on every core.
//!
//! On disk: `<storage>/collections/<name>/config.json` and `…/<name>/shard-<s>/` (log files,
//! segments, manifest: see `vexfs_shard::shard`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vexfs_io::dma::DmaStorage;
use vexfs_io::Storage;
use vexfs_shard::filter::JsonPath;
use vexfs_shard::hnsw::{ColumnIndexSettings, IndexSettings, DEFAULT_INDEXING_THRESHOLD_KB};
use vexfs_shard::payload_index::IndexKind;
use vexfs_shard::quant::{QuantConfig, QuantSetting};
use vexfs_shard::shard::{OptimizationKind, OptimizerReport};
use vexfs_shard::{run_flusher, run_indexer, OptimizerOptions, Shard, ShardSchema};

use super::core::Core;
use super::error::RuntimeError;

/// Core that decides collection creation and deletion.
pub(super) const COORDINATOR_CORE: usize = 0;
pub(super) const CONFIG_FILE_NAME: &str = "config.json";

/// A collection's persisted configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectionConfig {
    pub schema: ShardSchema,
    pub shard_number: u32,
    /// Whether `vectors` was given as one unnamed vector (it is reported back the same way).
    pub unnamed_vector: bool,
    /// Dialect-level settings reported back as given (hnsw, optimizers, wal, …).
    pub extra: serde_json::Value,
    /// Payload indexes by field: the schema as given (`"keyword"` or `{"type": …}`).
    #[serde(default)]
    pub payload_indexes: std::collections::BTreeMap<String, serde_json::Value>,
}

pub struct Collection {
    pub name: String,
    pub config: Arc<CollectionConfig>,
    /// Indexed by shard id; `Some` for the shards this core owns.
    pub shards: Vec<Option<Rc<Shard<DmaStorage>>>>,
}

impl Collection {
    pub fn local_shards(&self) -> impl Iterator<Item = (usize, &Rc<Shard<DmaStorage>>)> {
        self.shards
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
    }
}

#[derive(Default)]
pub struct Catalog {
    pub collections: HashMap<String, Rc<Collection>>,
    /// Alias → collection name; the same map on every core.
    pub aliases: Arc<BTreeMap<String, String>>,
    /// Names being created right now (coordinator only).
    creating: HashSet<String>,
}

impl Catalog {
    /// The collection called `name`, or the one the alias `name` points to.
    pub fn get(&self, name: &str) -> Result<Rc<Collection>, RuntimeError> {
        let target = self.aliases.get(name).map_or(name, String::as_str);
        self.collections
            .get(name)
            .or_else(|| self.collections.get(target))
            .cloned()
            .ok_or_else(|| RuntimeError::CollectionNotFound(name.to_owned()))
    }
}

pub fn collections_dir(root: &Path) -> PathBuf {
    root.join("collections")
}

pub(super) fn collection_dir(root: &Path, name: &str) -> PathBuf {
    collections_dir(root).join(name)
}

/// Core owning shard `shard` when there are `cores` cores.
pub fn owner_core(shard: usize, cores: usize) -> usize {
    shard % cores
}

/// The shard's index settings from the collection's Qdrant configuration: `hnsw_config`
/// (m, ef_construct, full_scan_threshold), each vector's own `hnsw_config` over it, and
/// `optimizers_config.indexing_threshold` (null: Qdrant's default; 0 disables indexing).
/// The indexed payload keys of a collection, for its shards' payload indexes. A schema is
/// `"keyword"` or `{"type": "keyword", …}`; keys and types the routes accepted always parse.
pub fn payload_index_defs(config: &CollectionConfig) -> Vec<(JsonPath, IndexKind)> {
    config
        .payload_indexes
        .iter()
        .filter_map(|(key, schema)| {
            let kind = match schema {
                serde_json::Value::String(s) => s.as_str(),
                serde_json::Value::Object(m) => m.get("type")?.as_str()?,
                _ => return None,
            };
            Some((JsonPath::parse(key).ok()?, IndexKind::parse(kind)?))
        })
        .collect()
}

pub fn index_settings(config: &CollectionConfig) -> IndexSettings {
    let x = &config.extra;
    let read = |h: &serde_json::Value, base: ColumnIndexSettings| {
        let get = |k: &str, d: usize| {
            h.get(k)
                .and_then(serde_json::Value::as_u64)
                .map_or(d, |v| usize::try_from(v).unwrap_or(usize::MAX))
        };
        ColumnIndexSettings {
            m: get("m", base.m),
            ef_construct: get("ef_construct", base.ef_construct),
            full_scan_threshold_kb: get("full_scan_threshold", base.full_scan_threshold_kb),
            quantization: base.quantization,
        }
    };
    let mut default = read(&x["hnsw_config"], ColumnIndexSettings::default());
    default.quantization = quantization(&x["quantization_config"], None);
    let columns = config
        .schema
        .vectors
        .iter()
        .map(|v| {
            // The unnamed vector's settings sit in the `vectors` object itself.
            let shown = if config.unnamed_vector {
                &x["vectors"]
            } else {
                &x["vectors"][v.name.as_str()]
            };
            let mut column = read(&shown["hnsw_config"], default);
            // A vector's own quantization replaces the collection's; without one it inherits.
            column.quantization = quantization(&shown["quantization_config"], default.quantization);
            (v.name.clone(), column)
        })
        .collect();
    let indexing_threshold_kb = x["optimizer_config"]["indexing_threshold"]
        .as_u64()
        .map_or(DEFAULT_INDEXING_THRESHOLD_KB, |v| {
            usize::try_from(v).unwrap_or(usize::MAX)
        });
    IndexSettings {
        indexing_threshold_kb,
        default,
        columns,
    }
}

/// The quantization a stored `quantization_config` asks for; `inherited` when it is not set.
/// The routes stored only values that parse.
fn quantization(v: &serde_json::Value, inherited: Option<QuantConfig>) -> Option<QuantConfig> {
    match QuantConfig::parse(v, "quantization_config", true) {
        Ok(Some(QuantSetting::On(c))) => Some(c),
        Ok(Some(QuantSetting::Disabled)) => None,
        Ok(None) | Err(_) => inherited,
    }
}

/// Runs the task `make` builds in the core's background queue (low shares: requests go
/// first), or in the current queue if that one is missing (it is created with the core and
/// never removed, so only a bug gets there: the work still runs, at request priority).
fn spawn_background<F: std::future::Future<Output = ()> + 'static>(
    core: &Core,
    make: impl Fn() -> F,
) {
    match glommio::spawn_local_into(make(), core.background) {
        Ok(t) => {
            t.detach();
        }
        Err(e) => {
            tracing::error!(core = core.id, "background queue missing: {e}");
            glommio::spawn_local(make()).detach();
        }
    }
}

/// Opens the shards of `name` owned by `core` and registers the collection there.
async fn install(
    core: &Rc<Core>,
    name: &str,
    config: Arc<CollectionConfig>,
) -> Result<(), RuntimeError> {
    let root = &core.shared.storage_root;
    let mut shards = Vec::with_capacity(config.shard_number as usize);
    for s in 0..config.shard_number as usize {
        if owner_core(s, core.cores()) != core.id {
            shards.push(None);
            continue;
        }
        let dir = collection_dir(root, name).join(format!("shard-{s}"));
        let shard = Shard::open(
            &core.storage,
            &dir,
            config.schema.clone(),
            core.shared.shard_options,
        )
        .await
        .map_err(|e| RuntimeError::ShardOpen(format!("{}: {e}", dir.display())))?;
        shard.set_optimizer_options(optimizer_options(&config.extra));
        shard.set_index_settings(index_settings(&config));
        shard.set_payload_indexes(payload_index_defs(&config));
        let shard = Rc::new(shard);
        // Writes the mutable part out as segments and optimizes them in the background; ends
        // with the shard.
        let weak = Rc::downgrade(&shard);
        spawn_background(core, || run_flusher(weak.clone()));
        // Builds the HNSW graphs of segments large enough; ends with the shard.
        spawn_background(core, || run_indexer(weak.clone()));
        shards.push(Some(shard));
    }
    let collection = Rc::new(Collection {
        name: name.to_owned(),
        config,
        shards,
    });
    core.catalog
        .borrow_mut()
        .collections
        .insert(name.to_owned(), collection);
    Ok(())
}

/// Loads every collection from disk on this core (startup).
pub async fn load_all(core: &Rc<Core>) -> Result<(), RuntimeError> {
    let dir = collections_dir(&core.shared.storage_root);
    core.storage.create_dir_all(&dir).await?;
    if core.id == COORDINATOR_CORE {
        super::snapshots::clean_staging(core).await?;
    }
    for name in core.storage.list_dir(&dir).await? {
        let path = dir.join(&name).join(CONFIG_FILE_NAME);
        let Some(bytes) = core.storage.read_file(&path).await? else {
            // A directory without config is a creation that never completed.
            continue;
        };
        let config: CollectionConfig = serde_json::from_slice(&bytes)
            .map_err(|e| RuntimeError::ShardOpen(format!("{}: {e}", path.display())))?;
        install(core, &name, Arc::new(config)).await?;
    }
    let aliases = super::aliases::load(core).await?;
    core.catalog.borrow_mut().aliases = Arc::new(aliases);
    Ok(())
}

/// Creates a collection on every core. Fails with `AlreadyExists` when the name is taken.
pub async fn create(
    core: &Rc<Core>,
    name: String,
    config: CollectionConfig,
) -> Result<(), RuntimeError> {
    core.submit_to(COORDINATOR_CORE, move |coord| async move {
        {
            let mut cat = coord.catalog.borrow_mut();
            if cat.aliases.contains_key(&name) {
                return Err(RuntimeError::WrongInput(format!(
                    "Wrong input: Alias with name `{name}` already exists"
                )));
            }
            if cat.collections.contains_key(&name) || !cat.creating.insert(name.clone()) {
                return Err(RuntimeError::AlreadyExists(name));
            }
        }
        let result = create_on_coordinator(&coord, &name, config).await;
        coord.catalog.borrow_mut().creating.remove(&name);
        if result.is_err() {
            let _ = drop_everywhere(&coord, &name).await;
        }
        result
    })
    .await?
}

async fn create_on_coordinator(
    coord: &Rc<Core>,
    name: &str,
    config: CollectionConfig,
) -> Result<(), RuntimeError> {
    let dir = collection_dir(&coord.shared.storage_root, name);
    coord.storage.create_dir_all(&dir).await?;
    let bytes =
        serde_json::to_vec_pretty(&config).map_err(|e| RuntimeError::Internal(e.to_string()))?;
    coord
        .storage
        .write_file_atomic(&dir.join(CONFIG_FILE_NAME), &bytes)
        .await?;
    coord
        .storage
        .sync_dir(&collections_dir(&coord.shared.storage_root))
        .await?;
    let config = Arc::new(config);
    let name = name.to_owned();
    let results = coord
        .broadcast(move |c| {
            let name = name.clone();
            let config = config.clone();
            async move { install(&c, &name, config).await }
        })
        .await?;
    results.into_iter().collect()
}

/// Deletes a collection everywhere; `false` when it did not exist.
pub async fn delete(core: &Rc<Core>, name: String) -> Result<bool, RuntimeError> {
    core.submit_to(COORDINATOR_CORE, move |coord| async move {
        if !coord.catalog.borrow().collections.contains_key(&name) {
            return Ok(false);
        }
        drop_everywhere(&coord, &name).await?;
        super::aliases::forget_collection(&coord, &name).await?;
        Ok(true)
    })
    .await?
}

async fn drop_everywhere(coord: &Rc<Core>, name: &str) -> Result<(), RuntimeError> {
    let owned = name.to_owned();
    coord
        .broadcast(move |c| {
            let name = owned.clone();
            async move {
                let removed = c.catalog.borrow_mut().collections.remove(&name);
                if let Some(coll) = removed {
                    for (_, shard) in coll.local_shards() {
                        shard.close();
                        // A flush works on paths: let a running one finish before the
                        // directory is removed (and perhaps recreated under the same name).
                        shard.stop_flushing().await;
                    }
                }
            }
        })
        .await?;
    let dir = collection_dir(&coord.shared.storage_root, name);
    coord.storage.remove_dir_all(&dir).await?;
    coord
        .storage
        .sync_dir(&collections_dir(&coord.shared.storage_root))
        .await?;
    Ok(())
}

/// Makes the complete, durable directory `staged` (on the storage's file system) the collection
/// `name`, replacing the collection of that name if there is one (snapshot recovery). Runs on
/// the coordinator. Every core stops serving the old collection and stops its flushes (a flush
/// works on paths, and the paths are about to name the new files); the old directory is
/// renamed to `trash` (which must not exist), `staged` to the collection's, and every core
/// opens the new one. A crash between the two renames leaves the collection missing on
/// restart (the caller's source is untouched, so recovery can be run again); the old files
/// are then in `trash`, which the caller keeps where startup clears it.
pub(super) async fn replace_from_dir(
    coord: &Rc<Core>,
    name: &str,
    staged: &Path,
    trash: &Path,
    config: CollectionConfig,
) -> Result<(), RuntimeError> {
    debug_assert_eq!(coord.id, COORDINATOR_CORE);
    {
        let mut cat = coord.catalog.borrow_mut();
        if cat.aliases.contains_key(name) {
            return Err(RuntimeError::WrongInput(format!(
                "Wrong input: Alias with name `{name}` already exists"
            )));
        }
        if !cat.creating.insert(name.to_owned()) {
            return Err(RuntimeError::AlreadyExists(name.to_owned()));
        }
    }
    let result = replace_on_coordinator(coord, name, staged, trash, config).await;
    coord.catalog.borrow_mut().creating.remove(name);
    result
}

async fn replace_on_coordinator(
    coord: &Rc<Core>,
    name: &str,
    staged: &Path,
    trash: &Path,
    config: CollectionConfig,
) -> Result<(), RuntimeError> {
    let owned = name.to_owned();
    coord
        .broadcast(move |c| {
            let name = owned.clone();
            async move {
                let old = c.catalog.borrow_mut().collections.remove(&name);
                for (_, shard) in old.iter().flat_map(|o| o.local_shards()) {
                    shard.stop_flushing().await;
                }
            }
        })
        .await?;
    let root = &coord.shared.storage_root;
    let parent = collections_dir(root);
    let dir = collection_dir(root, name);
    let had_old = coord
        .storage
        .list_dir(&parent)
        .await?
        .iter()
        .any(|n| n == name);
    if had_old {
        coord.storage.rename_dir(&dir, trash).await?;
    }
    coord.storage.rename_dir(staged, &dir).await?;
    coord.storage.sync_dir(&parent).await?;
    for p in [staged.parent(), trash.parent()].into_iter().flatten() {
        coord.storage.sync_dir(p).await?;
    }
    let config = Arc::new(config);
    let owned = name.to_owned();
    let installed: Result<(), RuntimeError> = coord
        .broadcast(move |c| {
            let name = owned.clone();
            let config = config.clone();
            async move { install(&c, &name, config).await }
        })
        .await?
        .into_iter()
        .collect();
    if let Err(e) = installed {
        let _ = drop_everywhere(coord, name).await;
        return Err(e);
    }
    if had_old {
        if let Err(e) = coord.storage.remove_dir_all(trash).await {
            tracing::warn!(collection = name, "removing the replaced files: {e}");
        }
    }
    Ok(())
}

/// Changes a collection's configuration: decided on core 0, persisted atomically, then every
/// core swaps in the new configuration (requests already running keep the one they started
/// with). `change` may refuse with an error, leaving everything as it was.
pub async fn update_config<F>(core: &Rc<Core>, name: String, change: F) -> Result<(), RuntimeError>
where
    F: FnOnce(&mut CollectionConfig) -> Result<(), RuntimeError> + Send + 'static,
{
    core.submit_to(COORDINATOR_CORE, move |coord| async move {
        let current = coord.catalog.borrow().get(&name)?;
        let mut config = (*current.config).clone();
        change(&mut config)?;
        let name = current.name.clone();
        let dir = collection_dir(&coord.shared.storage_root, &name);
        let bytes = serde_json::to_vec_pretty(&config)
            .map_err(|e| RuntimeError::Internal(e.to_string()))?;
        coord
            .storage
            .write_file_atomic(&dir.join(CONFIG_FILE_NAME), &bytes)
            .await?;
        let config = Arc::new(config);
        let failures = coord
            .broadcast(move |c| {
                let (name, config) = (name.clone(), config.clone());
                async move {
                    let changed = swap_config(&c, &name, config);
                    // A change of vector spaces is logged by every local shard in the same
                    // step as the swap (no write checked against the old spaces is logged
                    // after it), then made durable. A shard that fails here catches up at
                    // its next open: config.json is already written.
                    let mut failed = Vec::new();
                    for (shard, lsn) in changed {
                        let synced = match lsn {
                            Ok(lsn) => shard.sync_to(lsn).await,
                            Err(e) => Err(e),
                        };
                        if let Err(e) = synced {
                            failed.push(e.to_string());
                        }
                    }
                    failed
                }
            })
            .await?;
        let failures: Vec<String> = failures.into_iter().flatten().collect();
        if !failures.is_empty() {
            return Err(RuntimeError::Internal(format!(
                "changing the vector spaces: {}",
                failures.join("; ")
            )));
        }
        Ok(())
    })
    .await?
}

/// A local shard and the LSN of the schema change it logged (or why it could not).
type LoggedChange = (
    Rc<Shard<DmaStorage>>,
    vexfs_shard::Result<vexfs_shard::wal::Lsn>,
);

/// Installs `config` as collection `name`'s on this core and hands its settings to the local
/// shards; when the vector spaces changed, each local shard logs the change (its LSN, or the
/// error of logging it, is returned for the caller to sync).
fn swap_config(core: &Core, name: &str, config: Arc<CollectionConfig>) -> Vec<LoggedChange> {
    let mut changed = Vec::new();
    let mut cat = core.catalog.borrow_mut();
    if let Some(old) = cat.collections.get(name) {
        if old.config.schema != config.schema {
            for (_, shard) in old.local_shards() {
                changed.push((shard.clone(), shard.set_schema(config.schema.clone())));
            }
        }
        let options = optimizer_options(&config.extra);
        // Index settings apply to segments indexed and searches started from now on.
        let settings = index_settings(&config);
        let payload_defs = payload_index_defs(&config);
        for (_, shard) in old.local_shards() {
            shard.set_optimizer_options(options);
            shard.set_index_settings(settings.clone());
            shard.set_payload_indexes(payload_defs.clone());
        }
        let updated = Collection {
            name: name.to_owned(),
            config,
            shards: old.shards.clone(),
        };
        cat.collections.insert(name.to_owned(), Rc::new(updated));
    }
    changed
}

/// The shard optimizer options in a collection's stored `optimizer_config` (Qdrant's
/// `optimizers_config`). The routes validate what they store; a field missing or out of range
/// (a config written by an older version) keeps its default.
pub fn optimizer_options(extra: &serde_json::Value) -> OptimizerOptions {
    let o = &extra["optimizer_config"];
    let d = OptimizerOptions::default();
    let count = |key: &str| {
        o[key]
            .as_u64()
            .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
    };
    OptimizerOptions {
        enabled: o["max_optimization_threads"].as_u64() != Some(0),
        deleted_threshold: o["deleted_threshold"]
            .as_f64()
            .filter(|t| (0.0..=1.0).contains(t))
            .unwrap_or(d.deleted_threshold),
        vacuum_min_points: count("vacuum_min_vector_number").unwrap_or(d.vacuum_min_points),
        default_segment_number: count("default_segment_number").unwrap_or(0),
        max_segment_kb: o["max_segment_size"].as_u64().filter(|&kb| kb > 0),
    }
}

/// One shard's optimizer, as `GET /collections/{c}` and its `/optimizations` report it.
pub struct ShardOptimizer {
    pub shard: usize,
    /// Segments as Qdrant counts them ([`Shard::parts_count`]).
    pub parts: usize,
    /// `(segment file, live points)` of every segment.
    pub segments: Vec<(String, usize)>,
    /// The optimization due next and its sources, when none runs.
    pub pending: Option<(OptimizationKind, Vec<(String, usize)>)>,
    pub report: OptimizerReport,
}

/// The optimizers of every shard of `name`, gathered from their owning cores, by shard id.
pub async fn optimizers(core: &Rc<Core>, name: &str) -> Result<Vec<ShardOptimizer>, RuntimeError> {
    let name = name.to_owned();
    let per_core = core
        .broadcast(move |c| {
            let name = name.clone();
            async move {
                let coll = c.catalog.borrow().get(&name)?;
                let states = coll.local_shards().map(|(shard, s)| ShardOptimizer {
                    shard,
                    parts: s.parts_count(),
                    segments: s.segment_summary(),
                    pending: s.pending_optimization(),
                    report: s.optimizer_report(),
                });
                Ok::<_, RuntimeError>(states.collect::<Vec<_>>())
            }
        })
        .await?;
    let mut all = Vec::new();
    for states in per_core {
        all.extend(states?);
    }
    all.sort_by_key(|s| s.shard);
    Ok(all)
}

/// Names of all collections, sorted.
pub fn names(core: &Core) -> Vec<String> {
    let mut v: Vec<String> = core.catalog.borrow().collections.keys().cloned().collect();
    v.sort();
    v
}

/// Whether `name` may be used as a collection (and directory) name.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > crate::limits::COLLECTION_NAME_MAX_BYTES {
        return Err(format!(
            "collection name must be 1 to {} bytes long",
            crate::limits::COLLECTION_NAME_MAX_BYTES
        ));
    }
    if name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| matches!(c, '/' | '\\' | '\0') || c.is_control())
    {
        return Err(format!(
            "collection name {name:?} contains characters that are not allowed"
        ));
    }
    Ok(())
}
