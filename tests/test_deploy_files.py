"""The files in deploy/ (systemd units, the environment file, Kubernetes manifests) are parsed
and checked against the code: the commands they run exist in the CLI with those options, the
settings they set are real settings, and the secrets come from an EnvironmentFile or a
Secret, never written in a unit or a manifest."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from sandlot.cli.main import app
from sandlot.config import Settings

DEPLOY = Path(__file__).parents[1] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
# Settings whose values are secrets: never in a unit or a manifest's plain env.
SECRET_SETTINGS = {
    "SANDLOT_CLUSTER_SECRET",
    "SANDLOT_SECRET_KEY",
    "SANDLOT_SECRET_PREVIOUS_KEYS",
    "SANDLOT_DATABASE_URL",  # it may carry the database's password
    "SANDLOT_BOOTSTRAP_API_KEY",
    "SANDLOT_BOOTSTRAP_ADMIN_PASSWORD",
    "SANDLOT_MONITOR_TOKEN",
}
SETTING_NAMES = {f"SANDLOT_{name.upper()}" for name in Settings.model_fields}
PLACEHOLDER = re.compile(r"replace-me")


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as section -> key -> values (keys like Environment= repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _environment(unit: dict[str, dict[str, list[str]]]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in unit["Service"].get("Environment", []):
        for item in shlex.split(value):
            name, _, setting = item.partition("=")
            pairs[name] = setting
    return pairs


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _manifest(name: str) -> list[dict[str, Any]]:
    return _documents(DEPLOY / "kubernetes" / name)


def _containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = document["spec"]["template"]["spec"]["containers"]
    return containers


def check_command(argv: list[str]) -> None:
    """Fails unless `argv` (a path to `sandlot`, then its arguments) is a command the CLI
    has, with options it takes: the CLI's own parser reads it as it would at a start.

    Typer carries a click of its own, so its groups and errors are known by what they do
    (`commands`, `format_message`), not by click's classes."""
    assert Path(argv[0]).name == "sandlot", argv
    command: Any = typer.main.get_command(app)
    rest = list(argv[1:])
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        assert name in command.commands, f"`sandlot {name}`: no such command ({argv})"
        command = command.commands[name]
    if hasattr(command, "commands") and not rest:
        assert command.invoke_without_command, f"{argv}: a group that needs a subcommand"
        return
    try:
        command.make_context("sandlot", rest, resilient_parsing=False)
    except Exception as exc:
        if not hasattr(exc, "format_message"):
            raise
        pytest.fail(f"{argv}: {exc.format_message()}")


def test_the_command_check_can_fail() -> None:
    check_command(["sandlot", "serve", "--port", "8000"])
    with pytest.raises(pytest.fail.Exception):
        check_command(["sandlot", "serve", "--no-such-option"])
    with pytest.raises(AssertionError):
        check_command(["sandlot", "no-such-command"])


def test_the_units_run_real_commands() -> None:
    assert [p.name for p in UNITS] == ["sandlot-api.service", "sandlot-worker.service"]
    api, worker = (_unit(path) for path in UNITS)
    (api_start,) = api["Service"]["ExecStart"]
    (worker_start,) = worker["Service"]["ExecStart"]
    assert shlex.split(api_start)[1:4] == ["serve", "--role", "api"]
    assert shlex.split(worker_start)[1:] == ["worker"]
    for start in (api_start, worker_start):
        check_command(shlex.split(start))


def test_the_units_set_only_real_settings_and_no_secret() -> None:
    for path in UNITS:
        unit = _unit(path)
        service = unit["Service"]
        assert service["EnvironmentFile"] == ["/etc/sandlot/sandlot.env"], path.name
        names = set(_environment(unit))
        assert names <= SETTING_NAMES, f"{path.name}: not settings: {names - SETTING_NAMES}"
        assert not names & SECRET_SETTINGS, f"{path.name} writes a secret inline"
        assert not any("SECRET" in value for value in service.get("ExecStart", []))
        assert service["KillSignal"] == ["SIGTERM"]  # a worker drains on it


