"""End-to-end flow of the unmodified PyPI `qdrant-client` against
vexfs-unified-server over REST.

Every test checks returned data against what was sent or against a brute-force
computation in numpy; status codes alone are never the assertion.

Flavors (env QDRANT_CLIENT_FLAVOR):
  new  qdrant-client 1.20.x: searches through `query_points` (/points/query)
  old  qdrant-client 1.12.x: `search` (legacy /points/search) AND `query_points`
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from importlib.metadata import version as pkg_version

import numpy as np
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from conftest import client_flavor, http_json, make_client

FLAVOR = client_flavor()
CLIENT_VERSION = pkg_version("qdrant-client")
# Search entry points exercised by this flavor. The 1.20 client no longer has
# `search`; the 1.12 client has both, and `search` still hits /points/search.
SEARCH_APIS = ["query"] if FLAVOR == "new" else ["search", "query"]

DIM = 32
N_POINTS = 10_000
BATCH = 500
SEED = 20240611
N_QUERIES = 5
DISTANCES = ["Cosine", "Dot", "Euclid", "Manhattan"]
LARGER_IS_BETTER = {"Cosine": True, "Dot": True, "Euclid": False, "Manhattan": False}
SCORE_REL = 1e-4
SCORE_ABS = 1e-5

# Large unsigned ids (> i64::MAX and near u64::MAX) placed at these indices.
BIG_IDS = {1: 2**63 + 7, 2: 2**64 - 2}


# ---------------------------------------------------------------------------
# Deterministic data set
# ---------------------------------------------------------------------------

def _payload(i: int, price: float) -> dict:
    return {
        "idx": i,
        "name": f"point-{i}",
        "group": i % 7,
        "even": i % 2 == 0,
        "price": price,
        "neg": -i,
        "big": 2**62 + i,
        "ratio": i / 4,
        "tags": [f"t{i % 3}", f"t{i % 5}", i % 11],
        "nested": {
            "level1": {"level2": {"value": i, "half": i / 2, "nothing": None}},
            "items": [{"k": "a", "v": i % 13}, {"k": "b", "v": [1, 2.5, "three", True]}],
        },
        "unicode": f"Grüße, 世界 🚀 Ωμέγα №{i}",
        "escapes": 'quote " backslash \\ newline \n tab \t slash /',
        "empty_list": [],
        "empty_obj": {},
    }


@dataclass
class Dataset:
    ids: list            # int or canonical (lowercase, hyphenated) uuid str
    vectors: np.ndarray  # float32 [n, DIM]
    payloads: list
    queries: np.ndarray  # float32 [N_QUERIES, DIM]
    index_of: dict = field(default_factory=dict)

    def __post_init__(self):
        self.index_of = {pid: i for i, pid in enumerate(self.ids)}
        assert len(self.index_of) == len(self.ids), "duplicate ids in data set"


def make_dataset(n: int = N_POINTS, dim: int = DIM, seed: int = SEED) -> Dataset:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    prices = np.round(rng.uniform(0, 1000, size=n), 6)
    ids = []
    for i in range(n):
        if i % 10 == 0:
            ids.append(str(uuid.UUID(bytes=rng.bytes(16), version=4)))
        elif i in BIG_IDS:
            ids.append(BIG_IDS[i])
        else:
            ids.append(i * 3 + 1)
    payloads = [_payload(i, float(prices[i])) for i in range(n)]
    queries = rng.standard_normal((N_QUERIES, dim), dtype=np.float32)
    return Dataset(ids=ids, vectors=vectors, payloads=payloads, queries=queries)


def id_sort_key(pid):
    """Qdrant orders point ids: all integer ids ascending, then UUIDs."""
    if isinstance(pid, int):
        return (0, pid)
    return (1, uuid.UUID(pid).int)


def normalized_f32(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return (v / np.linalg.norm(v.astype(np.float64), axis=-1, keepdims=True)).astype(np.float32)


def brute_scores(distance: str, vectors: np.ndarray, q: np.ndarray) -> np.ndarray:
    v = vectors.astype(np.float64)
    q = np.asarray(q, dtype=np.float64)
    if distance == "Cosine":
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        q = q / np.linalg.norm(q)
        return v @ q
    if distance == "Dot":
        return v @ q
    if distance == "Euclid":
        return np.sqrt(((v - q) ** 2).sum(axis=1))
    if distance == "Manhattan":
        return np.abs(v - q).sum(axis=1)
    raise ValueError(distance)


def brute_order(distance: str, scores: np.ndarray) -> np.ndarray:
    return np.argsort(-scores if LARGER_IS_BETTER[distance] else scores, kind="stable")


def assert_vector_equal(distance: str, got, sent: np.ndarray, what: str):
    assert got is not None, f"{what}: vector missing (with_vectors=True)"
    got = np.asarray(got, dtype=np.float32)
    assert got.shape == sent.shape, f"{what}: vector shape {got.shape} != {sent.shape}"
    if distance == "Cosine":
        np.testing.assert_allclose(got, normalized_f32(sent), rtol=1e-5, atol=1e-6,
                                   err_msg=f"{what}: Cosine vector is not the normalized input")
        assert abs(float(np.linalg.norm(got.astype(np.float64))) - 1.0) < 1e-5
    else:
        assert np.array_equal(got, sent), (
            f"{what}: vector not returned bit-exactly as float32: "
            f"sent {sent[:4].tolist()}..., got {got[:4].tolist()}...")


def assert_payload_absent(p, what):
    assert not p.payload, f"{what}: payload returned although with_payload=False: {p.payload!r}"


def assert_vector_absent(p, what):
    assert p.vector is None or p.vector == {}, (
        f"{what}: vector returned although with_vectors=False: {str(p.vector)[:80]}")


# ---------------------------------------------------------------------------
# Client wrappers (branch on flavor; never skip)
# ---------------------------------------------------------------------------

def upload(client: QdrantClient, collection: str, ds: Dataset, lo: int, hi: int,
           batch: int = BATCH, wait: bool = True, vectors=None, payloads=None):
    """Upsert points [lo, hi) in batches, alternating the list form
    (`{"points": [...]}`) and the column form (`{"batch": {...}}`)."""
    vectors = ds.vectors if vectors is None else vectors
    payloads = ds.payloads if payloads is None else payloads
    results = []
    for b, start in enumerate(range(lo, hi, batch)):
        end = min(start + batch, hi)
        ids = ds.ids[start:end]
        if b % 2 == 0:
            points = [
                models.PointStruct(id=ids[j], vector=vectors[start + j].tolist(),
                                   payload=payloads[start + j])
                for j in range(end - start)
            ]
        else:
            points = models.Batch(ids=list(ids), vectors=vectors[start:end].tolist(),
                                  payloads=list(payloads[start:end]))
        res = client.upsert(collection_name=collection, points=points, wait=wait)
        expected = models.UpdateStatus.COMPLETED if wait else models.UpdateStatus.ACKNOWLEDGED
        assert res.status == expected, (
            f"upsert wait={wait} of {end - start} points into {collection!r}: "
            f"expected status {expected.value!r}, got {res.status!r}")
        results.append(res)
    return results


def run_search(client: QdrantClient, api: str, collection: str, vector, using=None, **kw):
    vec = np.asarray(vector, dtype=np.float32).tolist()
    if api == "search":
        qv = (using, vec) if using else vec
        return client.search(collection_name=collection, query_vector=qv, **kw)
    assert api == "query"
    return client.query_points(collection_name=collection, query=vec, using=using, **kw).points


def count(client, collection) -> int:
    return client.count(collection_name=collection, exact=True).count


def scroll_all(client, collection, page=1000, with_payload=False, with_vectors=False,
               max_pages=100):
    """Follow next_page_offset to the end; returns (records, pages)."""
    records, pages, offset = [], [], None
    for _ in range(max_pages):
        recs, nxt = client.scroll(collection_name=collection, limit=page, offset=offset,
                                  with_payload=with_payload, with_vectors=with_vectors)
        pages.append((offset, [r.id for r in recs], nxt))
        records.extend(recs)
        assert len(recs) <= page, f"scroll limit={page} returned {len(recs)} records"
        if nxt is None:
            return records, pages
        assert len(recs) == page, (
            f"scroll page (offset={offset!r}) has {len(recs)} < limit={page} records "
            f"but next_page_offset={nxt!r}")
        offset = nxt
    pytest.fail(f"scroll of {collection!r} did not terminate within {max_pages} pages")


def assert_topk(points, distance, ds_vectors, ids, index_of, q, k, offset=0, what=""):
    """Compare server results with the brute-force ranking: ranked scores
    approx-equal, each returned score matches the brute-force score of that id,
    ids equal except exact ties at the cut-off(s)."""
    scores = brute_scores(distance, ds_vectors, q)
    order = brute_order(distance, scores)
    exp_idx = order[offset:offset + k]
    exp_ids = [ids[i] for i in exp_idx]
    exp_scores = scores[exp_idx]
    got_ids = [p.id for p in points]
    got_scores = np.array([p.score for p in points], dtype=np.float64)
    detail = (f"{what}\n  expected ids   {exp_ids}\n  got ids        {got_ids}"
              f"\n  expected score {np.round(exp_scores, 6).tolist()}"
              f"\n  got score      {np.round(got_scores, 6).tolist()}")
    assert len(points) == len(exp_idx), f"result count {len(points)} != {len(exp_idx)}: {detail}"
    for pid in got_ids:
        assert pid in index_of, f"unknown id {pid!r} returned: {detail}"
    assert len(set(map(repr, got_ids))) == len(got_ids), f"duplicate ids in result: {detail}"
    # order as promised by the metric
    if LARGER_IS_BETTER[distance]:
        assert all(a >= b for a, b in zip(got_scores, got_scores[1:])), f"not descending: {detail}"
    else:
        assert all(a <= b for a, b in zip(got_scores, got_scores[1:])), f"not ascending: {detail}"
    # each returned score is the true score of that point
    true_of_got = np.array([scores[index_of[pid]] for pid in got_ids])
    np.testing.assert_allclose(got_scores, true_of_got, rtol=SCORE_REL, atol=SCORE_ABS,
                               err_msg=f"score of returned point != its true score: {detail}")
    # ranked scores equal the brute-force ranked scores
    np.testing.assert_allclose(got_scores, exp_scores, rtol=SCORE_REL, atol=SCORE_ABS,
                               err_msg=f"ranked scores differ from brute force: {detail}")
    # ids equal except ties at the boundaries of the window
    diff = set(map(repr, got_ids)) ^ set(map(repr, exp_ids))
    if diff:
        bounds = [exp_scores[0], exp_scores[-1]]
        for pid in list(got_ids) + list(exp_ids):
            if repr(pid) in diff:
                s = scores[index_of[pid]]
                assert any(abs(s - b) <= SCORE_ABS + SCORE_REL * abs(b) for b in bounds), (
                    f"id {pid!r} (true score {s:.6f}) differs and is not a tie: {detail}")


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return make_dataset()


_LOADED: dict = {}


@dataclass
class Loaded:
    name: str
    distance: str
    ds: Dataset


@pytest.fixture(scope="module", params=DISTANCES)
def loaded(request, server, client, dataset) -> Loaded:
    """A collection with all N_POINTS points for one distance (read-only)."""
    distance = request.param
    key = (server.url, distance)
    if key not in _LOADED:
        name = f"flow_{distance.lower()}"
        assert client.create_collection(
            collection_name=name,
            vectors_config=models.VectorParams(size=DIM, distance=models.Distance(distance)),
        ) is True
        t0 = time.monotonic()
        upload(client, name, dataset, 0, N_POINTS)
        print(f"\n[compat] loaded {N_POINTS} points into {name} in {time.monotonic() - t0:.1f}s")
        _LOADED[key] = Loaded(name, distance, dataset)
    return _LOADED[key]


# ---------------------------------------------------------------------------
# Server identity
# ---------------------------------------------------------------------------

def test_flavor_matches_installed_client():
    if FLAVOR == "old":
        assert hasattr(QdrantClient, "search"), (
            f"flavor=old but qdrant-client {CLIENT_VERSION} has no `search`")
        assert CLIENT_VERSION.startswith("1.12."), CLIENT_VERSION
    else:
        assert CLIENT_VERSION.startswith("1.20."), CLIENT_VERSION


def test_version_and_health(server, client):
    status, body = http_json("GET", server.url + "/")
    assert status == 200, f"GET / -> {status} {body!r}"
    assert isinstance(body, dict), f"GET / is not a JSON object: {body!r}"
    assert isinstance(body.get("title"), str) and body["title"], f"GET / title: {body!r}"
    ver = body.get("version")
    assert isinstance(ver, str) and ver.startswith("1."), f"GET / version: {body!r}"
    major, minor, *_ = ver.split(".")
    assert int(major) == 1 and int(minor) >= 0
    for ep in ("/healthz", "/livez", "/readyz"):
        st, _ = http_json("GET", server.url + ep)
        assert st == 200, f"GET {ep} -> {st}"
    if FLAVOR == "new":
        # The client's own compatibility rule (major equal, minor within 1).
        from qdrant_client.common.version_check import get_server_version, is_compatible

        assert get_server_version(server.url, {}, None, 10) == ver
        assert is_compatible(CLIENT_VERSION, ver), (
            f"qdrant-client {CLIENT_VERSION} considers server version {ver} incompatible")
        info = client.info()
        assert info.version == ver and info.title == body["title"]
    else:
        # 1.12 has no client.info(); the same data through the generated API.
        info = client.http.service_api.root()
        assert info.version == ver and info.title == body["title"]


# ---------------------------------------------------------------------------
# Collections
# ---------------------------------------------------------------------------

def test_collection_lifecycle(client):
    name = "lifecycle_coll"
    assert client.collection_exists(name) is False
    assert client.create_collection(
        collection_name=name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
    ) is True
    assert client.collection_exists(name) is True

    info = client.get_collection(name)
    assert info.status == models.CollectionStatus.GREEN, info.status
    assert info.points_count == 0, info.points_count
    params = info.config.params
    assert isinstance(params.vectors, models.VectorParams), params.vectors
    assert params.vectors.size == DIM
    assert params.vectors.distance == models.Distance.COSINE

    names = [c.name for c in client.get_collections().collections]
    assert name in names, names

    with pytest.raises(UnexpectedResponse) as e:
        client.create_collection(
            collection_name=name,
            vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        )
    assert e.value.status_code == 409, f"duplicate create: {e.value}"

    with pytest.raises(UnexpectedResponse) as e:
        client.get_collection("no_such_collection_xyz")
    assert e.value.status_code == 404, f"get missing collection: {e.value}"
    assert client.collection_exists("no_such_collection_xyz") is False

    client.upsert(name, points=[models.PointStruct(id=1, vector=[1.0] * DIM, payload={"a": 1})],
                  wait=True)
    assert count(client, name) == 1
    assert client.get_collection(name).points_count == 1

    assert client.delete_collection(name) is True
    assert client.collection_exists(name) is False
    assert name not in [c.name for c in client.get_collections().collections]
    with pytest.raises(UnexpectedResponse) as e:
        client.get_collection(name)
    assert e.value.status_code == 404
    with pytest.raises(UnexpectedResponse) as e:
        count(client, name)
    assert e.value.status_code == 404, f"count on deleted collection: {e.value}"

    # Deleting a missing collection: Qdrant answers result=false (or 404).
    try:
        assert client.delete_collection(name) is False
    except UnexpectedResponse as err:
        assert err.status_code == 404, str(err)

    # Re-create under the same name with other params: nothing old survives.
    assert client.create_collection(
        collection_name=name,
        vectors_config=models.VectorParams(size=8, distance=models.Distance.EUCLID),
    ) is True
    info = client.get_collection(name)
    assert info.config.params.vectors.size == 8
    assert info.config.params.vectors.distance == models.Distance.EUCLID
    assert info.points_count == 0
    assert count(client, name) == 0
    assert client.retrieve(name, ids=[1]) == []
    assert client.delete_collection(name) is True


def test_default_shard_number_is_one_per_core(client):
    """Our documented deviation from standalone Qdrant (whose default is 1): a collection
    created without shard_number gets one shard per server core, so every core owns data.
    The fixture starts the server with all CPUs this process may use."""
    name = "default_shards_coll"
    assert client.create_collection(
        collection_name=name,
        vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT),
    ) is True
    try:
        shard_number = client.get_collection(name).config.params.shard_number
        assert shard_number == len(os.sched_getaffinity(0)), shard_number
    finally:
        client.delete_collection(name)


def test_shard_number(client, dataset):
    name = "sharded_coll"
    n = 3000
    assert client.create_collection(
        collection_name=name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.EUCLID),
        shard_number=3,
    ) is True
    info = client.get_collection(name)
    assert info.config.params.shard_number == 3, info.config.params
    upload(client, name, dataset, 0, n)
    assert count(client, name) == n
    assert client.get_collection(name).points_count == n
    sub_ids, sub_vecs = dataset.ids[:n], dataset.vectors[:n]
    index_of = {pid: i for i, pid in enumerate(sub_ids)}
    for qi, q in enumerate(dataset.queries[:2]):
        pts = run_search(client, SEARCH_APIS[0], name, q, limit=10)
        assert_topk(pts, "Euclid", sub_vecs, sub_ids, index_of, q, 10,
                    what=f"sharded search q{qi}")
    recs, _ = scroll_all(client, name, page=700)
    got = [r.id for r in recs]
    assert got == sorted(sub_ids, key=id_sort_key), "scroll across shards not globally id-ordered"
    assert client.delete_collection(name) is True


# ---------------------------------------------------------------------------
# Loaded collections (10,000 points per distance)
# ---------------------------------------------------------------------------

def test_loaded_count_and_info(client, loaded):
    assert count(client, loaded.name) == N_POINTS
    info = client.get_collection(loaded.name)
    assert info.points_count == N_POINTS, info.points_count
    assert info.status in (models.CollectionStatus.GREEN, models.CollectionStatus.YELLOW)
    assert info.config.params.vectors.size == DIM
    assert info.config.params.vectors.distance == models.Distance(loaded.distance)
    assert loaded.name in [c.name for c in client.get_collections().collections]


@pytest.mark.parametrize("api", SEARCH_APIS)
def test_search_top10_matches_bruteforce(client, loaded, api):
    ds = loaded.ds
    for qi, q in enumerate(ds.queries):
        pts = run_search(client, api, loaded.name, q, limit=10, with_payload=False)
        assert_topk(pts, loaded.distance, ds.vectors, ds.ids, ds.index_of, q, 10,
                    what=f"{api} {loaded.distance} q{qi} limit=10")


@pytest.mark.parametrize("api", SEARCH_APIS)
def test_search_limit_and_offset(client, loaded, api):
    ds = loaded.ds
    q = ds.queries[0]
    for limit, offset in [(1, 0), (3, 0), (25, 0), (5, 5), (10, 37)]:
        pts = run_search(client, api, loaded.name, q, limit=limit, offset=offset,
                         with_payload=False)
        assert_topk(pts, loaded.distance, ds.vectors, ds.ids, ds.index_of, q, limit,
                    offset=offset, what=f"{api} {loaded.distance} limit={limit} offset={offset}")


@pytest.mark.parametrize("api", SEARCH_APIS)
def test_search_score_threshold(client, loaded, api):
    ds = loaded.ds
    q = ds.queries[1]
    scores = brute_scores(loaded.distance, ds.vectors, q)
    order = brute_order(loaded.distance, scores)
    # threshold halfway between the 7th and 8th best score: exactly 7 pass
    threshold = float((scores[order[6]] + scores[order[7]]) / 2)
    pts = run_search(client, api, loaded.name, q, limit=10, score_threshold=threshold,
                     with_payload=False)
    assert_topk(pts, loaded.distance, ds.vectors, ds.ids, ds.index_of, q, 7,
                what=f"{api} {loaded.distance} score_threshold={threshold}")
    for p in pts:
        if LARGER_IS_BETTER[loaded.distance]:
            assert p.score >= threshold
        else:
            assert p.score <= threshold
    # a threshold nothing passes
    impossible = 1e9 if LARGER_IS_BETTER[loaded.distance] else 0.0
    pts = run_search(client, api, loaded.name, q, limit=10, score_threshold=impossible)
    assert pts == [], f"score_threshold={impossible} should match nothing, got {len(pts)}"


@pytest.mark.parametrize("api", SEARCH_APIS)
def test_search_with_payload_and_vectors(client, loaded, api):
    ds = loaded.ds
    q = ds.queries[2]
    pts = run_search(client, api, loaded.name, q, limit=10, with_payload=True, with_vectors=True)
    assert len(pts) == 10
    for p in pts:
        i = ds.index_of[p.id]
        assert p.payload == ds.payloads[i], f"payload of {p.id!r} differs"
        assert_vector_equal(loaded.distance, p.vector, ds.vectors[i], f"search vector {p.id!r}")
    pts = run_search(client, api, loaded.name, q, limit=5, with_payload=False, with_vectors=False)
    assert len(pts) == 5
    for p in pts:
        assert_payload_absent(p, f"search {p.id!r}")
        assert_vector_absent(p, f"search {p.id!r}")


RAW_FORMS = {
    # qdrant-client always sends {"query": {"nearest": [...]}}; the bare vector
    # form is equally valid per the OpenAPI spec (QueryInterface = VectorInput | Query).
    "query-bare": ("/points/query", lambda v: {"query": v}),
    "query-nearest": ("/points/query", lambda v: {"query": {"nearest": v}}),
    # legacy endpoint, also covered through the 1.12 client's `search`
    "search": ("/points/search", lambda v: {"vector": v}),
}


@pytest.mark.parametrize("form", list(RAW_FORMS))
def test_raw_rest_search_forms(server, loaded, form):
    """The REST request forms, sent as raw JSON (covers /points/search in the
    new flavor too, whose client no longer has `search`)."""
    from types import SimpleNamespace

    ds = loaded.ds
    path, make_body = RAW_FORMS[form]
    q = ds.queries[3]
    body = dict(make_body(q.tolist()), limit=10, with_payload=True)
    status, resp = http_json("POST", f"{server.url}/collections/{loaded.name}{path}", body)
    assert status == 200, f"POST {path} {form}: {status} {resp!r}"[:2000]
    assert resp.get("status") == "ok", resp.get("status")
    result = resp["result"]
    raw_points = result["points"] if path.endswith("/query") else result
    assert isinstance(raw_points, list), f"{form}: unexpected result shape {str(result)[:300]}"
    pts = [SimpleNamespace(id=p["id"], score=p["score"]) for p in raw_points]
    assert_topk(pts, loaded.distance, ds.vectors, ds.ids, ds.index_of, q, 10,
                what=f"raw {form} {loaded.distance}")
    for p in raw_points:
        assert p["payload"] == ds.payloads[ds.index_of[p["id"]]]


def test_search_wrong_query_dimension(client, loaded):
    for api in SEARCH_APIS:
        with pytest.raises(UnexpectedResponse) as e:
            run_search(client, api, loaded.name, np.ones(DIM - 1, dtype=np.float32), limit=3)
        assert e.value.status_code == 400, f"{api} with dim {DIM - 1}: {e.value}"


def test_retrieve_mixed_ids(client, loaded):
    ds = loaded.ds
    want_idx = [3, 17, 1, 2, 0, 10, 9990, 4242, 9999]  # ints, big u64 ids, uuids
    present = [ds.ids[i] for i in want_idx]
    missing = [999_999_999, 5, "00000000-0000-4000-8000-000000000000"]
    assert not any(m in ds.index_of for m in missing)
    recs = client.retrieve(loaded.name, ids=present + missing, with_payload=True, with_vectors=True)
    got = {r.id: r for r in recs}
    assert len(recs) == len(present), f"retrieve returned {[r.id for r in recs]}"
    assert set(got) == set(present), f"retrieve returned {sorted(map(repr, got))}"
    for pid in present:
        i = ds.index_of[pid]
        assert got[pid].payload == ds.payloads[i], f"payload of {pid!r} differs"
        assert_vector_equal(loaded.distance, got[pid].vector, ds.vectors[i], f"retrieve {pid!r}")
    recs = client.retrieve(loaded.name, ids=present[:3], with_payload=False, with_vectors=False)
    assert {r.id for r in recs} == set(present[:3])
    for r in recs:
        assert_payload_absent(r, f"retrieve {r.id!r}")
        assert_vector_absent(r, f"retrieve {r.id!r}")
    assert client.retrieve(loaded.name, ids=missing) == []


def test_get_single_point(client, loaded):
    """GET /collections/{name}/points/{id} through the client's generated API."""
    ds = loaded.ds
    for i in (3, 0, 2):  # int, uuid, u64 > i64::MAX
        pid = ds.ids[i]
        rec = client.http.points_api.get_point(collection_name=loaded.name, id=pid).result
        assert rec.id == pid
        assert rec.payload == ds.payloads[i]
        assert_vector_equal(loaded.distance, rec.vector, ds.vectors[i], f"get_point {pid!r}")
    for missing in (999_999_999, "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(UnexpectedResponse) as e:
            client.http.points_api.get_point(collection_name=loaded.name, id=missing)
        assert e.value.status_code == 404, f"get_point {missing!r}: {e.value}"


def test_scroll_whole_collection(client, loaded):
    ds = loaded.ds
    recs, pages = scroll_all(client, loaded.name, page=1000)
    got = [r.id for r in recs]
    assert len(got) == N_POINTS, f"scroll returned {len(got)} points"
    assert len(set(map(repr, got))) == N_POINTS, "scroll returned duplicates"
    assert set(got) == set(ds.ids)
    assert got == sorted(ds.ids, key=id_sort_key), "scroll not ordered by id (ints asc, then uuids)"
    for (_, page_ids, nxt), (next_off, next_ids, _) in zip(pages, pages[1:]):
        assert nxt == next_off
        assert next_ids[0] == nxt, f"next_page_offset {nxt!r} is not the next page's first id"
    assert pages[-1][2] is None
    # 9000 integer ids + 1000 uuids: the 10th page starts exactly at the first uuid
    assert isinstance(pages[9][0], str), pages[9][0]


def test_scroll_payload_vectors_and_uuid_offset(client, loaded):
    ds = loaded.ds
    recs, nxt = client.scroll(loaded.name, limit=50, with_payload=True, with_vectors=True)
    assert len(recs) == 50 and nxt is not None
    expected_first = sorted(ds.ids, key=id_sort_key)[:51]
    assert [r.id for r in recs] == expected_first[:50]
    assert nxt == expected_first[50]
    for r in recs:
        i = ds.index_of[r.id]
        assert r.payload == ds.payloads[i]
        assert_vector_equal(loaded.distance, r.vector, ds.vectors[i], f"scroll {r.id!r}")
    # offset inside the uuid range
    uuids = sorted((p for p in ds.ids if isinstance(p, str)), key=id_sort_key)
    recs, nxt = client.scroll(loaded.name, limit=20, offset=uuids[500], with_payload=False)
    assert [r.id for r in recs] == uuids[500:520]
    assert nxt == uuids[520]
    # offset id that does not exist: starts at the next existing id
    recs, _ = client.scroll(loaded.name, limit=3, offset=5, with_payload=False)
    ints = sorted(p for p in ds.ids if isinstance(p, int))
    assert [r.id for r in recs] == [p for p in ints if p >= 5][:3]


# ---------------------------------------------------------------------------
# Mutations on dedicated collections
# ---------------------------------------------------------------------------

def test_delete_points(client, dataset):
    name = "delete_coll"
    n = 2000
    client.create_collection(name, vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.DOT))
    upload(client, name, dataset, 0, n)
    assert count(client, name) == n
    del_idx = list(range(0, 300, 2))  # 150 points: 30 uuids, 120 ints incl. a big u64 id
    del_ids = [dataset.ids[i] for i in del_idx]
    res = client.delete(name, points_selector=models.PointIdsList(points=del_ids + [123456789]),
                        wait=True)
    assert res.status == models.UpdateStatus.COMPLETED
    assert count(client, name) == n - len(del_ids)
    assert client.get_collection(name).points_count == n - len(del_ids)
    assert client.retrieve(name, ids=del_ids) == []
    kept_idx = [i for i in range(n) if i not in set(del_idx)]
    kept_ids = [dataset.ids[i] for i in kept_idx]
    recs, _ = scroll_all(client, name, page=1000)
    assert [r.id for r in recs] == sorted(kept_ids, key=id_sort_key)
    with pytest.raises(UnexpectedResponse) as e:
        client.http.points_api.get_point(collection_name=name, id=del_ids[0])
    assert e.value.status_code == 404
    # a deleted point's own vector as query: it must not come back; the rest is exact
    kept_vecs = dataset.vectors[kept_idx]
    kept_index = {pid: j for j, pid in enumerate(kept_ids)}
    for api in SEARCH_APIS:
        for d in (0, 10, 2):
            q = dataset.vectors[d]
            pts = run_search(client, api, name, q, limit=10, with_payload=False)
            assert dataset.ids[d] not in [p.id for p in pts]
            assert_topk(pts, "Dot", kept_vecs, kept_ids, kept_index, q, 10,
                        what=f"{api} after delete, query = deleted point {dataset.ids[d]!r}")
    # re-insert one deleted point: it is back with its data
    upload(client, name, dataset, 0, 1)
    assert count(client, name) == n - len(del_ids) + 1
    [rec] = client.retrieve(name, ids=[dataset.ids[0]], with_vectors=True)
    assert rec.payload == dataset.payloads[0]
    assert_vector_equal("Dot", rec.vector, dataset.vectors[0], "re-inserted")
    assert client.delete_collection(name) is True


