"""Aliases through the real app, on SQLite and PostgreSQL: `name:alias` calls, weighted and
sticky splits, records that say which alias and version served them, rollback, history."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.conftest import Api, zip_bytes

CODE = "def handler(event, context):\n    return {{'v': {n}}}\n"
CALLS = 200


async def _versions(api: Api, name: str, count: int) -> None:
    for number in range(1, count + 1):
        files = {"main.py": CODE.format(n=number)}
        if number == 1:
            deployed = await api.deploy(name, files)
        else:
            code = {"code": ("c.zip", zip_bytes(files), "application/zip")}
            deployed = await api.client.put(f"/api/v1/functions/{name}", files=code)
        assert deployed.status_code in (200, 201), deployed.text
        assert deployed.json()["latest_version"] == number, deployed.text


async def _call(api: Api, qualified: str, key: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-Sandlot-Routing-Key"] = key
    return await api.client.post(
        f"/api/v1/functions/{qualified}/invoke", content=b"{}", headers=headers
    )


async def test_a_split_holds_its_weights_keys_stick_and_records_say_alias_and_version(
    api: Api,
) -> None:
    await _versions(api, "hello", 2)
    base = "/api/v1/functions/hello/aliases"
    made = await api.client.put(f"{base}/prod", json={"version": 1})
    assert made.status_code == 201, made.text
    split = [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]
    changed = await api.client.put(f"{base}/prod", json={"routes": split})
    assert changed.status_code == 200, changed.text
    assert changed.json()["routes"] == [{"version": 2, "weight": 50}, {"version": 1, "weight": 50}]

    served: Counter[int] = Counter()
    for _ in range(CALLS):
        answer = await _call(api, "hello:prod")
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-sandlot-alias"] == "prod"
        assert answer.json()["v"] == int(answer.headers["x-sandlot-version"])
        served[answer.json()["v"]] += 1
    # Binomial(200, 0.5): sd ~7; 60..140 is more than five sd either side.
    assert 60 <= served[1] <= 140 and served[1] + served[2] == CALLS, served

    stuck = set()
    for key in (f"user-{n}" for n in range(8)):
        seen = {(await _call(api, "hello:prod", key)).json()["v"] for _ in range(4)}
        assert len(seen) == 1, (key, seen)
        stuck |= seen
    assert stuck <= {1, 2}

    queued = await api.client.post(
        "/api/v1/functions/hello:prod/invoke",
        json={},
        headers={"Prefer": "respond-async", "X-Sandlot-Routing-Key": "user-0"},
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["alias"] == "prod" and queued.headers["x-sandlot-alias"] == "prod"
    plain = await _call(api, "hello")
    assert plain.headers["x-sandlot-alias"] == "latest" and plain.json() == {"v": 2}
    pinned = await api.client.post("/api/v1/functions/hello/invoke?version=1", json={})
    assert "x-sandlot-alias" not in pinned.headers

    listed = await api.client.get("/api/v1/invocations?function=hello&alias=prod&limit=200")
    items = listed.json()["items"]
    assert {item["alias"] for item in items} == {"prod"}
    assert {item["version"] for item in items} == {1, 2}
    assert any(item["trigger"] == "async" for item in items)
    latest = await api.client.get("/api/v1/invocations?function=hello&alias=latest")
    assert [item["version"] for item in latest.json()["items"]] == [2]


async def _error(answer: Any, status: int, name: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == name, answer.text


async def test_bad_aliases_are_named_and_rollback_walks_the_history_back(api: Api) -> None:
    await _versions(api, "hello", 3)
    base = "/api/v1/functions/hello"
    put = api.client.put
    await _error(await put(f"{base}/aliases/latest", json={"version": 1}), 400, "InvalidAliasName")
    await _error(await put(f"{base}/aliases/Prod", json={"version": 1}), 400, "InvalidAliasName")
    uneven = {"routes": [{"version": 1, "weight": 50}, {"version": 2, "weight": 40}]}
    await _error(await put(f"{base}/aliases/prod", json=uneven), 400, "InvalidAliasRoutes")
    await _error(await put(f"{base}/aliases/prod", json={}), 400, "InvalidAliasRoutes")
    await _error(
        await put(f"{base}/aliases/prod", json={"version": 9}), 409, "AliasVersionNotReady"
    )
    await _error(await _call(api, "hello:nope"), 404, "AliasNotFound")
    await _error(await _call(api, "hello:No"), 400, "InvalidAliasName")
    await _error(await _call(api, "hello:prod", "k" * 257), 400, "InvalidRoutingKey")
    rollback = api.client.post
    await _error(await rollback(f"{base}/rollback", json={"alias": "prod"}), 404, "AliasNotFound")

    assert (await put(f"{base}/aliases/prod", json={"version": 1})).status_code == 201
    assert (await put(f"{base}/aliases/prod", json={"version": 2})).status_code == 200
    await _error(
        await rollback(f"{base}/rollback", json={"alias": "prod", "to": 7}),
        409,
        "AliasVersionNotReady",
    )
    back = await rollback(f"{base}/rollback", json={"alias": "prod"})
    assert back.status_code == 200 and back.json()["routes"] == [{"version": 1, "weight": 100}]
    await _error(
        await rollback(f"{base}/rollback", json={"alias": "prod"}), 409, "NothingToRollBack"
    )
    assert (await _call(api, "hello:prod")).json() == {"v": 1}

    latest = await rollback(f"{base}/rollback", json={})
    assert latest.json()["name"] == "latest" and latest.json()["builtin"] is True
    assert latest.json()["routes"] == [{"version": 2, "weight": 100}]
    assert (await _call(api, "hello")).json() == {"v": 2}

    aliases = (await api.client.get(f"{base}/aliases")).json()["items"]
    assert [(a["name"], a["routes"][0]["version"]) for a in aliases] == [("latest", 2), ("prod", 1)]
    history = (await api.client.get(f"{base}/history?limit=3")).json()
    assert [(e["alias"], e["reason"]) for e in history["items"]] == [
        ("latest", "rollback"),
        ("prod", "rollback"),
        ("prod", "set"),
    ]
    assert history["next_cursor"] is not None
    rest = (await api.client.get(f"{base}/history?cursor={history['next_cursor']}")).json()
    assert [(e["alias"], e["reason"]) for e in rest["items"]] == [
        ("prod", "set"),
        ("latest", "deploy"),
        ("latest", "deploy"),
        ("latest", "deploy"),
    ]
    assert rest["items"][-1]["before"] == [] and rest["next_cursor"] is None

    assert (await api.client.delete(f"{base}/aliases/prod")).status_code == 204
    await _error(await api.client.get(f"{base}/aliases/prod"), 404, "AliasNotFound")
    await _error(await api.client.delete(f"{base}/aliases/latest"), 400, "InvalidAliasName")
    audited = (await api.client.get("/api/v1/audit?action=alias.")).json()["items"]
    assert [(e["action"], e["target"]) for e in audited][:3] == [
        ("alias.delete", "function:hello:prod"),
        ("alias.rollback", "function:hello:latest"),
        ("alias.rollback", "function:hello:prod"),
    ]
