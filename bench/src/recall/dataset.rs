//! The recall data set: base vectors, query vectors and a keyword payload that is 10 %
//! selective — generated from `--seed` or read from `.fvecs` files.
//!
//! `.fvecs` (the TEXMEX / ann-benchmarks format): each vector is a little-endian `i32`
//! dimension followed by that many little-endian `f32`.

use std::path::Path;

use crate::rng::Rng;

/// Distinct values of the `tag` payload field; a filter on one of them keeps 1 / TAG_VALUES
/// of the points (10 %).
pub const TAG_VALUES: u64 = 10;
/// The payload field the filtered queries match on.
pub const TAG_FIELD: &str = "tag";
/// The value filtered on.
pub const FILTER_TAG: u8 = 0;
/// Seed offset of the query vectors, so they are not copies of base vectors.
const QUERY_SEED_SALT: u64 = 0x51_7cc1_b727_220a;
/// Standard deviation of each coordinate around its cluster centre (centres are spread over
/// [-1, 1), so clusters overlap little but are not points).
pub const CLUSTER_SPREAD: f32 = 0.15;
/// Uniform draws summed for one approximately Gaussian draw (Irwin–Hall).
const GAUSSIAN_TERMS: usize = 6;

/// A draw of mean 0 and deviation about 1: the sum of uniform [-1, 1) draws, rescaled.
fn gaussian(rng: &mut Rng) -> f32 {
    let sum: f32 = (0..GAUSSIAN_TERMS).map(|_| rng.unit()).sum();
    // Each uniform [-1, 1) draw has variance 1/3.
    sum / (GAUSSIAN_TERMS as f32 / 3.0).sqrt()
}

/// Largest dimension accepted from a file (Qdrant's own limit).
const FVECS_DIM_MAX: usize = 65_536;

/// Base vectors (row-major, `dim` apart), their tags, and the query vectors.
pub struct Dataset {
    pub dim: usize,
    pub base: Vec<f32>,
    pub tags: Vec<u8>,
    pub queries: Vec<f32>,
    /// Where the vectors came from, for the report.
    pub source: String,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.base.len() / self.dim
    }

    pub fn vector(&self, i: usize) -> &[f32] {
        &self.base[i * self.dim..(i + 1) * self.dim]
    }

    pub fn query_count(&self) -> usize {
        self.queries.len() / self.dim
    }

    pub fn query(&self, i: usize) -> &[f32] {
        &self.queries[i * self.dim..(i + 1) * self.dim]
    }

    /// Uniform random vectors in [-1, 1)^dim and uniform tags, all from `seed`.
    pub fn generate(points: usize, queries: usize, dim: usize, seed: u64) -> Dataset {
        let mut rng = Rng::new(seed);
        let base = (0..points * dim).map(|_| rng.unit()).collect();
        let tags = tags(points, &mut rng);
        let mut qrng = Rng::new(seed ^ QUERY_SEED_SALT);
        let queries = (0..queries * dim).map(|_| qrng.unit()).collect();
        Dataset {
            dim,
            base,
            tags,
            queries,
            source: format!("generated uniform [-1,1)^{dim}, seed {seed:#x}"),
        }
    }

    /// Vectors scattered around `clusters` centres drawn uniformly from [-1, 1)^dim: each
    /// coordinate is the centre's plus Gaussian noise of deviation [`CLUSTER_SPREAD`]. Queries
    /// come from the same mixture (fresh noise around random centres). Tags as in
    /// [`Dataset::generate`].
    pub fn clustered(
        points: usize,
        queries: usize,
        dim: usize,
        clusters: usize,
        seed: u64,
    ) -> Dataset {
        let mut rng = Rng::new(seed);
        let centres: Vec<f32> = (0..clusters * dim).map(|_| rng.unit()).collect();
        let around = |rng: &mut Rng, n: usize| -> Vec<f32> {
            let mut out = Vec::with_capacity(n * dim);
            for _ in 0..n {
                let c = rng.below(clusters as u64) as usize;
                let centre = &centres[c * dim..(c + 1) * dim];
                out.extend(centre.iter().map(|x| x + CLUSTER_SPREAD * gaussian(rng)));
            }
            out
        };
        let base = around(&mut rng, points);
        let tags = tags(points, &mut rng);
        let mut qrng = Rng::new(seed ^ QUERY_SEED_SALT);
        let queries = around(&mut qrng, queries);
        Dataset {
            dim,
            base,
            tags,
            queries,
            source: format!(
                "generated: {clusters} clusters in [-1,1)^{dim}, spread {CLUSTER_SPREAD}, seed {seed:#x}"
            ),
        }
    }

    /// Base vectors from `base` (at most `points` of them) and queries from `queries`, or, if
    /// none is given, the last `query_count` vectors of `base` held out of the collection.
    pub fn load(
        base: &Path,
        queries: Option<&Path>,
        points: usize,
        query_count: usize,
        seed: u64,
    ) -> Result<Dataset, String> {
        let (dim, mut all) = read_fvecs(base, points + query_count)?;
        let (qdim, qs) = match queries {
            Some(q) => read_fvecs(q, query_count)?,
            None => {
                let n = all.len() / dim;
                if n <= query_count {
                    return Err(format!(
                        "{}: {n} vectors cannot spare {query_count} as queries; pass \
                         --fvecs-queries or fewer --queries",
                        base.display()
                    ));
                }
                let held_out = all.split_off((n - query_count) * dim);
                (dim, held_out)
            }
        };
        if qdim != dim {
            return Err(format!(
                "query dimension {qdim} differs from base dimension {dim}"
            ));
        }
        all.truncate(points * dim);
        let mut rng = Rng::new(seed);
        let tags = tags(all.len() / dim, &mut rng);
        Ok(Dataset {
            dim,
            base: all,
            tags,
            queries: qs,
            source: format!("{} ({dim} dims)", base.display()),
        })
    }
}

