"""Every role against every route, on a real server (SQLite and PostgreSQL).

The routes come from the running server's OpenAPI document; each must have a row in `ROUTES`,
so a route added without saying who may call it fails here. Each row says what the route needs
(the lowest role that may call it) and what it names (a function, an invocation, a key, a
namespace), which decides what the callers that must not see it get: a key limited to another
function, and a member of another namespace, get the 404 of something that does not exist.

Every principal gets resources of its own (its function, its invocation, a key and a member
to act on), so that one caller's allowed delete never turns another's request into a 404.
People and their keys are written to the server's database directly, until the identity
part's routes make them.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain.models import Role
from sandlot.storage.db import make_engine, make_sessionmaker
from tests.api.destination_world import failed_delivery
from tests.api.tenancy import Auth, add_membership, add_user, bearer, key_in
from tests.conftest import ADMIN_KEY, HELLO, LiveServer, start_server, stop_server, zip_bytes

# A person who signs in through the login route, with this password.
SIGN_IN_USER, PASSWORD = "signs-in", "correct horse battery staple"

# What a route needs: anyone at all, or at least this role.
PUBLIC = "public"
READ, INVOKE, WRITE, OWN, ADMIN = "viewer", "invoker", "developer", "owner", "admin"
# What a route names, and the 404 that callers who must not see it get.
FUNCTION, NEW_FUNCTION, INVOCATION, KEY, NAMESPACE, SECRET, SECRETS = (
    "function",
    "new-function",
    "invocation",
    "key",
    "namespace",
    "secret",
    "secrets",
)
HIDDEN = {
    SECRET: "SecretNotFound",
    FUNCTION: "FunctionNotFound",
    INVOCATION: "InvocationNotFound",
    KEY: "ApiKeyNotFound",
    NAMESPACE: "NamespaceNotFound",
}


@dataclass(frozen=True)
class Rule:
    needs: str
    names: str | None = None
    # Anonymous callers get the public answer; credentials are checked when given (/readyz).
    anonymous_ok: bool = False


ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule(PUBLIC),
    ("GET", "/readyz"): Rule(ADMIN, anonymous_ok=True),
    ("GET", "/metrics"): Rule(ADMIN),
    ("GET", "/api/v1/functions"): Rule(READ),
    ("POST", "/api/v1/functions"): Rule(WRITE, NEW_FUNCTION),
    ("PUT", "/api/v1/functions/{name}"): Rule(WRITE, FUNCTION),
    ("GET", "/api/v1/functions/{name}"): Rule(READ, FUNCTION),
    ("DELETE", "/api/v1/functions/{name}"): Rule(WRITE, FUNCTION),
    ("GET", "/api/v1/functions/{name}/versions"): Rule(READ, FUNCTION),
    ("GET", "/api/v1/functions/{name}/metrics"): Rule(READ, FUNCTION),
    ("GET", "/api/v1/function-stats"): Rule(READ),
    ("GET", "/api/v1/functions/{name}/versions/{number}"): Rule(READ, FUNCTION),
    ("GET", "/api/v1/functions/{name}/versions/{number}/code"): Rule(READ, FUNCTION),
    ("GET", "/api/v1/functions/{name}/versions/{number}/files"): Rule(READ, FUNCTION),
    ("GET", "/api/v1/functions/{name}/versions/{number}/build-log"): Rule(READ, FUNCTION),
    ("GET", "/api/v1/functions/{name}/logs/stream"): Rule(READ, FUNCTION),
    ("POST", "/api/v1/functions/{name}/invoke"): Rule(INVOKE, FUNCTION),
    ("GET", "/api/v1/functions/{name}/versions/{number}/diff"): Rule(READ, FUNCTION),
    ("GET", "/api/v1/functions/{name}/test-events"): Rule(READ, FUNCTION),
    ("PUT", "/api/v1/functions/{name}/test-events/{event_name}"): Rule(WRITE, FUNCTION),
    ("DELETE", "/api/v1/functions/{name}/test-events/{event_name}"): Rule(WRITE, FUNCTION),
    ("GET", "/api/v1/functions/{name}/url"): Rule(READ, FUNCTION),
    ("PUT", "/api/v1/functions/{name}/url"): Rule(WRITE, FUNCTION),
    ("DELETE", "/api/v1/functions/{name}/url"): Rule(WRITE, FUNCTION),
    ("GET", "/api/v1/functions/{name}/aliases"): Rule(READ, FUNCTION),
    ("GET", "/api/v1/functions/{name}/aliases/{alias}"): Rule(READ, FUNCTION),
    ("PUT", "/api/v1/functions/{name}/aliases/{alias}"): Rule(WRITE, FUNCTION),
    ("DELETE", "/api/v1/functions/{name}/aliases/{alias}"): Rule(WRITE, FUNCTION),
    ("POST", "/api/v1/functions/{name}/rollback"): Rule(WRITE, FUNCTION),
    ("GET", "/api/v1/functions/{name}/history"): Rule(READ, FUNCTION),
    ("GET", "/api/v1/invocations"): Rule(READ),
    ("GET", "/api/v1/invocations/{invocation_id}"): Rule(READ, INVOCATION),
    ("GET", "/api/v1/invocations/{invocation_id}/logs"): Rule(READ, INVOCATION),
    # Anyone lists their own keys and makes keys for themselves (a person's keys, here).
    ("GET", "/api/v1/keys"): Rule(READ),
    ("POST", "/api/v1/keys"): Rule(READ),
    # The victim is someone else's key: that needs an owner (one's own needs nothing).
    ("DELETE", "/api/v1/keys/{key_id}"): Rule(OWN, KEY),
    ("GET", "/api/v1/environments"): Rule(ADMIN),
    ("POST", "/api/v1/environments/prune"): Rule(ADMIN),
    ("GET", "/api/v1/pool"): Rule(ADMIN),
    ("GET", "/api/v1/workers"): Rule(ADMIN),
    # One process, nobody registered: the admin gets 409 WorkerNotDrainable.
    ("POST", "/api/v1/workers/{worker_id}/drain"): Rule(ADMIN),
    ("POST", "/api/v1/namespaces"): Rule(ADMIN),
    ("GET", "/api/v1/namespaces"): Rule(READ),
    ("GET", "/api/v1/namespaces/{namespace}"): Rule(READ, NAMESPACE),
    ("PATCH", "/api/v1/namespaces/{namespace}"): Rule(OWN, NAMESPACE),
    # `default`, which nobody may delete: the allowed get DefaultNamespaceProtected (409).
    ("DELETE", "/api/v1/namespaces/{namespace}"): Rule(OWN, NAMESPACE),
    ("GET", "/api/v1/namespaces/{namespace}/members"): Rule(OWN, NAMESPACE),
    ("POST", "/api/v1/namespaces/{namespace}/members"): Rule(OWN, NAMESPACE),
    ("PATCH", "/api/v1/namespaces/{namespace}/members/{login}"): Rule(OWN, NAMESPACE),
    ("DELETE", "/api/v1/namespaces/{namespace}/members/{login}"): Rule(OWN, NAMESPACE),
    ("GET", "/api/v1/quota"): Rule(READ),
    ("GET", "/api/v1/namespaces/{namespace}/quota"): Rule(READ, NAMESPACE),
    ("PUT", "/api/v1/namespaces/{namespace}/quota"): Rule(ADMIN, NAMESPACE),
    ("GET", "/api/v1/namespaces/{namespace}/egress"): Rule(READ, NAMESPACE),
    ("PUT", "/api/v1/namespaces/{namespace}/egress"): Rule(ADMIN, NAMESPACE),
    # Owners read their namespace's audit log (an outsider, its own namespace's).
    ("GET", "/api/v1/audit"): Rule(OWN),
    # Secrets are the namespace's: a key limited to some functions may not touch them.
    ("GET", "/api/v1/secrets"): Rule(WRITE, SECRETS),
    ("GET", "/api/v1/secrets/{name}"): Rule(WRITE, SECRET),
    ("PUT", "/api/v1/secrets/{name}"): Rule(WRITE, SECRETS),
    ("DELETE", "/api/v1/secrets/{name}"): Rule(WRITE, SECRET),
    ("POST", "/api/v1/secret-key/rotate"): Rule(ADMIN),
    # People: the platform admin's; signing in is for anyone with a password.
    ("GET", "/api/v1/users"): Rule(ADMIN),
    ("POST", "/api/v1/users"): Rule(ADMIN),
    ("GET", "/api/v1/users/{login}"): Rule(ADMIN),
    ("PATCH", "/api/v1/users/{login}"): Rule(ADMIN),
    ("POST", "/api/v1/users/{login}/password"): Rule(ADMIN),
    ("POST", "/api/v1/auth/login"): Rule(PUBLIC),
    ("POST", "/api/v1/auth/logout"): Rule(READ),
    ("GET", "/api/v1/auth/me"): Rule(READ),
    ("GET", "/api/v1/schedules"): Rule(READ),
    ("GET", "/api/v1/schedules/preview"): Rule(READ),
    ("GET", "/api/v1/functions/{name}/schedules"): Rule(READ, FUNCTION),
    ("POST", "/api/v1/functions/{name}/schedules"): Rule(WRITE, FUNCTION),
    ("GET", "/api/v1/functions/{name}/schedules/{schedule_id}"): Rule(READ, FUNCTION),
    ("PATCH", "/api/v1/functions/{name}/schedules/{schedule_id}"): Rule(WRITE, FUNCTION),
    ("DELETE", "/api/v1/functions/{name}/schedules/{schedule_id}"): Rule(WRITE, FUNCTION),
    ("GET", "/api/v1/functions/{name}/releases"): Rule(READ, FUNCTION),
    ("POST", "/api/v1/functions/{name}/releases"): Rule(WRITE, FUNCTION),
    ("GET", "/api/v1/functions/{name}/releases/{release_id}"): Rule(READ, FUNCTION),
    ("POST", "/api/v1/functions/{name}/releases/{release_id}/pause"): Rule(WRITE, FUNCTION),
    ("POST", "/api/v1/functions/{name}/releases/{release_id}/resume"): Rule(WRITE, FUNCTION),
    ("POST", "/api/v1/functions/{name}/releases/{release_id}/promote"): Rule(WRITE, FUNCTION),
    ("POST", "/api/v1/functions/{name}/releases/{release_id}/abort"): Rule(WRITE, FUNCTION),
    ("GET", "/api/v1/functions/{name}/destinations"): Rule(READ, FUNCTION),
    ("PUT", "/api/v1/functions/{name}/destinations"): Rule(WRITE, FUNCTION),
    ("GET", "/api/v1/functions/{name}/deliveries"): Rule(READ, FUNCTION),
    # The caller's function's own failed delivery: the allowed get 202.
    ("POST", "/api/v1/functions/{name}/deliveries/{delivery_id}/redeliver"): Rule(WRITE, FUNCTION),
    ("GET", "/api/v1/functions/{name}/async-config"): Rule(READ, FUNCTION),
    ("PUT", "/api/v1/functions/{name}/async-config"): Rule(WRITE, FUNCTION),
    ("POST", "/api/v1/invocations/{invocation_id}/cancel"): Rule(INVOKE, INVOCATION),
    # Dead letters: a redrive invokes again; a discard deletes history.
    ("POST", "/api/v1/invocations/{invocation_id}/redrive"): Rule(INVOKE, INVOCATION),
    ("POST", "/api/v1/invocations/{invocation_id}/discard"): Rule(WRITE, INVOCATION),
    ("POST", "/api/v1/functions/{name}/dead-letters/redrive"): Rule(INVOKE, FUNCTION),
    ("POST", "/api/v1/functions/{name}/dead-letters/discard"): Rule(WRITE, FUNCTION),
}

RANK = {READ: 0, INVOKE: 1, WRITE: 2, OWN: 3, ADMIN: 4}


@dataclass(frozen=True)
class Caller:
    """One kind of caller: its role, and whether it sees the `default` namespace's things."""

    label: str
    role: str | None  # None: no credentials
    limited: bool = False  # a key limited to a function other than the one a path names
    outsider: bool = False  # a member of another namespace
    session: bool = False  # a person signed in with a password: the cookie and CSRF token


