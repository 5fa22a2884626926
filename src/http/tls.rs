//! HTTPS: the `[tls]` section's certificate and key, and the handshake that turns an accepted
//! TCP connection into a TLS stream served by the same connection loop as plain HTTP.
//!
//! The rustls server configuration is built once at start-up and shared read-only by every
//! core through an `Arc`; each connection then owns its own rustls session, so the cores share
//! nothing mutable per request. Only HTTP/1.1 is offered over ALPN.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::{AsyncWriteExt, FutureExt};
use futures_rustls::server::TlsStream;
use futures_rustls::TlsAcceptor;
use glommio::net::TcpStream;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::admission::Slot;
use super::conn::{linger, serve_admitted, timeout, Transport};
use super::{Handler, HttpLimits, Shutdown};
use crate::limits::REFUSAL_LINGER_MS;

/// The only application protocol this server speaks, offered over ALPN.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";
/// Content type of the record every TLS connection starts with (the ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// What a plain-HTTP peer on the TLS port may still send (its request) before we close,
/// dropped so the close is a FIN and not a reset.
const NOT_TLS_DRAIN_MAX_BYTES: usize = 64 * 1024;

impl Transport for TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }

    /// Sends close_notify, then half-closes the TCP socket: closing glommio's `TcpStream` is
    /// `shutdown(Write)`, so the peer's remaining input can still be read (and dropped).
    async fn shutdown_write(&mut self) -> std::io::Result<()> {
        self.close().await
    }
}

/// Reads the PEM certificate chain and private key and builds the server configuration every
/// core shares. Errors are one line naming the file and the problem.
pub fn server_config(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, String> {
    let cert_err =
        |e: &dyn std::fmt::Display| format!("tls.cert_path {}: {e}", cert_path.display());
    let certs = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| cert_err(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(&e))?;
    if certs.is_empty() {
        return Err(cert_err(&"no CERTIFICATE block in the PEM file"));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
        format!(
            "tls.key_path {}: {e} (a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block is needed)",
            key_path.display()
        )
    })?;
    // ring only: aws-lc-rs would need cmake and nasm to build.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "tls: the certificate in {} and the key in {} cannot be used together: {e}",
                cert_path.display(),
                key_path.display()
            )
        })?;
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(Arc::new(config))
}

/// Serves one accepted connection over TLS: handshake, then the HTTP connection loop.
///
/// The handshake counts as the start of the first request head: it must finish within
/// `head_timeout_ms`, so a peer that opens connections and never completes a handshake holds
/// a slot no longer than one that never completes a request. A peer whose first byte is not a
/// TLS handshake record (plain HTTP) gets no answer, just a clean close. Over the core's
/// `connections_max_per_core` the connection is closed without an answer: a 503 would first
/// need a full handshake, the costliest thing a flood of connections can ask of us.
pub async fn serve_tls_connection<H: Handler>(
    tcp: TcpStream,
    acceptor: &TlsAcceptor,
    handler: &H,
    limits: &HttpLimits,
    shutdown: &Shutdown,
) {
    let Some(slot) = Slot::take(limits.connections_max_per_core) else {
        return;
    };
    // The handshake is a few round trips of small records; Nagle would delay each of them.
    let _ = tcp.set_nodelay(true);
    let handshake = async {
        let mut first = [0u8; 1];
        match tcp.peek(&mut first).await {
            // Plain HTTP (or anything else) on the TLS port: not handed to rustls, whose alert
            // would reach a plain-HTTP client as a garbled answer.
            Ok(1) if first[0] != TLS_HANDSHAKE_RECORD => Handshake::NotTls(tcp),
            Ok(0) | Err(_) => Handshake::Gone,
            Ok(_) => match acceptor.accept(tcp).into_fallible().await {
                Ok(stream) => Handshake::Done(Box::new(stream)),
                Err((e, tcp)) => Handshake::Failed(e, tcp),
            },
        }
    };
    let expired = async {
        glommio::timer::sleep(timeout(limits.head_timeout_ms)).await;
        Handshake::TimedOut
    };
    // A connection still shaking hands has no request to finish: it goes at once.
    let stop = async {
        shutdown.wait().await;
        Handshake::TimedOut
    };
    match handshake.or(expired).or(stop).await {
        Handshake::Done(stream) => serve_admitted(*stream, slot, handler, limits, shutdown).await,
        Handshake::NotTls(mut tcp) => {
            tracing::debug!("not a TLS handshake on the TLS port; closing");
            // Close with FIN after dropping what the peer sent, not with RST.
            let mut sink = Vec::new();
            let time = Duration::from_millis(REFUSAL_LINGER_MS);
            linger(&mut tcp, &mut sink, time, NOT_TLS_DRAIN_MAX_BYTES).await;
            let _ = tcp.close().await;
        }
        Handshake::Failed(e, mut tcp) => {
            // rustls has already sent its alert; close with FIN rather than leave a reset.
            tracing::debug!("tls handshake failed: {e}");
            let _ = tcp.close().await;
        }
        Handshake::Gone => {}
        Handshake::TimedOut => tracing::debug!("tls handshake timed out or the server is stopping"),
    }
}

/// How the start of a connection on the TLS port ended.
enum Handshake {
    /// Boxed: the session with its buffers is over a KiB, the other outcomes are small.
    Done(Box<TlsStream<TcpStream>>),
    /// The first byte is not a TLS handshake record.
    NotTls(TcpStream),
    Failed(std::io::Error, TcpStream),
    /// The peer closed (or the socket failed) before sending anything.
    Gone,
    TimedOut,
}
