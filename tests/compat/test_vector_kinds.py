"""Sparse vectors (and the idf modifier) through the unmodified PyPI `qdrant-client`:
collection config, upserts, retrieval, `query_points` (plain, filtered, hybrid prefetch
with RRF and DBSF fusion), the legacy search with a `NamedSparseVector` (old client) and
Qdrant's errors for mismatched vector kinds.

Expected scores are worked out by hand in the comments, never read back from the server.
Raw-HTTP responses are validated against Qdrant's OpenAPI 1.19 document.
"""

from __future__ import annotations

import math

import pytest
from qdrant_client import models
from qdrant_client.http.exceptions import UnexpectedResponse

from conftest import http_json
from openapi_validator import OpenApiSpec

HY = "vk_hybrid"
TOL = 1e-5

_SPEC: list = []


def spec() -> OpenApiSpec:
    if not _SPEC:
        _SPEC.append(OpenApiSpec("1.19"))
    return _SPEC[0]


def sv(indices, values):
    return models.SparseVector(indices=indices, values=values)


# 1: s {1: 1, 2: 2}, t {1}; 2: s {2: 1, 3: 4}, t {1, 2}; 3: s {5: 1}, t {3}; 4: no s, t {1}.
POINTS = {
    1: {"d": [1.0, 0.0], "s": sv([2, 1], [2.0, 1.0]), "t": sv([1], [1.0])},
    2: {"d": [0.0, 1.0], "s": sv([2, 3], [1.0, 4.0]), "t": sv([1, 2], [1.0, 1.0])},
    3: {"d": [1.0, 1.0], "s": sv([5], [1.0]), "t": sv([3], [1.0])},
    4: {"d": [0.5, 0.5], "t": sv([1], [1.0])},
}
# s {2: 1, 3: 0.5}: point 1 → 2·1 = 2; point 2 → 1·1 + 4·0.5 = 3; 3 and 4 share nothing.
S_QUERY = sv([3, 2], [0.5, 1.0])
S_WANT = [(2, 3.0), (1, 2.0)]


def pairs(points):
    return [(p["id"], p["score"]) if isinstance(p, dict) else (p.id, p.score) for p in points]


def assert_scores(got, want, tol=TOL):
    got = pairs(got)
    assert [g[0] for g in got] == [w[0] for w in want], f"ids: {got} vs {want}"
    for (gi, gs), (_, ws) in zip(got, want):
        assert math.isclose(gs, ws, rel_tol=tol, abs_tol=tol), f"{gi}: {gs} vs {ws}"


@pytest.fixture(scope="module")
def hybrid(client):
    if client.collection_exists(HY):
        client.delete_collection(HY)
    client.create_collection(
        HY,
        vectors_config={"d": models.VectorParams(size=2, distance=models.Distance.DOT)},
        sparse_vectors_config={
            "s": models.SparseVectorParams(),
            "t": models.SparseVectorParams(modifier=models.Modifier.IDF),
        },
        shard_number=2,
    )
    client.upsert(HY, wait=True, points=[
        models.PointStruct(id=i, vector=v, payload={"k": 1 + (i + 1) % 2})
        for i, v in POINTS.items()])
    return HY


def test_config_reports_sparse_spaces(client, server, hybrid):
    info = client.get_collection(hybrid)
    sparse = info.config.params.sparse_vectors
    assert set(sparse) == {"s", "t"}
    assert sparse["t"].modifier == models.Modifier.IDF
    assert sparse["s"].modifier in (None, models.Modifier.NONE)
    assert info.points_count == 4
    status, resp = http_json("GET", f"{server.url}/collections/{hybrid}")
    assert status == 200
    spec().check_response("get", "/collections/{collection_name}", status, resp,
                          "application/json")


def test_retrieve_returns_sparse_vectors_sorted(client, server, hybrid):
    got = {p.id: p for p in client.retrieve(hybrid, [1, 4], with_vectors=True)}
    s = got[1].vector["s"]
    assert (list(s.indices), list(s.values)) == ([1, 2], [1.0, 2.0])
    assert got[1].vector["d"] == [1.0, 0.0]
    assert "s" not in got[4].vector
    status, resp = http_json("POST", f"{server.url}/collections/{hybrid}/points",
                             {"ids": [1, 2], "with_vector": True})
    assert status == 200
    spec().check_response("post", "/collections/{collection_name}/points", status, resp,
                          "application/json")


def test_query_sparse_by_hand(client, server, hybrid):
    res = client.query_points(hybrid, query=S_QUERY, using="s", limit=10)
    assert_scores(res.points, S_WANT)
    only_k1 = models.Filter(must=[models.FieldCondition(key="k",
                                                       match=models.MatchValue(value=1))])
    # k = 1 for odd ids: only point 1 is left.
    res = client.query_points(hybrid, query=S_QUERY, using="s", query_filter=only_k1)
    assert_scores(res.points, [(1, 2.0)])
    body = {"query": {"indices": [3, 2], "values": [0.5, 1.0]}, "using": "s",
            "with_vector": True}
    status, resp = http_json("POST", f"{server.url}/collections/{hybrid}/points/query", body)
    assert status == 200, resp
    spec().check_response("post", "/collections/{collection_name}/points/query", status,
                          resp, "application/json")
    assert_scores(resp["result"]["points"], S_WANT)


