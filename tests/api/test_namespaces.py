"""Namespaces: created by the platform admin, renamed and deleted by their owners; deleting
one stops its functions, revokes its keys and keeps its history."""

from __future__ import annotations

from sqlalchemy import select

from sandlot.domain.models import Role
from sandlot.storage.tables import FunctionRow, InvocationRow
from tests.api.tenancy import add_membership, add_user, key_in
from tests.conftest import HELLO, Api, zip_bytes


async def test_the_platform_admin_creates_namespaces(api: Api) -> None:
    await add_user(api, "olivia")
    made = await api.client.post(
        "/api/v1/namespaces", json={"name": "team-a", "display_name": "Team A", "owner": "olivia"}
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["name"], body["display_name"], body["role"]) == ("team-a", "Team A", "admin")
    assert body["deleted_at"] is None and "quota" in body
    members = (await api.client.get("/api/v1/namespaces/team-a/members")).json()["items"]
    assert [(m["login"], m["role"]) for m in members] == [("olivia", "owner")]
    again = await api.client.post("/api/v1/namespaces", json={"name": "team-a"})
    assert (again.status_code, again.json()["error"]) == (409, "NamespaceAlreadyExists")
    bad = await api.client.post("/api/v1/namespaces", json={"name": "Team_A"})
    assert (bad.status_code, bad.json()["error"]) == (400, "InvalidInput")
    nobody = await api.client.post("/api/v1/namespaces", json={"name": "team-b", "owner": "zed"})
    assert (nobody.status_code, nobody.json()["error"]) == (404, "UserNotFound")
    # Nothing was made by the refused calls.
    names = [n["name"] for n in (await api.client.get("/api/v1/namespaces")).json()["items"]]
    assert names == ["default", "team-a"]


async def test_only_the_platform_admin_creates_and_sees_all(api: Api) -> None:
    _, owner = await key_in(api, "team-a", Role.OWNER)
    await key_in(api, "team-b", Role.OWNER)
    refused = await api.client.post("/api/v1/namespaces", json={"name": "mine"}, headers=owner)
    assert (refused.status_code, refused.json()["error"]) == (403, "PermissionDenied")
    listed = (await api.client.get("/api/v1/namespaces", headers=owner)).json()["items"]
    assert [(n["name"], n["role"]) for n in listed] == [("team-a", "owner")]
    shown = await api.client.get("/api/v1/namespaces/team-a", headers=owner)
    assert shown.status_code == 200 and shown.json()["role"] == "owner"
    for name in ("team-b", "no-such", "Not A Name"):
        hidden = await api.client.get(f"/api/v1/namespaces/{name}", headers=owner)
        assert (hidden.status_code, hidden.json()["error"]) == (404, "NamespaceNotFound")


async def test_owners_rename_others_may_not(api: Api) -> None:
    _, owner = await key_in(api, "team-a", Role.OWNER)
    _, developer = await key_in(api, "team-a", Role.DEVELOPER)
    _, outsider = await key_in(api, "team-b", Role.OWNER)
    path = "/api/v1/namespaces/team-a"
    renamed = await api.client.patch(path, json={"display_name": "The A team"}, headers=owner)
    assert renamed.status_code == 200 and renamed.json()["display_name"] == "The A team"
    denied = await api.client.patch(path, json={"display_name": "x"}, headers=developer)
    assert (denied.status_code, denied.json()["error"]) == (403, "PermissionDenied")
    hidden = await api.client.patch(path, json={"display_name": "x"}, headers=outsider)
    assert (hidden.status_code, hidden.json()["error"]) == (404, "NamespaceNotFound")
    gone = await api.client.delete(path, headers=developer)
    assert gone.status_code == 403
    assert (await api.client.get(path, headers=owner)).json()["display_name"] == "The A team"


async def test_the_default_namespace_cannot_be_deleted(api: Api) -> None:
    refused = await api.client.delete("/api/v1/namespaces/default")
    assert (refused.status_code, refused.json()["error"]) == (409, "DefaultNamespaceProtected")
    assert (await api.client.get("/api/v1/keys")).status_code == 200  # the admin key works


async def _deploy(api: Api, auth: dict[str, str], name: str) -> None:
    deployed = await api.client.post(
        "/api/v1/functions",
        data={"name": name},
        files={"code": ("code.zip", zip_bytes(HELLO), "application/zip")},
        headers=auth,
    )
    assert deployed.status_code == 201, deployed.text


