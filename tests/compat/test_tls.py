"""The unmodified qdrant-client over HTTPS with an api key: the server runs with `[tls]`
(certificate from a test CA made in conftest) and the client verifies it against that CA."""

from __future__ import annotations

import inspect
import urllib.error
import urllib.request

import pytest
from qdrant_client import QdrantClient, models

from conftest import client_flavor

# httpx 0.28 prefers an SSLContext to a CA path (see tls_client) and says so.
pytestmark = pytest.mark.filterwarnings("ignore:.*verify=<str>.*:DeprecationWarning")

DIM = 4
COLLECTION = "tls_round_trip"


def tls_client(server, api_key: str | None) -> QdrantClient:
    kwargs = dict(
        url=server.url, https=True, api_key=api_key, prefer_grpc=False, timeout=30,
        # Passed through to httpx: trust the test CA. A path, not an SSLContext: the 1.12
        # client deep-copies its httpx arguments and an SSLContext cannot be copied.
        verify=str(server.ca_path),
    )
    if "check_compatibility" in inspect.signature(QdrantClient.__init__).parameters:
        kwargs["check_compatibility"] = False
    return QdrantClient(**kwargs)


def test_create_upsert_query_round_trip_over_https(tls_server):
    assert tls_server.url.startswith("https://")
    client = tls_client(tls_server, tls_server.api_key)
    try:
        client.create_collection(
            COLLECTION,
            vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT),
        )
        client.upsert(
            COLLECTION,
            points=[
                models.PointStruct(id=1, vector=[1.0, 0.0, 0.0, 0.0], payload={"k": "a"}),
                models.PointStruct(id=2, vector=[0.0, 1.0, 0.0, 0.0], payload={"k": "b"}),
                models.PointStruct(id=3, vector=[0.0, 0.0, 1.0, 0.0], payload={"k": "c"}),
            ],
            wait=True,
        )
        hits = client.query_points(
            COLLECTION, query=[0.1, 0.2, 0.9, 0.0], limit=2, with_payload=True
        ).points
        assert [h.id for h in hits] == [3, 2]
        assert hits[0].payload == {"k": "c"}
        assert hits[0].score == pytest.approx(0.9, rel=1e-5)
        if client_flavor() == "old":
            legacy = client.search(COLLECTION, query_vector=[1.0, 0.0, 0.0, 0.0], limit=1)
            assert [h.id for h in legacy] == [1]
        assert client.count(COLLECTION, exact=True).count == 3
    finally:
        client.close()


def test_https_without_the_api_key_is_refused(tls_server):
    from qdrant_client.http.exceptions import UnexpectedResponse

    client = tls_client(tls_server, None)
    try:
        with pytest.raises(UnexpectedResponse) as e:
            client.get_collections()
        assert e.value.status_code == 401
    finally:
        client.close()


def test_plain_http_to_the_tls_port_gets_no_answer(tls_server):
    plain = tls_server.url.replace("https://", "http://") + "/healthz"
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(plain, timeout=5).read()
    # The probe over TLS still answers, verified against the test CA.
    with urllib.request.urlopen(
        tls_server.url + "/healthz", timeout=5, context=tls_server.ssl_context
    ) as resp:
        assert resp.status == 200
