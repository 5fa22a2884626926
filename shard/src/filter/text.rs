//! Full-text `match` (`text`, `text_any`, `phrase`) on fields without a text index — which
//! is every field here. Since Qdrant 1.19.1 (qdrant#10341, #10526) this tokenizes both sides
//! with the default `word` tokenizer (maximal runs of letters and digits, lowercased) and
//! compares whole tokens, like an indexed field does; before that it was a substring test.
//!
//! Document tokens are compared on the fly, without allocating.

/// A full-text query, tokenized once when the filter is parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct TextQuery {
    /// The query as given.
    pub text: String,
    /// Its tokens, normalized (see [`fold`]).
    pub tokens: Vec<String>,
}

impl TextQuery {
    pub fn new(text: String) -> TextQuery {
        let tokens = tokens(&text)
            .map(|t| t.chars().flat_map(fold).collect())
            .collect();
        TextQuery { text, tokens }
    }

    /// Every query token is a token of `doc`; an empty query matches nothing.
    pub fn all_in(&self, doc: &str) -> bool {
        !self.tokens.is_empty() && self.tokens.iter().all(|q| tokens(doc).any(|d| same(d, q)))
    }

    /// Some query token is a token of `doc`.
    pub fn any_in(&self, doc: &str) -> bool {
        self.tokens.iter().any(|q| tokens(doc).any(|d| same(d, q)))
    }

    /// The query tokens appear consecutively, in order, in `doc`; an empty query matches nothing.
    pub fn phrase_in(&self, doc: &str) -> bool {
        if self.tokens.is_empty() {
            return false;
        }
        let mut from = tokens(doc);
        loop {
            let mut here = from.clone();
            if self
                .tokens
                .iter()
                .all(|q| here.next().is_some_and(|d| same(d, q)))
            {
                return true;
            }
            if from.next().is_none() {
                return false;
            }
        }
    }
}

fn is_separator(c: char) -> bool {
    !c.is_alphanumeric()
}

fn tokens(s: &str) -> impl Iterator<Item = &str> + Clone {
    s.split(is_separator).filter(|t| !t.is_empty())
}

/// Lowercase, and final sigma as sigma: `str::to_lowercase` turns a word-final 'Σ' into 'ς'
/// but `char::to_lowercase` into 'σ'; folding both to 'σ' keeps the two sides comparable.
fn fold(c: char) -> impl Iterator<Item = char> {
    c.to_lowercase().map(|c| if c == 'ς' { 'σ' } else { c })
}

/// Whether document token `doc` equals the normalized query token `query`.
fn same(doc: &str, query: &str) -> bool {
    doc.chars().flat_map(fold).eq(query.chars())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> TextQuery {
        TextQuery::new(s.to_owned())
    }

    #[test]
    fn tokens_are_words_lowercased() {
        assert_eq!(
            q("Hello, wörld! x_y 42").tokens,
            ["hello", "wörld", "x", "y", "42"]
        );
        assert!(q("").tokens.is_empty());
        assert!(q(" ,.; ").tokens.is_empty());
    }

    #[test]
    fn all_any_phrase() {
        assert!(q("alpha beta").all_in("gamma Beta, ALPHA"));
        assert!(!q("alpha beta").all_in("alpha gamma"));
        assert!(
            !q("good").all_in("goodness only"),
            "whole tokens, not substrings"
        );
        assert!(!q("").all_in("anything"));
        assert!(q("good cheap").any_in("cheap hardware"));
        assert!(!q("good cheap").any_in("goodness"));
        assert!(!q("").any_in("anything"));
        assert!(q("alpha beta").phrase_in("gamma alpha beta delta"));
        assert!(q("alpha beta").phrase_in("alpha beta"));
        assert!(!q("alpha beta").phrase_in("beta alpha"));
        assert!(!q("alpha beta").phrase_in("alpha gamma beta"));
        assert!(!q("alpha beta").phrase_in("alpha"));
        assert!(q("a a b").phrase_in("a a a b"));
        assert!(!q("").phrase_in(""));
    }

    #[test]
    fn sigma_folds_both_ways() {
        assert!(q("ΟΔΟΣ").all_in("οδος"));
        assert!(q("οδος").all_in("ΟΔΟΣ"));
    }
}
