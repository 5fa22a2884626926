"""Named vectors created and deleted on a live collection through the unmodified PyPI
`qdrant-client` (`create_vector_name` / `delete_vector_name`, clients from 1.17 on): the
collection info lists them, existing points lack a new vector until it is written, searches
use it, and a deleted one is gone from the info, from every point and from searches.
"""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

pytestmark = pytest.mark.skipif(
    not hasattr(QdrantClient, "create_vector_name"),
    reason="this qdrant-client has no create_vector_name",
)

NAME = "vector_names"


def vector_names_of(client, point_id: int) -> list[str]:
    [record] = client.retrieve(NAME, [point_id], with_vectors=True)
    return sorted((record.vector or {}).keys())


def test_create_write_search_delete(client):
    if client.collection_exists(NAME):
        client.delete_collection(NAME)
    client.create_collection(
        NAME,
        vectors_config={"a": models.VectorParams(size=2, distance=models.Distance.DOT)},
    )
    client.upsert(
        NAME,
        [models.PointStruct(id=i, vector={"a": [float(i), 1.0]}) for i in range(1, 6)],
        wait=True,
    )

    r = client.create_vector_name(
        NAME,
        "d",
        models.DenseVectorNameConfig(
            dense=models.DenseVectorConfig(size=3, distance=models.Distance.EUCLID)
        ),
    )
    assert r.status == models.UpdateStatus.COMPLETED
    client.create_vector_name(
        NAME,
        "sp",
        models.SparseVectorNameConfig(
            sparse=models.SparseVectorConfig(modifier=models.Modifier.IDF)
        ),
    )
    info = client.get_collection(NAME)
    assert info.config.params.vectors["d"].size == 3
    assert info.config.params.vectors["d"].distance == models.Distance.EUCLID
    assert info.config.params.sparse_vectors["sp"].modifier == models.Modifier.IDF
    assert vector_names_of(client, 2) == ["a"]

    client.update_vectors(
        NAME,
        [
            models.PointVectors(
                id=2,
                vector={
                    "d": [0.0, 0.0, 2.0],
                    "sp": models.SparseVector(indices=[1], values=[1.0]),
                },
            ),
            models.PointVectors(id=3, vector={"d": [0.0, 0.0, 1.0]}),
        ],
        wait=True,
    )
    assert vector_names_of(client, 2) == ["a", "d", "sp"]
    hits = client.query_points(NAME, query=[0.0, 0.0, 1.0], using="d", limit=5).points
    assert [h.id for h in hits] == [3, 2]

    with pytest.raises(UnexpectedResponse) as e:
        client.create_vector_name(
            NAME,
            "d",
            models.DenseVectorNameConfig(
                dense=models.DenseVectorConfig(size=3, distance=models.Distance.DOT)
            ),
        )
    assert e.value.status_code == 400
    assert "already exists" in str(e.value)

    client.delete_vector_name(NAME, "a")
    info = client.get_collection(NAME)
    assert "a" not in info.config.params.vectors
    assert vector_names_of(client, 1) == []
    assert vector_names_of(client, 2) == ["d", "sp"]
    with pytest.raises(UnexpectedResponse) as e:
        client.query_points(NAME, query=[1.0, 0.0], using="a", limit=5)
    assert e.value.status_code == 400
    with pytest.raises(UnexpectedResponse) as e:
        client.delete_vector_name(NAME, "a")
    assert e.value.status_code == 400
    client.delete_collection(NAME)
