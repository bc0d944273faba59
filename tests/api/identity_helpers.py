"""Helpers for the identity tests: sign in over the API, and make namespaces and memberships
directly in storage (their routes belong to the tenancy part)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from sandlot.domain.ids import hash_api_key, new_api_key
from sandlot.domain.models import Role
from sandlot.storage.db import make_engine, make_sessionmaker
from sandlot.storage.keys import NamespaceRepo
from sandlot.storage.tables import ApiKeyRow
from sandlot.storage.users import UserRepo
from tests.conftest import Api

ADMIN_PASSWORD = "admin-password-for-tests"
PASSWORD = "correct horse battery"


def bare(api: Api, base_url: str = "http://sandlot.test") -> httpx.AsyncClient:
    """A client of the same app that sends no key."""
    return httpx.AsyncClient(transport=api.client._transport, base_url=base_url)


class Browser:
    """A signed-in session: its cookie and CSRF token, sent by hand on each request."""

    def __init__(self, client: httpx.AsyncClient, token: str, csrf: str) -> None:
        self.client, self.token, self.csrf = client, token, csrf

    def headers(self, *, csrf: bool = True, namespace: str | None = None) -> dict[str, str]:
        headers = {"Cookie": f"sandlot_session={self.token}"}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        if namespace is not None:
            headers["X-Sandlot-Namespace"] = namespace
        return headers

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {
            **self.headers(namespace=kwargs.pop("namespace", None)),
            **kwargs.pop("headers", {}),
        }
        return await self.client.request(method, path, headers=headers, **kwargs)


def session_cookie(response: httpx.Response) -> str:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == "sandlot_session":
            return rest.split(";", 1)[0]
    raise AssertionError(f"no session cookie in {response.headers}")


async def sign_in(client: httpx.AsyncClient, login: str, password: str) -> Browser:
    answer = await client.post("/api/v1/auth/login", json={"login": login, "password": password})
    assert answer.status_code == 200, answer.text
    return Browser(client, session_cookie(answer), answer.json()["csrf_token"])


async def create_user(api: Api, login: str, password: str = PASSWORD) -> dict[str, Any]:
    made = await api.client.post("/api/v1/users", json={"login": login, "password": password})
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


async def namespace_with_member(api: Api, namespace: str, login: str, role: Role) -> str:
    """Make `namespace` (if needed) and give user `login` `role` in it; returns its id."""
    engine = make_engine(api.settings.resolved_database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            namespaces = NamespaceRepo(session)
            found = await namespaces.get_by_name(namespace) or await namespaces.create(namespace)
            users = UserRepo(session)
            user = await users.get(login)
            await users.add_membership(namespace_id=found.id, user_id=user.id, role=role)
            return found.id
    finally:
        await engine.dispose()


async def key_of_user(
    api: Api, login: str, namespace_id: str, role: Role, expires_at: datetime | None = None
) -> str:
    """An API key made by `login` (written directly: the keys route is the tenancy part's)."""
    key, prefix = new_api_key()
    engine = make_engine(api.settings.resolved_database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            user = await UserRepo(session).get(login)
            session.add(
                ApiKeyRow(
                    id=str(uuid.uuid4()),
                    namespace_id=namespace_id,
                    name=f"{login}'s key",
                    role=role.value,
                    prefix=prefix,
                    key_hash=hash_api_key(key),
                    created_at=datetime.now(UTC),
                    user_id=user.id,
                    expires_at=expires_at,
                )
            )
    finally:
        await engine.dispose()
    return key


async def run_sql(api: Api, statement: Any) -> list[Any]:
    """Run one statement on the test's database, as someone with a copy of it could; the
    rows of a SELECT, else []."""
    engine = make_engine(api.settings.resolved_database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            result = await session.execute(statement)
            return list(result.all()) if statement.is_select else []
    finally:
        await engine.dispose()
