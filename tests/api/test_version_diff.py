"""The version diff through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sandlot.domain.models import Role
from tests.api.tenancy import key_in
from tests.conftest import HELLO, Api, zip_bytes

V2 = {
    "main.py": "def handler(event, context):\n    return 'v2'\n",
    "helper.py": "X = 1\n",
}


async def _diff(api: Api, number: int, **params: int) -> dict[str, Any]:
    answer = await api.client.get(f"/api/v1/functions/fn/versions/{number}/diff", params=params)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_code_and_configuration_against_the_previous_version(api: Api) -> None:
    created = await api.deploy("fn", HELLO, env='{"TOKEN": "s3cret-one", "KEEP": "k"}')
    assert created.status_code == 201, created.text
    updated = await api.client.put(
        "/api/v1/functions/fn",
        files={"code": ("c.zip", zip_bytes(V2), "application/zip")},
        data={"memory_mb": "512", "env": '{"TOKEN": "s3cret-two", "KEEP": "k", "NEW": "n"}'},
    )
    assert updated.status_code == 200, updated.text
    diff = await _diff(api, 2)
    assert (diff["number"], diff["against"]) == (2, 1)
    assert [(f["path"], f["status"]) for f in diff["files"]] == [
        ("helper.py", "added"),
        ("main.py", "changed"),
    ]
    main = diff["files"][1]["diff"]
    assert "+    return 'v2'\n" in main and main.startswith("--- a/main.py")
    memory = [change for change in diff["config"] if change["field"] == "memory_mb"]
    assert memory == [{"field": "memory_mb", "before": 256, "after": 512}]
    assert diff["env"] == {"added": ["NEW"], "removed": [], "changed": ["TOKEN"]}
    assert "s3cret" not in str(diff)  # names only, never values
    assert diff["truncated"] is False and diff["dependencies_changed"] is False
    # Against an explicit version, either way round; and v1 against nothing.
    back = await _diff(api, 1, against=2)
    assert [(f["path"], f["status"]) for f in back["files"]] == [
        ("helper.py", "removed"),
        ("main.py", "changed"),
    ]
    first = await _diff(api, 1)
    assert first["against"] is None
    assert [f["status"] for f in first["files"]] == ["added"]
    assert {change["field"] for change in first["config"]} >= {"handler", "memory_mb"}
    same = await _diff(api, 2, against=2)
    assert [f["status"] for f in same["files"]] == ["same", "same"] and same["config"] == []


async def test_missing_versions_and_other_namespaces_are_404s(api: Api) -> None:
    await api.deploy("fn", HELLO)
    for url, error in (
        ("/api/v1/functions/fn/versions/2/diff", "VersionNotFound"),
        ("/api/v1/functions/fn/versions/1/diff?against=9", "VersionNotFound"),
        ("/api/v1/functions/nope/versions/1/diff", "FunctionNotFound"),
    ):
        answer = await api.client.get(url)
        assert (answer.status_code, answer.json()["error"]) == (404, error), url
    _, stranger = await key_in(api, "elsewhere", Role.OWNER)
    hidden = await api.client.get("/api/v1/functions/fn/versions/1/diff", headers=stranger)
    assert (hidden.status_code, hidden.json()["error"]) == (404, "FunctionNotFound")
    _, viewer = await key_in(api, "default", Role.VIEWER)
    seen = await api.client.get("/api/v1/functions/fn/versions/1/diff", headers=viewer)
    assert seen.status_code == 200