async def test_deleting_a_namespace_stops_its_functions_and_keeps_history(api: Api) -> None:
    _, owner = await key_in(api, "doomed", Role.OWNER)
    await _deploy(api, owner, "doomed-fn")
    await _deploy(api, owner, "doomed-two")
    await api.deploy("survivor", HELLO)  # the admin's, in default
    invoked = await api.client.post("/api/v1/functions/doomed-fn/invoke", headers=owner)
    assert invoked.status_code == 200, invoked.text
    assert (await api.invoke("survivor")).status_code == 200
    assert api.runtime.pool.stats().per_function.get("doomed-fn", 0) >= 1  # a warm instance

    deleted = await api.client.delete("/api/v1/namespaces/doomed", headers=owner)
    assert deleted.status_code == 204, deleted.text

    assert api.runtime.pool.stats().per_function.get("doomed-fn", 0) == 0  # stopped
    assert api.runtime.pool.stats().per_function.get("survivor", 0) >= 1  # untouched
    again = await api.client.post("/api/v1/functions/doomed-fn/invoke", headers=owner)
    assert again.status_code == 401  # its keys are revoked
    assert (await api.invoke("survivor")).status_code == 200
    # Gone for everyone; the platform admin still lists it, and its history stays.
    assert "doomed" not in [
        n["name"] for n in (await api.client.get("/api/v1/namespaces")).json()["items"]
    ]
    listed = await api.client.get("/api/v1/namespaces", params={"include_deleted": True})
    [doomed] = [n for n in listed.json()["items"] if n["name"] == "doomed"]
    assert doomed["deleted_at"] is not None
    # Gone from paths, as after any delete.
    shown = await api.client.get("/api/v1/namespaces/doomed")
    assert (shown.status_code, shown.json()["error"]) == (404, "NamespaceNotFound")
    kept = await api.client.get("/api/v1/namespaces/doomed", params={"include_deleted": True})
    assert kept.status_code == 200 and kept.json()["deleted_at"] is not None
    async with api.runtime.database.sessions() as session:
        functions = (await session.scalars(select(FunctionRow))).all()
        by_name = {row.name: row for row in functions}
        assert by_name["doomed-fn"].deleted_at is not None
        assert by_name["doomed-two"].deleted_at is not None
        assert by_name["survivor"].deleted_at is None
        await api.runtime.recorder.run_once()
        calls = (await session.scalars(select(InvocationRow.function_name))).all()
        assert "doomed-fn" in calls  # the history stays
    # Its name stays taken, so the history never mixes two namespaces.
    reused = await api.client.post("/api/v1/namespaces", json={"name": "doomed"})
    assert (reused.status_code, reused.json()["error"]) == (409, "NamespaceAlreadyExists")
    twice = await api.client.delete("/api/v1/namespaces/doomed")
    assert (twice.status_code, twice.json()["error"]) == (404, "NamespaceNotFound")


async def test_a_person_reads_the_namespaces_they_belong_to(api: Api) -> None:
    dana = await add_user(api, "dana")
    _, danas = await key_in(api, "team-a", Role.DEVELOPER, user_id=dana)
    await add_membership(api, "team-a", dana, Role.DEVELOPER)
    await key_in(api, "team-b", Role.OWNER)  # makes team-b
    await key_in(api, "team-c", Role.OWNER)  # dana is no member of this one
    await add_membership(api, "team-b", dana, Role.OWNER)
    listed = (await api.client.get("/api/v1/namespaces", headers=danas)).json()["items"]
    assert [(n["name"], n["role"]) for n in listed] == [
        ("team-a", "developer"),
        ("team-b", "owner"),
    ]
    shown = await api.client.get("/api/v1/namespaces/team-b", headers=danas)
    assert shown.status_code == 200 and shown.json()["role"] == "owner"
    hidden = await api.client.get("/api/v1/namespaces/team-c", headers=danas)
    assert (hidden.status_code, hidden.json()["error"]) == (404, "NamespaceNotFound")
    # Changing it needs acting in it: her key of team-a does not wield her role in team-b.
    elsewhere = await api.client.patch(
        "/api/v1/namespaces/team-b", json={"display_name": "B"}, headers=danas
    )
    assert (elsewhere.status_code, elsewhere.json()["error"]) == (403, "PermissionDenied")
    assert "X-Sandlot-Namespace" in elsewhere.json()["detail"]["message"]