def test_upsert_overwrites_existing_point(client, dataset):
    name = "overwrite_coll"
    client.create_collection(name, vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.EUCLID))
    upload(client, name, dataset, 0, 100)
    new_vecs = dataset.vectors.copy()
    new_vecs[:20] = -new_vecs[:20] * 2
    new_payloads = list(dataset.payloads)
    new_payloads[:20] = [{"version": 2, "orig": i} for i in range(20)]
    upload(client, name, dataset, 0, 20, vectors=new_vecs, payloads=new_payloads)
    assert count(client, name) == 100
    recs = client.retrieve(name, ids=dataset.ids[:100], with_vectors=True)
    assert len(recs) == 100
    for r in recs:
        i = dataset.index_of[r.id]
        assert r.payload == new_payloads[i], f"{r.id!r} payload not replaced"
        assert_vector_equal("Euclid", r.vector, new_vecs[i], f"overwritten {r.id!r}")
    # search sees the new vectors, not the old ones
    q = new_vecs[5]
    pts = run_search(client, SEARCH_APIS[0], name, q, limit=10)
    assert_topk(pts, "Euclid", new_vecs[:100], dataset.ids[:100], dataset.index_of, q, 10,
                what="search after overwrite")
    assert pts[0].id == dataset.ids[5] and pts[0].score == pytest.approx(0.0, abs=1e-3)
    assert client.delete_collection(name) is True


