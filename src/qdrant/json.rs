//! Request bodies → typed requests with simd-json (parsed in place), and the query string.

use serde::de::DeserializeOwned;

use super::error::Error;
use crate::router::query_param;

/// Parses a JSON body; any syntax or shape problem is Qdrant's 400 format error.
pub fn parse_body<T: DeserializeOwned>(body: &mut [u8]) -> Result<T, Error> {
    if body.is_empty() {
        return Err(Error::format(
            "EOF while parsing a value: the request body is empty",
        ));
    }
    simd_json::serde::from_slice::<T>(body).map_err(Error::format)
}

/// `?wait=` — Qdrant's default is not to wait.
pub fn wait_param(query: &str) -> Result<bool, Error> {
    bool_param(query, "wait", false)
}

pub fn bool_param(query: &str, key: &str, default: bool) -> Result<bool, Error> {
    match query_param(query, key) {
        None => Ok(default),
        Some("true") | Some("") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(Error::BadRequest(format!(
            "Query deserialize error: {key}: provided string was not `true` or `false`, got {v:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct T {
        #[allow(dead_code)]
        a: u32,
    }

    #[test]
    fn json_errors_are_format_errors() {
        for body in [&b""[..], b"{", b"{\"a\":\"x\"}", b"{\"b\":1}", b"7"] {
            let mut b = body.to_vec();
            let e = parse_body::<T>(&mut b).expect_err("must fail");
            assert_eq!(e.status(), 400);
            assert!(
                e.to_string().starts_with("Format error in JSON body: "),
                "{e}"
            );
        }
        let mut ok = b"{\"a\": 3}".to_vec();
        assert!(parse_body::<T>(&mut ok).is_ok());
    }

    #[test]
    fn wait_flag() {
        assert!(!wait_param("").expect("ok"));
        assert!(wait_param("wait=true").expect("ok"));
        assert!(!wait_param("x=1&wait=false").expect("ok"));
        assert!(wait_param("wait=maybe").is_err());
    }
}
