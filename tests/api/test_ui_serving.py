"""The console's files as the server sends them: where, with which caching and CSP, the
fallback to index.html for client routes, and the one line when the console is not built."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from sandlot.api import ui
from tests.conftest import Api

INDEX = b'<!doctype html><html lang="en"><script type="module" src="/ui/assets/app-1a2b.js">'
SCRIPT = b"console.log('the console');\n" * 40


def _build(root: Path) -> Path:
    """A build as Vite lays it out: index.html, hashed assets with .gz copies, public files."""
    (root / "assets").mkdir(parents=True)
    (root / ".vite").mkdir()
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "app-1a2b.js").write_bytes(SCRIPT)
    (root / "assets" / "app-1a2b.js.gz").write_bytes(gzip.compress(SCRIPT, 9))
    (root / "favicon.svg").write_text("<svg/>")
    (root / ".vite" / "manifest.json").write_text("{}")
    return root


async def _client(directory: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    ui.install(app, directory)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandlot.test") as client:
        yield client


@pytest.fixture
async def built(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(_build(tmp_path / "ui_dist")):
        yield client


async def test_the_root_and_bare_ui_redirect_to_the_console(built: httpx.AsyncClient) -> None:
    for path in ("/", "/ui"):
        answer = await built.get(path)
        assert answer.status_code == 307
        assert httpx.URL(f"http://sandlot.test{path}").join(answer.headers["location"]).path == (
            "/ui/"
        )


async def test_client_routes_get_index_html_revalidated_every_time(
    built: httpx.AsyncClient,
) -> None:
    for path in ("/ui/", "/ui/functions", "/ui/functions/hello/invocations?state=failed"):
        answer = await built.get(path)
        assert answer.status_code == 200, path
        assert answer.content == INDEX
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["cache-control"] == "no-cache"
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert answer.headers["x-content-type-options"] == "nosniff"


async def test_hashed_assets_are_cached_for_good_and_sent_gzipped(
    built: httpx.AsyncClient,
) -> None:
    zipped = await built.get("/ui/assets/app-1a2b.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200
    assert zipped.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["content-type"].startswith("text/javascript")
    assert zipped.content == SCRIPT  # httpx decodes it
    assert int(zipped.headers["content-length"]) < len(SCRIPT)

    plain = await built.get("/ui/assets/app-1a2b.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == SCRIPT

    again = await built.get(
        "/ui/assets/app-1a2b.js",
        headers={"Accept-Encoding": "identity", "If-None-Match": plain.headers["etag"]},
    )
    assert again.status_code == 304
    assert again.content == b""


async def test_head_answers_without_a_body(built: httpx.AsyncClient) -> None:
    answer = await built.head("/ui/functions")
    assert answer.status_code == 200
    assert answer.content == b""
    assert answer.headers["cache-control"] == "no-cache"


async def test_what_is_not_a_page_of_the_console(built: httpx.AsyncClient) -> None:
    # An asset of another build is a 404, never index.html under a script's name.
    missing = await built.get("/ui/assets/app-0000.js")
    assert missing.status_code == 404
    assert missing.content != INDEX
    # The build's manifest, the .gz copies by name and anything outside are not served.
    for path in ("/ui/.vite/manifest.json", "/ui/assets/app-1a2b.js.gz", "/ui/%2e%2e/secret"):
        answer = await built.get(path)
        assert answer.content in (INDEX, b"Not Found\n"), path
    # Public files are served as they are, revalidated (their names carry no hash).
    icon = await built.get("/ui/favicon.svg")
    assert icon.content == b"<svg/>"
    assert icon.headers["cache-control"] == "no-cache"


async def test_without_a_build_the_console_says_how_to_make_one(tmp_path: Path) -> None:
    async for client in _client(tmp_path / "nothing-here"):
        for path in ("/ui/", "/ui/functions"):
            answer = await client.get(path)
            assert answer.status_code == 503
            assert answer.text.count("\n") == 1
            assert "make ui" in answer.text
            assert answer.headers["content-type"].startswith("text/plain")
        assert (await client.get("/")).status_code == 307


async def test_the_api_and_its_document_are_as_before(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    assert not [
        path
        for path in document["paths"]
        if not path.startswith(("/api/", "/healthz", "/readyz", "/metrics"))
    ]
    assert (await api.client.get("/docs")).status_code == 200
    assert (await api.client.get("/api/v1/functions")).status_code == 200
    unknown = await api.client.get("/api/v1/no-such-thing")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "NotFound"
    # /ui answers whether this checkout built the console (200) or not (503, one line).
    assert (await api.client.get("/ui/")).status_code in (200, 503)
