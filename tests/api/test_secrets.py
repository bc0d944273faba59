"""Secrets through the real app, in real sandboxes, on SQLite and PostgreSQL: set, list, show,
delete; a function reading them as env and as files; a change reaching the next call without
a redeploy; masking; rotation; and a database that, stolen, reveals nothing."""

from __future__ import annotations

import asyncio
import base64
import secrets as random
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from sandlot.domain.ids import hash_api_key, new_api_key
from sandlot.domain.models import Role
from sandlot.services.secret_keys import key_id
from sandlot.storage.db import Database
from sandlot.storage.keys import ApiKeyRepo, NamespaceRepo
from tests.conftest import Api, open_api

READER = {
    "main.py": (
        "import os\n"
        "AT_IMPORT = os.environ.get('DB_PASSWORD')\n"
        "def handler(event, context):\n"
        "    files = {}\n"
        "    if os.path.isdir('/run/secrets'):\n"
        "        for name in sorted(os.listdir('/run/secrets')):\n"
        "            with open('/run/secrets/' + name) as fh:\n"
        "                files[name] = fh.read()\n"
        "    if event and event.get('print'):\n"
        "        value = os.environ['DB_PASSWORD']\n"
        "        print('the password is', value)\n"
        "        print('half', value[:6], end='', flush=True)\n"
        "        print(value[6:], 'and the rest')\n"
        "        import sys; sys.stderr.write('stderr ' + value + '\\n')\n"
        "    if event and event.get('write'):\n"
        "        try:\n"
        "            open('/run/secrets/TLS_KEY', 'w').write('x')\n"
        "        except OSError as exc:\n"
        "            files['write_error'] = type(exc).__name__\n"
        "    return {'env': os.environ.get('DB_PASSWORD'), 'import': AT_IMPORT,\n"
        "            'files': files, 'pid': os.getpid()}\n"
    )
}


def value() -> str:
    """A value no other test and no line of the server's own could contain by chance."""
    return "sv-" + random.token_hex(12)


async def put(api: Api, name: str, secret: str, client: httpx.AsyncClient | None = None) -> Any:
    response = await (client or api.client).put(f"/api/v1/secrets/{name}", json={"value": secret})
    assert response.status_code == 200, response.text
    return response.json()


async def deploy_reader(api: Api, secrets: list[Any]) -> httpx.Response:
    import json

    return await api.deploy("reader", READER, secrets=json.dumps(secrets))


async def test_set_list_show_delete_never_return_the_value(api: Api) -> None:
    secret = value()
    first = await put(api, "DB_PASSWORD", secret)
    assert first["version"] == 1
    assert first["updated_by"].startswith("key:")
    again = await put(api, "DB_PASSWORD", value())
    assert again["version"] == 2
    listed = await api.client.get("/api/v1/secrets")
    shown = await api.client.get("/api/v1/secrets/DB_PASSWORD")
    assert [item["name"] for item in listed.json()["items"]] == ["DB_PASSWORD"]
    assert shown.json()["version"] == 2
    assert shown.json()["used_by"] == []
    for response in (listed, shown):
        assert secret not in response.text
        assert "value" not in response.json().get("items", [response.json()])[0]
    assert (await api.client.delete("/api/v1/secrets/DB_PASSWORD")).status_code == 204
    missing = await api.client.get("/api/v1/secrets/DB_PASSWORD")
    assert missing.status_code == 404
    assert missing.json()["error"] == "SecretNotFound"


async def test_bad_names_and_sizes_are_named_400s(api: Api) -> None:
    for name in ("1ABC", "has-dash", "A" * 129, "PATH", "AWS_REGION", "SANDLOT_X", "LD_PRELOAD"):
        response = await api.client.put(f"/api/v1/secrets/{name}", json={"value": "x"})
        assert response.status_code == 400, name
        assert response.json()["error"] == "InvalidSecretName"
    at_limit = await api.client.put("/api/v1/secrets/BIG", json={"value": "a" * 65536})
    assert at_limit.status_code == 200
    over = await api.client.put("/api/v1/secrets/BIG", json={"value": "a" * 65537})
    assert over.status_code == 400
    assert over.json()["error"] == "SecretTooLarge"
    assert over.json()["detail"]["max"] == 65536
    assert "aaaa" not in over.text
    nul = await api.client.put("/api/v1/secrets/NUL", json={"value": "a\u0000b"})
    assert nul.status_code == 400
    shape = await api.client.put("/api/v1/secrets/X1", json={"value": 5})
    assert shape.status_code == 422
    huge = await api.client.put("/api/v1/secrets/X1", json={"value": "b" * 500_000})
    assert huge.status_code == 413
    assert huge.json()["error"] == "PayloadTooLarge"
    garbage = await api.client.put("/api/v1/secrets/X1", content=b"value=abc")
    assert garbage.status_code == 422
    assert "abc" not in garbage.text


