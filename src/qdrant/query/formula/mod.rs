//! `formula` queries: re-scores the candidates of the prefetches with an expression over
//! their prefetch scores (`$score`, `$score[i]`), payload values (a key path names a number),
//! conditions (1 when the point matches, else 0), geo distances, datetimes and decay
//! functions. This file parses the expression; `eval.rs` computes it for one candidate.
//!
//! Numbers are computed in f64 and the final score must be a finite f32, as in Qdrant. A
//! payload variable missing from both the payload and `defaults` is an error (400), not a 0.

mod eval;

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};
use vexfs_shard::filter::{Condition, Filter, GeoPoint, JsonPath, Timestamp};

pub use self::eval::{Candidate, PointInputs};
use crate::qdrant::error::Error;

/// Deepest nesting of expressions accepted. Real formulas are a few levels deep; the bound
/// keeps parsing and evaluation recursion far from the end of the stack.
pub const EXPRESSION_DEPTH_MAX: usize = 64;

/// Most conditions one formula may test: each is one filtered pass over the candidates.
pub const FORMULA_CONDITIONS_MAX: usize = 64;

/// Defaults of the decay functions (Qdrant's): `scale` 1, `midpoint` 0.5, `target` 0.
const DECAY_SCALE_DEFAULT: f64 = 1.0;
const DECAY_MIDPOINT_DEFAULT: f64 = 0.5;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DecayKind {
    Lin,
    Exp,
    Gauss,
}

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Const(f64),
    /// The score of the candidate in prefetch `i`.
    Score(usize),
    /// A number in the payload.
    Payload(JsonPath),
    /// Index into [`Formula::conditions`]: 1 when the point matches, else 0.
    Condition(usize),
    /// Meters from `origin` to the geo point at the key.
    GeoDistance {
        origin: GeoPoint,
        to: JsonPath,
    },
    /// Seconds since the Unix epoch.
    Datetime(f64),
    /// A datetime string in the payload, as seconds since the Unix epoch.
    DatetimeKey(JsonPath),
    Mult(Vec<Expr>),
    Sum(Vec<Expr>),
    Neg(Box<Expr>),
    Abs(Box<Expr>),
    Sqrt(Box<Expr>),
    Exp(Box<Expr>),
    Log10(Box<Expr>),
    Ln(Box<Expr>),
    Div {
        left: Box<Expr>,
        right: Box<Expr>,
        by_zero_default: Option<f64>,
    },
    Pow {
        base: Box<Expr>,
        exponent: Box<Expr>,
    },
    /// `lambda` is precomputed from `scale` and `midpoint` so that the function equals
    /// `midpoint` where `|x - target| = scale`.
    Decay {
        kind: DecayKind,
        x: Box<Expr>,
        target: Option<Box<Expr>>,
        lambda: f64,
    },
}

/// A variable a default can be given for: a prefetch score or a payload key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Variable {
    Score(usize),
    Payload(String),
}

/// A parsed `formula` query.
#[derive(Clone, Debug)]
pub struct Formula {
    pub expr: Expr,
    /// Conditions the expression tests, each as a one-condition filter.
    pub conditions: Vec<Filter>,
    /// Payload keys the expression reads.
    pub keys: Vec<JsonPath>,
    pub defaults: HashMap<Variable, Value>,
}

/// `{"formula": …, "defaults": {…}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormulaIn {
    formula: Value,
    #[serde(default)]
    defaults: Map<String, Value>,
}

impl Formula {
    pub fn parse(input: FormulaIn) -> Result<Formula, Error> {
        let mut p = Parser::default();
        let expr = p.expr(input.formula, 0)?;
        let mut defaults = HashMap::with_capacity(input.defaults.len());
        for (k, v) in input.defaults {
            defaults.insert(variable(&k)?, v);
        }
        Ok(Formula {
            expr,
            conditions: p.conditions,
            keys: p.keys,
            defaults,
        })
    }

    /// Top-level payload keys the formula reads (to fetch only those).
    pub fn payload_fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self.keys.iter().map(|k| k.first_key().into()).collect();
        fields.sort();
        fields.dedup();
        fields
    }
}

