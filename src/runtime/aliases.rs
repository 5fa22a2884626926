//! Collection aliases: alternative names that every route resolves (`Catalog::get`).
//!
//! Changes are decided on the coordinator core as one atomic batch: every action is checked
//! against a copy, the new map is written (`<storage>/aliases.json`, atomically) and then
//! installed on every core.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use vexfs_io::Storage;

use super::catalog::COORDINATOR_CORE;
use super::core::Core;
use super::error::RuntimeError;

const ALIASES_FILE_NAME: &str = "aliases.json";

/// One alias change, as Qdrant's `POST /collections/aliases` names them.
#[derive(Debug, Clone)]
pub enum AliasAction {
    Create { alias: String, collection: String },
    Delete { alias: String },
    Rename { from: String, to: String },
}

fn file(core: &Core) -> PathBuf {
    core.shared.storage_root.join(ALIASES_FILE_NAME)
}

pub async fn load(core: &Rc<Core>) -> Result<BTreeMap<String, String>, RuntimeError> {
    let path = file(core);
    match core.storage.read_file(&path).await? {
        None => Ok(BTreeMap::new()),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| RuntimeError::ShardOpen(format!("{}: {e}", path.display()))),
    }
}

/// Applies all actions or none.
pub async fn change(core: &Rc<Core>, actions: Vec<AliasAction>) -> Result<(), RuntimeError> {
    core.submit_to(COORDINATOR_CORE, move |coord| async move {
        let mut map = (*coord.catalog.borrow().aliases).clone();
        for action in actions {
            apply(&coord, &mut map, action)?;
        }
        install(&coord, map).await
    })
    .await?
}

fn apply(
    coord: &Core,
    map: &mut BTreeMap<String, String>,
    action: AliasAction,
) -> Result<(), RuntimeError> {
    let cat = coord.catalog.borrow();
    match action {
        AliasAction::Create { alias, collection } => {
            if !cat.collections.contains_key(&collection) {
                return Err(RuntimeError::CollectionNotFound(collection));
            }
            if cat.collections.contains_key(&alias) {
                return Err(RuntimeError::WrongInput(format!(
                    "Wrong input: Collection with name `{alias}` already exists, it cannot be an alias"
                )));
            }
            // An existing alias is pointed at the new collection (how clients switch atomically).
            map.insert(alias, collection);
        }
        AliasAction::Delete { alias } => {
            // Qdrant: "Delete alias if exists".
            map.remove(&alias);
        }
        AliasAction::Rename { from, to } => {
            let Some(target) = map.remove(&from) else {
                return Err(RuntimeError::NotFound(format!(
                    "Not found: Alias {from} does not exists!"
                )));
            };
            if cat.collections.contains_key(&to) {
                return Err(RuntimeError::WrongInput(format!(
                    "Wrong input: Collection with name `{to}` already exists, it cannot be an alias"
                )));
            }
            map.insert(to, target);
        }
    }
    Ok(())
}

/// Persists the map, then installs it on every core.
async fn install(coord: &Rc<Core>, map: BTreeMap<String, String>) -> Result<(), RuntimeError> {
    let bytes =
        serde_json::to_vec_pretty(&map).map_err(|e| RuntimeError::Internal(e.to_string()))?;
    coord
        .storage
        .write_file_atomic(&file(coord), &bytes)
        .await?;
    let map = Arc::new(map);
    coord
        .broadcast(move |c| {
            let map = map.clone();
            async move {
                c.catalog.borrow_mut().aliases = map;
            }
        })
        .await?;
    Ok(())
}

/// Drops the aliases of a deleted collection (coordinator only).
pub async fn forget_collection(coord: &Rc<Core>, collection: &str) -> Result<(), RuntimeError> {
    let mut map = (*coord.catalog.borrow().aliases).clone();
    let before = map.len();
    map.retain(|_, target| target != collection);
    if map.len() == before {
        return Ok(());
    }
    install(coord, map).await
}

/// Every alias, sorted, optionally only those of one collection.
pub fn list(core: &Core, collection: Option<&str>) -> Vec<(String, String)> {
    core.catalog
        .borrow()
        .aliases
        .iter()
        .filter(|(_, target)| collection.is_none_or(|c| c == target.as_str()))
        .map(|(a, t)| (a.clone(), t.clone()))
        .collect()
}