CALLERS = [
    Caller("platform-admin", ADMIN),
    Caller("signed-in", WRITE, session=True),
    Caller("owner", OWN),
    Caller("developer", WRITE),
    Caller("invoker", INVOKE),
    Caller("viewer", READ),
    Caller("limited", WRITE, limited=True),
    Caller("outsider", OWN, outsider=True),
    Caller("anonymous", None),
]

ALLOWED, DENIED, UNAUTHENTICATED = "allowed", "denied", "unauthenticated"


def expected(rule: Rule, caller: Caller) -> tuple[str, str | None]:
    """(outcome, error name) for this caller on a route with this rule."""
    if rule.needs == PUBLIC:
        return ALLOWED, None
    if caller.role is None:
        return (ALLOWED, None) if rule.anonymous_ok else (UNAUTHENTICATED, "Unauthenticated")
    if caller.outsider and rule.names in HIDDEN:
        return DENIED, HIDDEN[rule.names]
    if caller.limited and rule.names in (FUNCTION, INVOCATION):
        return DENIED, HIDDEN[rule.names]
    if caller.limited and rule.names in (NEW_FUNCTION, SECRET, SECRETS):
        return DENIED, "PermissionDenied"
    if RANK[caller.role] < RANK[rule.needs]:
        return DENIED, "PermissionDenied"
    return ALLOWED, None


