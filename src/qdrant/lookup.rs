//! `lookup_from`: where the point ids given as examples (recommend, discover, context, nearest
//! by id) take their vectors from — another collection, and optionally another vector name,
//! instead of the searched collection and its `using` vector.
//!
//! As in Qdrant, example ids are left out of the results only when they name points of the
//! searched collection itself.

use serde::Deserialize;
use serde_json::Value;

use super::error::Error;
use crate::runtime::core::Core;
use crate::runtime::error::RuntimeError;

/// Qdrant's `LookupLocation`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupIn {
    collection: String,
    vector: Option<String>,
    shard_key: Option<Value>,
}

/// Where example ids are looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub collection: String,
    /// "" is the unnamed (default) vector.
    pub vector: String,
}

impl Lookup {
    /// Parses `lookup_from` (absent or null: the searched collection).
    pub fn parse(v: Option<Value>) -> Result<Option<Lookup>, Error> {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let l: LookupIn =
            serde_json::from_value(v).map_err(|e| Error::format(format!("lookup_from: {e}")))?;
        if l.shard_key.is_some() {
            return Err(Error::unsupported(
                "lookup_from.shard_key (custom sharding)",
            ));
        }
        Ok(Some(Lookup {
            collection: l.collection,
            vector: l.vector.unwrap_or_default(),
        }))
    }

    /// Fails (404 / 400) unless the lookup collection exists and has the vector, whether or
    /// not the query names any point by id: a lookup is never silently ignored.
    pub fn check(lookup: Option<&Lookup>, core: &Core) -> Result<(), Error> {
        let Some(l) = lookup else {
            return Ok(());
        };
        let coll = core.catalog.borrow().get(&l.collection)?;
        coll.config
            .schema
            .spec(&l.vector)
            .map_err(RuntimeError::from)?;
        Ok(())
    }

    /// The collection and vector that example ids of a search of `using` in `name` read.
    pub fn source<'a>(
        lookup: Option<&'a Lookup>,
        name: &'a str,
        using: &'a str,
    ) -> (&'a str, &'a str) {
        lookup.map_or((name, using), |l| (&l.collection, &l.vector))
    }
}
