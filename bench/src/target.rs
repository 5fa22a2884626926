//! Where requests go (`http://host:port`) and how a complete request is laid out in bytes.

use std::net::{SocketAddr, ToSocketAddrs};

/// A resolved server address plus the `Host` header value for it.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub addr: SocketAddr,
    pub host_header: String,
}

impl Target {
    /// Parses `http://host[:port][/]`; only plain HTTP is spoken.
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("target {url:?}: only http:// URLs are supported"))?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(format!(
                "target {url:?}: give only scheme, host and port (no path)"
            ));
        }
        // A bracketed IPv6 literal carries its own colons.
        let has_port = match authority.rfind(']') {
            Some(close) => authority[close..].contains(':'),
            None => authority.contains(':'),
        };
        let with_port = if has_port {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("target {url:?}: cannot resolve: {e}"))?
            .next()
            .ok_or_else(|| format!("target {url:?}: resolves to no address"))?;
        Ok(Target {
            url: url.to_string(),
            addr,
            host_header: authority.to_string(),
        })
    }

    /// A whole HTTP/1.1 keep-alive request: head and (JSON) body in one buffer, ready to write.
    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + body.map_or(0, <[u8]>::len));
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        out.extend_from_slice(self.host_header.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(b) = body {
            out.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
            out.extend_from_slice(b.len().to_string().as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(b);
        } else {
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let t = Target::parse("http://127.0.0.1:6333").unwrap();
        assert_eq!(t.addr, "127.0.0.1:6333".parse::<SocketAddr>().unwrap());
        assert_eq!(t.host_header, "127.0.0.1:6333");
        let t = Target::parse("http://[::1]:7000/").unwrap();
        assert_eq!(t.addr.port(), 7000);
        assert_eq!(Target::parse("http://127.0.0.1").unwrap().addr.port(), 80);
        assert!(Target::parse("https://127.0.0.1:6333").is_err());
        assert!(Target::parse("http://127.0.0.1:6333/collections").is_err());
    }

    #[test]
    fn lays_out_requests() {
        let t = Target::parse("http://127.0.0.1:1").unwrap();
        let r = t.request("POST", "/x", Some(b"{}"));
        assert_eq!(
            r,
            b"POST /x HTTP/1.1\r\nHost: 127.0.0.1:1\r\nContent-Type: application/json\r\n\
              Content-Length: 2\r\n\r\n{}"
        );
        let r = t.request("GET", "/healthz", None);
        assert_eq!(r, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n");
    }
}