def test_wait_false_is_acknowledged_then_visible(client, dataset):
    name = "async_coll"
    client.create_collection(name, vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.DOT))
    res = upload(client, name, dataset, 0, 1000, wait=False)
    assert all(r.status == models.UpdateStatus.ACKNOWLEDGED for r in res)
    deadline = time.monotonic() + 20
    while count(client, name) != 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count(client, name) == 1000, "wait=False upserts never became visible"
    recs = client.retrieve(name, ids=dataset.ids[:1000:97], with_vectors=True)
    assert len(recs) == len(dataset.ids[:1000:97])
    for r in recs:
        i = dataset.index_of[r.id]
        assert r.payload == dataset.payloads[i]
        assert_vector_equal("Dot", r.vector, dataset.vectors[i], f"async {r.id!r}")
    res = upload(client, name, dataset, 1000, 1100, wait=True)
    assert res[0].status == models.UpdateStatus.COMPLETED
    assert count(client, name) == 1100
    res = client.delete(name, points_selector=models.PointIdsList(points=dataset.ids[:10]),
                        wait=False)
    assert res.status == models.UpdateStatus.ACKNOWLEDGED
    deadline = time.monotonic() + 20
    while count(client, name) != 1090 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count(client, name) == 1090
    assert client.delete_collection(name) is True