async def test_deploy_naming_a_missing_secret_is_a_named_400(api: Api) -> None:
    response = await deploy_reader(api, ["NOPE", {"name": "ALSO_NOPE", "as": "file"}])
    assert response.status_code == 400
    assert response.json()["error"] == "SecretMissing"
    assert response.json()["detail"]["secrets"] == ["ALSO_NOPE", "NOPE"]
    bad = await deploy_reader(api, [{"name": "X", "as": "disk"}])
    assert bad.status_code in (400, 422)
    await put(api, "HOME_DIR", value())
    clash = await api.deploy("reader", READER, secrets='["HOME_DIR"]', env='{"HOME_DIR": "/x"}')
    assert clash.status_code == 400


async def test_a_function_reads_secrets_as_env_and_as_files(api: Api) -> None:
    password, tls = value(), value()
    await put(api, "DB_PASSWORD", password)
    await put(api, "TLS_KEY", tls)
    deployed = await deploy_reader(api, ["DB_PASSWORD", {"name": "TLS_KEY", "as": "file"}])
    assert deployed.status_code == 201, deployed.text
    config = deployed.json()["config"]
    assert config["state"] == "ready", config
    assert config["secrets"] == [
        {"name": "DB_PASSWORD", "as": "env"},
        {"name": "TLS_KEY", "as": "file"},
    ]
    assert password not in deployed.text and tls not in deployed.text
    result = (await api.invoke("reader", {"write": True})).json()
    assert result["env"] == password
    assert result["import"] == password  # module-level code sees env secrets too
    assert result["files"]["TLS_KEY"] == tls
    assert "write_error" in result["files"]  # /run/secrets is read-only
    assert "TLS_KEY" not in str(result["env"])
    shown = (await api.client.get("/api/v1/secrets/TLS_KEY")).json()
    assert shown["used_by"] == ["reader"]
    version = await api.client.get("/api/v1/functions/reader/versions/1")
    assert password not in version.text and tls not in version.text


async def test_a_new_value_reaches_the_next_call_and_replaces_the_warm_instance(
    api: Api,
) -> None:
    old, new = value(), value()
    await put(api, "DB_PASSWORD", old)
    assert (await deploy_reader(api, ["DB_PASSWORD"])).status_code == 201
    first = await api.invoke("reader")
    warm = await api.invoke("reader")
    assert first.status_code == 200, first.text
    assert first.json()["env"] == old
    assert warm.headers["x-sandlot-cold-start"] == "false"
    assert warm.json()["pid"] == first.json()["pid"]
    await put(api, "DB_PASSWORD", new)
    after = await api.invoke("reader")
    assert after.json()["env"] == new
    assert after.json()["import"] == new  # a new zygote, not the old one's memory
    assert after.headers["x-sandlot-cold-start"] == "true"
    listed = await api.client.get("/api/v1/functions/reader/versions")
    assert len(listed.json()["items"]) == 1  # no redeploy


async def test_deleting_a_secret_in_use_is_refused_naming_the_functions(api: Api) -> None:
    await put(api, "DB_PASSWORD", value())
    await deploy_reader(api, ["DB_PASSWORD"])
    refused = await api.client.delete("/api/v1/secrets/DB_PASSWORD")
    assert refused.status_code == 409
    assert refused.json()["error"] == "SecretInUse"
    assert refused.json()["detail"]["functions"] == ["reader"]
    updated = await api.client.put("/api/v1/functions/reader", json={"secrets": []})
    assert updated.status_code == 200, updated.text
    assert (await api.client.delete("/api/v1/secrets/DB_PASSWORD")).status_code == 204


async def test_printed_values_are_masked_in_stored_logs_and_errors(api: Api) -> None:
    secret = value()
    await put(api, "DB_PASSWORD", secret)
    await deploy_reader(api, ["DB_PASSWORD"])
    response = await api.invoke("reader", {"print": True})
    invocation_id = response.headers["x-sandlot-invocation-id"]
    logs = await api.client.get(f"/api/v1/invocations/{invocation_id}/logs")
    assert logs.status_code == 200
    assert secret not in logs.text
    assert "the password is ***" in logs.text
    assert "half ***" in logs.text  # split across two writes of one call
    assert "stderr ***" in logs.text  # straight to the fd
    record = (await api.client.get(f"/api/v1/invocations/{invocation_id}")).json()
    assert record["log_excerpt"].startswith("the password is ***")
    assert secret not in record["log_excerpt"]
    # What a handler returns is its own answer, not a log: it is never rewritten.
    assert record["result"]["env"] == secret