/// A variable's name: `$score`, `$score[i]`, or a payload key path.
fn variable(name: &str) -> Result<Variable, Error> {
    if name == "$score" {
        return Ok(Variable::Score(0));
    }
    if let Some(rest) = name.strip_prefix("$score[") {
        let index = rest
            .strip_suffix(']')
            .and_then(|i| i.parse::<usize>().ok())
            .ok_or_else(|| {
                Error::wrong_input(format!(
                    "bad variable {name:?}: a prefetch score is `$score` or `$score[<index>]`"
                ))
            })?;
        return Ok(Variable::Score(index));
    }
    JsonPath::parse(name).map_err(Error::wrong_input)?;
    Ok(Variable::Payload(name.to_owned()))
}

const EXPRESSION_KEYS: [&str; 16] = [
    "mult",
    "sum",
    "neg",
    "abs",
    "sqrt",
    "exp",
    "log10",
    "ln",
    "div",
    "pow",
    "lin_decay",
    "exp_decay",
    "gauss_decay",
    "geo_distance",
    "datetime",
    "datetime_key",
];

#[derive(Default)]
struct Parser {
    conditions: Vec<Filter>,
    keys: Vec<JsonPath>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DivIn {
    left: Value,
    right: Value,
    by_zero_default: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PowIn {
    base: Value,
    exponent: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecayIn {
    x: Value,
    target: Option<Value>,
    scale: Option<f64>,
    midpoint: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GeoDistanceIn {
    origin: GeoPoint,
    to: String,
}

fn typed<T: serde::de::DeserializeOwned>(what: &str, v: Value) -> Result<T, Error> {
    serde_json::from_value(v).map_err(|e| Error::format(format!("formula `{what}`: {e}")))
}

impl Parser {
    fn expr(&mut self, v: Value, depth: usize) -> Result<Expr, Error> {
        if depth >= EXPRESSION_DEPTH_MAX {
            return Err(Error::Validation(format!(
                "formula: expressions nested deeper than {EXPRESSION_DEPTH_MAX} levels"
            )));
        }
        let d = depth + 1;
        match v {
            Value::Number(n) => n
                .as_f64()
                .map(Expr::Const)
                .ok_or_else(|| Error::format("formula: number out of range")),
            Value::String(s) => match variable(&s)? {
                Variable::Score(i) => Ok(Expr::Score(i)),
                Variable::Payload(_) => Ok(Expr::Payload(self.key(&s)?)),
            },
            Value::Object(m) if m.len() == 1 && EXPRESSION_KEYS.contains(&first_key(&m)) => {
                let (k, inner) = m
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::format("formula"))?;
                self.operator(&k, inner, d)
            }
            Value::Object(_) => {
                let condition: Condition = serde_json::from_value(v).map_err(|e| {
                    Error::format(format!(
                        "formula: expected a number, a variable, an expression or a condition: {e}"
                    ))
                })?;
                let filter = Filter {
                    must: vec![condition],
                    ..Filter::default()
                };
                filter
                    .validate()
                    .map_err(|e| Error::Validation(format!("formula condition: {e}")))?;
                if self.conditions.len() >= FORMULA_CONDITIONS_MAX {
                    return Err(Error::Validation(format!(
                        "formula: more than {FORMULA_CONDITIONS_MAX} conditions"
                    )));
                }
                self.conditions.push(filter);
                Ok(Expr::Condition(self.conditions.len() - 1))
            }
            _ => Err(Error::format(
                "formula: expected a number, a variable, an expression or a condition",
            )),
        }
    }

    fn key(&mut self, path: &str) -> Result<JsonPath, Error> {
        let key = JsonPath::parse(path).map_err(Error::wrong_input)?;
        if !self.keys.contains(&key) {
            self.keys.push(key.clone());
        }
        Ok(key)
    }

    fn boxed(&mut self, v: Value, d: usize) -> Result<Box<Expr>, Error> {
        Ok(Box::new(self.expr(v, d)?))
    }

    fn list(&mut self, what: &str, v: Value, d: usize) -> Result<Vec<Expr>, Error> {
        let items: Vec<Value> = typed(what, v)?;
        items.into_iter().map(|i| self.expr(i, d)).collect()
    }

    fn operator(&mut self, k: &str, v: Value, d: usize) -> Result<Expr, Error> {
        Ok(match k {
            "mult" => Expr::Mult(self.list(k, v, d)?),
            "sum" => Expr::Sum(self.list(k, v, d)?),
            "neg" => Expr::Neg(self.boxed(v, d)?),
            "abs" => Expr::Abs(self.boxed(v, d)?),
            "sqrt" => Expr::Sqrt(self.boxed(v, d)?),
            "exp" => Expr::Exp(self.boxed(v, d)?),
            "log10" => Expr::Log10(self.boxed(v, d)?),
            "ln" => Expr::Ln(self.boxed(v, d)?),
            "div" => {
                let p: DivIn = typed(k, v)?;
                Expr::Div {
                    left: self.boxed(p.left, d)?,
                    right: self.boxed(p.right, d)?,
                    by_zero_default: p.by_zero_default,
                }
            }
            "pow" => {
                let p: PowIn = typed(k, v)?;
                Expr::Pow {
                    base: self.boxed(p.base, d)?,
                    exponent: self.boxed(p.exponent, d)?,
                }
            }
            "lin_decay" => self.decay(k, DecayKind::Lin, v, d)?,
            "exp_decay" => self.decay(k, DecayKind::Exp, v, d)?,
            "gauss_decay" => self.decay(k, DecayKind::Gauss, v, d)?,
            "geo_distance" => {
                let p: GeoDistanceIn = typed(k, v)?;
                p.origin
                    .validate()
                    .map_err(|e| Error::Validation(format!("geo_distance.origin: {e}")))?;
                Expr::GeoDistance {
                    origin: p.origin,
                    to: self.key(&p.to)?,
                }
            }
            "datetime" => {
                let text: String = typed(k, v)?;
                let t = Timestamp::parse(&text).ok_or_else(|| {
                    Error::wrong_input(format!("formula `datetime`: {text:?} is not a datetime"))
                })?;
                Expr::Datetime(seconds(t))
            }
            "datetime_key" => {
                let path: String = typed(k, v)?;
                Expr::DatetimeKey(self.key(&path)?)
            }
            _ => return Err(Error::format(format!("formula: unknown expression `{k}`"))),
        })
    }

    fn decay(&mut self, k: &str, kind: DecayKind, v: Value, d: usize) -> Result<Expr, Error> {
        let p: DecayIn = typed(k, v)?;
        let scale = p.scale.unwrap_or(DECAY_SCALE_DEFAULT);
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::Validation(format!(
                "{k}.scale: value {scale} invalid, must be a positive number"
            )));
        }
        let midpoint = p.midpoint.unwrap_or(DECAY_MIDPOINT_DEFAULT);
        if !(midpoint > 0.0 && midpoint < 1.0) {
            return Err(Error::Validation(format!(
                "{k}.midpoint: value {midpoint} invalid, must be between 0 and 1 (exclusive)"
            )));
        }
        let lambda = match kind {
            DecayKind::Lin => (1.0 - midpoint) / scale,
            DecayKind::Exp => midpoint.ln() / scale,
            DecayKind::Gauss => midpoint.ln() / (scale * scale),
        };
        Ok(Expr::Decay {
            kind,
            x: self.boxed(p.x, d)?,
            target: p.target.map(|t| self.boxed(t, d)).transpose()?,
            lambda,
        })
    }
}

fn first_key(m: &Map<String, Value>) -> &str {
    m.keys().next().map_or("", String::as_str)
}

/// A timestamp as (fractional) seconds since the Unix epoch.
pub fn seconds(t: Timestamp) -> f64 {
    t.secs as f64 + f64::from(t.nanos) / 1e9
}

#[cfg(test)]
mod tests;
