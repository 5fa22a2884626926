"""Fixtures for the qdrant-client compatibility suite.

The suite drives a real `vexfs-unified-server` binary (path from $VEXFS_BIN,
default <repo>/target/release/vexfs-unified-server) through the unmodified
`qdrant-client` package from PyPI. Only loopback addresses are used.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "release" / "vexfs-unified-server"
HOST = "127.0.0.1"
READY_TIMEOUT_S = float(os.environ.get("VEXFS_READY_TIMEOUT", "20"))
STOP_TIMEOUT_S = 15.0
LOG_TAIL_CHARS = 20_000
REPORT_TAIL_CHARS = 6_000

# Servers started during the session that are still running; their logs are
# attached to the report of any failing test.
_LIVE_SERVERS: list["ServerProcess"] = []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _http_status(url: str, timeout: float = 1.0, context=None) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, ConnectionError, OSError, TimeoutError):
        return None


class ServerProcess:
    """A running vexfs-unified-server bound to 127.0.0.1:<port>."""

    def __init__(self, binary: str, name: str = "server"):
        self.binary = binary
        self.name = name
        self.tmp = Path(tempfile.mkdtemp(prefix="vexfs-compat-"))
        self.storage = str(self.tmp / "storage")
        os.makedirs(self.storage)
        self.stderr_path = self.tmp / "server.stderr.log"
        self.stdout_path = self.tmp / "server.stdout.log"
        self.port = _free_port()
        self.host = HOST
        self.url = f"http://{HOST}:{self.port}"
        # TLS servers (TlsServerProcess) set these; None means plain HTTP.
        self.ssl_context = None
        self.config_path: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.last_returncode: int | None = None

    # -- process control -------------------------------------------------
    def argv(self) -> list[str]:
        config = ["--config", str(self.config_path)] if self.config_path else []
        return [
            self.binary,
            *config,
            "--host", HOST,
            "--port", str(self.port),
            "--storage-path", self.storage,
            "--cores", "2",
        ]

    def start(self) -> None:
        assert self.proc is None, "server already running"
        self.starts += 1
        marker = f"\n===== start #{self.starts}: {' '.join(self.argv())} =====\n".encode()
        with open(self.stderr_path, "ab") as f:
            f.write(marker)
        with open(self.stdout_path, "ab") as f:
            f.write(marker)
        self._err = open(self.stderr_path, "ab")
        self._out = open(self.stdout_path, "ab")
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        self.proc = subprocess.Popen(
            self.argv(), stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL,
            env=env,
        )
        if self not in _LIVE_SERVERS:
            _LIVE_SERVERS.append(self)
        self.wait_ready()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self._close_logs()
                self.proc = None
                self.last_returncode = rc
                pytest.fail(
                    f"{self.name}: server exited with code {rc} before becoming ready "
                    f"(start #{self.starts}).\n--- server stderr ---\n{self.stderr_tail()}",
                    pytrace=False,
                )
            last = _http_status(self.url + "/readyz", timeout=1.0, context=self.ssl_context)
            if last == 200:
                return
            time.sleep(0.05)
        self._signal_and_wait(signal.SIGKILL, 5)
        pytest.fail(
            f"{self.name}: GET /readyz did not answer 200 within {timeout:.0f}s "
            f"(last status: {last}, start #{self.starts}).\n"
            f"--- server stderr ---\n{self.stderr_tail()}",
            pytrace=False,
        )

    def _close_logs(self) -> None:
        for f in (getattr(self, "_err", None), getattr(self, "_out", None)):
            if f is not None and not f.closed:
                f.close()

    def _signal_and_wait(self, sig: int, timeout: float) -> int | None:
        """Send `sig`, wait up to `timeout`s. Returns the exit code, or None
        if the process is still alive after the timeout."""
        if self.proc is None:
            return self.last_returncode
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.last_returncode = rc
        self.proc = None
        self._close_logs()
        return rc

    def stop(self, kill: bool = False) -> int:
        """Stop the server: SIGKILL if kill, else SIGTERM. Fails the test if a
        SIGTERM does not stop it within STOP_TIMEOUT_S (it is then SIGKILLed)."""
        if kill:
            rc = self._signal_and_wait(signal.SIGKILL, STOP_TIMEOUT_S)
            assert rc is not None, f"{self.name}: process survived SIGKILL"
            return rc
        rc = self._signal_and_wait(signal.SIGTERM, STOP_TIMEOUT_S)
        if rc is None:
            self._signal_and_wait(signal.SIGKILL, 5)
            pytest.fail(
                f"{self.name}: server did not exit within {STOP_TIMEOUT_S:.0f}s of SIGTERM "
                f"(it was SIGKILLed).\n--- server stderr ---\n{self.stderr_tail()}",
                pytrace=False,
            )
        return rc

    def restart(self, kill: bool = True) -> int:
        """SIGKILL (kill=True) or SIGTERM (kill=False) the server, then start it
        again on the same storage dir and port and wait until /readyz is 200.
        Returns the exit code of the stopped process."""
        rc = self.stop(kill=kill)
        self.start()
        return rc

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """Final teardown: graceful stop, forced if needed; remove temp dir."""
        if self.proc is not None:
            rc = self._signal_and_wait(signal.SIGTERM, STOP_TIMEOUT_S)
            if rc is None:
                self._signal_and_wait(signal.SIGKILL, 5)
        self._close_logs()
        if self in _LIVE_SERVERS:
            _LIVE_SERVERS.remove(self)
        if os.environ.get("VEXFS_COMPAT_KEEP_TMP"):
            print(f"\n[compat] kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- logs ------------------------------------------------------------
    def stderr_tail(self, limit: int = LOG_TAIL_CHARS) -> str:
        try:
            data = self.stderr_path.read_bytes()
        except OSError:
            return "<no stderr log>"
        text = data.decode("utf-8", "replace")
        if len(text) > limit:
            text = "...[truncated]...\n" + text[-limit:]
        return text

    def __repr__(self) -> str:
        return f"<ServerProcess {self.name} {self.url} storage={self.storage}>"


TLS_API_KEY = "compat-tls-secret"


def _make_test_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it signed for 127.0.0.1 and localhost, as PEM
    files. Returns (ca, cert, key) paths."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1))

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("vexfs compat CA")).issuer_name(name("vexfs compat CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(valid[0]).not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("vexfs compat server")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(valid[0]).not_valid_after(valid[1])
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return paths


class TlsServerProcess(ServerProcess):
    """A server with `[tls]` enabled and an api key: HTTPS only, certificate from a test CA
    (`self.ca_path`, which clients verify against)."""

    def __init__(self, binary: str, name: str = "tls-server"):
        import ssl

        super().__init__(binary, name)
        self.ca_path, cert, key = _make_test_pki(self.tmp)
        self.api_key = TLS_API_KEY
        self.config_path = self.tmp / "config.toml"
        self.config_path.write_text(
            f"[tls]\nenabled = true\ncert_path = {json.dumps(str(cert))}\n"
            f"key_path = {json.dumps(str(key))}\n"
            f"[service]\napi_key = {json.dumps(self.api_key)}\n"
        )
        self.url = f"https://{HOST}:{self.port}"
        self.ssl_context = ssl.create_default_context(cafile=str(self.ca_path))


def server_binary() -> str:
    path = os.environ.get("VEXFS_BIN") or str(DEFAULT_BIN)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"vexfs-unified-server binary not found or not executable: {path} "
            "(build it or set VEXFS_BIN)",
            pytrace=False,
        )
    return path


def _start_server(name: str, cls: type[ServerProcess] = ServerProcess) -> ServerProcess:
    srv = cls(server_binary(), name=name)
    try:
        srv.start()
    except BaseException:
        srv.close()
        raise
    return srv


@pytest.fixture(scope="module")
def server():
    """One server per test module (fresh temp storage)."""
    srv = _start_server("module-server")
    yield srv
    srv.close()


@pytest.fixture
def fresh_server(request):
    """A dedicated server for one test (durability/restart tests)."""
    srv = _start_server(f"server-for-{request.node.name}")
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def tls_server():
    """A server speaking HTTPS only, with an api key (TlsServerProcess)."""
    srv = _start_server("tls-server", TlsServerProcess)
    yield srv
    srv.close()


# ---------------------------------------------------------------------------
# Client helpers
# ---------------------------------------------------------------------------

def client_flavor() -> str:
    from qdrant_client import QdrantClient

    flavor = os.environ.get("QDRANT_CLIENT_FLAVOR")
    if not flavor:
        flavor = "old" if hasattr(QdrantClient, "search") else "new"
    if flavor not in ("new", "old"):
        raise RuntimeError(f"QDRANT_CLIENT_FLAVOR must be new|old, got {flavor!r}")
    return flavor


def make_client(url: str):
    from qdrant_client import QdrantClient

    kwargs = dict(url=url, prefer_grpc=False, timeout=30)
    # Newer clients probe GET / in a background thread and only warn; the
    # version test checks compatibility explicitly instead.
    if "check_compatibility" in inspect.signature(QdrantClient.__init__).parameters:
        kwargs["check_compatibility"] = False
    return QdrantClient(**kwargs)


@pytest.fixture(scope="module")
def client(server):
    c = make_client(server.url)
    yield c
    c.close()


def http_json(method: str, url: str, body=None, timeout: float = 30.0):
    """Raw HTTP helper (urllib) -> (status, parsed JSON or raw text)."""
    data = None
    headers = {}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


# ---------------------------------------------------------------------------
# Attach server logs to failing test reports
# ---------------------------------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for srv in list(_LIVE_SERVERS):
            rep.sections.append(
                (f"{srv.name} stderr ({srv.stderr_path})", srv.stderr_tail(REPORT_TAIL_CHARS))
            )


def pytest_report_header(config):
    try:
        import qdrant_client  # noqa: F401
        from importlib.metadata import version

        v = version("qdrant-client")
    except Exception as e:  # pragma: no cover
        v = f"<unavailable: {e}>"
    return [
        f"qdrant-client {v}, flavor={os.environ.get('QDRANT_CLIENT_FLAVOR', '<auto>')}",
        f"server binary: {os.environ.get('VEXFS_BIN') or DEFAULT_BIN}",
    ]
