//! Checks for filters that parse but cannot be meant: they get a 400 with the place of the
//! problem (`filter.must[1].nested.filter.should[0]: ...`) instead of silently odd results.

use std::fmt;

use super::model::{Condition, FieldCondition, Filter};
use super::values::RangeInterface;
use super::FILTER_DEPTH_MAX;

/// Where in the filter a check is, as a linked list of steps up to the root; rendered only
/// when there is an error, so a valid filter costs no allocation for it.
#[derive(Clone, Copy)]
struct Loc<'a> {
    parent: Option<&'a Loc<'a>>,
    step: Step<'a>,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Name(&'a str),
    Index(usize),
}

impl<'a> Loc<'a> {
    fn name(&'a self, name: &'a str) -> Loc<'a> {
        Loc {
            parent: Some(self),
            step: Step::Name(name),
        }
    }

    fn index(&'a self, i: usize) -> Loc<'a> {
        Loc {
            parent: Some(self),
            step: Step::Index(i),
        }
    }

    fn error(&self, why: impl fmt::Display) -> String {
        format!("{self}: {why}")
    }
}

impl fmt::Display for Loc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.parent {
            write!(f, "{p}")?;
        }
        match self.step {
            Step::Name(n) if self.parent.is_some() => write!(f, ".{n}"),
            Step::Name(n) => f.write_str(n),
            Step::Index(i) => write!(f, "[{i}]"),
        }
    }
}

impl Filter {
    /// Rejects what parses but is invalid: too deep (more than [`FILTER_DEPTH_MAX`] levels of
    /// filters), a field condition with no or several tests, bad geo shapes, `min_count` 0,
    /// a bad slice, and point conditions (`has_id`, `has_vector`, `slice`) inside `nested`.
    pub fn validate(&self) -> Result<(), String> {
        let root = Loc {
            parent: None,
            step: Step::Name("filter"),
        };
        self.check(&root, 1, false)
    }

    fn check(&self, at: &Loc<'_>, depth: usize, in_nested: bool) -> Result<(), String> {
        if depth > FILTER_DEPTH_MAX {
            return Err(at.error(format_args!(
                "filters nest deeper than {FILTER_DEPTH_MAX} levels"
            )));
        }
        let lists = [
            ("must", &self.must),
            ("should", &self.should),
            ("must_not", &self.must_not),
        ];
        for (name, list) in lists {
            let at = at.name(name);
            for (i, c) in list.iter().enumerate() {
                c.check(&at.index(i), depth, in_nested)?;
            }
        }
        if let Some(m) = &self.min_should {
            let at = at.name("min_should");
            if m.min_count == 0 {
                return Err(at.error("min_count must be at least 1"));
            }
            let at = at.name("conditions");
            for (i, c) in m.conditions.iter().enumerate() {
                c.check(&at.index(i), depth, in_nested)?;
            }
        }
        Ok(())
    }
}

impl Condition {
    fn check(&self, at: &Loc<'_>, depth: usize, in_nested: bool) -> Result<(), String> {
        let point_only = |what: &str| {
            if in_nested {
                Err(at.error(format_args!(
                    "`{what}` is not supported inside `nested`; put it beside the nested condition"
                )))
            } else {
                Ok(())
            }
        };
        match self {
            Condition::Field(f) => f.check(at),
            Condition::IsEmpty(_) | Condition::IsNull(_) => Ok(()),
            Condition::HasId(_) => point_only("has_id"),
            Condition::HasVector(_) => point_only("has_vector"),
            Condition::Slice(s) => {
                point_only("slice")?;
                s.slice.validate().map_err(|e| at.error(e))
            }
            Condition::Nested(n) => {
                let at = at.name("nested");
                n.nested.filter.check(&at.name("filter"), depth + 1, true)
            }
            Condition::Filter(f) => f.check(at, depth + 1, in_nested),
        }
    }
}

impl FieldCondition {
    fn check(&self, at: &Loc<'_>) -> Result<(), String> {
        let parts = [
            ("match", self.r#match.is_some()),
            ("range", self.range.is_some()),
            ("geo_bounding_box", self.geo_bounding_box.is_some()),
            ("geo_radius", self.geo_radius.is_some()),
            ("geo_polygon", self.geo_polygon.is_some()),
            ("values_count", self.values_count.is_some()),
            ("is_empty", self.is_empty.is_some()),
            ("is_null", self.is_null.is_some()),
        ];
        let set: Vec<&str> = parts.iter().filter(|p| p.1).map(|p| p.0).collect();
        let key = &self.key;
        match set.len() {
            0 => {
                let all: Vec<&str> = parts.iter().map(|p| p.0).collect();
                return Err(at.error(format_args!(
                    "condition on `{key}` has nothing to check: give one of {}",
                    all.join(", ")
                )));
            }
            1 => {}
            _ => {
                return Err(at.error(format_args!(
                    "condition on `{key}` has several checks ({}); use one condition per check",
                    set.join(", ")
                )))
            }
        }
        if let Some(RangeInterface::Float(r)) = &self.range {
            let finite = [r.lt, r.gt, r.gte, r.lte]
                .iter()
                .flatten()
                .all(|x| x.is_finite());
            if !finite {
                return Err(at.error("range bounds must be finite numbers"));
            }
        }
        if let Some(g) = &self.geo_radius {
            let at = at.name("geo_radius");
            g.center.validate().map_err(|e| at.error(e))?;
            if !(g.radius.is_finite() && g.radius >= 0.0) {
                return Err(at.error(format_args!(
                    "radius must be a non-negative number of meters, got {}",
                    g.radius
                )));
            }
        }
        if let Some(g) = &self.geo_bounding_box {
            let at = at.name("geo_bounding_box");
            g.top_left.validate().map_err(|e| at.error(e))?;
            g.bottom_right.validate().map_err(|e| at.error(e))?;
        }
        if let Some(g) = &self.geo_polygon {
            g.validate().map_err(|e| at.name("geo_polygon").error(e))?;
        }
        Ok(())
    }
}
