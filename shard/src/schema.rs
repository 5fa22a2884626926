//! What a shard needs to know about its collection: the vectors each point carries.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::op::PointWrite;

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VectorSpec {
    pub name: String,
    pub dim: usize,
    pub distance: Distance,
}

/// The vector spaces of a collection, in a fixed order (the order of storage columns).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardSchema {
    pub vectors: Vec<VectorSpec>,
}

impl ShardSchema {
    /// Column index of the vector called `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.vectors.iter().position(|v| v.name == name)
    }

    /// The space called `name`, or Qdrant's error for a missing one.
    pub fn spec(&self, name: &str) -> Result<&VectorSpec> {
        self.vectors
            .iter()
            .find(|v| v.name == name)
            .ok_or_else(|| match name {
                "" => Error::WrongInput("Vector params for  are not specified in config".into()),
                _ => Error::WrongInput(format!("Not existing vector name error: {name}")),
            })
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
                self.check_vector(name, v)?;
            }
        }
        Ok(())
    }
}