@dataclass
class World:
    """Per caller: its credentials and the things its requests name."""

    auth: dict[str, Auth]
    invocation: dict[str, str]
    victim_key: dict[str, str]
    schedule: dict[str, str] = field(default_factory=dict)
    delivery: dict[str, str] = field(default_factory=dict)
    release: dict[str, str] = field(default_factory=dict)


@dataclass
class Server:
    """A running server, a client of it with the admin key, and its database's sessions."""

    live: LiveServer
    client: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data", {"SANDLOT_DATABASE_URL": database_url})
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
async def server(live: LiveServer, database_url: str) -> AsyncIterator[Server]:
    engine = make_engine(database_url)
    try:
        async with httpx.AsyncClient(
            base_url=live.url, headers=bearer(ADMIN_KEY), timeout=60
        ) as client:
            yield Server(live=live, client=client, sessions=make_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _deploy(server: Server, name: str) -> str:
    """Deploy HELLO as `name`, call it once; the call's invocation id."""
    code = {"code": ("code.zip", zip_bytes(HELLO), "application/zip")}
    deployed = await server.client.post("/api/v1/functions", data={"name": name}, files=code)
    assert deployed.status_code == 201 and deployed.json()["config"]["state"] == "ready"
    called = await server.client.post(f"/api/v1/functions/{name}/invoke")
    assert called.status_code == 200, called.text
    aliased = await server.client.put(f"/api/v1/functions/{name}/aliases/prod", json={"version": 1})
    assert aliased.status_code == 201, aliased.text
    return called.headers["X-Sandlot-Invocation-Id"]


async def _world(server: Server) -> World:
    db = server.sessions
    auth: dict[str, Auth] = {}
    invocation: dict[str, str] = {}
    victim_key: dict[str, str] = {}
    schedule: dict[str, str] = {}
    delivery: dict[str, str] = {}
    release: dict[str, str] = {}
    made = await server.client.post(
        "/api/v1/users", json={"login": SIGN_IN_USER, "password": PASSWORD}
    )
    assert made.status_code == 201, made.text
    for caller in CALLERS:
        label = caller.label
        invocation[label] = await _deploy(server, f"fn-{label}")
        schedule[label] = await _schedule(server, f"fn-{label}")
        delivery[label] = await failed_delivery(db, f"fn-{label}", invocation[label])
        release[label] = await _release(server, f"fn-{label}")
        made = await server.client.put(
            f"/api/v1/secrets/{_secret_name(label)}", json={"value": "s3cret"}
        )
        assert made.status_code == 200, made.text
        victim_key[label], _ = await key_in(db, "default", Role.VIEWER, name=f"victim {label}")
        member = await add_user(db, f"member-{label}")
        await add_membership(db, "default", member, Role.DEVELOPER)
        await add_user(db, f"newbie-{label}")
        if caller.role is None:
            auth[label] = {}
        elif caller.session:
            auth[label] = await _signed_in(server, label, Role(caller.role))
        elif caller.role == ADMIN:
            auth[label] = bearer(ADMIN_KEY)
        else:
            person = await add_user(db, f"person-{label}")
            namespace = "rival" if caller.outsider else "default"
            role = Role(caller.role)
            scope = ("solo",) if caller.limited else None
            _, auth[label] = await key_in(db, namespace, role, user_id=person, functions=scope)
            await add_membership(db, namespace, person, role)
    return World(
        auth=auth,
        invocation=invocation,
        victim_key=victim_key,
        schedule=schedule,
        delivery=delivery,
        release=release,
    )


async def _release(server: Server, name: str) -> str:
    """A second version of `name` and a release of its alias prod (on v1) to it."""
    code = {"code": ("code.zip", zip_bytes({**HELLO, "v2.txt": "2"}), "application/zip")}
    deployed = await server.client.put(f"/api/v1/functions/{name}", files=code)
    assert deployed.status_code == 200, deployed.text
    made = await server.client.post(
        f"/api/v1/functions/{name}/releases",
        json={"alias": "prod", "version": 2, "interval_s": 30},
    )
    assert made.status_code == 201, made.text
    release_id: str = made.json()["id"]
    return release_id


async def _schedule(server: Server, name: str) -> str:
    made = await server.client.post(
        f"/api/v1/functions/{name}/schedules", json={"cron": "0 3 1 1 *"}
    )
    assert made.status_code == 201, made.text
    schedule_id: str = made.json()["id"]
    return schedule_id


async def _signed_in(server: Server, label: str, role: Role) -> Auth:
    """A person with a password and `role` in `default`, signed in: what a browser sends."""
    login = f"person-{label}"
    made = await server.client.post("/api/v1/users", json={"login": login, "password": PASSWORD})
    assert made.status_code == 201, made.text
    await add_membership(server.sessions, "default", made.json()["id"], role)
    async with httpx.AsyncClient(base_url=server.live.url, timeout=60) as browser:
        answer = await browser.post(
            "/api/v1/auth/login", json={"login": login, "password": PASSWORD}
        )
    assert answer.status_code == 200, answer.text
    token = answer.cookies["sandlot_session"]
    return {"Cookie": f"sandlot_session={token}", "X-CSRF-Token": answer.json()["csrf_token"]}


def _request(method: str, template: str, world: World, label: str) -> dict[str, Any]:
    path = template
    if template.startswith("/api/v1/secrets/"):
        # A PUT makes a secret of its own; the others name the caller's secret in `default`.
        secret = "NEW_" + _secret_name(label) if method == "PUT" else _secret_name(label)
        path = template.replace("{name}", secret)
    path = (
        path.replace("{name}", f"fn-{label}")
        .replace("{number}", "1")
        .replace("{invocation_id}", world.invocation[label])
        .replace("{key_id}", world.victim_key[label])
        .replace("{namespace}", "default")
        .replace("{login}", f"member-{label}")
        .replace("{event_name}", f"saved by {label}")
        .replace("{schedule_id}", world.schedule.get(label, ""))
        .replace("{delivery_id}", world.delivery.get(label, ""))
        .replace("{alias}", "prod")
        .replace("{release_id}", world.release.get(label, ""))
    )
    request: dict[str, Any] = {"method": method, "url": path, "headers": world.auth[label]}
    body = _body(method, template, label)
    if body is not None:
        request["json"] = body
    if template.endswith("/logs/stream"):
        request["params"] = {"follow": "false"}  # the replay only, then the stream ends
    if template.endswith("/schedules/preview"):
        request["params"] = {"cron": "*/5 * * * *"}
    return request


def _secret_name(label: str) -> str:
    return "S_" + label.upper().replace("-", "_")


def _body(method: str, template: str, label: str) -> dict[str, Any] | None:
    code = base64.b64encode(zip_bytes(HELLO)).decode()
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/api/v1/functions"): {"name": f"new-{label}", "code_base64": code},
        ("PUT", "/api/v1/functions/{name}"): {"memory_mb": 128},
        ("PUT", "/api/v1/functions/{name}/test-events/{event_name}"): {"event": {"by": label}},
        ("PUT", "/api/v1/functions/{name}/destinations"): {"on_success": None},
        ("PUT", "/api/v1/functions/{name}/url"): {"auth": "key"},
        ("POST", "/api/v1/keys"): {"name": f"made by {label}", "role": "viewer"},
        ("POST", "/api/v1/namespaces"): {"name": f"ns-{label}"},
        ("PATCH", "/api/v1/namespaces/{namespace}"): {"display_name": f"by {label}"},
        ("POST", "/api/v1/namespaces/{namespace}/members"): {
            "login": f"newbie-{label}",
            "role": "viewer",
        },
        ("PATCH", "/api/v1/namespaces/{namespace}/members/{login}"): {"role": "viewer"},
        ("PUT", "/api/v1/namespaces/{namespace}/quota"): {"env_kb": 256},
        ("PUT", "/api/v1/namespaces/{namespace}/egress"): {"bound": ["none"]},
        ("PUT", "/api/v1/secrets/{name}"): {"value": f"not telling {label}"},
        ("POST", "/api/v1/users"): {"login": f"made-{label}", "password": PASSWORD},
        ("PATCH", "/api/v1/users/{login}"): {"display_name": f"renamed by {label}"},
        ("POST", "/api/v1/users/{login}/password"): {"new_password": PASSWORD + label},
        ("POST", "/api/v1/auth/login"): {"login": SIGN_IN_USER, "password": PASSWORD},
        ("POST", "/api/v1/functions/{name}/schedules"): {"cron": "0 3 1 1 *"},
        ("PATCH", "/api/v1/functions/{name}/schedules/{schedule_id}"): {"paused": True},
        ("PUT", "/api/v1/functions/{name}/async-config"): {"max_attempts": 2},
        ("PUT", "/api/v1/functions/{name}/aliases/{alias}"): {"version": 1},
        ("POST", "/api/v1/functions/{name}/rollback"): {"alias": "prod", "to": 1},
        ("POST", "/api/v1/functions/{name}/releases"): {"alias": "prod", "version": 2},
    }
    return bodies.get((method, template))


