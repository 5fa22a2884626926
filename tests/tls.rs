//! HTTPS against the real binary: a test CA and a server certificate made with rcgen, the
//! server started with `[tls]`, and a rustls client from the test talking to it.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, read_response, Response};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// How long a server may take to answer /readyz over TLS after start.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a failing start may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

type TlsClient = BufReader<StreamOwned<ClientConnection, TcpStream>>;

/// A test CA, and a server certificate it signed for `127.0.0.1` and `localhost`, as PEM files.
struct Pki {
    ca_der: CertificateDer<'static>,
    cert_path: PathBuf,
    key_path: PathBuf,
}

fn make_pki(dir: &Path) -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "vexfs test CA");
    let ca_key = KeyPair::generate().expect("ca key");
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, "vexfs test server");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf_cert = leaf
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .expect("leaf cert");
    let cert_path = dir.join("server.pem");
    let key_path = dir.join("server.key");
    std::fs::write(&cert_path, leaf_cert.pem()).expect("write cert");
    std::fs::write(&key_path, leaf_key.serialize_pem()).expect("write key");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("write ca");
    Pki {
        ca_der: ca_cert.der().clone(),
        cert_path,
        key_path,
    }
}

/// The real binary serving HTTPS on a free port.
struct TlsServer {
    port: u16,
    dir: tempfile::TempDir,
    client_config: Arc<ClientConfig>,
    child: Child,
}

fn config_text(dir: &Path, port: u16, cert: &Path, key: &Path, extra: &str) -> String {
    format!(
        "[server]\nhost = \"127.0.0.1\"\nport = {port}\n[storage]\npath = {:?}\n\
         [runtime]\ncores = 1\n[tls]\nenabled = true\ncert_path = {cert:?}\nkey_path = {key:?}\n{extra}\n",
        dir.join("storage"),
    )
}

fn spawn(config: &Path, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vexfs-unified-server"))
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log"))
        .spawn()
        .expect("spawn server")
}

impl TlsServer {
    fn start(extra: &str) -> TlsServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = make_pki(dir.path());
        let port = free_port();
        let config = dir.path().join("config.toml");
        let text = config_text(dir.path(), port, &pki.cert_path, &pki.key_path, extra);
        std::fs::write(&config, text).expect("write config");
        let child = spawn(&config, &dir.path().join("server.log"));
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca_der).expect("CA as root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client_config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        client_config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let server = TlsServer {
            port,
            dir,
            client_config: Arc::new(client_config),
            child,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            let ready = self.try_connect().and_then(|mut c| {
                send(&mut c, "GET", "/readyz", "");
                read_response(&mut c)
            });
            if matches!(ready, Ok(Response { status: 200, .. })) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server did not become ready over TLS; log:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn try_connect(&self) -> std::io::Result<TlsClient> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let name = ServerName::try_from("127.0.0.1").map_err(std::io::Error::other)?;
        let conn = ClientConnection::new(self.client_config.clone(), name)
            .map_err(std::io::Error::other)?;
        Ok(BufReader::new(StreamOwned::new(conn, tcp)))
    }

    fn connect(&self) -> TlsClient {
        self.try_connect().expect("connect")
    }

    /// One request on a fresh connection.
    fn request(&self, method: &str, path: &str, body: &str) -> Response {
        let mut c = self.connect();
        send(&mut c, method, path, body);
        read_response(&mut c).expect("response")
    }

    /// One request on a fresh connection; the JSON answer.
    fn json(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let r = self.request(method, path, body);
        let v = serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("{method} {path}: non-JSON {:?}: {e}", r.text()));
        (r.status, v)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request_bytes(method: &str, path: &str, body: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn send(c: &mut TlsClient, method: &str, path: &str, body: &str) {
    let s = c.get_mut();
    s.write_all(request_bytes(method, path, body).as_bytes())
        .expect("write");
    s.flush().expect("flush");
}

#[test]
fn qdrant_api_round_trip_over_https() {
    let server = TlsServer::start("");
    let (status, root) = server.json("GET", "/", "");
    assert_eq!(status, 200, "{root}");
    assert!(root["version"].is_string(), "{root}");

    let (status, v) = server.json(
        "PUT",
        "/collections/tls",
        r#"{"vectors": {"size": 4, "distance": "Dot"}}"#,
    );
    assert_eq!(status, 200, "{v}");
    let (status, v) = server.json(
        "PUT",
        "/collections/tls/points?wait=true",
        r#"{"points": [{"id": 1, "vector": [1, 0, 0, 0], "payload": {"k": "a"}},
                       {"id": 2, "vector": [0, 1, 0, 0], "payload": {"k": "b"}}]}"#,
    );
    assert_eq!(
        (status, &v["result"]["status"]),
        (200, &"completed".into()),
        "{v}"
    );
    let (status, v) = server.json(
        "POST",
        "/collections/tls/points/search",
        r#"{"vector": [0.1, 0.9, 0, 0], "limit": 1, "with_payload": true}"#,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["result"][0]["id"], 2, "{v}");
    assert_eq!(v["result"][0]["payload"]["k"], "b", "{v}");

    // Keep-alive: two requests, one after the other, on one TLS connection.
    let mut c = server.connect();
    for id in [1, 2] {
        send(&mut c, "GET", &format!("/collections/tls/points/{id}"), "");
        let r = read_response(&mut c).expect("keep-alive response");
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("connection"), Some("keep-alive"));
        assert_eq!(r.json()["result"]["id"], id);
    }
    assert_eq!(c.get_ref().conn.alpn_protocol(), Some(&b"http/1.1"[..]));

    // Pipelining: three requests in one write, answers in order.
    let mut c = server.connect();
    let batch: String = [
        "/collections/tls/points/2",
        "/healthz",
        "/collections/tls/points/1",
    ]
    .iter()
    .map(|p| request_bytes("GET", p, ""))
    .collect();
    c.get_mut().write_all(batch.as_bytes()).expect("write");
    c.get_mut().flush().expect("flush");
    let r = read_response(&mut c).expect("first");
    assert_eq!(r.json()["result"]["id"], 2);
    let r = read_response(&mut c).expect("second");
    assert_eq!(
        (r.status, r.text().contains("passed")),
        (200, true),
        "{}",
        r.text()
    );
    let r = read_response(&mut c).expect("third");
    assert_eq!(r.json()["result"]["id"], 1);
}

