"""API keys: a role no higher than their creator's, an optional function scope and expiry;
owners see and revoke the namespace's keys, anyone else their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandlot.domain.models import Role
from tests.api.tenancy import add_membership, add_user, bearer, key_in
from tests.conftest import HELLO, Api


async def test_a_key_never_gets_a_role_above_its_creators(api: Api) -> None:
    _, owner = await key_in(api, "team", Role.OWNER)
    made = await api.client.post(
        "/api/v1/keys", json={"name": "ci", "role": "owner"}, headers=owner
    )
    assert made.status_code == 201 and made.json()["role"] == "owner"
    above = await api.client.post(
        "/api/v1/keys", json={"name": "x", "role": "admin"}, headers=owner
    )
    assert (above.status_code, above.json()["error"]) == (403, "RoleTooHigh")
    assert above.json()["detail"]["your_role"] == "owner"
    unknown = await api.client.post("/api/v1/keys", json={"name": "x", "role": "root"})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "InvalidRole")
    # A person may make keys for themselves, up to their own role.
    dana = await add_user(api, "dana")
    await add_membership(api, "team", dana, Role.DEVELOPER)
    _, danas = await key_in(api, "team", Role.DEVELOPER, user_id=dana)
    mine = await api.client.post("/api/v1/keys", json={"name": "laptop"}, headers=danas)
    assert mine.status_code == 201 and mine.json()["created_by"] == "dana"
    higher = await api.client.post(
        "/api/v1/keys", json={"name": "x", "role": "owner"}, headers=danas
    )
    assert (higher.status_code, higher.json()["error"]) == (403, "RoleTooHigh")


async def test_owners_see_every_key_others_their_own(api: Api) -> None:
    owner_id, owner = await key_in(api, "team", Role.OWNER, name="owner")
    dana = await add_user(api, "dana")
    danas_id, danas = await key_in(api, "team", Role.DEVELOPER, user_id=dana, name="dana 1")
    second = await api.client.post("/api/v1/keys", json={"name": "dana 2"}, headers=danas)
    invoker_id, invoker = await key_in(api, "team", Role.INVOKER, name="bot")
    listed = (await api.client.get("/api/v1/keys", headers=owner)).json()["items"]
    assert {k["name"] for k in listed} == {"owner", "dana 1", "dana 2", "bot"}
    assert all("key" not in k and "last_used_at" in k for k in listed)
    danas_list = (await api.client.get("/api/v1/keys", headers=danas)).json()["items"]
    assert {k["name"] for k in danas_list} == {"dana 1", "dana 2"}
    bots = (await api.client.get("/api/v1/keys", headers=invoker)).json()["items"]
    assert [k["id"] for k in bots] == [invoker_id]
    # Revoking: one's own always, others' with KEY_MANAGE (owners).
    others = await api.client.delete(f"/api/v1/keys/{owner_id}", headers=danas)
    assert (others.status_code, others.json()["error"]) == (403, "PermissionDenied")
    own = await api.client.delete(f"/api/v1/keys/{second.json()['id']}", headers=danas)
    assert own.status_code == 204
    assert (await api.client.delete(f"/api/v1/keys/{invoker_id}", headers=owner)).status_code == 204
    assert (await api.client.get("/api/v1/keys", headers=invoker)).status_code == 401
    # Another namespace's key is not found, and an owner cannot revoke the admin's key.
    _, outsider = await key_in(api, "elsewhere", Role.OWNER)
    hidden = await api.client.delete(f"/api/v1/keys/{danas_id}", headers=outsider)
    assert (hidden.status_code, hidden.json()["error"]) == (404, "ApiKeyNotFound")
    admin_id, _ = await key_in(api, "team", Role.ADMIN, name="platform")
    above = await api.client.delete(f"/api/v1/keys/{admin_id}", headers=owner)
    assert (above.status_code, above.json()["error"]) == (403, "RoleTooHigh")


async def test_expiry(api: Api) -> None:
    made = await api.client.post("/api/v1/keys", json={"name": "temp", "expires_in_days": 7})
    assert made.status_code == 201
    expires = datetime.fromisoformat(made.json()["expires_at"])
    assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)
    at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    assert (
        await api.client.post("/api/v1/keys", json={"name": "t", "expires_at": at})
    ).status_code == 201
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    for body in (
        {"name": "t", "expires_at": past},
        {"name": "t", "expires_at": at, "expires_in_days": 3},
        {"name": "t", "expires_at": "2030-01-01T00:00:00"},  # no time zone
    ):
        refused = await api.client.post("/api/v1/keys", json=body)
        assert (refused.status_code, refused.json()["error"]) == (400, "InvalidInput"), body


async def test_a_key_limited_to_one_function_sees_no_other(api: Api) -> None:
    for name in ("hello", "other"):
        assert (await api.deploy(name, HELLO)).status_code == 201
    other_call = (await api.invoke("other")).headers["X-Sandlot-Invocation-Id"]
    made = await api.client.post(
        "/api/v1/keys", json={"name": "hello only", "role": "developer", "functions": ["hello"]}
    )
    assert made.status_code == 201 and made.json()["functions"] == ["hello"]
    limited = bearer(made.json()["key"])
    ok = await api.client.post("/api/v1/functions/hello/invoke", headers=limited)
    assert ok.status_code == 200, ok.text
    listed = (await api.client.get("/api/v1/functions", headers=limited)).json()["items"]
    assert [f["name"] for f in listed] == ["hello"]
    for method, path in (
        ("GET", "/api/v1/functions/other"),
        ("POST", "/api/v1/functions/other/invoke"),
        ("GET", "/api/v1/functions/other/versions"),
        ("GET", "/api/v1/functions/other/versions/1"),
        ("GET", "/api/v1/functions/other/versions/1/code"),
        ("DELETE", "/api/v1/functions/other"),
    ):
        answer = await api.client.request(method, path, headers=limited)
        assert (answer.status_code, answer.json()["error"]) == (404, "FunctionNotFound"), path
    calls = (await api.client.get("/api/v1/invocations", headers=limited)).json()["items"]
    assert {c["function"] for c in calls} == {"hello"}
    by_name = await api.client.get(
        "/api/v1/invocations", params={"function": "other"}, headers=limited
    )
    assert by_name.json()["items"] == []
    for path in (f"/api/v1/invocations/{other_call}", f"/api/v1/invocations/{other_call}/logs"):
        answer = await api.client.get(path, headers=limited)
        assert (answer.status_code, answer.json()["error"]) == (404, "InvocationNotFound")
    # It makes no function outside its scope, and no key wider than itself.
    new = await api.client.post(
        "/api/v1/functions",
        data={"name": "third"},
        files={"code": ("c.zip", b"x")},
        headers=limited,
    )
    assert (new.status_code, new.json()["error"]) == (403, "PermissionDenied")
    assert (await api.client.get("/api/v1/functions/other")).status_code == 200  # still there


async def test_a_key_made_by_an_expiring_key_never_outlives_it(api: Api) -> None:
    made = await api.client.post(
        "/api/v1/keys", json={"name": "short", "role": "owner", "expires_in_days": 2}
    )
    short = bearer(made.json()["key"])
    ends = datetime.fromisoformat(made.json()["expires_at"])
    forever = await api.client.post("/api/v1/keys", json={"name": "child"}, headers=short)
    assert forever.status_code == 201
    assert datetime.fromisoformat(forever.json()["expires_at"]) == ends
    sooner = await api.client.post(
        "/api/v1/keys", json={"name": "child", "expires_in_days": 1}, headers=short
    )
    assert datetime.fromisoformat(sooner.json()["expires_at"]) < ends