def test_wrong_dimension_rejected(client, dataset):
    name = "dim_coll"
    client.create_collection(name, vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.COSINE))
    upload(client, name, dataset, 0, 100)
    bad = [
        [models.PointStruct(id=777001, vector=[0.5] * (DIM - 1), payload={"bad": 1})],
        [models.PointStruct(id=777002, vector=[0.5] * (DIM + 1))],
        models.Batch(ids=[777003, 777004], vectors=[[0.5] * DIM, [0.5] * 3]),
        [models.PointStruct(id=777005, vector=[])],
    ]
    for k, pts in enumerate(bad):
        with pytest.raises(UnexpectedResponse) as e:
            client.upsert(name, points=pts, wait=True)
        # Qdrant: "Wrong input: Vector dimension error" -> 400; an empty vector
        # may instead be refused by request validation (422).
        allowed = (400, 422) if k == len(bad) - 1 else (400,)
        assert e.value.status_code in allowed, f"wrong-dimension upsert #{k}: {e.value}"
    # nothing of the rejected requests was stored, the collection still works
    assert count(client, name) == 100
    assert client.retrieve(name, ids=[777001, 777002, 777005]) == []
    upload(client, name, dataset, 100, 101)
    assert count(client, name) == 101
    sub = dataset.vectors[:101]
    index_of = {pid: i for i, pid in enumerate(dataset.ids[:101])}
    for api in SEARCH_APIS:
        q = dataset.queries[3]
        pts = run_search(client, api, name, q, limit=10)
        assert_topk(pts, "Cosine", sub, dataset.ids[:101], index_of, q, 10,
                    what=f"{api} after rejected upserts")
    assert client.delete_collection(name) is True