def _routes(document: dict[str, Any]) -> list[tuple[str, str]]:
    methods = ("get", "post", "put", "patch", "delete")
    found = [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in methods
    ]
    # Deletes last, so that a caller's own delete comes after its other requests (and the
    # function's own after those of what it holds); signing out after them, so that the
    # signed-in caller's session lasts to the end.
    return sorted(
        found,
        key=lambda route: (
            route == ("POST", "/api/v1/auth/logout"),
            route[0] == "DELETE",
            route == ("DELETE", "/api/v1/functions/{name}"),
        ),
    )


def _check(answer: httpx.Response, outcome: str, error: str | None) -> str | None:
    """None if the answer is the expected one, else what is wrong."""
    status = answer.status_code
    name = answer.json().get("error") if _is_json(answer) else None
    if outcome == ALLOWED:
        if status in (401, 403, 404, 422) or status >= 500:
            return f"expected to be allowed, got {status} {name}"
        return None
    want = {UNAUTHENTICATED: 401, DENIED: 404 if error and error.endswith("NotFound") else 403}
    if (status, name) != (want[outcome], error):
        return f"expected {want[outcome]} {error}, got {status} {name}"
    return None


def _is_json(answer: httpx.Response) -> bool:
    return answer.headers.get("content-type", "").startswith("application/json") and bool(
        answer.content
    )


