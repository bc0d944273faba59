"""How the CLI finds its server, and the record `sandlot serve` leaves for it to find.

A running server writes a record, `server.json` (its URL, pid, data dir and admin key file),
into its data dir and into the user's config dir (`$XDG_CONFIG_HOME/sandlot`, else
`~/.config/sandlot`), and removes both when it stops. A record whose pid no longer runs was
left by a crash: it is stale, and skipped.

The URL is the first of: `--url` / `SANDLOT_URL`; `SANDLOT_HOST` / `SANDLOT_PORT` (the
variables `sandlot serve` reads); the record in the data dir (`--data-dir` /
`SANDLOT_DATA_DIR`, default `./.sandlot`); the record in the user's config dir; the default
URL. The key is `--api-key` / `SANDLOT_API_KEY`, else the admin key file named by a live
record of that URL, else `<data dir>/admin.key`. Every place looked at is kept in order, so
that an error can say where the CLI looked.

Standard library only, and the environment is passed in: only the CLI reads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from sandlot.client.errors import ClientError

SERVER_FILE = "server.json"
ADMIN_KEY_FILE = "admin.key"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
DEFAULT_DATA_DIR = Path(".sandlot")
# A server listening on every address is reached from this machine on loopback.
_WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


@dataclass(frozen=True)
class ServerRecord:
    """What a running server says about itself in `server.json`."""

    url: str
    pid: int
    data_dir: str
    admin_key_file: str
    started_at: str

    def dumps(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def loads(cls, text: str) -> ServerRecord:
        """The record in `text`; ValueError if it is not one."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        try:
            record = cls(
                url=str(data["url"]),
                pid=int(data["pid"]),
                data_dir=str(data["data_dir"]),
                admin_key_file=str(data["admin_key_file"]),
                started_at=str(data.get("started_at", "")),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"missing or bad field {exc}") from exc
        if record.pid <= 0:  # os.kill(0, ...) would mean the whole process group
            raise ValueError(f"bad pid {record.pid}")
        return record


def connect_url(host: str, port: int) -> str:
    """The URL at which a server listening on `host`:`port` is reached from this machine."""
    host = _WILDCARD_HOSTS.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def user_config_dir(environ: Mapping[str, str]) -> Path:
    """`$XDG_CONFIG_HOME/sandlot`, else `~/.config/sandlot` (the XDG base directory rules:
    a relative XDG_CONFIG_HOME is ignored)."""
    base = environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):
        home = environ.get("HOME") or str(Path.home())
        base = os.path.join(home, ".config")
    return Path(base) / "sandlot"


def record_paths(data_dir: Path, environ: Mapping[str, str]) -> tuple[Path, Path]:
    """Where a server with this data dir writes its record: the data dir, the config dir."""
    return data_dir / SERVER_FILE, user_config_dir(environ) / SERVER_FILE


