"""Keys that `sandlot login` stored, per server and namespace, in the user's config dir
(`credentials.json`, mode 0600, like `gh auth login`'s hosts file).

    {"servers": {"http://host:8000": {"default": "team-a",
                                      "keys": {"team-a": {"key": "sl_...", "id": "..."}}}}}

A command without `--namespace` uses the server's `default` entry (the namespace of the
last `sandlot login` made without one). Standard library only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandlot.client.discovery import user_config_dir

CREDENTIALS_FILE = "credentials.json"


@dataclass(frozen=True)
class StoredKey:
    url: str
    namespace: str
    key: str
    key_id: str | None


def credentials_path(environ: Mapping[str, str]) -> Path:
    return user_config_dir(environ) / CREDENTIALS_FILE


def _server(url: str) -> str:
    return url.rstrip("/").lower()


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"servers": {}}
    if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
        return {"servers": {}}
    return data


def _save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written aside at 0600 and renamed, so the key is never readable by others, even briefly.
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(json.dumps(data, indent=2) + "\n")
    os.replace(aside, path)


def find_key(path: Path, url: str, namespace: str | None) -> StoredKey | None:
    server = _load(path)["servers"].get(_server(url))
    if not isinstance(server, dict):
        return None
    chosen = namespace or server.get("default")
    entry = server.get("keys", {}).get(chosen) if isinstance(chosen, str) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        return None
    assert isinstance(chosen, str)
    return StoredKey(url, chosen, entry["key"], entry.get("id"))


def store_key(path: Path, stored: StoredKey, *, make_default: bool) -> None:
    data = _load(path)
    server = data["servers"].setdefault(_server(stored.url), {"keys": {}})
    server.setdefault("keys", {})[stored.namespace] = {"key": stored.key, "id": stored.key_id}
    if make_default or "default" not in server:
        server["default"] = stored.namespace
    _save(path, data)


def forget_key(path: Path, url: str, namespace: str) -> None:
    data = _load(path)
    server = data["servers"].get(_server(url))
    if not isinstance(server, dict):
        return
    server.get("keys", {}).pop(namespace, None)
    if server.get("default") == namespace:
        remaining = sorted(server.get("keys", {}))
        server["default"] = remaining[0] if remaining else None
    if not server.get("keys"):
        data["servers"].pop(_server(url), None)
    _save(path, data)