def test_point_id_forms(client):
    """UUIDs in simple/uppercase form are accepted and returned canonical;
    invalid ids are rejected with 4xx and store nothing."""
    name = "ids_coll"
    client.create_collection(name, vectors_config=models.VectorParams(
        size=4, distance=models.Distance.DOT))
    canon = "936da01f-9abd-4d9d-80c7-02af85c822a8"
    client.upsert(name, points=[
        models.PointStruct(id="936DA01F9ABD4D9D80C702AF85C822A8", vector=[1.0, 2.0, 3.0, 4.0],
                           payload={"form": "simple-upper"}),
        models.PointStruct(id=0, vector=[4.0, 3.0, 2.0, 1.0], payload={"form": "zero"}),
    ], wait=True)
    recs = client.retrieve(name, ids=[canon, 0], with_vectors=True)
    got = {r.id: r for r in recs}
    assert set(got) == {canon, 0}, f"ids returned: {list(got)}"
    assert got[canon].payload == {"form": "simple-upper"}
    assert got[canon].vector == [1.0, 2.0, 3.0, 4.0]
    # same point addressed through another textual form
    recs = client.retrieve(name, ids=[canon.upper()])
    assert [r.id for r in recs] == [canon]
    for bad_id in ("not-a-uuid", -1):
        with pytest.raises(UnexpectedResponse) as e:
            client.upsert(name, points=[models.PointStruct(id=bad_id, vector=[1.0, 1.0, 1.0, 1.0])],
                          wait=True)
        assert 400 <= e.value.status_code < 500, f"id {bad_id!r}: {e.value}"
    assert count(client, name) == 2
    assert client.delete_collection(name) is True


