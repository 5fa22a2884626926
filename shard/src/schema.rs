//! What a shard needs to know about its collection: the vectors each point carries (dense
//! spaces of a fixed dimension and metric, and sparse spaces).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::op::PointWrite;
use crate::vector::{MultiVector, Vector};

/// Similarity function of a vector space, with Qdrant's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Distance {
    Cosine,
    Euclid,
    Dot,
    Manhattan,
}

impl Distance {
    /// Whether a larger reported score means a closer match. Euclid and Manhattan report
    /// distances, so smaller is closer.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Distance::Cosine | Distance::Dot)
    }
}

/// One vector space of a collection. The unnamed (default) vector has the name "".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorSpec {
    pub name: String,
    pub dim: usize,
    pub distance: Distance,
}

/// How the weights of a sparse query are adjusted before scoring (Qdrant's `modifier`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Modifier {
    #[default]
    None,
    /// Each query weight is multiplied by the inverse document frequency of its index.
    Idf,
}

/// One sparse vector space of a collection (always named).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparseSpec {
    pub name: String,
    #[serde(default)]
    pub modifier: Modifier,
}

/// One multivector space of a collection: rows of `dim` compared by max_sim (Qdrant's
/// `multivector_config: {"comparator": "max_sim"}`). Searched by scanning: these columns
/// have no HNSW graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiSpec {
    pub name: String,
    pub dim: usize,
    pub distance: Distance,
}

/// The vector spaces of a collection, in a fixed order (the order of storage columns).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSchema {
    pub vectors: Vec<VectorSpec>,
    /// Sparse spaces; names never collide with dense ones.
    #[serde(default)]
    pub sparse: Vec<SparseSpec>,
    /// Multivector spaces; names never collide with the others.
    #[serde(default)]
    pub multi: Vec<MultiSpec>,
}

impl ShardSchema {
    /// Column index of the vector called `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.vectors.iter().position(|v| v.name == name)
    }

    /// The dense space called `name`, or Qdrant's error for a missing one (or a sparse one).
    pub fn spec(&self, name: &str) -> Result<&VectorSpec> {
        self.vectors
            .iter()
            .find(|v| v.name == name)
            .ok_or_else(|| match name {
                "" => Error::WrongInput("Vector params for  are not specified in config".into()),
                _ if self.sparse_spec(name).is_some() => Error::WrongInput(format!(
                    "Conversion between sparse and regular vectors failed: {name} is a sparse vector"
                )),
                _ if self.multi_spec(name).is_some() => Error::WrongInput(format!(
                    "Conversion between multi and regular vectors failed: {name} is a multivector"
                )),
                _ => Error::WrongInput(format!("Not existing vector name error: {name}")),
            })
    }

    /// Whether both have the same storage columns (dense spaces, sparse names in order): the
    /// sparse modifier weights queries only.
    pub fn same_columns(&self, other: &ShardSchema) -> bool {
        self.vectors == other.vectors
            && self.sparse.len() == other.sparse.len()
            && self
                .sparse
                .iter()
                .zip(&other.sparse)
                .all(|(a, b)| a.name == b.name)
            && self.multi == other.multi
    }

    /// Names of every space (dense, sparse, multi).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let dense = self.vectors.iter().map(|v| v.name.as_str());
        let sparse = self.sparse.iter().map(|v| v.name.as_str());
        dense
            .chain(sparse)
            .chain(self.multi.iter().map(|v| v.name.as_str()))
    }

    /// The sparse space called `name`.
    pub fn sparse_spec(&self, name: &str) -> Option<&SparseSpec> {
        self.sparse.iter().find(|v| v.name == name)
    }

    /// The sparse space called `name`, or Qdrant's error for a missing one (or a dense one).
    pub fn sparse(&self, name: &str) -> Result<&SparseSpec> {
        self.sparse_spec(name).ok_or_else(|| {
            if self.column(name).is_some() {
                Error::WrongInput(format!(
                    "Conversion between sparse and regular vectors failed: {name} is a dense vector"
                ))
            } else {
                Error::WrongInput(format!("Not existing vector name error: {name}"))
            }
        })
    }

    /// The multivector space called `name`.
    pub fn multi_spec(&self, name: &str) -> Option<&MultiSpec> {
        self.multi.iter().find(|v| v.name == name)
    }

    /// Whether a space (dense, sparse or multi) called `name` exists; Qdrant's error if not.
    pub fn check_name(&self, name: &str) -> Result<()> {
        if self.sparse_spec(name).is_some() || self.multi_spec(name).is_some() {
            return Ok(());
        }
        self.spec(name).map(|_| ())
    }

    /// A vector for the multivector space `name` as stored: rows checked against the
    /// space's dimension; a dense vector is one row (as Qdrant treats it).
    pub fn conform_multi(&self, name: &str, v: Vector) -> Result<MultiVector> {
        let spec = self
            .multi_spec(name)
            .ok_or_else(|| Error::WrongInput(format!("Not existing vector name error: {name}")))?;
        let m = match v {
            Vector::Dense(d) => MultiVector::new(spec.dim, d)?,
            Vector::Multi(m) => m,
            Vector::Sparse(_) => {
                return Err(Error::WrongInput(format!(
                    "Conversion between sparse and regular vectors failed: {name} is a multivector"
                )))
            }
        };
        if m.dim() != spec.dim {
            return Err(Error::Dimension {
                expected: spec.dim,
                got: m.dim(),
            });
        }
        Ok(m)
    }

    /// Checks one vector of a point against its space: the kind matches, and a dense one
    /// has the space's dimension and is finite (sparse ones are checked when parsed).
    pub fn check_any(&self, name: &str, v: &Vector) -> Result<()> {
        if self.multi_spec(name).is_some() {
            return self.conform_multi(name, v.clone()).map(|_| ());
        }
        match v {
            Vector::Dense(d) => self.check_vector(name, d).map(|_| ()),
            Vector::Sparse(_) => self.sparse(name).map(|_| ()),
            Vector::Multi(_) => Err(Error::WrongInput(format!(
                "Conversion between multi and regular vectors failed: {name} is not a multivector"
            ))),
        }
    }

    /// Checks a vector against the space `name`: it exists, has its dimension, is finite.
    pub fn check_vector(&self, name: &str, v: &[f32]) -> Result<&VectorSpec> {
        let spec = self.spec(name)?;
        if v.len() != spec.dim {
            return Err(Error::Dimension {
                expected: spec.dim,
                got: v.len(),
            });
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(Error::WrongInput(
                "vector contains NaN or infinite values".into(),
            ));
        }
        Ok(spec)
    }

    /// Checks every vector of a batch; a batch is accepted or refused whole.
    pub fn check_points(&self, points: &[PointWrite]) -> Result<()> {
        for p in points {
            for (name, v) in &p.vectors {
                self.check_any(name, v)?;
            }
        }
        Ok(())
    }
}