def test_the_worker_unit_keeps_what_the_sandbox_needs() -> None:
    api = _unit(DEPLOY / "systemd" / "sandlot-api.service")["Service"]
    worker = _unit(DEPLOY / "systemd" / "sandlot-worker.service")["Service"]
    assert api["User"] == ["sandlot"] and api["NoNewPrivileges"] == ["yes"]
    assert api["CapabilityBoundingSet"] == [""]
    assert worker["User"] == ["root"] and worker["Delegate"] == ["yes"]  # its cgroups
    for kept_away in ("RestrictNamespaces", "ProtectControlGroups", "SystemCallFilter"):
        assert kept_away not in worker, f"the worker's sandbox needs what {kept_away} takes"
    text = (DEPLOY / "systemd" / "sandlot-worker.service").read_text()
    for why in ("namespaces", "cgroup", "nftables", "seccomp", "Landlock"):
        assert why in text, f"the worker unit does not say why it needs {why}"


def test_the_environment_file_names_real_settings_with_placeholder_secrets() -> None:
    found: dict[str, str] = {}
    for raw in (DEPLOY / "sandlot.env.example").read_text().splitlines():
        line = raw.strip().removeprefix("#").strip()
        match = re.fullmatch(r"(SANDLOT_[A-Z0-9_]+)=(.*)", line)
        if match:
            found[match[1]] = match[2]
    assert {"SANDLOT_DATABASE_URL", "SANDLOT_CLUSTER_SECRET", "SANDLOT_SECRET_KEY"} <= set(found)
    assert set(found) <= SETTING_NAMES, set(found) - SETTING_NAMES
    assert PLACEHOLDER.search(found["SANDLOT_CLUSTER_SECRET"])
    assert PLACEHOLDER.search(found["SANDLOT_SECRET_KEY"])


def test_the_manifests_parse_and_run_real_commands() -> None:
    kinds = {path.name: [doc["kind"] for doc in _documents(path)] for path in MANIFESTS}
    assert kinds == {
        "api.yaml": ["Deployment", "Service"],
        "secret.example.yaml": ["Secret"],
        "worker.yaml": ["DaemonSet"],
    }
    deployment, service = _manifest("api.yaml")
    (daemonset,) = _manifest("worker.yaml")
    (api,) = _containers(deployment)
    (worker,) = _containers(daemonset)
    assert api["command"][1:4] == ["serve", "--role", "api"]
    assert worker["command"][1:] == ["worker"]
    check_command(api["command"])
    check_command(worker["command"])
    # The Service reaches the Deployment's pods, on a port they name.
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    port_names = {port["name"] for port in api["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names


def test_the_manifests_take_secrets_from_the_secret_only() -> None:
    (secret,) = _manifest("secret.example.yaml")
    keys = set(secret["stringData"])
    assert keys <= SETTING_NAMES and "SANDLOT_CLUSTER_SECRET" in keys
    assert all(PLACEHOLDER.search(value) for value in secret["stringData"].values())
    for document in (*_manifest("api.yaml")[:1], *_manifest("worker.yaml")):
        for container in _containers(document):
            refs = [ref["secretRef"]["name"] for ref in container.get("envFrom", [])]
            assert refs == [secret["metadata"]["name"]], container["name"]
            for item in container.get("env", []):
                name = item["name"]
                assert name in SETTING_NAMES or not name.startswith("SANDLOT_"), name
                if name in SECRET_SETTINGS:
                    assert "secretKeyRef" in item.get("valueFrom", {}), f"{name} is inline"


def test_the_worker_daemonset_says_why_it_is_privileged() -> None:
    (daemonset,) = _manifest("worker.yaml")
    (worker,) = _containers(daemonset)
    context = worker["securityContext"]
    assert context["privileged"] is True
    assert context["seccompProfile"]["type"] == "Unconfined"
    assert {"SYS_ADMIN", "SETUID", "SETGID", "NET_ADMIN"} <= set(context["capabilities"]["add"])
    text = (DEPLOY / "kubernetes" / "worker.yaml").read_text()
    comments = "\n".join(line for line in text.splitlines() if line.strip().startswith("#"))
    for why in ("user namespaces", "cgroup", "seccomp", "Landlock", "nftables", "uid"):
        assert why in comments, f"worker.yaml does not say why the sandbox needs {why}"
    # The worker advertises its pod's address, and API servers reach its internal port.
    env = {item["name"]: item for item in worker["env"]}
    assert env["SANDLOT_WORKER_URL"]["value"] == "http://$(POD_IP):8070"
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert {port["containerPort"] for port in worker["ports"]} == {8070}


def test_the_readme_lists_every_file() -> None:
    text = (DEPLOY / "README.md").read_text()
    for path in (*UNITS, *MANIFESTS, DEPLOY / "sandlot.env.example"):
        assert f"`{path.relative_to(DEPLOY)}`" in text, path.name