async def test_another_namespace_sees_nothing(api: Api) -> None:
    await put(api, "DB_PASSWORD", value())
    other = await _other_namespace_client(api)
    async with other:
        assert (await other.get("/api/v1/secrets/DB_PASSWORD")).status_code == 404
        assert (await other.get("/api/v1/secrets")).json()["items"] == []
        assert (await other.delete("/api/v1/secrets/DB_PASSWORD")).status_code == 404
        # Its own secret of the same name is its own.
        mine = value()
        await put(api, "DB_PASSWORD", mine, client=other)
        deployed = await other.post(
            "/api/v1/functions",
            json={
                "name": "reader",
                "code_base64": _zip64(READER),
                "secrets": ["DB_PASSWORD"],
            },
        )
        assert deployed.status_code == 201, deployed.text
        assert (await other.post("/api/v1/functions/reader/invoke")).json()["env"] == mine
    assert (await api.client.get("/api/v1/secrets/DB_PASSWORD")).json()["version"] == 1


async def test_roles_invokers_may_not_read_or_write(api: Api) -> None:
    invoker = await _other_namespace_client(api, role=Role.INVOKER, namespace="default")
    async with invoker:
        assert (await invoker.get("/api/v1/secrets")).status_code == 403
        denied = await invoker.put("/api/v1/secrets/X1", json={"value": "abcd"})
        assert denied.status_code == 403
        assert (await invoker.post("/api/v1/secret-key/rotate")).status_code == 403
    developer = await _other_namespace_client(api, role=Role.DEVELOPER, namespace="default")
    async with developer:
        assert (await developer.put("/api/v1/secrets/X1", json={"value": "abcd"})).is_success
        assert (await developer.post("/api/v1/secret-key/rotate")).status_code == 403


async def test_the_database_alone_reveals_no_value_and_no_key(api: Api) -> None:
    secrets = {f"S{i}": value() for i in range(3)}
    for name, secret in secrets.items():
        await put(api, name, secret)
    key_text = api.settings.secret_key_path.read_text().strip()
    assert oct(api.settings.secret_key_path.stat().st_mode & 0o777) == "0o600"
    dump = await _raw_dump(api.settings.resolved_database_url)
    key = base64.b64decode(key_text)
    for secret in secrets.values():
        assert secret.encode() not in dump
        assert base64.b64encode(secret.encode()) not in dump
    assert key not in dump and key_text.encode() not in dump and key.hex().encode() not in dump
    assert key_id(key).encode() in dump  # the row names its key by a digest only


async def test_rotate_key_while_calls_run(api: Api) -> None:
    secret = value()
    await put(api, "DB_PASSWORD", secret)
    for i in range(30):
        await put(api, f"FILLER_{i}", value())
    await deploy_reader(api, ["DB_PASSWORD"])
    old_id = key_id(base64.b64decode(api.settings.secret_key_path.read_text().split()[0]))
    stop = asyncio.Event()
    results: list[int] = []

    async def calls() -> None:
        while not stop.is_set():
            # Each call resolves its spec anew, so it opens the secret during the rotation.
            api.runtime.catalog.clear()
            response = await api.invoke("reader")
            results.append(response.status_code)
            assert response.json()["env"] == secret

    async def _rotate() -> httpx.Response:
        try:
            return await api.client.post("/api/v1/secret-key/rotate")
        finally:
            stop.set()

    caller = asyncio.create_task(calls())
    rotated = await _rotate()
    await caller
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["source"] == "file"
    assert body["resealed"] == 31
    assert body["retired_key_ids"] == [old_id]
    assert body["key_id"] != old_id
    lines = api.settings.secret_key_path.read_text().split()
    assert len(lines) == 1 and key_id(base64.b64decode(lines[0])) == body["key_id"]
    assert results and set(results) == {200}
    api.runtime.catalog.clear()
    assert (await api.invoke("reader")).json()["env"] == secret
    # No row is sealed under the old key any more (the audit log names it, as retired).
    dump = await _raw_dump(api.settings.resolved_database_url, skip=("audit_events",))
    assert old_id.encode() not in dump


async def test_a_restart_with_the_key_in_settings_and_a_previous_key(
    tmp_path: Path, database_url: str
) -> None:
    old = base64.b64encode(random.token_bytes(32)).decode()
    new = base64.b64encode(random.token_bytes(32)).decode()
    secret = value()
    async with open_api(tmp_path / "data", database_url, secret_key=old) as api:
        await put(api, "DB_PASSWORD", secret)
        await deploy_reader(api, ["DB_PASSWORD"])
    async with open_api(
        tmp_path / "data", database_url, secret_key=new, secret_previous_keys=[old]
    ) as api:
        assert (await api.invoke("reader")).json()["env"] == secret
        rotated = (await api.client.post("/api/v1/secret-key/rotate")).json()
        assert rotated["source"] == "settings"
        assert rotated["resealed"] == 1
        assert not api.settings.secret_key_path.exists()
    async with open_api(tmp_path / "data", database_url, secret_key=new) as api:
        assert (await api.invoke("reader")).json()["env"] == secret
    async with open_api(tmp_path / "data", database_url, secret_key=old) as api:
        response = await api.invoke("reader")
        assert response.status_code == 503
        assert response.json()["error"] == "SecretUndecryptable"
        assert secret not in response.text