async def test_every_route_has_a_rule(server: Server) -> None:
    document = (await server.client.get("/openapi.json")).json()
    routes = set(_routes(document))
    missing = sorted(routes - set(ROUTES))
    assert not missing, f"routes without a row in ROUTES (who may call them?): {missing}"
    stale = sorted(set(ROUTES) - routes)
    assert not stale, f"rows in ROUTES for routes the server does not have: {stale}"


async def test_every_role_on_every_route(server: Server) -> None:
    document = (await server.client.get("/openapi.json")).json()
    world = await _world(server)
    problems = []
    checked = 0
    async with httpx.AsyncClient(base_url=server.live.url, timeout=60) as bare:
        for caller in CALLERS:
            for method, template in _routes(document):
                rule = ROUTES[(method, template)]
                outcome, error = expected(rule, caller)
                answer = await bare.request(**_request(method, template, world, caller.label))
                bare.cookies.clear()  # a sign-in's cookie must not ride along with the next call
                problem = _check(answer, outcome, error)
                checked += 1
                if problem:
                    problems.append(f"{caller.label:>14} {method} {template}: {problem}")
    assert not problems, "\n".join(problems)
    assert checked == len(CALLERS) * len(ROUTES)


@pytest.mark.parametrize("caller", CALLERS, ids=lambda caller: caller.label)
def test_the_table_means_what_it_says(caller: Caller) -> None:
    """A few fixed points, so a wrong `expected` cannot pass the big test by agreeing with a
    wrong server."""
    invoke = ROUTES[("POST", "/api/v1/functions/{name}/invoke")]
    outcome, error = expected(invoke, caller)
    if caller.label in ("platform-admin", "signed-in", "owner", "developer", "invoker"):
        assert outcome == ALLOWED
    elif caller.label == "viewer":
        assert (outcome, error) == (DENIED, "PermissionDenied")
    elif caller.label in ("limited", "outsider"):
        assert (outcome, error) == (DENIED, "FunctionNotFound")
    else:
        assert (outcome, error) == (UNAUTHENTICATED, "Unauthenticated")