def test_filters_are_not_silently_ignored(client, dataset):
    """Filters may be unsupported (4xx), but must never be ignored."""
    name = "filter_coll"
    n = 700
    client.create_collection(name, vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.DOT))
    upload(client, name, dataset, 0, n)
    flt = models.Filter(must=[models.FieldCondition(key="group", match=models.MatchValue(value=3))])
    match_idx = [i for i in range(n) if dataset.payloads[i]["group"] == 3]
    match_ids = [dataset.ids[i] for i in match_idx]

    def unsupported_or(fn, check, what):
        try:
            result = fn()
        except UnexpectedResponse as e:
            assert 400 <= e.status_code < 500, f"{what} with filter: expected 4xx or a correct result, got {e}"
            return
        check(result)

    def check_count(c):
        assert c == len(match_ids), (
            f"count with filter group==3 returned {c}, expected {len(match_ids)} (filter ignored?)")

    def check_scroll(recs):
        got = sorted((r.id for r in recs), key=id_sort_key)
        assert got == sorted(match_ids, key=id_sort_key), (
            f"scroll with filter group==3 returned {len(recs)} points, expected {len(match_ids)}")

    unsupported_or(lambda: client.count(name, count_filter=flt, exact=True).count,
                   check_count, "count")
    unsupported_or(lambda: client.scroll(name, scroll_filter=flt, limit=n, with_payload=False)[0],
                   check_scroll, "scroll")
    q = dataset.queries[4]
    sub_vecs = dataset.vectors[match_idx]
    sub_index = {pid: j for j, pid in enumerate(match_ids)}
    for api in SEARCH_APIS:
        unsupported_or(
            lambda: run_search(client, api, name, q, limit=10, with_payload=False,
                               query_filter=flt),
            lambda pts: assert_topk(pts, "Dot", sub_vecs, match_ids, sub_index, q, 10,
                                    what=f"{api} with filter group==3"),
            api)
    assert client.delete_collection(name) is True


