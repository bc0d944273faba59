"""Users and who acts where: managing users, passwords, the bootstrap admin, namespace
selection, and that a disabled user's sessions and keys, and an expired key, stop at once."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sandlot.domain.models import Role
from sandlot.storage.tables import ApiKeyRow, UserRow
from tests.api.identity_helpers import (
    ADMIN_PASSWORD,
    PASSWORD,
    bare,
    create_user,
    key_of_user,
    namespace_with_member,
    run_sql,
    sign_in,
)
from tests.conftest import HELLO, Api, open_api, zip_bytes


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    async with open_api(
        tmp_path / "data", database_url, bootstrap_admin_password=ADMIN_PASSWORD
    ) as opened:
        yield opened


async def test_create_list_and_show_users_never_with_a_hash(api: Api) -> None:
    made = await create_user(api, "alice")
    assert made["login"] == "alice" and made["disabled"] is False
    assert "password" not in str(made) and "hash" not in str(made)
    again = await api.client.post("/api/v1/users", json={"login": "alice", "password": PASSWORD})
    assert again.status_code == 409 and again.json()["error"] == "UserAlreadyExists"
    listed = (await api.client.get("/api/v1/users")).json()["items"]
    assert [user["login"] for user in listed] == ["admin", "alice"]
    shown = await api.client.get("/api/v1/users/admin")
    assert shown.json()["memberships"] == [{"namespace": "default", "role": "owner"}]
    assert "$argon2" not in shown.text
    missing = await api.client.get("/api/v1/users/nobody")
    assert missing.status_code == 404 and missing.json()["error"] == "UserNotFound"
    ((stored,),) = await run_sql(api, select(UserRow.password_hash).where(UserRow.login == "alice"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("", "empty"),
        ("short", "5 characters"),
        ("aaaaaaaaaaaa", "one character repeated"),
        ("frederick-the-great", "the login name"),
        ("x" * 257, "more than 256"),
    ],
)
async def test_a_weak_password_says_what_is_required(api: Api, password: str, problem: str) -> None:
    login = "frederick-the-great"
    answer = await api.client.post("/api/v1/users", json={"login": login, "password": password})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "WeakPassword"
    message = answer.json()["detail"]["message"]
    assert problem in message and "10 to 256 characters" in message
    if password:
        assert password not in answer.text


async def test_a_bad_login_name_is_named(api: Api) -> None:
    for login in ("A", "Alice", "1abc", "a b", "a" * 65):
        answer = await api.client.post("/api/v1/users", json={"login": login, "password": PASSWORD})
        assert answer.status_code in (400, 422), (login, answer.text)
        assert answer.json()["error"] in ("InvalidInput", "ValidationError")


async def test_only_the_platform_admin_manages_users(api: Api) -> None:
    await create_user(api, "alice")
    await namespace_with_member(api, "default", "alice", Role.DEVELOPER)
    async with bare(api) as client:
        alice = await sign_in(client, "alice", PASSWORD)
        for method, path, body in (
            ("GET", "/api/v1/users", None),
            ("POST", "/api/v1/users", {"login": "mallory", "password": PASSWORD}),
            ("PATCH", "/api/v1/users/admin", {"disabled": True}),
            ("POST", "/api/v1/users/admin/password", {"new_password": "mallory-was-here"}),
        ):
            answer = await alice.request(method, path, json=body)
            assert answer.status_code == 403, (method, path, answer.text)
            assert answer.json()["error"] == "PermissionDenied"


async def test_passwords_reset_by_the_admin_and_changed_by_oneself(api: Api) -> None:
    await create_user(api, "alice")
    reset = await api.client.post(
        "/api/v1/users/alice/password", json={"new_password": "a brand new secret"}
    )
    assert reset.status_code == 204, reset.text
    async with bare(api) as client:
        old = await client.post("/api/v1/auth/login", json={"login": "alice", "password": PASSWORD})
        assert old.status_code == 401
        alice = await sign_in(client, "alice", "a brand new secret")
        other = await sign_in(client, "alice", "a brand new secret")
        wrong = await alice.request(
            "POST",
            "/api/v1/users/alice/password",
            json={"new_password": "another new one", "current_password": "not it at all"},
        )
        assert wrong.status_code == 401
        changed = await alice.request(
            "POST",
            "/api/v1/users/alice/password",
            json={"new_password": "another new one", "current_password": "a brand new secret"},
        )
        assert changed.status_code == 204, changed.text
        # A new password ends her other sessions, not the one she changed it with.
        assert (await alice.request("GET", "/api/v1/auth/me")).status_code == 200
        assert (await other.request("GET", "/api/v1/auth/me")).status_code == 401
        await sign_in(client, "alice", "another new one")


async def test_a_session_of_one_namespace_never_reaches_another(api: Api) -> None:
    await create_user(api, "alice")
    await namespace_with_member(api, "team-a", "alice", Role.DEVELOPER)
    await namespace_with_member(api, "team-b", "admin", Role.OWNER)
    # The platform admin key acts in any namespace it names.
    code = {"code": ("code.zip", zip_bytes(HELLO), "application/zip")}
    in_b = await api.client.post(
        "/api/v1/functions",
        data={"name": "theirs"},
        files=code,
        headers={"X-Sandlot-Namespace": "team-b"},
    )
    assert in_b.status_code == 201, in_b.text
    async with bare(api) as client:
        alice = await sign_in(client, "alice", PASSWORD)
        mine = await alice.request("POST", "/api/v1/functions", data={"name": "mine"}, files=code)
        assert mine.status_code == 201, mine.text
        assert (await alice.request("POST", "/api/v1/functions/mine/invoke")).status_code == 200
        for method, path in (
            ("GET", "/api/v1/functions/theirs"),
            ("POST", "/api/v1/functions/theirs/invoke"),
            ("DELETE", "/api/v1/functions/theirs"),
        ):
            answer = await alice.request(method, path)
            assert answer.status_code == 404 and answer.json()["error"] == "FunctionNotFound"
        # Naming the other namespace is the same 404 as naming none that exists.
        named = await alice.request("GET", "/api/v1/functions", namespace="team-b")
        unknown = await alice.request("GET", "/api/v1/functions", namespace="no-such-team")
        assert named.status_code == unknown.status_code == 404
        assert named.json()["error"] == unknown.json()["error"] == "NamespaceNotFound"
        assert named.text.replace("team-b", "X") == unknown.text.replace("no-such-team", "X")
        # A header that is no namespace name is a validation error, on the lean invoke route
        # as on the others.
        for path in ("/api/v1/functions/mine/invoke", "/api/v1/functions"):
            bad = await alice.request("POST", path, namespace="Not A Name", json={})
            assert bad.status_code == 422 and bad.json()["error"] == "ValidationError", path
        # Her own by name works; the admin's session reaches team-b by name.
        own = await alice.request("GET", "/api/v1/functions", namespace="team-a")
        assert [f["name"] for f in own.json()["items"]] == ["mine"]
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)
        theirs = await admin.request("GET", "/api/v1/functions", namespace="team-b")
        assert [f["name"] for f in theirs.json()["items"]] == ["theirs"]
    # A key that is not a platform admin's acts in its own namespace only.
    team_a = await namespace_with_member(api, "team-c", "alice", Role.INVOKER)
    key = await key_of_user(api, "alice", team_a, Role.INVOKER)
    async with bare(api) as client:
        headers = {"Authorization": f"Bearer {key}", "X-Sandlot-Namespace": "team-a"}
        assert (await client.get("/api/v1/functions", headers=headers)).status_code == 404


async def test_a_disabled_users_session_and_keys_stop_at_once(api: Api) -> None:
    await create_user(api, "alice")
    namespace_id = await namespace_with_member(api, "team-a", "alice", Role.DEVELOPER)
    key = await key_of_user(api, "alice", namespace_id, Role.DEVELOPER)
    by_key = {"Authorization": f"Bearer {key}"}
    async with bare(api) as client:
        alice = await sign_in(client, "alice", PASSWORD)
        # Both work, and both are now in this server's caches.
        assert (await alice.request("GET", "/api/v1/functions")).status_code == 200
        assert (await client.get("/api/v1/functions", headers=by_key)).status_code == 200
        disabled = await api.client.patch("/api/v1/users/alice", json={"disabled": True})
        assert disabled.status_code == 200 and disabled.json()["disabled"] is True
        assert (await alice.request("GET", "/api/v1/functions")).status_code == 401
        assert (await client.get("/api/v1/functions", headers=by_key)).status_code == 401
        refused = await client.post(
            "/api/v1/auth/login", json={"login": "alice", "password": PASSWORD}
        )
        assert refused.status_code == 401
        enabled = await api.client.patch("/api/v1/users/alice", json={"disabled": False})
        assert enabled.json()["disabled"] is False
        assert (await client.get("/api/v1/functions", headers=by_key)).status_code == 200
        await sign_in(client, "alice", PASSWORD)


async def test_an_expired_key_is_refused_and_use_is_recorded(api: Api) -> None:
    await create_user(api, "alice")
    namespace_id = await namespace_with_member(api, "team-a", "alice", Role.DEVELOPER)
    past = datetime.now(UTC) - timedelta(seconds=1)
    expired = await key_of_user(api, "alice", namespace_id, Role.DEVELOPER, expires_at=past)
    future = datetime.now(UTC) + timedelta(days=1)
    live = await key_of_user(api, "alice", namespace_id, Role.DEVELOPER, expires_at=future)
    async with bare(api) as client:
        answer = await client.get(
            "/api/v1/functions", headers={"Authorization": f"Bearer {expired}"}
        )
        assert answer.status_code == 401 and "expired" in answer.json()["detail"]["message"]
        for _ in range(3):
            ok = await client.get("/api/v1/functions", headers={"Authorization": f"Bearer {live}"})
            assert ok.status_code == 200
    # Noted in memory, written by the batch: alice's live key and the admin's, once each.
    assert await api.runtime.authenticator.usage.run_once() == 2
    rows = await run_sql(
        api,
        select(ApiKeyRow.expires_at, ApiKeyRow.last_used_at).where(ApiKeyRow.user_id.is_not(None)),
    )
    used = {expires > datetime.now(UTC): when for expires, when in rows}
    assert used[False] is None  # the expired key was never used
    assert used[True] is not None and datetime.now(UTC) - used[True] < timedelta(minutes=1)


async def test_the_bootstrap_admin_password_is_saved_0600_and_printed_once(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    async with open_api(data, database_url) as api:
        password_file = api.settings.admin_password_path
        password = password_file.read_text().strip()
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        assert len(password) >= 20
        async with bare(api) as client:
            await sign_in(client, "admin", password)
    first = capsys.readouterr().err
    assert first.count(password) == 1 and "platform admin" in first
    async with open_api(data, database_url):
        pass
    assert password not in capsys.readouterr().err


async def test_a_given_bootstrap_password_is_neither_saved_nor_printed(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with open_api(
        tmp_path / "data", database_url, bootstrap_admin_password=ADMIN_PASSWORD
    ) as api:
        assert not api.settings.admin_password_path.exists()
    assert ADMIN_PASSWORD not in capsys.readouterr().err


async def test_a_weaker_hash_is_upgraded_at_sign_in(api: Api) -> None:
    from argon2 import PasswordHasher
    from sqlalchemy import update

    await create_user(api, "alice")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    await run_sql(api, update(UserRow).where(UserRow.login == "alice").values(password_hash=weak))
    async with bare(api) as client:
        await sign_in(client, "alice", PASSWORD)
    ((stored,),) = await run_sql(api, select(UserRow.password_hash).where(UserRow.login == "alice"))
    assert stored != weak and not PasswordHasher().check_needs_rehash(stored)


async def test_who_am_i_with_a_key(api: Api) -> None:
    me = await api.client.get("/api/v1/auth/me")
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["kind"] == "key" and body["platform_admin"] is True
    assert body["memberships"] == [{"namespace": "default", "role": "admin"}]
    assert body["csrf_token"] is None
    # A key's logout is not a thing: it is revoked instead.
    assert (await api.client.post("/api/v1/auth/logout")).status_code == 400


async def test_a_deleted_namespace_is_not_found_and_its_keys_stop(api: Api) -> None:
    from sqlalchemy import update

    from sandlot.storage.tables import NamespaceRow

    await create_user(api, "alice")
    namespace_id = await namespace_with_member(api, "team-a", "alice", Role.DEVELOPER)
    await namespace_with_member(api, "team-b", "alice", Role.DEVELOPER)
    key = await key_of_user(api, "alice", namespace_id, Role.DEVELOPER)
    await run_sql(
        api,
        update(NamespaceRow)
        .where(NamespaceRow.name == "team-a")
        .values(deleted_at=datetime.now(UTC)),
    )
    api.runtime.authenticator.forget_namespace("team-a")  # what deleting one will call
    named = await api.client.get("/api/v1/functions", headers={"X-Sandlot-Namespace": "team-a"})
    assert named.status_code == 404 and named.json()["error"] == "NamespaceNotFound"
    async with bare(api) as client:
        by_key = await client.get("/api/v1/functions", headers={"Authorization": f"Bearer {key}"})
        assert by_key.status_code == 401
        alice = await sign_in(client, "alice", PASSWORD)
        assert (
            await alice.request("GET", "/api/v1/functions", namespace="team-a")
        ).status_code == 404
        me = await alice.request("GET", "/api/v1/auth/me")
        assert me.json()["memberships"] == [{"namespace": "team-b", "role": "developer"}]
        # Without the header she acts in her first live namespace.
        assert (await alice.request("GET", "/api/v1/functions")).status_code == 200


async def test_a_user_in_no_namespace_yet_can_still_sign_in_and_change_the_password(
    api: Api,
) -> None:
    await create_user(api, "newcomer")
    async with bare(api) as client:
        newcomer = await sign_in(client, "newcomer", PASSWORD)
        me = await newcomer.request("GET", "/api/v1/auth/me")
        assert me.status_code == 200 and me.json()["memberships"] == []
        nowhere = await newcomer.request("GET", "/api/v1/functions")
        assert nowhere.status_code == 404 and nowhere.json()["error"] == "NamespaceNotFound"
        assert "not a member of any namespace" in nowhere.json()["detail"]["message"]
        changed = await newcomer.request(
            "POST",
            "/api/v1/users/newcomer/password",
            json={"new_password": "my very own now", "current_password": PASSWORD},
        )
        assert changed.status_code == 204, changed.text
        others = await newcomer.request(
            "POST", "/api/v1/users/admin/password", json={"new_password": "taken over!!"}
        )
        assert others.status_code == 403
        await sign_in(client, "newcomer", "my very own now")


async def test_a_display_name_changes_and_the_admin_cannot_disable_itself(api: Api) -> None:
    await create_user(api, "alice")
    renamed = await api.client.patch("/api/v1/users/alice", json={"display_name": "Alice L."})
    assert renamed.status_code == 200 and renamed.json()["display_name"] == "Alice L."
    async with bare(api) as client:
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)
        itself = await admin.request("PATCH", "/api/v1/users/admin", json={"disabled": True})
        assert itself.status_code == 403 and itself.json()["error"] == "PermissionDenied"
