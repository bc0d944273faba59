"""A version's files as text, and deploys that send files instead of a zip: through the
real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Any

import pytest

from sandlot.domain.errors import InvalidInput
from sandlot.domain.models import Role
from sandlot.services.archives import zip_texts
from sandlot.services.version_files import FILE_TEXT_MAX_BYTES, files_of
from tests.api.tenancy import key_in
from tests.conftest import HELLO, Api, zip_bytes

MAIN = "def handler(event, context):\n    return {'from': 'files'}\n"


async def _files(api: Api, name: str, number: int) -> list[dict[str, Any]]:
    answer = await api.client.get(f"/api/v1/functions/{name}/versions/{number}/files")
    assert answer.status_code == 200, answer.text
    files: list[dict[str, Any]] = answer.json()["files"]
    return files


async def test_text_binary_and_oversized_files(api: Api) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("main.py", HELLO["main.py"])
        archive.writestr("lib/data.bin", b"\x00\x01\x02\xff")
        archive.writestr("big.txt", "x" * (FILE_TEXT_MAX_BYTES + 1))
        archive.writestr("requirements.txt", "")
        archive.writestr("lib/", "")  # a folder entry is not a file
    created = await api.client.post(
        "/api/v1/functions",
        data={"name": "fn"},
        files={"code": ("c.zip", buffer.getvalue(), "application/zip")},
    )
    assert created.status_code == 201, created.text
    files = {item["path"]: item for item in await _files(api, "fn", 1)}
    assert list(files) == ["big.txt", "lib/data.bin", "main.py", "requirements.txt"]
    assert files["main.py"] == {
        "path": "main.py",
        "size": len(HELLO["main.py"]),
        "text": HELLO["main.py"],
        "binary": False,
        "truncated": False,
    }
    assert files["lib/data.bin"]["binary"] and files["lib/data.bin"]["text"] is None
    big = files["big.txt"]
    assert (big["text"], big["truncated"], big["binary"]) == (None, True, False)
    assert big["size"] == FILE_TEXT_MAX_BYTES + 1
    assert files["requirements.txt"]["text"] == ""


def test_many_files_are_bounded_by_the_answers_budget() -> None:
    data = zip_bytes({f"f{i:03}.txt": "y" * 1000 for i in range(100)})
    files = files_of(data, file_max_bytes=2000, total_max_bytes=10_500)
    sent = [item for item in files if item.text is not None]
    assert len(files) == 100 and len(sent) == 10
    assert all(item.truncated and item.text is None for item in files[10:])


def test_a_cut_inside_a_character_is_still_text() -> None:
    files = files_of(zip_bytes({"é.txt": "é" * 10}), file_max_bytes=5)
    assert (files[0].binary, files[0].truncated) == (False, True)


async def test_who_may_read_the_files(api: Api) -> None:
    await api.deploy("fn", HELLO)
    _, viewer = await key_in(api, "default", Role.VIEWER)
    seen = await api.client.get("/api/v1/functions/fn/versions/1/files", headers=viewer)
    assert seen.status_code == 200
    _, stranger = await key_in(api, "elsewhere", Role.OWNER)
    hidden = await api.client.get("/api/v1/functions/fn/versions/1/files", headers=stranger)
    assert (hidden.status_code, hidden.json()["error"]) == (404, "FunctionNotFound")
    missing = await api.client.get("/api/v1/functions/fn/versions/2/files")
    assert (missing.status_code, missing.json()["error"]) == (404, "VersionNotFound")


async def test_create_and_update_from_files(api: Api) -> None:
    created = await api.client.post(
        "/api/v1/functions", json={"name": "fn", "files": {"main.py": MAIN}}
    )
    assert created.status_code == 201, created.text
    assert created.json()["config"]["state"] == "ready"
    assert (await api.invoke("fn")).json() == {"from": "files"}
    edited = {"main.py": "from lib.x import X\ndef handler(event, context):\n    return X\n"}
    updated = await api.client.put(
        "/api/v1/functions/fn", json={"files": {**edited, "lib/x.py": "X = 2\n"}}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["latest_version"] == 2
    assert (await api.invoke("fn")).json() == 2
    paths = [item["path"] for item in await _files(api, "fn", 2)]
    assert paths == ["lib/x.py", "main.py"]
    # The same files make the same zip, so a deploy of unchanged files makes no version.
    v2 = (await api.client.get("/api/v1/functions/fn/versions/2")).json()
    again = await api.client.put(
        "/api/v1/functions/fn", json={"files": {"lib/x.py": "X = 2\n", **edited}}
    )
    assert again.json()["config"]["code_sha256"] == v2["code_sha256"]
    assert (again.json()["unchanged"], again.json()["versions"]) == (True, 2)
    # Audited as any deploy: the files' contents never in the detail.
    audit = (await api.client.get("/api/v1/audit", params={"limit": 50})).json()["items"]
    actions = [(event["action"], event["target"]) for event in audit]
    assert ("function.create", "function:fn") in actions
    assert actions.count(("function.deploy", "function:fn")) == 1  # unchanged: not audited
    assert "return X" not in str(audit)


async def test_a_deploy_from_files_fails_as_a_zip_would(api: Api) -> None:
    code = base64.b64encode(zip_bytes(HELLO)).decode()
    both = await api.client.post(
        "/api/v1/functions", json={"name": "fn", "code_base64": code, "files": HELLO}
    )
    assert (both.status_code, both.json()["error"]) == (400, "InvalidInput")
    assert "not both" in both.json()["detail"]["message"]
    neither = await api.client.post("/api/v1/functions", json={"name": "fn"})
    assert (neither.status_code, neither.json()["error"]) == (400, "InvalidInput")
    for files, error in (
        ({"../main.py": MAIN}, "InvalidArchive"),
        ({"/main.py": MAIN}, "InvalidArchive"),
        ({"lib/": ""}, "InvalidInput"),
        ({"": MAIN}, "InvalidInput"),
        ({"main.py": MAIN, "./main.py": MAIN}, "InvalidInput"),
        ({"other.py": MAIN}, "HandlerNotFound"),
        ({"main.py": "def handler(:\n"}, "HandlerSyntaxError"),
    ):
        answer = await api.client.post("/api/v1/functions", json={"name": "fn", "files": files})
        assert (answer.status_code, answer.json()["error"]) == (400, error), files
    # A module that raises at import makes a failed version with its traceback.
    raising = {"main.py": "raise RuntimeError('at import')\ndef handler(e, c):\n    return 1\n"}
    failed = await api.client.post("/api/v1/functions", json={"name": "fn", "files": raising})
    assert failed.status_code == 201, failed.text
    assert failed.json()["config"]["state"] == "failed"
    assert "RuntimeError: at import" in failed.json()["config"]["error"]


async def test_a_viewer_may_not_deploy_files(api: Api) -> None:
    await api.deploy("fn", HELLO)
    _, viewer = await key_in(api, "default", Role.VIEWER)
    refused = await api.client.put(
        "/api/v1/functions/fn", json={"files": {"main.py": MAIN}}, headers=viewer
    )
    assert refused.status_code == 403, refused.text


def test_too_many_files_are_refused_before_zipping() -> None:
    with pytest.raises(InvalidInput, match="at most 3"):
        zip_texts({f"{i}.py": "" for i in range(4)}, max_files=3)
