"""The universal Query API through the unmodified PyPI `qdrant-client`: prefetch trees,
fusion (rrf, dbsf), formula re-scoring, order_by, sample, MMR and lookup_from.

Expected scores are computed here independently (by hand for the small data set, with
numpy brute force for the large one), never read back from the server. Every raw-HTTP
response is also validated against Qdrant's OpenAPI 1.19 document.

Query kinds the old client (1.12) has no model for (formula, sample, mmr, parametrized
rrf) are sent as raw JSON in that flavor: the server's behaviour does not depend on the
client, only the way of spelling the request does.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from qdrant_client import models
from qdrant_client.http.exceptions import UnexpectedResponse

from conftest import http_json
from openapi_validator import OpenApiSpec

Q = "/collections/{collection_name}/points/query"
SMALL = "qsmall"
OTHER = "qother"
BIG = "qbig"
BIG_DIM = 8
BIG_N = 300
SEED = 4242
TOL = 1e-5

# Dot product, dim 2. Scores against A = [1, 0] and B = [0, 1] are read off the vectors.
SMALL_POINTS = {
    1: ([1.0, 0.0], {"price": 10, "tag": "a", "loc": {"lat": 0.0, "lon": 0.0},
                     "t": "2024-01-01T00:00:00Z"}),
    2: ([0.8, 0.6], {"price": 20, "tag": "b", "loc": {"lat": 0.0, "lon": 1.0},
                     "t": "2024-01-02T00:00:00Z"}),
    3: ([0.6, 0.8], {"price": 30, "tag": "a", "loc": {"lat": 1.0, "lon": 0.0},
                     "t": "2024-01-03T00:00:00Z"}),
    4: ([0.0, 1.0], {"price": 40, "tag": "b"}),
    5: ([-1.0, 0.0], {"price": 50, "tag": "a"}),
    6: ([0.5, 0.5], {"tag": "b"}),
}
A = [1.0, 0.0]
B = [0.0, 1.0]

_SPEC: list = []


def spec() -> OpenApiSpec:
    if not _SPEC:
        _SPEC.append(OpenApiSpec("1.19"))
    return _SPEC[0]


def raw_query(server, collection: str, body: dict, expect: int = 200):
    """POST /points/query as raw JSON; checks the status and the response schema."""
    status, resp = http_json("POST", f"{server.url}/collections/{collection}/points/query", body)
    assert status == expect, f"expected {expect}, got {status}: {resp} for {body}"
    spec().check_response("post", Q, status, resp, "application/json")
    return resp


def pairs(points) -> list[tuple]:
    """(id, score) of client points or raw JSON points."""
    out = []
    for p in points:
        if isinstance(p, dict):
            out.append((p["id"], p["score"]))
        else:
            out.append((p.id, p.score))
    return out


def assert_scores(got, want, tol=TOL):
    got = pairs(got)
    assert [g[0] for g in got] == [w[0] for w in want], f"ids: {got} vs {want}"
    for (gi, gs), (_, ws) in zip(got, want):
        assert math.isclose(gs, ws, rel_tol=tol, abs_tol=tol), f"{gi}: {gs} vs {ws}"


def status_of(fn) -> tuple[int, str]:
    with pytest.raises(UnexpectedResponse) as e:
        fn()
    return e.value.status_code, e.value.content.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def data(client):
    for name in (SMALL, OTHER, BIG):
        if client.collection_exists(name):
            client.delete_collection(name)
    client.create_collection(SMALL, vectors_config=models.VectorParams(
        size=2, distance=models.Distance.DOT))
    client.upsert(SMALL, wait=True, points=[
        models.PointStruct(id=i, vector=v, payload=p) for i, (v, p) in SMALL_POINTS.items()])
    client.create_payload_index(SMALL, "price", models.PayloadSchemaType.FLOAT, wait=True)

    client.create_collection(OTHER, vectors_config={
        "img": models.VectorParams(size=2, distance=models.Distance.DOT)})
    client.upsert(OTHER, wait=True, points=[
        models.PointStruct(id=100, vector={"img": B}),
        models.PointStruct(id=101, vector={"img": [0.6, 0.8]})])

    rng = np.random.default_rng(SEED)
    vecs = rng.normal(size=(BIG_N, BIG_DIM)).astype(np.float32)
    client.create_collection(BIG, vectors_config=models.VectorParams(
        size=BIG_DIM, distance=models.Distance.COSINE))
    client.upsert(BIG, wait=True, points=[
        models.PointStruct(id=i, vector=vecs[i].tolist(), payload={"even": i % 2 == 0})
        for i in range(BIG_N)])
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    return {"big_unit": unit, "rng": rng}


def cosine_top(unit, q, ids, k):
    """Brute-force top k of `ids` by cosine to q: (id, score), ties by id."""
    qn = np.asarray(q, dtype=np.float64)
    qn = qn / np.linalg.norm(qn)
    scored = [(int(i), float(unit[i].astype(np.float64) @ qn)) for i in ids]
    scored.sort(key=lambda t: (-t[1], t[0]))
    return scored[:k]


# ---------------------------------------------------------------------------
# Fusion
# ---------------------------------------------------------------------------

def two_prefetches(limit=3):
    return [models.Prefetch(query=A, limit=limit), models.Prefetch(query=B, limit=limit)]


def test_rrf_scores_by_hand(client, data):
    # A → [1, 2, 3], B → [4, 3, 2]; RRF with k = 2: 1/(2 + rank).
    res = client.query_points(SMALL, prefetch=two_prefetches(),
                              query=models.FusionQuery(fusion=models.Fusion.RRF), limit=10)
    # 2: 1/3 + 1/4, 3: 1/4 + 1/3, 1: 1/2, 4: 1/2; equal scores by ascending id.
    assert_scores(res.points, [(2, 7 / 12), (3, 7 / 12), (1, 0.5), (4, 0.5)])


def test_rrf_k_and_weights(client, server, data):
    body = {"prefetch": [{"query": A, "limit": 3}, {"query": B, "limit": 3}],
            "query": {"rrf": {"k": 10}}}
    resp = raw_query(server, SMALL, body)
    assert_scores(resp["result"]["points"],
                  [(2, 1 / 11 + 1 / 12), (3, 1 / 12 + 1 / 11), (1, 0.1), (4, 0.1)])
    # Weight 3 on A: position p earns 1 / ((p + 1) / 3 + k - 1) there.
    body["query"] = {"rrf": {"k": 2, "weights": [3.0, 1.0]}}
    resp = raw_query(server, SMALL, body)
    want = {1: 1 / (1 / 3 + 1), 2: 1 / (2 / 3 + 1) + 1 / 4, 3: 1 / (3 / 3 + 1) + 1 / 3,
            4: 1 / 2}
    want = sorted(want.items(), key=lambda t: (-t[1], t[0]))
    assert_scores(resp["result"]["points"], want)
    if hasattr(models, "RrfQuery"):
        res = client.query_points(SMALL, prefetch=two_prefetches(),
                                  query=models.RrfQuery(rrf=models.Rrf(k=10)))
        assert_scores(res.points, [(2, 1 / 11 + 1 / 12), (3, 1 / 12 + 1 / 11), (1, 0.1),
                                   (4, 0.1)])


def test_dbsf_scores_by_hand(client, data):
    # Each list is (1.0, 0.8, 0.6): mean 0.8, sample σ 0.2, so [0.2, 1.4] maps to [0, 1]:
    # 1.0 → 2/3, 0.8 → 1/2, 0.6 → 1/3.
    res = client.query_points(SMALL, prefetch=two_prefetches(),
                              query=models.FusionQuery(fusion=models.Fusion.DBSF), limit=10)
    assert_scores(res.points, [(2, 1 / 3 + 1 / 2), (3, 1 / 2 + 1 / 3), (1, 2 / 3), (4, 2 / 3)])


def test_fusion_limit_offset_threshold(client, data):
    res = client.query_points(SMALL, prefetch=two_prefetches(),
                              query=models.FusionQuery(fusion=models.Fusion.RRF),
                              limit=2, offset=1)
    assert_scores(res.points, [(3, 7 / 12), (1, 0.5)])
    res = client.query_points(SMALL, prefetch=two_prefetches(),
                              query=models.FusionQuery(fusion=models.Fusion.RRF),
                              score_threshold=0.55)
    assert_scores(res.points, [(2, 7 / 12), (3, 7 / 12)])


# ---------------------------------------------------------------------------
# Prefetch re-scoring against brute force
# ---------------------------------------------------------------------------

def test_prefetch_rescoring_matches_brute_force(client, data):
    unit, rng = data["big_unit"], data["rng"]
    for _ in range(3):
        q1, q2 = rng.normal(size=BIG_DIM).tolist(), rng.normal(size=BIG_DIM).tolist()
        res = client.query_points(
            BIG, prefetch=models.Prefetch(query=q1, limit=50), query=q2, limit=10)
        cand = [i for i, _ in cosine_top(unit, q1, range(BIG_N), 50)]
        assert_scores(res.points, cosine_top(unit, q2, cand, 10), tol=1e-4)


def test_nested_prefetch_with_filters(client, data):
    unit, rng = data["big_unit"], data["rng"]
    q1, q2, q3 = (rng.normal(size=BIG_DIM).tolist() for _ in range(3))
    even = models.Filter(must=[models.FieldCondition(key="even",
                                                     match=models.MatchValue(value=True))])
    res = client.query_points(
        BIG,
        prefetch=models.Prefetch(prefetch=models.Prefetch(query=q1, limit=80),
                                 query=q2, limit=30),
        query=q3, query_filter=even, limit=5, with_payload=True)
    # The root filter applies to every stage below it.
    evens = [i for i in range(BIG_N) if i % 2 == 0]
    level1 = [i for i, _ in cosine_top(unit, q1, evens, 80)]
    level2 = [i for i, _ in cosine_top(unit, q2, level1, 30)]
    assert_scores(res.points, cosine_top(unit, q3, level2, 5), tol=1e-4)
    assert all(p.payload["even"] for p in res.points)


def test_prefetch_without_outer_query_returns_prefetch(client, data):
    unit, rng = data["big_unit"], data["rng"]
    q1 = rng.normal(size=BIG_DIM).tolist()
    res = client.query_points(BIG, prefetch=models.Prefetch(query=q1, limit=20), limit=5,
                              offset=2)
    assert_scores(res.points, cosine_top(unit, q1, range(BIG_N), 20)[2:7], tol=1e-4)


def test_scroll_like_query(client, data):
    res = client.query_points(SMALL, limit=4)
    assert pairs(res.points) == [(1, 1.0), (2, 1.0), (3, 1.0), (4, 1.0)]


# ---------------------------------------------------------------------------
# Formula
# ---------------------------------------------------------------------------

def formula_body(formula, defaults=None, limit=4):
    body = {"prefetch": {"query": A, "limit": limit}, "query": {"formula": formula}}
    if defaults is not None:
        body["query"]["defaults"] = defaults
    return body


def test_formula_payload_and_defaults(server, data):
    # A's top 4: 1 (1.0), 2 (0.8), 3 (0.6), 6 (0.5); 6 has no price (default 0).
    resp = raw_query(server, SMALL, formula_body(
        {"sum": ["$score", {"mult": [0.01, "price"]}]}, {"price": 0}))
    assert_scores(resp["result"]["points"], [(1, 1.1), (2, 1.0), (3, 0.9), (6, 0.5)])


def test_formula_condition_boost(client, server, data):
    boost = {"sum": ["$score", {"mult": [0.5, {"key": "tag", "match": {"value": "a"}}]}]}
    resp = raw_query(server, SMALL, formula_body(boost))
    assert_scores(resp["result"]["points"], [(1, 1.5), (3, 1.1), (2, 0.8), (6, 0.5)])
    if hasattr(models, "FormulaQuery"):
        res = client.query_points(SMALL, prefetch=models.Prefetch(query=A, limit=4),
                                  query=models.FormulaQuery(formula=models.SumExpression(sum=[
                                      "$score",
                                      models.MultExpression(mult=[0.5, models.FieldCondition(
                                          key="tag", match=models.MatchValue(value="a"))])])))
        assert_scores(res.points, [(1, 1.5), (3, 1.1), (2, 0.8), (6, 0.5)])


def test_formula_decay_geo_datetime_and_prefetch_scores(server, data):
    # exp_decay with target 30, scale 10, midpoint 0.5: 0.5 ** (|price - 30| / 10).
    resp = raw_query(server, SMALL, formula_body(
        {"exp_decay": {"x": "price", "target": 30, "scale": 10, "midpoint": 0.5}},
        {"price": 30}))
    assert_scores(resp["result"]["points"], [(3, 1.0), (6, 1.0), (2, 0.5), (1, 0.25)])
    # Distance in km from (0, 0) to `loc`: one degree on a great circle of radius 6371.0088 km.
    deg_km = 2 * math.pi * 6371.0088 / 360
    resp = raw_query(server, SMALL, formula_body(
        {"div": {"left": {"geo_distance": {"origin": {"lat": 0.0, "lon": 0.0}, "to": "loc"}},
                 "right": 1000}}, limit=3))
    assert_scores(resp["result"]["points"], [(2, deg_km), (3, deg_km), (1, 0.0)], tol=1e-4)
    # Days since 2024-01-01 (payload datetimes).
    resp = raw_query(server, SMALL, formula_body(
        {"div": {"left": {"sum": [{"datetime_key": "t"},
                                  {"neg": {"datetime": "2024-01-01T00:00:00Z"}}]},
                 "right": 86400}}, limit=3))
    assert_scores(resp["result"]["points"], [(3, 2.0), (2, 1.0), (1, 0.0)])
    # $score[1]: the second prefetch's score; absent from it → its default.
    body = {"prefetch": [{"query": A, "limit": 3}, {"query": B, "limit": 2}],
            "query": {"formula": {"sum": ["$score[0]", "$score[1]"]},
                      "defaults": {"$score[0]": 0, "$score[1]": -1}}}
    resp = raw_query(server, SMALL, body)
    # A: 1→1.0, 2→0.8, 3→0.6; B: 4→1.0, 3→0.8.
    assert_scores(resp["result"]["points"], [(3, 1.4), (4, 1.0), (1, 0.0), (2, -0.2)])


def test_formula_errors(server, data):
    resp = raw_query(server, SMALL, formula_body({"sum": ["$score", "price"]}), expect=400)
    assert "No value found in a payload nor defaults" in resp["status"]["error"]
    assert "price" in resp["status"]["error"]
    resp = raw_query(server, SMALL, formula_body({"mult": ["$score", "tag"]}), expect=400)
    assert "not a number" in resp["status"]["error"]
    resp = raw_query(server, SMALL, formula_body({"sum": 3}), expect=400)
    assert "sum" in resp["status"]["error"]
    resp = raw_query(server, SMALL, formula_body({"div": {"left": 1, "right": 0}}), expect=400)
    assert "non-finite" in resp["status"]["error"]
    resp = raw_query(server, SMALL, {"query": {"formula": "$score"}}, expect=400)
    assert "prefetch" in resp["status"]["error"]


# ---------------------------------------------------------------------------
# order_by, sample
# ---------------------------------------------------------------------------

def test_order_by_query(client, data):
    res = client.query_points(SMALL, query=models.OrderByQuery(order_by=models.OrderBy(
        key="price", direction=models.Direction.DESC)), limit=3)
    assert [p.id for p in res.points] == [5, 4, 3]
    assert [p.order_value for p in res.points] == [50, 40, 30]
    # Over prefetch candidates: A's top 3 are 1, 2, 3.
    res = client.query_points(SMALL, prefetch=models.Prefetch(query=A, limit=3),
                              query=models.OrderByQuery(order_by="price"), limit=10)
    assert [p.id for p in res.points] == [1, 2, 3]


def test_sample_random(client, server, data):
    even = {"must": [{"key": "even", "match": {"value": True}}]}
    seen = set()
    for _ in range(5):
        resp = raw_query(server, BIG, {"query": {"sample": "random"}, "limit": 7,
                                       "filter": even, "with_payload": True})
        pts = resp["result"]["points"]
        ids = [p["id"] for p in pts]
        assert len(ids) == 7 and len(set(ids)) == 7, ids
        assert all(0 <= i < BIG_N and i % 2 == 0 for i in ids), ids
        assert all(p["payload"]["even"] is True for p in pts)
        seen.add(tuple(sorted(ids)))
    assert len(seen) > 1, "five random samples of 7 out of 150 were all the same"
    if hasattr(models, "SampleQuery"):
        res = client.query_points(SMALL, query=models.SampleQuery(sample=models.Sample.RANDOM),
                                  limit=100)
        assert sorted(p.id for p in res.points) == sorted(SMALL_POINTS)


# ---------------------------------------------------------------------------
# lookup_from, MMR
# ---------------------------------------------------------------------------

def test_lookup_from_other_collection(client, data):
    # Point 100 of OTHER has img = B: same as querying B here, and nothing is excluded.
    want = client.query_points(SMALL, query=B, limit=6)
    res = client.query_points(SMALL, query=100, limit=6,
                              lookup_from=models.LookupLocation(collection=OTHER, vector="img"))
    assert pairs(res.points) == pairs(want.points)
    # Recommend from point 101 of OTHER: img = [0.6, 0.8].
    res = client.query_points(SMALL, query=models.RecommendQuery(recommend=models.RecommendInput(
        positive=[101])), limit=3,
        lookup_from=models.LookupLocation(collection=OTHER, vector="img"))
    assert_scores(res.points, [(3, 1.0), (2, 0.96), (4, 0.8)])
    # Inside a prefetch too.
    res = client.query_points(SMALL, prefetch=models.Prefetch(
        query=100, limit=2, lookup_from=models.LookupLocation(collection=OTHER, vector="img")),
        query=A)
    assert_scores(res.points, [(3, 0.6), (4, 0.0)])


def test_mmr(server, data):
    # Candidates for A (limit 4): 1 (1.0), 2 (0.8), 3 (0.6), 6 (0.5). diversity 0.8:
    # after 1, 6 scores 0.2·0.5 - 0.8·0.5 = -0.3 (best); then 3 (-0.44) beats 2 (-0.48).
    body = {"query": {"nearest": A, "mmr": {"diversity": 0.8, "candidates_limit": 4}},
            "limit": 3}
    resp = raw_query(server, SMALL, body)
    assert_scores(resp["result"]["points"], [(1, 1.0), (6, 0.5), (3, 0.6)])
    body["query"]["mmr"]["diversity"] = 0.0
    resp = raw_query(server, SMALL, body)
    assert_scores(resp["result"]["points"], [(1, 1.0), (2, 0.8), (3, 0.6)])
    body["query"]["mmr"]["diversity"] = 1.5
    raw_query(server, SMALL, body, expect=422)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

def test_bad_input_statuses(client, server, data):
    st, msg = status_of(lambda: client.query_points(
        SMALL, prefetch=models.Prefetch(query=A, using="nope", limit=3), query=A))
    assert st == 400 and "nope" in msg, msg
    st, msg = status_of(lambda: client.query_points(
        SMALL, query=1, lookup_from=models.LookupLocation(collection="no_such_coll")))
    assert st == 404 and "no_such_coll" in msg, msg
    resp = raw_query(server, SMALL, {"prefetch": [{"query": A}, {"query": B}],
                                     "query": {"rrf": {"weights": [1.0]}}}, expect=400)
    assert "weights" in resp["status"]["error"]
    resp = raw_query(server, SMALL, {"prefetch": {"query": A, "limit": 0}, "query": A},
                     expect=422)
    assert "limit" in resp["status"]["error"]
    resp = raw_query(server, SMALL, {"query": {"fusion": "rrf"}}, expect=400)
    assert "prefetch" in resp["status"]["error"]
    resp = raw_query(server, SMALL, {"query": {"fusion": "max"}}, expect=400)
    resp = raw_query(server, SMALL, {"query": {"order_by": "tag"}}, expect=400)
    assert "range index" in resp["status"]["error"]


def test_query_groups_with_prefetch(client, server, data):
    # RRF of A and B: 2 (b), 3 (a), 1 (a), 4 (b) → groups in order of their best point.
    want = [("b", [(2, 7 / 12), (4, 0.5)]), ("a", [(3, 7 / 12), (1, 0.5)])]
    body = {"prefetch": [{"query": A, "limit": 3}, {"query": B, "limit": 3}],
            "query": {"fusion": "rrf"}, "group_by": "tag", "group_size": 2, "limit": 2}
    status, resp = http_json("POST", f"{server.url}/collections/{SMALL}/points/query/groups",
                             body)
    assert status == 200, resp
    spec().check_response("post", Q + "/groups", status, resp, "application/json")
    groups = resp["result"]["groups"]
    assert [g["id"] for g in groups] == [w[0] for w in want]
    for g, (_, hits) in zip(groups, want):
        assert_scores(g["hits"], hits)
    if hasattr(client, "query_points_groups"):
        res = client.query_points_groups(SMALL, group_by="tag", prefetch=two_prefetches(),
                                         query=models.FusionQuery(fusion=models.Fusion.RRF),
                                         group_size=2, limit=2)
        assert [g.id for g in res.groups] == ["b", "a"]
        assert_scores(res.groups[0].hits, want[0][1])
    # order_by groups: prices descending, tags alternate a (50), b (40), a (30).
    body = {"query": {"order_by": {"key": "price", "direction": "desc"}}, "group_by": "tag",
            "group_size": 1, "limit": 2}
    status, resp = http_json("POST", f"{server.url}/collections/{SMALL}/points/query/groups",
                             body)
    assert status == 200, resp
    assert [(g["id"], [h["id"] for h in g["hits"]]) for g in resp["result"]["groups"]] == [
        ("a", [5]), ("b", [4])]


def test_lookup_from_in_legacy_recommend_and_groups(server, data):
    lookup = {"collection": OTHER, "vector": "img"}
    status, resp = http_json("POST", f"{server.url}/collections/{SMALL}/points/recommend",
                             {"positive": [101], "limit": 3, "lookup_from": lookup})
    assert status == 200, resp
    assert_scores(resp["result"], [(3, 1.0), (2, 0.96), (4, 0.8)])
    status, resp = http_json("POST", f"{server.url}/collections/{SMALL}/points/recommend/groups",
                             {"positive": [101], "group_by": "tag", "group_size": 1, "limit": 2,
                              "lookup_from": lookup})
    assert status == 200, resp
    assert [(g["id"], pairs(g["hits"])[0][0]) for g in resp["result"]["groups"]] == [
        ("a", 3), ("b", 2)]
    # Context from OTHER's points: 100 (= B) preferred over 101 ([0.6, 0.8]).
    status, resp = http_json("POST", f"{server.url}/collections/{SMALL}/points/query",
                             {"query": {"context": {"positive": 100, "negative": 101}},
                              "limit": 6, "lookup_from": lookup})
    assert status == 200, resp
    # sim(B) - sim([0.6, 0.8]) = 0.2·y - 0.6·x: ≥ 0 (no loss) for 4 and 5, then 3 and 6
    # (-0.2), 2 (-0.36), 1 (-0.6).
    ids = [p["id"] for p in resp["result"]["points"]]
    assert set(ids[:2]) == {4, 5} and set(ids[2:4]) == {3, 6} and ids[4:] == [2, 1], ids
    status, resp = http_json("POST", f"{server.url}/collections/{SMALL}/points/recommend",
                             {"positive": [101], "limit": 3,
                              "lookup_from": {"collection": OTHER, "vector": "nope"}})
    assert status == 400 and "nope" in resp["status"]["error"], resp


def test_bounded_trees(server, data):
    # 17 levels of prefetch: refused (the limit is 16), 16 levels: answered.
    def nested(levels):
        p = {"query": A, "limit": 3}
        for _ in range(levels - 1):
            p = {"prefetch": p, "query": A, "limit": 3}
        return {"prefetch": p, "query": A, "limit": 3}
    resp = raw_query(server, SMALL, nested(16))
    assert_scores(resp["result"]["points"], [(1, 1.0), (2, 0.8), (3, 0.6)])
    resp = raw_query(server, SMALL, nested(17), expect=422)
    assert "prefetch" in resp["status"]["error"]
    resp = raw_query(server, SMALL, {"prefetch": [{"query": A}] * 65, "query": {"fusion": "rrf"}},
                     expect=422)
    assert "64" in resp["status"]["error"]
    expr = "$score"
    for _ in range(70):
        expr = {"neg": expr}
    resp = raw_query(server, SMALL, formula_body(expr), expect=422)
    assert "deeper" in resp["status"]["error"]