fn tags(points: usize, rng: &mut Rng) -> Vec<u8> {
    (0..points).map(|_| rng.below(TAG_VALUES) as u8).collect()
}

/// Reads up to `limit` vectors; returns the dimension and the vectors row-major.
pub fn read_fvecs(path: &Path, limit: usize) -> Result<(usize, Vec<f32>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_fvecs(&bytes, limit).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse_fvecs(bytes: &[u8], limit: usize) -> Result<(usize, Vec<f32>), String> {
    let mut out = Vec::new();
    let mut dim = 0usize;
    let mut pos = 0usize;
    while pos < bytes.len() && out.len() / dim.max(1) < limit {
        let head: [u8; 4] = bytes
            .get(pos..pos + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or("truncated dimension field")?;
        let d = i32::from_le_bytes(head);
        let d = usize::try_from(d)
            .ok()
            .filter(|d| (1..=FVECS_DIM_MAX).contains(d))
            .ok_or_else(|| format!("bad dimension {d} at byte {pos}"))?;
        if dim != 0 && d != dim {
            return Err(format!("dimension changes from {dim} to {d} at byte {pos}"));
        }
        dim = d;
        pos += 4;
        let body = bytes
            .get(pos..pos + 4 * d)
            .ok_or_else(|| format!("truncated vector at byte {pos}"))?;
        out.extend(
            body.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
        pos += 4 * d;
    }
    if dim == 0 {
        return Err("no vectors".into());
    }
    Ok((dim, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fvecs(vectors: &[&[f32]]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in vectors {
            out.extend_from_slice(&(v.len() as i32).to_le_bytes());
            for x in *v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    #[test]
    fn parses_fvecs_and_rejects_garbage() {
        let b = fvecs(&[&[1.0, 2.0], &[3.0, 4.0], &[5.0, 6.0]]);
        assert_eq!(
            parse_fvecs(&b, 10),
            Ok((2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
        );
        assert_eq!(parse_fvecs(&b, 2), Ok((2, vec![1.0, 2.0, 3.0, 4.0])));
        assert!(parse_fvecs(&b[..b.len() - 1], 10).is_err());
        assert!(parse_fvecs(&fvecs(&[&[1.0], &[1.0, 2.0]]), 10).is_err());
        assert!(parse_fvecs(&(-1i32).to_le_bytes(), 10).is_err());
        assert!(parse_fvecs(&[], 10).is_err());
    }

    #[test]
    fn clustered_sets_stay_near_their_centres() {
        let d = Dataset::clustered(2000, 10, 16, 20, 7);
        assert_eq!(d.base, Dataset::clustered(2000, 10, 16, 20, 7).base);
        assert_eq!((d.len(), d.query_count()), (2000, 10));
        // Mean squared distance to the nearest other point is far below that of uniform data.
        let sq =
            |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum() };
        let nearest = |set: &Dataset, i: usize| {
            (0..200)
                .filter(|&j| j != i)
                .map(|j| sq(set.vector(i), set.vector(j)))
                .fold(f32::INFINITY, f32::min)
        };
        let u = Dataset::generate(2000, 10, 16, 7);
        let (c_mean, u_mean): (f32, f32) = (0..50)
            .map(|i| (nearest(&d, i), nearest(&u, i)))
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        assert!(
            c_mean * 2.0 < u_mean,
            "clustered {c_mean}, uniform {u_mean}"
        );
    }

    #[test]
    fn generated_sets_are_seeded_and_tags_are_ten_percent() {
        let a = Dataset::generate(5000, 10, 8, 42);
        let b = Dataset::generate(5000, 10, 8, 42);
        assert_eq!(a.base, b.base);
        assert_eq!(a.queries, b.queries);
        assert_eq!((a.len(), a.query_count()), (5000, 10));
        let hits = a.tags.iter().filter(|t| **t == FILTER_TAG).count();
        assert!((400..600).contains(&hits), "{hits} of 5000 tagged");
    }
}
