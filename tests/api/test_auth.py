"""Keys: 401 without one, 404 across namespaces, roles, revocation."""

from __future__ import annotations

import httpx

from tests.conftest import HELLO, Api


async def test_missing_or_wrong_key_is_401(api: Api) -> None:
    bare = httpx.AsyncClient(transport=api.client._transport, base_url="http://sandlot.test")
    async with bare:
        missing = await bare.get("/api/v1/functions")
        assert missing.status_code == 401
        assert missing.json()["error"] == "Unauthenticated"
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = await bare.get("/api/v1/functions", headers={"Authorization": "Bearer sl_x_nope"})
        assert wrong.status_code == 401
        basic = await bare.get("/api/v1/functions", headers={"Authorization": "Basic abc"})
        assert basic.status_code == 401
        assert (await bare.get("/healthz")).status_code == 200


async def test_roles_and_revocation(api: Api) -> None:
    await api.deploy("hello", HELLO)
    created = await api.client.post("/api/v1/keys", json={"name": "caller", "role": "invoker"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    invoker = {"Authorization": f"Bearer {key}"}
    ok = await api.client.post("/api/v1/functions/hello/invoke", headers=invoker, content=b"")
    assert ok.status_code == 200
    denied = await api.client.post(
        "/api/v1/functions", headers=invoker, json={"name": "x", "code_base64": ""}
    )
    assert denied.status_code == 403 and denied.json()["error"] == "PermissionDenied"
    # Not an owner: it sees only itself, and may make no keys.
    own = (await api.client.get("/api/v1/keys", headers=invoker)).json()["items"]
    assert [k["id"] for k in own] == [created.json()["id"]]
    made = await api.client.post("/api/v1/keys", headers=invoker, json={"name": "more"})
    assert (made.status_code, made.json()["error"]) == (403, "PermissionDenied")
    listed = (await api.client.get("/api/v1/keys")).json()["items"]
    assert {k["name"] for k in listed} == {"bootstrap admin", "caller"}
    assert all("key" not in k for k in listed)
    revoked = await api.client.delete(f"/api/v1/keys/{created.json()['id']}")
    assert revoked.status_code == 204
    after = await api.client.post("/api/v1/functions/hello/invoke", headers=invoker, content=b"")
    assert after.status_code == 401


async def test_other_namespaces_never_see_a_function(api: Api) -> None:
    # A second namespace exists only through storage: create it and a key directly.
    from sandlot.domain.ids import hash_api_key
    from sandlot.domain.models import Role
    from sandlot.storage.db import make_engine, make_sessionmaker
    from sandlot.storage.keys import ApiKeyRepo, NamespaceRepo

    await api.deploy("private", HELLO)
    engine = make_engine(api.settings.resolved_database_url)
    async with make_sessionmaker(engine).begin() as session:
        other = await NamespaceRepo(session).create("other-team")
        await ApiKeyRepo(session).create(
            namespace_id=other.id,
            name="theirs",
            role=Role.OWNER,
            prefix="other",
            key_hash=hash_api_key("sl_other_secret"),
        )
    await engine.dispose()
    theirs = {"Authorization": "Bearer sl_other_secret"}
    for response in (
        await api.client.get("/api/v1/functions/private", headers=theirs),
        await api.client.post("/api/v1/functions/private/invoke", headers=theirs, content=b""),
        await api.client.delete("/api/v1/functions/private", headers=theirs),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "FunctionNotFound"
    assert (await api.client.get("/api/v1/functions", headers=theirs)).json()["items"] == []