#[test]
fn plain_http_to_the_tls_port_gets_no_http_answer_and_the_server_keeps_serving() {
    let server = TlsServer::start("");
    for _ in 0..3 {
        let mut plain = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        plain
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        plain
            .write_all(request_bytes("GET", "/healthz", "").as_bytes())
            .expect("write");
        // Not even a TLS alert: the server sees no ClientHello and just closes (FIN).
        let mut answer = Vec::new();
        plain
            .read_to_end(&mut answer)
            .expect("clean close, not a reset");
        assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    }
    let r = server.request("GET", "/healthz", "");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_peer_that_never_starts_the_handshake_is_dropped_after_the_head_timeout() {
    let server = TlsServer::start("[limits]\nhead_timeout_ms = 300\n");
    let mut silent = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed only after {:?}",
        started.elapsed()
    );
    assert_eq!(server.request("GET", "/readyz", "").status, 200);
}

#[test]
fn api_key_is_checked_over_https() {
    let server = TlsServer::start("[service]\napi_key = \"tls-secret\"\n");
    assert_eq!(server.json("GET", "/collections", "").0, 401);
    let mut c = server.connect();
    let req = "GET /collections HTTP/1.1\r\nhost: t\r\napi-key: tls-secret\r\n\r\n";
    c.get_mut().write_all(req.as_bytes()).expect("write");
    c.get_mut().flush().expect("flush");
    assert_eq!(read_response(&mut c).expect("response").status, 200);
}

/// Starts the binary with `[tls]` pointing at `cert`/`key` and returns its exit status and
/// stderr; the start must fail.
fn failed_start(cert: &Path, key: &Path) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    let text = config_text(dir.path(), free_port(), cert, key, "");
    std::fs::write(&config, text).expect("write config");
    let log = dir.path().join("server.log");
    let mut child = spawn(&config, &log);
    let deadline = Instant::now() + EXIT_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return (status, std::fs::read_to_string(&log).unwrap_or_default());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server with a bad [tls] section did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn unreadable_or_invalid_certificate_files_are_a_one_line_startup_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = make_pki(dir.path());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a PEM file\n").expect("write");
    let other = tempfile::tempdir().expect("tempdir");
    let other_pki = make_pki(other.path());
    let cases = [
        (
            dir.path().join("missing.pem"),
            pki.key_path.clone(),
            "tls.cert_path",
        ),
        (garbage.clone(), pki.key_path.clone(), "tls.cert_path"),
        (pki.cert_path.clone(), garbage, "tls.key_path"),
        // A key that does not belong to the certificate.
        (
            pki.cert_path.clone(),
            other_pki.key_path,
            "cannot be used together",
        ),
    ];
    for (cert, key, want) in cases {
        let (status, stderr) = failed_start(&cert, &key);
        assert!(!status.success(), "{cert:?} {key:?}: exited {status}");
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("vexfs-unified-server: "))
            .collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].contains(want), "{cert:?} {key:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
