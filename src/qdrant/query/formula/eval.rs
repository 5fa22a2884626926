//! Evaluation of a parsed formula for one candidate point.

use std::collections::HashMap;

use serde_json::Value;
use vexfs_shard::filter::{GeoPoint, JsonPath, Timestamp};
use vexfs_shard::op::Payload;
use vexfs_shard::PointId;

use super::{seconds, DecayKind, Expr, Formula, Variable};
use crate::qdrant::error::Error;

/// What a formula sees of the whole candidate set: each prefetch's scores by point.
pub struct PointInputs<'a> {
    pub prefetch_scores: &'a [HashMap<PointId, f32>],
}

/// What a formula sees of one candidate.
pub struct Candidate<'a> {
    pub id: PointId,
    /// Only the fields the formula reads need be present.
    pub payload: Option<&'a Payload>,
    /// Whether the point matches each of [`Formula::conditions`], in order.
    pub matches: &'a [bool],
}

impl Formula {
    /// The candidate's score: a finite f32, or Qdrant's error for a missing or mistyped
    /// variable or a non-finite result.
    pub fn score(&self, all: &PointInputs<'_>, c: &Candidate<'_>) -> Result<f32, Error> {
        let v = self.eval(&self.expr, all, c)?;
        let v32 = v as f32;
        if !v32.is_finite() {
            return Err(non_finite(format!("{v} as f32 = {v32}")));
        }
        Ok(v32)
    }

    fn eval(&self, e: &Expr, all: &PointInputs<'_>, c: &Candidate<'_>) -> Result<f64, Error> {
        let un = |x: &Expr| self.eval(x, all, c);
        Ok(match e {
            Expr::Const(x) => *x,
            Expr::Score(i) => all
                .prefetch_scores
                .get(*i)
                .and_then(|s| s.get(&c.id))
                .map(|s| f64::from(*s))
                .or_else(|| self.defaults.get(&Variable::Score(*i))?.as_f64())
                .unwrap_or(0.0),
            Expr::Payload(key) => {
                let v = self.value(key, c, "number")?;
                v.as_f64()
                    .ok_or_else(|| type_error(key, "number", "Value is not a number"))?
            }
            Expr::Condition(i) => {
                if c.matches.get(*i).copied().unwrap_or(false) {
                    1.0
                } else {
                    0.0
                }
            }
            Expr::GeoDistance { origin, to } => {
                let v = self.value(to, c, "geo point")?;
                let p = GeoPoint::from_payload(&v)
                    .ok_or_else(|| type_error(to, "geo point", "Value is not a geo point"))?;
                origin.haversine_m(&p)
            }
            Expr::Datetime(s) => *s,
            Expr::DatetimeKey(key) => {
                let v = self.value(key, c, "datetime")?;
                let t = v
                    .as_str()
                    .and_then(Timestamp::parse)
                    .ok_or_else(|| type_error(key, "datetime", "Value is not a datetime"))?;
                seconds(t)
            }
            Expr::Mult(items) => {
                let mut product = 1.0;
                for x in items {
                    let v = un(x)?;
                    // As Qdrant: a zero factor ends the product (later factors are not read).
                    if v == 0.0 {
                        return Ok(0.0);
                    }
                    product *= v;
                }
                product
            }
            Expr::Sum(items) => {
                let mut sum = 0.0;
                for x in items {
                    sum += un(x)?;
                }
                sum
            }
            Expr::Neg(x) => -un(x)?,
            Expr::Abs(x) => un(x)?.abs(),
            Expr::Sqrt(x) => finite("√", un(x)?, f64::sqrt)?,
            Expr::Exp(x) => finite("exp", un(x)?, f64::exp)?,
            Expr::Log10(x) => finite("log10", un(x)?, f64::log10)?,
            Expr::Ln(x) => finite("ln", un(x)?, f64::ln)?,
            Expr::Div {
                left,
                right,
                by_zero_default,
            } => {
                let l = un(left)?;
                if l == 0.0 {
                    return Ok(0.0);
                }
                let r = un(right)?;
                if r == 0.0 {
                    if let Some(d) = by_zero_default {
                        return Ok(*d);
                    }
                }
                let q = l / r;
                if !q.is_finite() {
                    return Err(non_finite(format!("{l}/{r} = {q}")));
                }
                q
            }
            Expr::Pow { base, exponent } => {
                let (b, x) = (un(base)?, un(exponent)?);
                let p = b.powf(x);
                if !p.is_finite() {
                    return Err(non_finite(format!("{b}^{x} = {p}")));
                }
                p
            }
            Expr::Decay {
                kind,
                x,
                target,
                lambda,
            } => {
                let x = un(x)?;
                let target = match target {
                    Some(t) => un(t)?,
                    None => 0.0,
                };
                decay(*kind, x - target, *lambda)
            }
        })
    }

    /// The value at `key`: the payload's (one value; several make an array), else the
    /// default, else Qdrant's "no value" error.
    fn value(&self, key: &JsonPath, c: &Candidate<'_>, expected: &str) -> Result<Value, Error> {
        let mut found: Vec<&Value> = Vec::new();
        key.any_value(c.payload, |v| {
            match v {
                Value::Array(items) => found.extend(items.iter()),
                v => found.push(v),
            }
            false
        });
        match found.len() {
            0 => self
                .defaults
                .get(&Variable::Payload(key.as_str().to_owned()))
                .cloned()
                .ok_or_else(|| {
                    type_error(key, expected, "No value found in a payload nor defaults")
                }),
            1 => Ok(found[0].clone()),
            _ => Ok(Value::Array(found.into_iter().cloned().collect())),
        }
    }
}

/// A decay function of the distance `diff` from the target; always in [0, 1].
pub fn decay(kind: DecayKind, diff: f64, lambda: f64) -> f64 {
    match kind {
        DecayKind::Exp => (lambda * diff.abs()).exp(),
        DecayKind::Gauss => (lambda * diff * diff).exp(),
        DecayKind::Lin => (1.0 - lambda * diff.abs()).max(0.0),
    }
}

fn finite(name: &str, x: f64, f: fn(f64) -> f64) -> Result<f64, Error> {
    let y = f(x);
    if y.is_finite() {
        Ok(y)
    } else {
        Err(non_finite(format!("{name}({x}) = {y}")))
    }
}

fn non_finite(expression: String) -> Error {
    Error::BadRequest(format!(
        "Bad request: The expression {expression} produced a non-finite number"
    ))
}

fn type_error(key: &JsonPath, expected: &str, why: &str) -> Error {
    Error::BadRequest(format!(
        "Bad request: Expected {expected} value for {key} in the payload and/or in the formula defaults. Error: {why}"
    ))
}
