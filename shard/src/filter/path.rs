//! Payload key paths, as Qdrant writes them: `a.b.c`, `a[].b` (every element of the array
//! `a`), `a[2].b` (one element), `a."key.with.dots"`.
//!
//! A path only steps into an object with `.key` and into an array with `[]` / `[n]`: an array
//! met where a key is expected yields nothing (Qdrant 1.x no longer flattens implicitly). The
//! value at the end of the path is returned as is; conditions that compare single values look
//! one level into a final array themselves.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer};
use serde_json::Value;

use super::PATH_ITEMS_MAX;
use crate::op::Payload;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathItem {
    Key(String),
    Index(usize),
    /// `[]`: every element of an array.
    Wildcard,
}

/// A parsed key path. `first` is always an object key of the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    first: String,
    rest: Vec<PathItem>,
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let bad = |why: &str| format!("bad payload key path {text:?}: {why}");
        let mut p = Parser { s: text, at: 0 };
        let first = p.key().ok_or_else(|| bad("expected a key at the start"))?;
        let mut rest = Vec::new();
        while p.at < text.len() {
            let item = if p.eat('.') {
                PathItem::Key(p.key().ok_or_else(|| bad("expected a key after '.'"))?)
            } else if p.eat('[') {
                if p.eat(']') {
                    PathItem::Wildcard
                } else {
                    let n = p.index().ok_or_else(|| bad("expected [] or [number]"))?;
                    if !p.eat(']') {
                        return Err(bad("expected ']'"));
                    }
                    PathItem::Index(n)
                }
            } else {
                return Err(bad(&format!(
                    "unexpected character at byte {}; quote keys with other characters: \"...\"",
                    p.at
                )));
            };
            rest.push(item);
            if rest.len() >= PATH_ITEMS_MAX {
                return Err(bad(&format!("more than {PATH_ITEMS_MAX} items")));
            }
        }
        Ok(JsonPath {
            text: text.to_owned(),
            first,
            rest,
        })
    }

    /// The path as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn first_key(&self) -> &str {
        &self.first
    }

    pub fn rest(&self) -> &[PathItem] {
        &self.rest
    }

    /// The same path ending in `[]` (unchanged if it already does): a `nested` condition
    /// applies its filter to the elements of the array at its key.
    pub fn with_wildcard_suffix(mut self) -> JsonPath {
        if self.rest.last() != Some(&PathItem::Wildcard) {
            self.rest.push(PathItem::Wildcard);
            self.text.push_str("[]");
        }
        self
    }

    /// Calls `f` on each value the path reaches, in document order, until `f` returns true.
    /// Returns whether it did. No allocation.
    pub fn any_value<'v, F>(&self, payload: Option<&'v Payload>, mut f: F) -> bool
    where
        F: FnMut(&'v Value) -> bool,
    {
        match payload.and_then(|p| p.get(&self.first)) {
            Some(v) => walk(&self.rest, v, &mut f),
            None => false,
        }
    }
}

/// Recursion depth is the path's length, at most [`PATH_ITEMS_MAX`].
fn walk<'v, F>(items: &[PathItem], value: &'v Value, f: &mut F) -> bool
where
    F: FnMut(&'v Value) -> bool,
{
    let Some((head, tail)) = items.split_first() else {
        return f(value);
    };
    match (head, value) {
        (PathItem::Key(k), Value::Object(map)) => map.get(k).is_some_and(|v| walk(tail, v, f)),
        (PathItem::Index(i), Value::Array(arr)) => arr.get(*i).is_some_and(|v| walk(tail, v, f)),
        (PathItem::Wildcard, Value::Array(arr)) => arr.iter().any(|v| walk(tail, v, f)),
        _ => false,
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        JsonPath::parse(&text).map_err(de::Error::custom)
    }
}

struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.at..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// A bare key (letters, digits, `_`, `-`) or a double-quoted one (anything but `"` and `\`).
    fn key(&mut self) -> Option<String> {
        if self.eat('"') {
            let start = self.at;
            let len = self.s[start..].find(['"', '\\'])?;
            if !self.s[start + len..].starts_with('"') {
                return None;
            }
            self.at = start + len + 1;
            return Some(self.s[start..start + len].to_owned());
        }
        let start = self.at;
        while let Some(c) = self.peek() {
            if !(c.is_alphanumeric() || c == '_' || c == '-') {
                break;
            }
            self.at += c.len_utf8();
        }
        (self.at > start).then(|| self.s[start..self.at].to_owned())
    }

    fn index(&mut self) -> Option<usize> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        self.s[start..self.at].parse().ok()
    }
}