def write_record(record: ServerRecord, path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written aside and renamed, so that a reader never sees half a record.
    aside = path.with_name(f".{path.name}.{record.pid}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(record.dumps())
    os.replace(aside, path)


def remove_record(path: Path, pid: int) -> None:
    """Remove the record at `path` if it is still this server's: a server started later
    may have put its own in the config dir."""
    try:
        current = ServerRecord.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if current.pid == pid:
        path.unlink(missing_ok=True)


def pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


@dataclass(frozen=True)
class _Seen:
    """One record file as the CLI found it: a live record, or why there is none."""

    path: Path
    record: ServerRecord | None
    note: str


def _read_record(path: Path) -> _Seen:
    shown = path.absolute()
    try:
        record = ServerRecord.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _Seen(shown, None, "no such file")
    except OSError as exc:
        return _Seen(shown, None, f"unreadable ({exc.strerror})")
    except ValueError as exc:
        return _Seen(shown, None, f"not a server record ({exc})")
    if not pid_running(record.pid):
        return _Seen(shown, None, f"stale: its server (pid {record.pid}) is not running")
    return _Seen(shown, record, f"server pid {record.pid} at {record.url}")


@dataclass(frozen=True)
class Located:
    """The server to talk to and the key to use, with every place looked at on the way."""

    url: str
    api_key: str | None
    url_trail: tuple[str, ...]
    key_trail: tuple[str, ...]


def locate(
    *,
    url: str | None,
    api_key: str | None,
    data_dir: Path | None,
    environ: Mapping[str, str],
    namespace: str | None = None,
) -> Located:
    """Find the server and its key; the explicit values are the CLI's options. After
    `--api-key` / `SANDLOT_API_KEY` comes the key `sandlot login` stored for this server and
    `namespace` (`client.credentials`), then the admin key files."""
    data_dir = data_dir or Path(environ.get("SANDLOT_DATA_DIR") or DEFAULT_DATA_DIR)
    local, user = (_read_record(path) for path in record_paths(data_dir, environ))
    chosen, url_trail = _choose_url(url, environ, (local, user))
    if api_key or environ.get("SANDLOT_API_KEY"):
        key, key_trail = _choose_key(api_key, environ, chosen, (local, user), data_dir)
        return Located(chosen, key, url_trail, key_trail)
    stored, stored_note = _stored_key(chosen, namespace, environ)
    if stored is not None:
        trail = ("--api-key / SANDLOT_API_KEY: not set", stored_note)
        return Located(chosen, stored, url_trail, trail)
    key, key_trail = _choose_key(api_key, environ, chosen, (local, user), data_dir)
    return Located(chosen, key, url_trail, (*key_trail[:1], stored_note, *key_trail[1:]))


def _stored_key(
    url: str, namespace: str | None, environ: Mapping[str, str]
) -> tuple[str | None, str]:
    from sandlot.client.credentials import credentials_path, find_key

    path = credentials_path(environ).absolute()
    # No key for the namespace named: the server's default one, which may act there (a
    # platform admin's does; any other gets NamespaceNotFound, which says so).
    found = find_key(path, url, namespace) or (find_key(path, url, None) if namespace else None)
    if found is None:
        where = f"namespace {namespace}" if namespace else "its default namespace"
        return None, f"{path}: no key stored for {url} in {where}"
    return found.key, f"{path}: the key of `sandlot login` for {url}, {found.namespace} (used)"


def _choose_url(
    given: str | None, environ: Mapping[str, str], seen: tuple[_Seen, ...]
) -> tuple[str, tuple[str, ...]]:
    if given:
        return given, (f"--url: {given} (used)",)
    if environ.get("SANDLOT_URL"):
        return environ["SANDLOT_URL"], (f"SANDLOT_URL: {environ['SANDLOT_URL']} (used)",)
    trail = ["--url / SANDLOT_URL: not set"]
    host, port = environ.get("SANDLOT_HOST"), environ.get("SANDLOT_PORT")
    if host is not None or port is not None:
        url = connect_url(host or DEFAULT_HOST, _port(port) if port else DEFAULT_PORT)
        trail.append(f"SANDLOT_HOST / SANDLOT_PORT: {url} (used)")
        return url, tuple(trail)
    trail.append("SANDLOT_HOST / SANDLOT_PORT: not set")
    for found in seen:
        if found.record is not None:
            trail.append(f"{found.path}: {found.note} (used)")
            return found.record.url, tuple(trail)
        trail.append(f"{found.path}: {found.note}")
    trail.append(f"the default: {DEFAULT_URL} (used)")
    return DEFAULT_URL, tuple(trail)


def _port(text: str) -> int:
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    raise ClientError(f"SANDLOT_PORT must be a port number (1-65535), got {text!r}")


def _choose_key(
    given: str | None,
    environ: Mapping[str, str],
    url: str,
    seen: tuple[_Seen, ...],
    data_dir: Path,
) -> tuple[str | None, tuple[str, ...]]:
    if given:
        return given, ("--api-key (used)",)
    if environ.get("SANDLOT_API_KEY"):
        return environ["SANDLOT_API_KEY"], ("SANDLOT_API_KEY (used)",)
    trail = ["--api-key / SANDLOT_API_KEY: not set"]
    files: list[Path] = [
        Path(found.record.admin_key_file)
        for found in seen
        if found.record is not None and _same_url(found.record.url, url)
    ]
    local = seen[0].record
    if local is None or _same_url(local.url, url):
        files.append(data_dir / ADMIN_KEY_FILE)
    else:
        # Never send one server's admin key to another.
        trail.append(f"{(data_dir / ADMIN_KEY_FILE).absolute()}: of the server at {local.url}")
    for path in dict.fromkeys(path.absolute() for path in files):
        key, note = _read_key(path)
        trail.append(f"{path}: {note}")
        if key:
            return key, tuple(trail)
    return None, tuple(trail)


def _read_key(path: Path) -> tuple[str | None, str]:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None, "no such file"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror})"
    return (key, "used") if key else (None, "empty")


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()
