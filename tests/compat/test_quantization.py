"""Quantization through the unmodified PyPI `qdrant-client`: collections created with
ScalarQuantization, BinaryQuantization and ProductQuantization report their config, get
quantized codes for their segments, and answer searches with QuantizationSearchParams
(rescored hits carry exact scores and match the exact top 10 closely); update_collection
switches quantization off and on, per collection and per vector.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from qdrant_client import models

from conftest import ServerProcess, make_client, server_binary

DIM = 32
N_POINTS = 3_000
BATCH = 500
N_QUERIES = 10
LIMIT = 10
BUILD_TIMEOUT_S = 120.0
SEED = 20251125


@pytest.fixture(scope="module")
def qclient():
    """A server that writes a segment every 1 000 points, so codes get built."""
    srv = ServerProcess(server_binary(), name="quant-server")
    srv.config_path = srv.tmp / "config.toml"
    srv.config_path.write_text(
        "[storage]\nsegment_flush_points = 1000\nwal_preallocate_bytes = 1048576\n"
    )
    try:
        srv.start()
    except BaseException:
        srv.close()
        raise
    c = make_client(srv.url)
    yield c
    c.close()
    srv.close()


def data():
    rng = np.random.default_rng(SEED)
    return rng.standard_normal((N_POINTS, DIM)).astype(np.float32)


def fill(client, name: str, quantization, vectors_config=None):
    client.create_collection(
        name,
        vectors_config=vectors_config or models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        shard_number=1,
        hnsw_config=models.HnswConfigDiff(m=16, ef_construct=64, full_scan_threshold=10),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=10),
        quantization_config=quantization,
    )
    xs = data()
    for start in range(0, N_POINTS, BATCH):
        client.upsert(
            name,
            points=[
                models.PointStruct(id=i, vector=xs[i].tolist())
                for i in range(start, start + BATCH)
            ],
            wait=True,
        )
    deadline = time.time() + BUILD_TIMEOUT_S
    while True:
        info = client.get_collection(name)
        if info.status == models.CollectionStatus.GREEN and info.indexed_vectors_count >= 2_000:
            return info
        assert time.time() < deadline, f"not built: {info}"
        time.sleep(0.1)


def hits(client, name, q, params):
    res = client.query_points(name, query=q.tolist(), limit=LIMIT, search_params=params)
    return [(p.id, p.score) for p in res.points]


def check(client, name, quant_params, recall_min):
    rng = np.random.default_rng(SEED + 1)
    same = 0
    for _ in range(N_QUERIES):
        q = rng.standard_normal(DIM).astype(np.float32)
        exact = dict(hits(client, name, q, models.SearchParams(exact=True)))
        got = hits(client, name, q, models.SearchParams(quantization=quant_params))
        assert len(got) == LIMIT
        for pid, score in got:
            if pid in exact:
                assert score == pytest.approx(exact[pid], rel=1e-4, abs=1e-5)
                same += 1
        ignored = hits(
            client, name, q,
            models.SearchParams(quantization=models.QuantizationSearchParams(ignore=True)),
        )
        assert len(ignored) == LIMIT
    recall = same / (N_QUERIES * LIMIT)
    assert recall >= recall_min, f"{name}: recall {recall}"


def test_scalar_quantization(qclient):
    q = models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
    )
    info = fill(qclient, "q_scalar", q)
    sq = info.config.quantization_config
    assert sq.scalar.type == models.ScalarType.INT8
    assert sq.scalar.quantile == pytest.approx(0.99)
    check(qclient, "q_scalar", models.QuantizationSearchParams(rescore=True), 0.85)
    check(qclient, "q_scalar", models.QuantizationSearchParams(oversampling=2.0), 0.9)


def test_binary_quantization(qclient):
    q = models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=True))
    info = fill(qclient, "q_binary", q)
    assert info.config.quantization_config.binary is not None
    check(qclient, "q_binary", models.QuantizationSearchParams(rescore=True, oversampling=16.0), 0.8)


def test_product_quantization(qclient):
    q = models.ProductQuantization(
        product=models.ProductQuantizationConfig(compression=models.CompressionRatio.X8)
    )
    info = fill(qclient, "q_product", q)
    assert info.config.quantization_config.product.compression == models.CompressionRatio.X8
    check(qclient, "q_product", models.QuantizationSearchParams(oversampling=4.0), 0.8)


def test_update_and_per_vector(qclient):
    per_vector = models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8)
    )
    qclient.create_collection(
        "q_named",
        vectors_config={
            "a": models.VectorParams(size=DIM, distance=models.Distance.DOT, quantization_config=per_vector),
            "b": models.VectorParams(size=DIM, distance=models.Distance.EUCLID),
        },
    )
    info = qclient.get_collection("q_named")
    assert info.config.params.vectors["a"].quantization_config.scalar.type == models.ScalarType.INT8
    assert info.config.params.vectors["b"].quantization_config is None
    assert info.config.quantization_config is None
    qclient.update_collection(
        "q_named",
        quantization_config=models.BinaryQuantization(binary=models.BinaryQuantizationConfig()),
    )
    info = qclient.get_collection("q_named")
    assert info.config.quantization_config.binary is not None
    qclient.update_collection("q_named", quantization_config=models.Disabled.DISABLED)
    assert qclient.get_collection("q_named").config.quantization_config is None
    qclient.update_collection(
        "q_named",
        vectors_config={"a": models.VectorParamsDiff(quantization_config=models.Disabled.DISABLED)},
    )
    info = qclient.get_collection("q_named")
    assert info.config.params.vectors["a"].quantization_config is None