# helpers


def _zip64(files: dict[str, str]) -> str:
    from tests.conftest import zip_bytes

    return base64.b64encode(zip_bytes(files)).decode()


async def _other_namespace_client(
    api: Api, *, role: Role = Role.ADMIN, namespace: str | None = None
) -> httpx.AsyncClient:
    """A client with a key of its own: in a new namespace, or in `namespace` with `role`."""
    database = Database(api.settings.resolved_database_url)
    key, prefix = new_api_key()
    try:
        async with database.sessions.begin() as session:
            repo = NamespaceRepo(session)
            found = await repo.get_by_name(namespace) if namespace else None
            target = found or await repo.create(f"other-{random.token_hex(3)}")
            await ApiKeyRepo(session).create(
                namespace_id=target.id,
                name="test",
                role=role,
                prefix=prefix,
                key_hash=hash_api_key(key),
            )
    finally:
        await database.dispose()
    return httpx.AsyncClient(
        transport=api.client._transport,
        base_url="http://sandlot.test",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


async def _raw_dump(url: str, skip: tuple[str, ...] = ()) -> bytes:
    """Every byte of every row of every table (but `skip`), as the database holds it."""
    engine = create_async_engine(url)
    out = bytearray()
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
            for table in (name for name in tables if name not in skip):
                rows = await conn.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608
                for row in rows:
                    for cell in row:
                        out += cell if isinstance(cell, bytes | memoryview) else str(cell).encode()
                        out += b"\0"
    finally:
        await engine.dispose()
    return bytes(out)


async def test_a_rotation_cut_short_loses_nothing_and_the_next_one_finishes(
    tmp_path: Path, database_url: str
) -> None:
    """The key file is written with both keys before any row is re-sealed: a server killed
    in the middle restarts with a keyring that opens every row, old or new."""
    data = tmp_path / "data"
    old_secret, new_secret = value(), value()
    async with open_api(data, database_url) as api:
        await put(api, "OLD_ONE", old_secret)
        await deploy_reader(api, [])
        path = api.settings.secret_key_path
    old_key = path.read_text().strip()
    new_key = base64.b64encode(random.token_bytes(32)).decode()
    path.write_text(f"{new_key}\n{old_key}\n")  # as begin_rotation leaves it
    async with open_api(data, database_url) as api:
        await put(api, "NEW_ONE", new_secret)  # sealed with the new key
        updated = await api.client.put(
            "/api/v1/functions/reader", json={"secrets": ["OLD_ONE", "NEW_ONE"]}
        )
        assert updated.json()["config"]["state"] == "ready", updated.text
        assert (await api.invoke("reader")).json()["env"] is None
        rotated = (await api.client.post("/api/v1/secret-key/rotate")).json()
        assert rotated["resealed"] == 2  # both rows, under a third key
        assert len(path.read_text().split()) == 1
    async with open_api(data, database_url) as api:
        shown = await api.client.get("/api/v1/secrets")
        assert [s["name"] for s in shown.json()["items"]] == ["NEW_ONE", "OLD_ONE"]


async def test_a_row_copied_onto_another_does_not_open(api: Api) -> None:
    """Whoever can write to the database still cannot make one secret's value appear under
    another name (the name is bound into the ciphertext)."""
    await put(api, "VICTIM", value())
    await put(api, "TARGET", "harmless-value")
    assert (await deploy_reader(api, [])).status_code == 201
    engine = create_async_engine(api.settings.resolved_database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets "
                    "WHERE name = 'VICTIM') WHERE name = 'TARGET'"
                )
            )
    finally:
        await engine.dispose()
    updated = await api.client.put("/api/v1/functions/reader", json={"secrets": ["TARGET"]})
    assert updated.json()["config"]["state"] == "failed"
    assert "does not authenticate" in updated.json()["config"]["error"]


async def test_instances_kept_warm_come_back_with_the_new_value(api: Api) -> None:
    await put(api, "DB_PASSWORD", value())
    await api.deploy("reader", READER, secrets='["DB_PASSWORD"]', min_warm="1")
    await api.runtime.activator.drain()
    assert api.runtime.pool.stats().per_function.get("reader") == 1
    new = value()
    await put(api, "DB_PASSWORD", new)
    await api.runtime.activator.drain()
    assert api.runtime.pool.stats().per_function.get("reader") == 1  # warmed again
    response = await api.invoke("reader")
    assert response.headers["x-sandlot-cold-start"] == "false"
    assert response.json()["env"] == new
