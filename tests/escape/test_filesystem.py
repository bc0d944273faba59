"""Hostile functions reading and writing host files: secrets, other functions, the server."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sandlot.worker.layout import TASK_ROOT
from tests.conftest import HELLO, Api

# Tries to read (or list) each path it is given and reports what it got, never raising.
SNOOP = """
import os

def attempt(path):
    try:
        if os.path.isdir(path):
            return {"ok": True, "listing": sorted(os.listdir(path))}
        with open(path, "rb") as fh:
            return {"ok": True, "text": fh.read(4096).decode("latin-1")}
    except OSError as exc:
        return {"ok": False, "error": type(exc).__name__, "errno": exc.errno}

def handler(event, context):
    return {path: attempt(path) for path in event["paths"]}
"""

# Tries to write each path; `append` paths are opened for appending (existing files).
VANDAL = """
import os

def attempt(path, mode):
    try:
        with open(path, mode) as fh:
            fh.write("pwned\\n")
        return "written"
    except OSError as exc:
        return type(exc).__name__ + ": " + os.strerror(exc.errno or 0)

def handler(event, context):
    out = {path: attempt(path, "w") for path in event["create"]}
    out.update({path: attempt(path, "a") for path in event["append"]})
    out["chmod"] = attempt_chmod(event["append"][0])
    return out

def attempt_chmod(path):
    try:
        os.chmod(path, 0o777)
        return "changed"
    except OSError as exc:
        return type(exc).__name__
"""

VICTIM_SECRET = "victim-secret-4f1c9a"
VICTIM = {
    "main.py": f"SECRET = {VICTIM_SECRET!r}\ndef handler(event, context):\n    return 'victim'\n",
    "config.json": f'{{"password": "{VICTIM_SECRET}"}}',
}


def _code_dir(api: Api, sha256: str) -> Path:
    return api.settings.data_dir.resolve() / "code" / sha256


async def test_host_secrets_and_other_functions_code_are_invisible(api: Api) -> None:
    """/etc/shadow, another function's code dir and the data dir, on both databases."""
    victim = (await api.deploy("victim", VICTIM)).json()
    snoop = (await api.deploy("snoop", {"main.py": SNOOP})).json()
    victim_dir = _code_dir(api, victim["config"]["code_sha256"])
    own_dir = _code_dir(api, snoop["config"]["code_sha256"])
    assert (victim_dir / "main.py").read_text().startswith("SECRET")  # it is there, on the host
    data_dir = api.settings.data_dir.resolve()
    database = api.settings.database_url or ""
    database_file = database.partition(":///")[2] if database.startswith("sqlite") else ""
    paths = [
        "/etc/shadow",
        "/etc/gshadow",
        "/root",
        str(victim_dir),
        str(victim_dir / "main.py"),
        str(victim_dir / "config.json"),
        str(data_dir / "code"),
        str(data_dir),
        str(own_dir / "main.py"),
        f"{TASK_ROOT}/main.py",
        *([database_file] if database_file else []),
    ]
    response = await api.invoke("snoop", {"paths": paths})
    assert response.status_code == 200, response.text
    seen = response.json()
    assert VICTIM_SECRET not in response.text
    for path in ("/etc/shadow", "/etc/gshadow", str(victim_dir / "main.py")):
        assert seen[path]["ok"] is False, (path, seen[path])
    assert seen[str(victim_dir)]["ok"] is False
    assert seen[str(victim_dir / "config.json")]["ok"] is False
    if database_file:
        assert seen[database_file]["ok"] is False
    # No path of the data dir is there at all, not even its own code's: that is at /var/task.
    for hidden in (data_dir / "code", data_dir, own_dir / "main.py"):
        assert seen[str(hidden)] == {"ok": False, "error": "FileNotFoundError", "errno": 2}
    assert seen[f"{TASK_ROOT}/main.py"]["ok"] is True  # the probe itself works
    # The victim is unharmed and the server answers.
    assert (await api.invoke("victim")).json() == "victim"
    assert (await api.client.get("/readyz")).status_code == 200


async def test_server_database_and_admin_key_are_invisible(sandbox_api: Api) -> None:
    """The SQLite file and admin.key that the server keeps in its data dir."""
    data_dir = sandbox_api.settings.data_dir.resolve()
    admin_key = data_dir / "admin.key"
    admin_key.write_text("sl_planted_admin_key_0123456789\n")  # as a first start writes it
    admin_key.chmod(0o600)
    await sandbox_api.deploy("snoop", {"main.py": SNOOP})
    targets = [
        str(data_dir / "sandlot.db"),
        str(data_dir / "sandlot.db-wal"),
        str(admin_key),
        str(data_dir / "run"),
        str(data_dir / "envs"),
    ]
    assert Path(targets[0]).is_file()
    response = await sandbox_api.invoke("snoop", {"paths": targets})
    assert response.status_code == 200, response.text
    seen = response.json()
    for path in targets:
        assert seen[path] == {"ok": False, "error": "FileNotFoundError", "errno": 2}, path
    assert "sl_planted" not in response.text


async def test_writes_to_usr_and_own_code_fail_and_change_nothing(sandbox_api: Api) -> None:
    deployed = (await sandbox_api.deploy("vandal", {"main.py": VANDAL})).json()
    code_dir = _code_dir(sandbox_api, deployed["config"]["code_sha256"])
    main_py = code_dir / "main.py"
    before = hashlib.sha256(main_py.read_bytes()).hexdigest()
    mode_before = main_py.stat().st_mode
    usr_files = sorted(p.name for p in Path("/usr").iterdir())
    create = [
        "/usr/sandlot-pwned",
        "/usr/lib/sandlot-pwned",
        "/etc/sandlot-pwned",
        "/sandlot-pwned",
        f"{TASK_ROOT}/sitecustomize.py",
        f"{TASK_ROOT}/__pycache__",
    ]
    append = [f"{TASK_ROOT}/main.py", "/etc/passwd"]
    response = await sandbox_api.invoke("vandal", {"create": create, "append": append})
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert "written" not in outcome.values(), outcome
    assert outcome["chmod"] != "changed"
    assert outcome["/usr/sandlot-pwned"].startswith("OSError: Read-only file system")
    assert outcome[f"{TASK_ROOT}/main.py"].startswith("OSError: Read-only file system")
    # The host is unchanged.
    assert hashlib.sha256(main_py.read_bytes()).hexdigest() == before
    assert main_py.stat().st_mode == mode_before
    assert sorted(p.name for p in code_dir.iterdir()) == ["main.py"]
    assert sorted(p.name for p in Path("/usr").iterdir()) == usr_files
    for path in ("/usr/lib/sandlot-pwned", "/etc/sandlot-pwned", "/sandlot-pwned"):
        assert not Path(path).exists()
    assert "pwned" not in Path("/etc/passwd").read_text()
    # The function still works, and so does another.
    await sandbox_api.deploy("hello", HELLO)
    assert (await sandbox_api.invoke("hello")).json() == {"hello": "world"}
    again = await sandbox_api.invoke("vandal", {"create": [], "append": [str(main_py)]})
    assert again.status_code == 200
