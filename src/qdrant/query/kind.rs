//! The `query` of a universal query (or of one prefetch), parsed: what ranks the candidates.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use vexfs_shard::{PointId, Vector};

use crate::qdrant::model::BatchVector;

use super::formula::{Formula, FormulaIn};
use super::fusion::{Fusion, FusionName, RrfIn};
use crate::qdrant::discover::{ContextInput, ContextPairIn, DiscoverInput};
use crate::qdrant::error::Error;
use crate::qdrant::order_by::OrderByIn;
use crate::qdrant::recommend::{Example, Examples, Strategy};

/// Most candidates MMR may re-rank (Qdrant's bound on `candidates_limit`).
pub const MMR_CANDIDATES_MAX: usize = 16_384;

/// Qdrant's default MMR `diversity`.
const MMR_DIVERSITY_DEFAULT: f32 = 0.5;

/// What a `nearest` query is near to.
#[derive(Clone)]
pub enum Target {
    /// Dense or sparse.
    Vector(Vector),
    /// A stored point's vector; the point itself is not a result.
    Point(PointId),
}

/// Maximal marginal relevance re-ranking of a `nearest` query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mmr {
    /// 0: pure relevance; 1: pure diversity.
    pub diversity: f32,
    /// How many nearest candidates to re-rank; `None` is the stage's limit.
    pub candidates_limit: Option<usize>,
}

/// Queries that rank points by their vectors, resolved to one search.
pub enum Ranking {
    Nearest(Target),
    Recommend(Examples),
    Discover(Option<Example>, Vec<ContextPairIn>),
    Context(Vec<ContextPairIn>),
}

pub enum QueryKind {
    Rank(Ranking),
    /// `nearest` re-ranked by maximal marginal relevance.
    Mmr(Target, Mmr),
    Fusion(Fusion),
    Formula(Formula),
    OrderBy(OrderByIn),
    Sample,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RecommendInput {
    #[serde(default)]
    positive: Vec<Example>,
    #[serde(default)]
    negative: Vec<Example>,
    strategy: Option<Strategy>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MmrIn {
    diversity: Option<f32>,
    candidates_limit: Option<usize>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum SampleIn {
    Random,
}

fn typed<T: serde::de::DeserializeOwned>(what: &str, v: Value) -> Result<T, Error> {
    serde_json::from_value(v).map_err(|e| Error::format(format!("query.{what}: {e}")))
}

/// A vector input: a dense vector or a point id; other kinds are refused by name.
fn target(v: Value) -> Result<Target, Error> {
    match v {
        // Numbers (dense) or rows of numbers (multivector).
        Value::Array(_) => Ok(Target::Vector(typed::<BatchVector>("nearest", v)?.0)),
        Value::Number(_) | Value::String(_) => Ok(Target::Point(typed("nearest", v)?)),
        Value::Object(ref m) if m.contains_key("indices") || m.contains_key("values") => {
            Ok(Target::Vector(typed::<BatchVector>("nearest", v)?.0))
        }
        Value::Object(_) => Err(Error::unsupported(
            "inference query (document, image or object)",
        )),
        _ => Err(Error::format(
            "query: expected a vector, a point id or a query object",
        )),
    }
}

fn parse_mmr(v: Value) -> Result<Option<Mmr>, Error> {
    if v.is_null() {
        return Ok(None);
    }
    let m: MmrIn = typed("mmr", v)?;
    let diversity = m.diversity.unwrap_or(MMR_DIVERSITY_DEFAULT);
    if !(0.0..=1.0).contains(&diversity) {
        return Err(Error::Validation(format!(
            "mmr.diversity: value {diversity} invalid, must be from 0 to 1"
        )));
    }
    if let Some(n) = m.candidates_limit.filter(|n| *n > MMR_CANDIDATES_MAX) {
        return Err(Error::Validation(format!(
            "mmr.candidates_limit: value {n} invalid, must be at most {MMR_CANDIDATES_MAX}"
        )));
    }
    Ok(Some(Mmr {
        diversity,
        candidates_limit: m.candidates_limit,
    }))
}

impl QueryKind {
    fn parse(q: Value) -> Result<QueryKind, Error> {
        // A bare vector, point id or sparse vector is a `nearest` query.
        let bare_sparse = q.get("indices").is_some() || q.get("values").is_some();
        let Value::Object(mut m) = q else {
            return Ok(QueryKind::Rank(Ranking::Nearest(target(q)?)));
        };
        if bare_sparse {
            return Ok(QueryKind::Rank(Ranking::Nearest(target(Value::Object(m))?)));
        }
        if let Some(inner) = m.remove("nearest") {
            let mmr = match m.remove("mmr") {
                Some(v) => parse_mmr(v)?,
                None => None,
            };
            if let Some(k) = m.keys().next() {
                return Err(Error::format(format!("query: unknown field `{k}`")));
            }
            let target = target(inner)?;
            return Ok(match mmr {
                Some(m) => QueryKind::Mmr(target, m),
                None => QueryKind::Rank(Ranking::Nearest(target)),
            });
        }
        if m.len() != 1 {
            let keys: Vec<&String> = m.keys().collect();
            return Err(Error::format(format!(
                "query: expected one query kind, got the keys {keys:?}"
            )));
        }
        let Some((kind, inner)) = m.into_iter().next() else {
            return Err(Error::format("query: empty query object"));
        };
        Ok(match kind.as_str() {
            "recommend" => {
                let r: RecommendInput = typed("recommend", inner)?;
                QueryKind::Rank(Ranking::Recommend(Examples {
                    positive: r.positive,
                    negative: r.negative,
                    strategy: r.strategy.unwrap_or_default(),
                }))
            }
            "discover" => {
                let d: DiscoverInput = typed("discover", inner)?;
                QueryKind::Rank(Ranking::Discover(Some(d.target), d.context.into_vec()))
            }
            "context" => {
                let c: ContextInput = typed("context", inner)?;
                QueryKind::Rank(Ranking::Context(c.into_vec()))
            }
            "fusion" => QueryKind::Fusion(Fusion::named(typed::<FusionName>("fusion", inner)?)),
            "rrf" => QueryKind::Fusion(Fusion::rrf(typed::<RrfIn>("rrf", inner)?)?),
            "order_by" => QueryKind::OrderBy(typed("order_by", inner)?),
            "sample" => {
                let SampleIn::Random = typed("sample", inner)?;
                QueryKind::Sample
            }
            "relevance_feedback" => return Err(Error::unsupported("query `relevance_feedback`")),
            other => {
                return Err(Error::format(format!(
                    "query: unknown query kind `{other}`"
                )))
            }
        })
    }

    /// Parses a query value; a formula query (`formula` + `defaults`) is recognized first,
    /// since it is the only kind with two keys.
    pub fn from_value(q: Value) -> Result<QueryKind, Error> {
        if q.get("formula").is_some() {
            let f: FormulaIn = typed("formula", q)?;
            return Ok(QueryKind::Formula(Formula::parse(f)?));
        }
        QueryKind::parse(q)
    }
}
