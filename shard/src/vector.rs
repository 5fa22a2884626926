//! The value of one named vector of a point: dense, sparse (index → weight), or a
//! multivector (several rows of one dimension, compared by max_sim).
//!
//! Sparse vectors are kept sorted by index with unique indices, so two of them are scored
//! (dot product over the shared indices) by one merge pass, and stored ones can be copied
//! into a segment's columns and inverted index without re-sorting.

use crate::distance::Metric;
use crate::error::{Error, Result};

/// Largest number of non-zero entries of one sparse vector: bounds a point's size in the log
/// and in a segment (Qdrant sets no explicit bound; a request body is bounded anyway).
pub const SPARSE_MAX_ENTRIES: usize = 1 << 20;

/// Most rows of one multivector: bounds a point's size (Qdrant sets no explicit bound).
pub const MULTI_MAX_ROWS: usize = 4096;

/// Rows of one dimension, flattened: row `r` is `data[r*dim .. (r+1)*dim]`.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiVector {
    dim: usize,
    data: Vec<f32>,
}

impl MultiVector {
    /// Checks rows as sent: at least one, all of `dim` (≥ 1) floats, finite.
    pub fn new(dim: usize, data: Vec<f32>) -> Result<Self> {
        if dim == 0 || data.is_empty() || !data.len().is_multiple_of(dim) {
            return Err(Error::WrongInput(format!(
                "a multivector needs at least one row, every row of the same dimension {dim}"
            )));
        }
        if data.len() / dim > MULTI_MAX_ROWS {
            return Err(Error::WrongInput(format!(
                "multivector has {} rows, at most {MULTI_MAX_ROWS} are allowed",
                data.len() / dim
            )));
        }
        if data.iter().any(|x| !x.is_finite()) {
            return Err(Error::WrongInput(
                "vector contains NaN or infinite values".into(),
            ));
        }
        Ok(MultiVector { dim, data })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn data(&self) -> &[f32] {
        &self.data
    }

    pub fn rows(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim)
    }

    /// Prepares every row like a stored dense vector (normalizes for Cosine).
    pub fn preprocess(&mut self, metric: Metric) {
        for row in self.data.chunks_exact_mut(self.dim) {
            metric.preprocess(row);
        }
    }
}

/// max_sim: for each query row the best similarity (the metric's internal score) to any
/// stored row, summed. `stored` holds rows of `query.dim()` floats.
pub fn max_sim(metric: Metric, query: &MultiVector, stored: &[f32]) -> f32 {
    query
        .rows()
        .map(|q| {
            stored
                .chunks_exact(query.dim)
                .map(|d| metric.score(q, d))
                .fold(f32::NEG_INFINITY, f32::max)
        })
        .sum()
}

/// A sparse vector: `values[i]` is the weight of dimension `indices[i]`; indices strictly
/// ascending.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseVector {
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl SparseVector {
    /// Checks and sorts a sparse vector as sent: lengths agree, indices unique, values
    /// finite. Errors are Qdrant's validation messages.
    pub fn new(indices: Vec<u32>, values: Vec<f32>) -> Result<Self> {
        if indices.len() != values.len() {
            return Err(Error::WrongInput(
                "Validation error in JSON body: indices and values must be the same length".into(),
            ));
        }
        if indices.len() > SPARSE_MAX_ENTRIES {
            return Err(Error::WrongInput(format!(
                "sparse vector has {} entries, at most {SPARSE_MAX_ENTRIES} are allowed",
                indices.len()
            )));
        }
        if values.iter().any(|x| !x.is_finite()) {
            return Err(Error::WrongInput(
                "vector contains NaN or infinite values".into(),
            ));
        }
        let mut pairs: Vec<(u32, f32)> = indices.into_iter().zip(values).collect();
        pairs.sort_unstable_by_key(|p| p.0);
        if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Error::WrongInput(
                "Validation error in JSON body: indices must be unique".into(),
            ));
        }
        Ok(SparseVector {
            indices: pairs.iter().map(|p| p.0).collect(),
            values: pairs.iter().map(|p| p.1).collect(),
        })
    }

    /// From parts already known to be sorted and unique (a segment's validated column).
    pub(crate) fn from_sorted(indices: Vec<u32>, values: Vec<f32>) -> Self {
        debug_assert!(indices.windows(2).all(|w| w[0] < w[1]));
        debug_assert_eq!(indices.len(), values.len());
        SparseVector { indices, values }
    }

    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    pub fn values(&self) -> &[f32] {
        &self.values
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Multiplies each weight by `factor(index)` (the idf modifier on a query).
    pub fn scale_by(&mut self, factor: impl Fn(u32) -> f32) {
        for (i, v) in self.indices.iter().zip(self.values.iter_mut()) {
            *v *= factor(*i);
        }
    }

    /// Dot product over shared indices, and whether any index is shared.
    pub fn dot(&self, indices: &[u32], values: &[f32]) -> Option<f32> {
        sparse_dot(&self.indices, &self.values, indices, values)
    }
}