def test_idf_modifier_by_hand(client, hybrid):
    # N = 4 points have t; n(1) = 3, n(3) = 1 (counted over both shards).
    # idf(1) = ln(1 + (4 − 3 + 0.5)/3.5) = ln(10/7); idf(3) = ln(1 + 3.5/1.5) = ln(10/3).
    a, b = math.log(10 / 7), math.log(10 / 3)
    res = client.query_points(hybrid, query=sv([1, 3], [1.0, 1.0]), using="t", limit=10)
    assert_scores(res.points, [(3, b), (1, a), (2, a), (4, a)])


def test_hybrid_prefetch_fusion(client, hybrid):
    prefetch = [models.Prefetch(query=S_QUERY, using="s", limit=10),
                models.Prefetch(query=[1.0, 0.0], using="d", limit=10)]
    # Sparse ranking [2, 1]; dense d·[1, 0]: 1 → 1, 3 → 1, 4 → 0.5, 2 → 0: [1, 3, 4, 2].
    # RRF, 1/(2 + rank): 1: 1/3 + 1/2; 2: 1/2 + 1/5; 3: 1/3; 4: 1/4.
    res = client.query_points(hybrid, prefetch=prefetch,
                              query=models.FusionQuery(fusion=models.Fusion.RRF), limit=10)
    assert_scores(res.points, [(1, 1 / 3 + 1 / 2), (2, 1 / 2 + 1 / 5), (3, 1 / 3), (4, 1 / 4)])
    # DBSF: each list maps x to (x − (μ − 3σ)) / 6σ (σ from the sample variance), summed.
    def dbsf(xs):
        mu = sum(xs) / len(xs)
        sd = math.sqrt(sum((x - mu) ** 2 for x in xs) / (len(xs) - 1))
        return [(x - (mu - 3 * sd)) / (6 * sd) for x in xs]
    sp = dict(zip([2, 1], dbsf([3.0, 2.0])))
    de = dict(zip([1, 3, 4, 2], dbsf([1.0, 1.0, 0.5, 0.0])))
    want = {i: sp.get(i, 0.0) + de.get(i, 0.0) for i in (1, 2, 3, 4)}
    want = sorted(want.items(), key=lambda t: (-t[1], t[0]))
    res = client.query_points(hybrid, prefetch=prefetch,
                              query=models.FusionQuery(fusion=models.Fusion.DBSF), limit=10)
    assert_scores(res.points, want, tol=1e-4)


def test_legacy_search_with_named_sparse_vector(client, server, hybrid, request):
    body = {"vector": {"name": "s", "vector": {"indices": [3, 2], "values": [0.5, 1.0]}},
            "limit": 10}
    status, resp = http_json("POST", f"{server.url}/collections/{hybrid}/points/search", body)
    assert status == 200, resp
    spec().check_response("post", "/collections/{collection_name}/points/search", status,
                          resp, "application/json")
    assert_scores(resp["result"], S_WANT)
    if hasattr(client, "search"):
        res = client.search(hybrid, query_vector=models.NamedSparseVector(name="s",
                                                                          vector=S_QUERY),
                            limit=10)
        assert_scores(res, S_WANT)


def test_mismatched_kinds_are_refused(client, hybrid):
    for vector in ({"s": [1.0, 2.0]}, {"d": sv([1], [1.0])}, {"s": sv([1, 1], [1.0, 2.0])}):
        with pytest.raises(UnexpectedResponse) as e:
            client.upsert(hybrid, wait=True, points=[models.PointStruct(id=99, vector=vector)])
        assert 400 <= e.value.status_code < 500, e.value.content


def test_update_and_delete_sparse_vectors(client, hybrid):
    client.update_vectors(hybrid, wait=True, points=[
        models.PointVectors(id=3, vector={"s": sv([3], [10.0])})])
    # Point 3 now shares index 3: 10 · 0.5 = 5.
    res = client.query_points(hybrid, query=S_QUERY, using="s", limit=10)
    assert_scores(res.points, [(3, 5.0)] + S_WANT)
    client.delete_vectors(hybrid, wait=True, vectors=["s"], points=[2])
    res = client.query_points(hybrid, query=S_QUERY, using="s", limit=10)
    assert_scores(res.points, [(3, 5.0), (1, 2.0)])
    count = client.count(hybrid, count_filter=models.Filter(must=[
        models.HasVectorCondition(has_vector="s")]), exact=True)
    assert count.count == 2
