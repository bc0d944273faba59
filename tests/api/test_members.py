"""Members: owners manage them; a namespace never loses its last owner."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text, update

from sandlot.domain.models import Role
from sandlot.storage.db import make_engine
from sandlot.storage.tables import MembershipRow
from tests.api.tenancy import Auth, add_membership, add_user, key_in
from tests.conftest import Api

MEMBERS = "/api/v1/namespaces/team/members"


@pytest.fixture
async def owner(api: Api) -> Auth:
    """Olivia owns `team`; her owner key acts for her."""
    olivia = await add_user(api, "olivia")
    made = await api.client.post("/api/v1/namespaces", json={"name": "team", "owner": "olivia"})
    assert made.status_code == 201, made.text
    _, auth = await key_in(api, "team", Role.OWNER, user_id=olivia)
    return auth


async def test_owners_add_change_and_remove_members(api: Api, owner: Auth) -> None:
    await add_user(api, "dana")
    added = await api.client.post(
        MEMBERS, json={"login": "dana", "role": "developer"}, headers=owner
    )
    assert added.status_code == 201, added.text
    assert (added.json()["login"], added.json()["role"]) == ("dana", "developer")
    changed = await api.client.patch(f"{MEMBERS}/dana", json={"role": "viewer"}, headers=owner)
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    listed = (await api.client.get(MEMBERS, headers=owner)).json()["items"]
    assert [(m["login"], m["role"]) for m in listed] == [("dana", "viewer"), ("olivia", "owner")]
    assert (await api.client.delete(f"{MEMBERS}/dana", headers=owner)).status_code == 204
    listed = (await api.client.get(MEMBERS, headers=owner)).json()["items"]
    assert [m["login"] for m in listed] == ["olivia"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("POST", "", {"login": "dana", "role": "boss"}, 400, "InvalidRole"),
        ("POST", "", {"login": "dana", "role": "admin"}, 400, "InvalidRole"),
        ("POST", "", {"login": "nobody", "role": "viewer"}, 404, "UserNotFound"),
        ("POST", "", {"login": "olivia", "role": "viewer"}, 409, "MemberAlreadyExists"),
        ("PATCH", "/dana", {"role": "viewer"}, 404, "MemberNotFound"),
        ("PATCH", "/nobody", {"role": "viewer"}, 404, "UserNotFound"),
        ("PATCH", "/olivia", {"role": "owner-ish"}, 400, "InvalidRole"),
        ("PATCH", "/olivia", {"role": "developer"}, 409, "LastNamespaceOwner"),
        ("DELETE", "/olivia", None, 409, "LastNamespaceOwner"),
        ("DELETE", "/dana", None, 404, "MemberNotFound"),
    ],
)
async def test_named_errors(
    api: Api, owner: Auth, method: str, path: str, body: object, status: int, error: str
) -> None:
    await add_user(api, "dana")  # a user, not a member
    answer = await api.client.request(method, MEMBERS + path, json=body, headers=owner)
    assert (answer.status_code, answer.json()["error"]) == (status, error), answer.text
    listed = (await api.client.get(MEMBERS, headers=owner)).json()["items"]
    assert [(m["login"], m["role"]) for m in listed] == [("olivia", "owner")]  # unchanged


async def test_the_last_owner_may_leave_once_there_is_another(api: Api, owner: Auth) -> None:
    await add_user(api, "omar")
    added = await api.client.post(MEMBERS, json={"login": "omar", "role": "owner"}, headers=owner)
    assert added.status_code == 201
    assert (
        await api.client.patch(f"{MEMBERS}/olivia", json={"role": "viewer"}, headers=owner)
    ).status_code == 200
    # Omar is now the only owner: the platform admin cannot demote him either.
    last = await api.client.delete(f"{MEMBERS}/omar")
    assert (last.status_code, last.json()["error"]) == (409, "LastNamespaceOwner")


async def test_only_owners_of_this_namespace_manage_members(api: Api, owner: Auth) -> None:
    dana = await add_user(api, "dana")
    await add_membership(api, "team", dana, Role.DEVELOPER)
    _, developer = await key_in(api, "team", Role.DEVELOPER, user_id=dana)
    _, outsider = await key_in(api, "elsewhere", Role.OWNER)
    for auth, status, error in (
        (developer, 403, "PermissionDenied"),
        (outsider, 404, "NamespaceNotFound"),
    ):
        for method, path, body in (
            ("GET", "", None),
            ("POST", "", {"login": "dana", "role": "owner"}),
            ("PATCH", "/olivia", {"role": "viewer"}),
            ("DELETE", "/olivia", None),
        ):
            answer = await api.client.request(method, MEMBERS + path, json=body, headers=auth)
            assert (answer.status_code, answer.json()["error"]) == (status, error), answer.text


async def _lock_waiters(url: str) -> int:
    """Backends of this database waiting for a row lock (PostgreSQL)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            query = (
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return int((await conn.execute(text(query))).scalar_one())
    finally:
        await engine.dispose()


# PostgreSQL only: SQLite runs one writer at a time, so the race needs PostgreSQL's.
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_owners_demoting_each_other_at_once_leave_one(
    api: Api, owner: Auth, database_url: str
) -> None:
    omar = await add_user(api, "omar")
    await add_membership(api, "team", omar, Role.OWNER)
    _, omars = await key_in(api, "team", Role.OWNER, user_id=omar)
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            # Olivia's demotion of Omar, in a transaction held open here...
            held = await conn.begin()
            await conn.execute(
                update(MembershipRow)
                .where(MembershipRow.user_id == omar)
                .values(role=Role.VIEWER.value)
            )
            # ...while Omar demotes Olivia through the API.
            call = asyncio.ensure_future(
                api.client.patch(f"{MEMBERS}/olivia", json={"role": "viewer"}, headers=omars)
            )
            while not call.done() and await _lock_waiters(database_url) == 0:
                await asyncio.sleep(0.01)  # until the call waits for the owner rows, or ends
            await held.commit()
            answer: httpx.Response = await call
    finally:
        await engine.dispose()
    assert (answer.status_code, answer.json()["error"]) == (409, "LastNamespaceOwner")
    listed = (await api.client.get(MEMBERS, headers=owner)).json()["items"]
    assert [(m["login"], m["role"]) for m in listed] == [("olivia", "owner"), ("omar", "viewer")]


async def test_a_members_keys_never_outlast_their_role(api: Api, owner: Auth) -> None:
    dana = await add_user(api, "dana")
    await add_membership(api, "team", dana, Role.DEVELOPER)
    _, developer_key = await key_in(api, "team", Role.DEVELOPER, user_id=dana)
    _, viewer_key = await key_in(api, "team", Role.VIEWER, user_id=dana)
    _, others = await key_in(api, "team", Role.DEVELOPER)  # nobody's: untouched
    for auth in (developer_key, viewer_key, others):
        assert (await api.client.get("/api/v1/functions", headers=auth)).status_code == 200
    demoted = await api.client.patch(f"{MEMBERS}/dana", json={"role": "viewer"}, headers=owner)
    assert demoted.status_code == 200
    assert (await api.client.get("/api/v1/functions", headers=developer_key)).status_code == 401
    assert (await api.client.get("/api/v1/functions", headers=viewer_key)).status_code == 200
    assert (await api.client.delete(f"{MEMBERS}/dana", headers=owner)).status_code == 204
    assert (await api.client.get("/api/v1/functions", headers=viewer_key)).status_code == 401
    assert (await api.client.get("/api/v1/functions", headers=others)).status_code == 200