/// Dot product of two sorted sparse vectors over their shared indices; `None` when they share
/// no index (such a point is not a result of a sparse search, as in Qdrant).
pub fn sparse_dot(ai: &[u32], av: &[f32], bi: &[u32], bv: &[f32]) -> Option<f32> {
    let (mut i, mut j) = (0, 0);
    let mut sum = 0.0f32;
    let mut shared = false;
    while i < ai.len() && j < bi.len() {
        match ai[i].cmp(&bi[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += av[i] * bv[j];
                shared = true;
                i += 1;
                j += 1;
            }
        }
    }
    shared.then_some(sum)
}

/// One named vector of a point.
#[derive(Clone, Debug, PartialEq)]
pub enum Vector {
    Dense(Vec<f32>),
    Sparse(SparseVector),
    Multi(MultiVector),
}

impl Vector {
    /// The vector borrowed.
    pub fn as_ref(&self) -> VectorRef<'_> {
        match self {
            Vector::Dense(v) => VectorRef::Dense(v),
            Vector::Sparse(s) => VectorRef::Sparse(&s.indices, &s.values),
            Vector::Multi(m) => VectorRef::Multi(m.dim, &m.data),
        }
    }

    /// The dense vector, if it is one.
    pub fn as_dense(&self) -> Option<&[f32]> {
        match self {
            Vector::Dense(v) => Some(v),
            _ => None,
        }
    }

    /// The dense vector, if it is one, owned.
    pub fn into_dense(self) -> Option<Vec<f32>> {
        match self {
            Vector::Dense(v) => Some(v),
            _ => None,
        }
    }
}

impl From<Vec<f32>> for Vector {
    fn from(v: Vec<f32>) -> Self {
        Vector::Dense(v)
    }
}

impl From<SparseVector> for Vector {
    fn from(v: SparseVector) -> Self {
        Vector::Sparse(v)
    }
}

/// A stored vector borrowed from a column: dense, or sparse as (sorted indices, values).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VectorRef<'a> {
    Dense(&'a [f32]),
    Sparse(&'a [u32], &'a [f32]),
    /// Row dimension and the rows, flattened.
    Multi(usize, &'a [f32]),
}

impl<'a> From<&'a [f32]> for VectorRef<'a> {
    fn from(v: &'a [f32]) -> Self {
        VectorRef::Dense(v)
    }
}

impl<'a> From<&'a Vec<f32>> for VectorRef<'a> {
    fn from(v: &'a Vec<f32>) -> Self {
        VectorRef::Dense(v)
    }
}

impl<'a, const N: usize> From<&'a [f32; N]> for VectorRef<'a> {
    fn from(v: &'a [f32; N]) -> Self {
        VectorRef::Dense(v)
    }
}

impl VectorRef<'_> {
    pub fn to_owned(self) -> Vector {
        match self {
            VectorRef::Dense(v) => Vector::Dense(v.to_vec()),
            VectorRef::Sparse(i, v) => {
                Vector::Sparse(SparseVector::from_sorted(i.to_vec(), v.to_vec()))
            }
            VectorRef::Multi(dim, data) => Vector::Multi(MultiVector {
                dim,
                data: data.to_vec(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sorts_and_validates() {
        let s = SparseVector::new(vec![7, 1, 3], vec![0.7, 0.1, 0.3]).expect("valid");
        assert_eq!(s.indices(), &[1, 3, 7]);
        assert_eq!(s.values(), &[0.1, 0.3, 0.7]);
        let e = SparseVector::new(vec![1, 2], vec![0.5]).expect_err("lengths");
        assert!(e.to_string().contains("same length"), "{e}");
        let e = SparseVector::new(vec![2, 2], vec![0.5, 0.5]).expect_err("duplicate");
        assert!(e.to_string().contains("unique"), "{e}");
        assert!(SparseVector::new(vec![1], vec![f32::NAN]).is_err());
        assert!(SparseVector::new(vec![], vec![]).expect("empty").is_empty());
    }

    #[test]
    fn max_sim_sums_the_best_row_per_query_row() {
        use crate::schema::Distance;
        let q = MultiVector::new(2, vec![1.0, 0.0, 0.0, 1.0]).expect("q");
        // Stored rows (2, 1) and (0, 3): row (1, 0) best 2, row (0, 1) best 3 → 5.
        assert_eq!(
            max_sim(Metric(Distance::Dot), &q, &[2.0, 1.0, 0.0, 3.0]),
            5.0
        );
        assert!(MultiVector::new(2, vec![1.0, 2.0, 3.0]).is_err());
        assert!(MultiVector::new(2, vec![]).is_err());
        assert!(MultiVector::new(0, vec![]).is_err());
    }

    #[test]
    fn dot_over_shared_indices_only() {
        let a = SparseVector::new(vec![1, 3, 5], vec![1.0, 2.0, 3.0]).expect("a");
        // Shares 3 and 5: 2*4 + 3*0.5 = 9.5.
        assert_eq!(a.dot(&[2, 3, 5, 9], &[10.0, 4.0, 0.5, 1.0]), Some(9.5));
        assert_eq!(a.dot(&[0, 2, 4], &[1.0, 1.0, 1.0]), None);
        // A shared index with a zero product still counts as shared.
        assert_eq!(a.dot(&[1], &[0.0]), Some(0.0));
    }
}