# ---------------------------------------------------------------------------
# Named vectors
# ---------------------------------------------------------------------------

# ("image", "text") are the names used in Qdrant's own documentation; they are
# plain dense vectors here (arrays), not inference objects.
NAMED_PAIRS = {"docs-names": ("image", "text"), "neutral-names": ("dense_a", "dense_b")}


@pytest.mark.parametrize("names", list(NAMED_PAIRS))
@pytest.mark.parametrize("api", SEARCH_APIS)
def test_named_vectors(client, api, names):
    A, B = NAMED_PAIRS[names]
    name = f"named_coll_{api}_{names.replace('-', '_')}"
    n = 600
    rng = np.random.default_rng(SEED + 1)
    img = rng.standard_normal((n, 8), dtype=np.float32)
    txt = rng.standard_normal((n, 16), dtype=np.float32)
    ids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) if i % 5 == 0 else i + 1000
           for i in range(n)]
    index_of = {pid: i for i, pid in enumerate(ids)}
    payloads = [{"i": i, "kind": "named"} for i in range(n)]
    assert client.create_collection(name, vectors_config={
        A: models.VectorParams(size=8, distance=models.Distance.DOT),
        B: models.VectorParams(size=16, distance=models.Distance.COSINE),
    }) is True
    info = client.get_collection(name)
    vp = info.config.params.vectors
    assert isinstance(vp, dict) and set(vp) == {A, B}, vp
    assert (vp[A].size, vp[A].distance) == (8, models.Distance.DOT)
    assert (vp[B].size, vp[B].distance) == (16, models.Distance.COSINE)

    half = n // 2
    res = client.upsert(name, points=[
        models.PointStruct(id=ids[i], vector={A: img[i].tolist(), B: txt[i].tolist()},
                           payload=payloads[i]) for i in range(half)], wait=True)
    assert res.status == models.UpdateStatus.COMPLETED
    res = client.upsert(name, points=models.Batch(
        ids=ids[half:], vectors={A: img[half:].tolist(), B: txt[half:].tolist()},
        payloads=payloads[half:]), wait=True)
    assert res.status == models.UpdateStatus.COMPLETED
    assert count(client, name) == n

    for qi in range(3):
        qi_img = rng.standard_normal(8, dtype=np.float32)
        qi_txt = rng.standard_normal(16, dtype=np.float32)
        pts = run_search(client, api, name, qi_img, using=A, limit=10, with_vectors=True)
        assert_topk(pts, "Dot", img, ids, index_of, qi_img, 10, what=f"{api} using={A} q{qi}")
        pts = run_search(client, api, name, qi_txt, using=B, limit=10, with_payload=True)
        assert_topk(pts, "Cosine", txt, ids, index_of, qi_txt, 10, what=f"{api} using={B} q{qi}")
        for p in pts:
            assert p.payload == payloads[index_of[p.id]]

    pick = [ids[0], ids[1], ids[n - 1], ids[half]]
    recs = client.retrieve(name, ids=pick, with_vectors=True, with_payload=True)
    assert {r.id for r in recs} == set(pick)
    for r in recs:
        i = index_of[r.id]
        assert isinstance(r.vector, dict) and set(r.vector) == {A, B}, r.vector
        assert_vector_equal("Dot", r.vector[A], img[i], f"named {A} {r.id!r}")
        assert_vector_equal("Cosine", r.vector[B], txt[i], f"named {B} {r.id!r}")
        assert r.payload == payloads[i]

    # a vector name that does not exist is an error, not an empty result
    with pytest.raises(UnexpectedResponse) as e:
        run_search(client, api, name, np.ones(8, dtype=np.float32), using="nope", limit=3)
    assert 400 <= e.value.status_code < 500, str(e.value)
    assert client.delete_collection(name) is True


# ---------------------------------------------------------------------------
# Durability across restarts
# ---------------------------------------------------------------------------

def _snapshot(client, name):
    """id -> (float32 bytes of the vector, payload) as the server returns them."""
    recs, _ = scroll_all(client, name, page=1000, with_payload=True, with_vectors=True)
    return {r.id: (np.asarray(r.vector, dtype=np.float32).tobytes(), r.payload) for r in recs}


def _compare_snapshots(before: dict, after: dict, what: str):
    missing = [k for k in before if k not in after]
    extra = [k for k in after if k not in before]
    assert not missing, f"{what}: {len(missing)} acknowledged points lost, e.g. {missing[:5]}"
    assert not extra, f"{what}: {len(extra)} unexpected points appeared, e.g. {extra[:5]}"
    vec_diff = [k for k in before if before[k][0] != after[k][0]]
    assert not vec_diff, f"{what}: {len(vec_diff)} vectors not bit-identical, e.g. {vec_diff[:5]}"
    pay_diff = [k for k in before if before[k][1] != after[k][1]]
    assert not pay_diff, f"{what}: {len(pay_diff)} payloads differ, e.g. {pay_diff[:5]}"


