"""The web console: the single-page app in `ui/`, built by `make ui` into `ui_dist/` inside
this package, served at /ui.

The console is only a client of /api/v1, so serving it is serving files: hashed assets
cached for a year (their names change when their bytes do), `index.html` revalidated on
every load (so a new build is picked up at once) and sent for every client route under /ui/.
None of these routes is in the OpenAPI document. A checkout that has not built the console
still serves the API; /ui then says in one line how to build it.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

BUILT_UI = Path(__file__).resolve().parent.parent / "ui_dist"
NOT_BUILT = "The web console is not built: run `make ui` in the Sandlot checkout, then reload.\n"

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

# Everything from this origin and nothing inline: the build has no inline script or style,
# and public/theme-init.js is a file for that reason. `img-src data:` is for CSS-drawn icons;
# frame-ancestors stops other sites from framing the console (clickjacking).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def install(app: FastAPI, directory: Path = BUILT_UI) -> None:
    """`/` redirects to the console, `/ui/...` serves it from `directory`."""
    console = Console(directory)

    # Relative redirects, so that behind a proxy that adds a prefix they stay under it.
    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("ui/")

    @app.api_route("/ui", methods=["GET", "HEAD"], include_in_schema=False)
    async def ui_root() -> RedirectResponse:
        return RedirectResponse("ui/")

    @app.api_route("/ui/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def ui_file(path: str, request: Request) -> Response:
        return console.respond(path, request.headers)


class Console:
    """The built files of the console, looked up on every request: a `make ui` while the
    server runs is served at the next reload, without a restart."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()

    def respond(self, path: str, headers: Mapping[str, str]) -> Response:
        index = self.directory / "index.html"
        if not index.is_file():
            return PlainTextResponse(
                NOT_BUILT,
                status_code=503,
                headers={"Cache-Control": "no-store", **SECURITY_HEADERS},
            )
        file = self._file(path)
        if file is not None and file != index:
            cache = IMMUTABLE if path.startswith("assets/") else REVALIDATE
            return _send(file, cache, headers)
        if path.startswith("assets/"):
            # A stale page asking for an asset of an older build: an honest 404, not the
            # HTML of index.html under a script's name.
            return PlainTextResponse("Not Found\n", status_code=404, headers=SECURITY_HEADERS)
        return _send(index, REVALIDATE, headers)

    def _file(self, path: str) -> Path | None:
        parts = path.split("/")
        # No dotfiles (the build's .vite/manifest.json), no way up, no .gz copies by name.
        if any(part.startswith(".") or "\\" in part or "\0" in part for part in parts):
            return None
        if path.endswith(".gz"):
            return None
        candidate = (self.directory / path).resolve()
        if not candidate.is_relative_to(self.directory) or not candidate.is_file():
            return None
        return candidate


def _send(file: Path, cache: str, request_headers: Mapping[str, str]) -> Response:
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    headers = {"Cache-Control": cache, "Vary": "Accept-Encoding", **SECURITY_HEADERS}
    compressed = file.with_name(file.name + ".gz")
    if _accepts_gzip(request_headers) and compressed.is_file():
        file = compressed
        headers["Content-Encoding"] = "gzip"
    response = FileResponse(file, media_type=media_type, headers=headers, stat_result=os.stat(file))
    if request_headers.get("if-none-match") == response.headers["etag"]:
        headers["ETag"] = response.headers["etag"]
        headers.pop("Content-Encoding", None)
        return Response(status_code=304, headers=headers)
    return response


def _accepts_gzip(headers: Mapping[str, str]) -> bool:
    for coding in headers.get("accept-encoding", "").split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip().lower() == "gzip" and params.replace(" ", "") != "q=0":
            return True
    return False
