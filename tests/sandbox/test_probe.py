"""The host probe and the starter factory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandlot.config import SandboxMode, Settings
from sandlot.domain.errors import ServiceUnavailable
from sandlot.sandbox import probe
from sandlot.sandbox.factory import make_starter
from sandlot.sandbox.plain import PlainStarter
from sandlot.sandbox.probe import LayerResult, probe_host, render_text, required_missing
from sandlot.sandbox.starter import SandboxStarter


def test_probe_reports_every_layer_truthfully(sandbox_supported: None) -> None:
    results = probe_host()
    names = {r.name for r in results}
    assert set(probe.REQUIRED) <= names
    assert required_missing(results) == []
    by_name = {r.name: r for r in results}
    assert by_name["distinct_uid"].available is (os.geteuid() == 0)
    assert by_name["landlock"].detail.startswith("ABI ")
    text = render_text(results)
    assert "user_namespace" in text and "ok" in text
    assert by_name["seccomp"].as_dict()["status"] == "ok"


def test_required_missing_and_rendering() -> None:
    results = [
        LayerResult("seccomp", False, True, "no libseccomp"),
        LayerResult("landlock", False, False, "old kernel"),
        LayerResult("user_namespace", True, True, "fine"),
    ]
    assert [r.name for r in required_missing(results)] == ["seccomp"]
    lines = render_text(results).splitlines()
    assert "MISSING" in lines[0] and "missing (optional)" in lines[1] and " ok " in lines[2]


async def test_make_starter_picks_by_mode(sandbox_supported: None, tmp_path: Path) -> None:
    strict = make_starter(Settings(data_dir=tmp_path, sandbox=SandboxMode.STRICT))
    assert isinstance(strict, SandboxStarter)
    await strict.close()
    plain = make_starter(Settings(data_dir=tmp_path, sandbox=SandboxMode.INSECURE_DEV))
    assert isinstance(plain, PlainStarter)
    await plain.close()


def test_strict_mode_refuses_a_host_without_required_layers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The one substitution in these tests: a host that lacks seccomp cannot be conjured here.
    missing = [LayerResult("seccomp", False, True, "libseccomp not found")]
    monkeypatch.setattr("sandlot.sandbox.factory.probe_host", lambda: missing)
    with pytest.raises(ServiceUnavailable, match="seccomp") as caught:
        make_starter(Settings(data_dir=tmp_path, sandbox=SandboxMode.STRICT))
    assert caught.value.extra["missing"] == {"seccomp": "libseccomp not found"}