@pytest.mark.parametrize("kill", [True, False], ids=["sigkill", "sigterm"])
def test_durability_across_restart(fresh_server, dataset, kill):
    srv = fresh_server
    c = make_client(srv.url)
    specs = {"dur_cosine": ("Cosine", 1), "dur_euclid": ("Euclid", 2)}
    expected = {}  # name -> {id: (vector sent, payload)}
    for name, (distance, shards) in specs.items():
        assert c.create_collection(name, vectors_config=models.VectorParams(
            size=DIM, distance=models.Distance(distance)), shard_number=shards) is True
        upload(c, name, dataset, 0, 3000)
        # overwrite 50 points, delete 50 others (all acknowledged with wait=True)
        new_vecs = dataset.vectors.copy()
        new_vecs[:50] += 1.0
        new_payloads = list(dataset.payloads)
        new_payloads[:50] = [{"rewritten": True, "i": i, "s": "ü" * (i % 4)} for i in range(50)]
        upload(c, name, dataset, 0, 50, vectors=new_vecs, payloads=new_payloads)
        res = c.delete(name, points_selector=models.PointIdsList(points=dataset.ids[100:150]),
                       wait=True)
        assert res.status == models.UpdateStatus.COMPLETED
        expected[name] = {dataset.ids[i]: (new_vecs[i], new_payloads[i])
                          for i in range(3000) if not 100 <= i < 150}

    def verify_against_expected(cl, snaps):
        for name, (distance, shards) in specs.items():
            exp = expected[name]
            assert count(cl, name) == len(exp), f"{name}: count"
            info = cl.get_collection(name)
            assert info.points_count == len(exp)
            assert info.config.params.vectors.size == DIM
            assert info.config.params.vectors.distance == models.Distance(distance)
            assert info.config.params.shard_number in ((None, 1) if shards == 1 else (shards,))
            assert set(snaps[name]) == set(exp), f"{name}: id set differs from acknowledged writes"
            for pid, (vb, payload) in snaps[name].items():
                vec, pay = exp[pid]
                assert payload == pay, f"{name}: payload of {pid!r}"
                assert_vector_equal(distance, np.frombuffer(vb, dtype=np.float32), vec,
                                    f"{name} {pid!r}")
            # search still exact after recovery
            ids = list(exp)
            vecs = np.stack([exp[p][0] for p in ids])
            index_of = {p: i for i, p in enumerate(ids)}
            q = dataset.queries[0]
            pts = run_search(cl, SEARCH_APIS[0], name, q, limit=10)
            assert_topk(pts, distance, vecs, ids, index_of, q, 10, what=f"{name} search")

    before = {name: _snapshot(c, name) for name in specs}
    verify_against_expected(c, before)
    c.close()

    kind = "SIGKILL" if kill else "SIGTERM"
    rc = srv.restart(kill=kill)
    if not kill:
        assert rc in (0, -signal.SIGTERM), f"server exit code after SIGTERM: {rc}"
    c = make_client(srv.url)
    names = {x.name for x in c.get_collections().collections}
    assert set(specs) <= names, f"collections after {kind} restart: {names}"
    after = {name: _snapshot(c, name) for name in specs}
    for name in specs:
        _compare_snapshots(before[name], after[name], f"{name} after {kind} restart")
    verify_against_expected(c, after)

    # second round on the recovered state: more writes, then restart again
    for name in specs:
        upload(c, name, dataset, 3000, 3500)
        res = c.delete(name, points_selector=models.PointIdsList(points=dataset.ids[200:220]),
                       wait=True)
        assert res.status == models.UpdateStatus.COMPLETED
        for i in range(3000, 3500):
            expected[name][dataset.ids[i]] = (dataset.vectors[i], dataset.payloads[i])
        for i in range(200, 220):
            expected[name].pop(dataset.ids[i], None)
    before = {name: _snapshot(c, name) for name in specs}
    verify_against_expected(c, before)
    c.close()
    srv.restart(kill=kill)
    c = make_client(srv.url)
    after = {name: _snapshot(c, name) for name in specs}
    for name in specs:
        _compare_snapshots(before[name], after[name], f"{name} after second {kind} restart")
    verify_against_expected(c, after)
    c.close()


@pytest.mark.skipif(client_flavor() == "old", reason="update_filter/update_mode arrived in newer clients")
def test_conditional_upsert_update_filter_and_mode(client):
    name = "conditional_coll"
    if client.collection_exists(name):
        client.delete_collection(name)
    client.create_collection(
        collection_name=name,
        vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT),
    )
    client.upsert(name, wait=True, points=[
        models.PointStruct(id=i, vector=[float(i), 1.0], payload={"tag": "old", "odd": i % 2 == 1})
        for i in range(1, 5)
    ])
    odd = models.Filter(must=[models.FieldCondition(key="odd", match=models.MatchValue(value=True))])
    client.upsert(name, wait=True, update_filter=odd, points=[
        models.PointStruct(id=i, vector=[0.0, 1.0], payload={"tag": "new"}) for i in (1, 2, 5)
    ])
    tags = {p.id: p.payload["tag"] for p in client.retrieve(name, ids=[1, 2, 3, 4, 5])}
    assert tags == {1: "new", 2: "old", 3: "old", 4: "old", 5: "new"}, tags

    client.upsert(name, wait=True, update_mode=models.UpdateMode.INSERT_ONLY, points=[
        models.PointStruct(id=i, vector=[0.0, 0.0], payload={"tag": "ins"}) for i in (3, 6)
    ])
    client.upsert(name, wait=True, update_mode=models.UpdateMode.UPDATE_ONLY, points=[
        models.PointStruct(id=i, vector=[0.0, 0.0], payload={"tag": "upd"}) for i in (4, 7)
    ])
    tags = {p.id: p.payload["tag"] for p in client.retrieve(name, ids=list(range(1, 8)))}
    assert tags == {1: "new", 2: "old", 3: "old", 4: "upd", 5: "new", 6: "ins"}, tags
    client.delete_collection(name)
