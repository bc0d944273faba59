"""Every `$ref` of the OpenAPI document points at something in it: the console's types are
generated from this document (`make ui`), and openapi-typescript refuses a dangling one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.conftest import Api


def _refs(node: Any, where: str = "#") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield where, value
            else:
                yield from _refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, f"{where}/{index}")


def _resolves(document: dict[str, Any], ref: str) -> bool:
    if not ref.startswith("#/"):
        return False  # the document refers to nothing outside itself
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


async def test_every_reference_resolves(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    refs = list(_refs(document))
    assert refs  # the walk found the document's references at all
    dangling = [(where, ref) for where, ref in refs if not _resolves(document, ref)]
    assert not dangling, dangling
