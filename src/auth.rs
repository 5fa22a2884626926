//! API keys, as Qdrant checks them: a read-write key and a read-only key, sent as
//! `api-key: <key>` or `Authorization: Bearer <key>`. Service probes stay open.

use crate::http::Request;

/// Configured keys; both `None` = authentication off.
#[derive(Clone, Default)]
pub struct ApiKeys {
    read_write: Option<Vec<u8>>,
    read_only: Option<Vec<u8>>,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// 401: no key, or a key that matches neither.
    Unauthenticated(&'static str),
    /// 403: the read-only key on a route that writes.
    ReadOnly,
}

impl ApiKeys {
    pub fn new(read_write: Option<String>, read_only: Option<String>) -> Self {
        let non_empty = |k: Option<String>| k.filter(|k| !k.is_empty()).map(String::into_bytes);
        ApiKeys {
            read_write: non_empty(read_write),
            read_only: non_empty(read_only),
        }
    }

    pub fn enabled(&self) -> bool {
        self.read_write.is_some() || self.read_only.is_some()
    }

    /// Checks the request's key for a route that writes (`write`) or only reads.
    pub fn check(&self, req: &Request<'_>, write: bool) -> Result<(), Denied> {
        if !self.enabled() {
            return Ok(());
        }
        let Some(given) = presented_key(req) else {
            return Err(Denied::Unauthenticated(
                "Must provide an API key or an Authorization bearer token",
            ));
        };
        // Both comparisons always run, so timing does not tell which key was close.
        let rw = self
            .read_write
            .as_deref()
            .is_some_and(|k| constant_time_eq(k, given));
        let ro = self
            .read_only
            .as_deref()
            .is_some_and(|k| constant_time_eq(k, given));
        match (rw, ro) {
            (true, _) => Ok(()),
            (false, true) if !write => Ok(()),
            (false, true) => Err(Denied::ReadOnly),
            (false, false) => Err(Denied::Unauthenticated("Invalid API key or JWT")),
        }
    }
}

fn presented_key<'a>(req: &'a Request<'_>) -> Option<&'a [u8]> {
    if let Some(k) = req.header("api-key") {
        return Some(k);
    }
    let auth = req.header("authorization")?;
    let (scheme, token) = auth.split_at(auth.iter().position(|b| *b == b' ')?);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| token.trim_ascii())
}

/// Compares without an early exit; the length is not secret (key lengths are not sensitive
/// enough to pad, and equal-length checks are what matters for guessing).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn req<'a>(headers: &'a [(&'a str, &'a [u8])], body: &'a mut [u8]) -> Request<'a> {
        Request {
            method: Method::Get,
            path: "/collections",
            query: "",
            headers,
            body,
        }
    }

    #[test]
    fn keys_and_roles() {
        let keys = ApiKeys::new(Some("secret".into()), Some("reader".into()));
        let mut b = [];
        let none = req(&[], &mut b);
        assert!(matches!(
            keys.check(&none, false),
            Err(Denied::Unauthenticated(_))
        ));
        let mut b = [];
        let rw = [("api-key", &b"secret"[..])];
        assert_eq!(keys.check(&req(&rw, &mut b), true), Ok(()));
        let mut b = [];
        let bearer = [("Authorization", &b"Bearer reader"[..])];
        assert_eq!(keys.check(&req(&bearer, &mut b), false), Ok(()));
        let mut b = [];
        assert_eq!(
            keys.check(&req(&bearer, &mut b), true),
            Err(Denied::ReadOnly)
        );
        let mut b = [];
        let wrong = [("api-key", &b"secreT"[..])];
        assert!(matches!(
            keys.check(&req(&wrong, &mut b), false),
            Err(Denied::Unauthenticated(_))
        ));
        let mut b = [];
        assert_eq!(
            ApiKeys::new(None, Some(String::new())).check(&req(&[], &mut b), true),
            Ok(())
        );
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
