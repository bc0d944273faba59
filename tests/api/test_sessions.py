"""Browser sessions: cookie flags, CSRF, logout, idle and absolute expiry, login limits, the
same answer for a wrong name and a wrong password, and keys beside sessions."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from sandlot.storage.tables import SessionRow
from tests.api.identity_helpers import (
    ADMIN_PASSWORD,
    PASSWORD,
    Browser,
    bare,
    create_user,
    run_sql,
    session_cookie,
    sign_in,
)
from tests.conftest import ADMIN_KEY, Api, open_api


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    async with open_api(
        tmp_path / "data", database_url, bootstrap_admin_password=ADMIN_PASSWORD
    ) as opened:
        yield opened


async def test_login_cookie_flags_and_who_am_i(api: Api) -> None:
    async with bare(api) as client:
        answer = await client.post(
            "/api/v1/auth/login", json={"login": "admin", "password": ADMIN_PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        cookie = answer.headers["set-cookie"]
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "path", "samesite", "max-age"} <= flags
        assert "samesite=strict" in cookie.lower() and "path=/" in cookie.lower()
        assert "secure" not in flags  # served over plain HTTP
        body = answer.json()
        assert body["user"]["login"] == "admin" and "password_hash" not in body["user"]
        token = session_cookie(answer)
        assert token not in answer.text  # the token is only in the cookie
        me = await client.get("/api/v1/auth/me", headers={"Cookie": f"sandlot_session={token}"})
        assert me.status_code == 200, me.text
        assert me.json()["kind"] == "session" and me.json()["platform_admin"] is True
        assert me.json()["csrf_token"] == body["csrf_token"]
        assert me.json()["memberships"] == [{"namespace": "default", "role": "owner"}]
    async with bare(api, "https://sandlot.test") as secure:
        over_https = await secure.post(
            "/api/v1/auth/login", json={"login": "admin", "password": ADMIN_PASSWORD}
        )
        assert "secure" in over_https.headers["set-cookie"].lower()


async def test_csrf_is_needed_for_changes_made_with_the_cookie(api: Api) -> None:
    async with bare(api) as client:
        browser = await sign_in(client, "admin", ADMIN_PASSWORD)
        body = {"name": "from the console", "role": "invoker"}
        missing = await client.post("/api/v1/keys", json=body, headers=browser.headers(csrf=False))
        assert missing.status_code == 403 and missing.json()["error"] == "CsrfTokenInvalid"
        assert "X-CSRF-Token" in missing.json()["detail"]["message"]
        wrong = {**browser.headers(), "X-CSRF-Token": "not-the-token"}
        forged = await client.post("/api/v1/keys", json=body, headers=wrong)
        assert forged.status_code == 403 and forged.json()["error"] == "CsrfTokenInvalid"
        # Reads need no token; a change with it goes through.
        reads = await client.get("/api/v1/keys", headers=browser.headers(csrf=False))
        assert reads.status_code == 200
        made = await browser.request("POST", "/api/v1/keys", json=body)
        assert made.status_code == 201, made.text
        # An Authorization header decides alone: a valid cookie beside a wrong key is a 401.
        both = {**browser.headers(), "Authorization": "Bearer sl_wrong_key"}
        assert (await client.get("/api/v1/functions", headers=both)).status_code == 401
        # A bearer key needs no CSRF token.
        by_key = {"Authorization": f"Bearer {made.json()['key']}"}
        assert (await client.get("/api/v1/functions", headers=by_key)).status_code == 200


async def test_logout_ends_the_session(api: Api) -> None:
    async with bare(api) as client:
        browser = await sign_in(client, "admin", ADMIN_PASSWORD)
        unforged = await client.post("/api/v1/auth/logout", headers=browser.headers(csrf=False))
        assert unforged.status_code == 403
        out = await browser.request("POST", "/api/v1/auth/logout")
        assert out.status_code == 204
        cleared = out.headers["set-cookie"].lower()
        assert cleared.startswith('sandlot_session=""') and "max-age=0" in cleared
        after = await browser.request("GET", "/api/v1/auth/me")
        assert after.status_code == 401 and after.json()["error"] == "Unauthenticated"
        assert await run_sql(api, select(SessionRow)) == []


async def _backdate(api: Api, browser: Browser, **ago: timedelta) -> None:
    now = datetime.now(UTC)
    values = {column: now - delta for column, delta in ago.items()}
    mine = SessionRow.token_hash == hashlib.sha256(browser.token.encode()).hexdigest()
    assert len(await run_sql(api, select(SessionRow).where(mine))) == 1
    await run_sql(api, update(SessionRow).where(mine).values(**values))


async def test_idle_and_absolute_expiry(api: Api) -> None:
    async with bare(api) as client:
        # Idle: unused for longer than SANDLOT_SESSION_IDLE_MINUTES (60).
        idle = await sign_in(client, "admin", ADMIN_PASSWORD)
        await _backdate(api, idle, last_seen_at=timedelta(minutes=61))
        answer = await idle.request("GET", "/api/v1/auth/me")
        assert answer.status_code == 401 and "expired" in answer.json()["detail"]["message"]
        assert await run_sql(api, select(SessionRow)) == []  # and gone from the database
        # Absolute: started longer ago than SANDLOT_SESSION_MAX_HOURS (12), though used lately.
        busy = await sign_in(client, "admin", ADMIN_PASSWORD)
        await _backdate(api, busy, created_at=timedelta(hours=12, minutes=1))
        answer = await busy.request("GET", "/api/v1/auth/me")
        assert answer.status_code == 401 and "expired" in answer.json()["detail"]["message"]
        # Within both limits a session works, and its use moves last_seen_at (at most once a
        # minute: it was moved back two minutes).
        fresh = await sign_in(client, "admin", ADMIN_PASSWORD)
        await _backdate(api, fresh, last_seen_at=timedelta(minutes=2))
        assert (await fresh.request("GET", "/api/v1/auth/me")).status_code == 200
        ((seen,),) = await run_sql(api, select(SessionRow.last_seen_at))
        assert datetime.now(UTC) - seen < timedelta(minutes=1)


async def test_expired_sessions_are_swept_from_the_database(api: Api) -> None:
    async with bare(api) as client:
        stale = await sign_in(client, "admin", ADMIN_PASSWORD)
        await _backdate(api, stale, last_seen_at=timedelta(minutes=61))
        live = await sign_in(client, "admin", ADMIN_PASSWORD)
        await api.runtime.authenticator.run_once()
        assert len(await run_sql(api, select(SessionRow))) == 1
        assert (await live.request("GET", "/api/v1/auth/me")).status_code == 200


async def test_wrong_name_and_wrong_password_get_one_answer(api: Api) -> None:
    await create_user(api, "alice")
    async with bare(api) as client:
        answers = [
            await client.post("/api/v1/auth/login", json={"login": name, "password": password})
            for name, password in (
                ("alice", "not her password"),
                ("nobody", PASSWORD),
                ("Not A Login!", PASSWORD),
            )
        ]
        assert {answer.status_code for answer in answers} == {401}
        assert len({answer.text for answer in answers}) == 1
        assert answers[0].json()["error"] == "Unauthenticated"
        assert all("set-cookie" not in answer.headers for answer in answers)


async def test_logins_are_limited_per_account(tmp_path: Path, database_url: str) -> None:
    async with open_api(
        tmp_path / "data",
        database_url,
        bootstrap_admin_password=ADMIN_PASSWORD,
        login_account_limit="3/minute",
        login_address_limit="100/minute",
    ) as api:
        await create_user(api, "alice")
        await create_user(api, "bob")
        async with bare(api) as client:
            for _ in range(3):
                wrong = await client.post(
                    "/api/v1/auth/login", json={"login": "alice", "password": "guess-guess"}
                )
                assert wrong.status_code == 401
            # Now even the right password is refused, with a clear 429.
            limited = await client.post(
                "/api/v1/auth/login", json={"login": "alice", "password": PASSWORD}
            )
            assert limited.status_code == 429, limited.text
            assert limited.json()["error"] == "TooManyLoginAttempts"
            assert "account" in limited.json()["detail"]["message"]
            assert 1 <= int(limited.headers["retry-after"]) <= 60
            # Another account, from the same address, is not affected.
            await sign_in(client, "bob", PASSWORD)


async def test_logins_are_limited_per_address(tmp_path: Path, database_url: str) -> None:
    async with (
        open_api(
            tmp_path / "data",
            database_url,
            bootstrap_admin_password=ADMIN_PASSWORD,
            login_account_limit="100/minute",
            login_address_limit="3/minute",
        ) as api,
        bare(api) as client,
    ):
        for name in ("carol", "dave", "erin"):
            wrong = await client.post(
                "/api/v1/auth/login", json={"login": name, "password": "guess-guess"}
            )
            assert wrong.status_code == 401
        limited = await client.post(
            "/api/v1/auth/login", json={"login": "admin", "password": ADMIN_PASSWORD}
        )
        assert limited.status_code == 429 and "address" in limited.text
        assert limited.json()["error"] == "TooManyLoginAttempts"
        assert "retry-after" in limited.headers


async def test_stale_cookies_never_lock_out_the_address(tmp_path: Path, database_url: str) -> None:
    async with (
        open_api(
            tmp_path / "data",
            database_url,
            bootstrap_admin_password=ADMIN_PASSWORD,
            auth_failure_limit="3/minute",
        ) as api,
        bare(api) as client,
    ):
        for n in range(6):
            stale = {"Cookie": f"sandlot_session=stale-{n}"}
            answer = await client.get("/api/v1/functions", headers=stale)
            assert answer.status_code == 401, answer.text
        keyed = {"Authorization": f"Bearer {ADMIN_KEY}"}
        assert (await client.get("/api/v1/functions", headers=keyed)).status_code == 200
        # Wrong keys still are held against it.
        for _ in range(3):
            wrong = {"Authorization": "Bearer sl_bad_guess"}
            assert (await client.get("/api/v1/functions", headers=wrong)).status_code == 401
        assert (await client.get("/api/v1/functions", headers=keyed)).status_code == 429


async def test_the_lean_invoke_route_checks_the_csrf_token_too(api: Api) -> None:
    deployed = await api.deploy("hello", {"main.py": "def handler(e, c):\n    return 'hi'\n"})
    assert deployed.status_code == 201, deployed.text
    async with bare(api) as client:
        browser = await sign_in(client, "admin", ADMIN_PASSWORD)
        path = "/api/v1/functions/hello/invoke"
        forged = await client.post(path, headers=browser.headers(csrf=False), content=b"")
        assert forged.status_code == 403 and forged.json()["error"] == "CsrfTokenInvalid"
        called = await browser.request("POST", path, content=b"")
        assert called.status_code == 200 and called.json() == "hi"
