"""Resolving to a hashed lock with uv, offline against a find-links folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandlot.domain.errors import InvalidRequirements
from sandlot.envs import BuildCause, EnvironmentBuildFailed, EnvironmentStore, Lock, LockedPackage

from .helpers import lock_for, reqs
from .wheelkit import write_setup_py_sdist

H1 = "--hash=sha256:" + "1" * 64
H2 = "--hash=sha256:" + "2" * 64


async def test_resolve_pins_the_whole_closure_with_hashes(store: EnvironmentStore) -> None:
    lock = await lock_for(store, "alpha")
    assert lock.packages == (LockedPackage("alpha", "1.0"), LockedPackage("beta", "1.5"))
    assert lock.text.startswith("alpha==1.0 \\\n    --hash=sha256:")
    assert Lock.from_text(lock.text) == lock


async def test_the_same_requirements_give_the_same_lock(store: EnvironmentStore) -> None:
    first = await lock_for(store, "alpha", "delta")
    again = await lock_for(store, "delta", "alpha")
    assert first.hash == again.hash


async def test_a_version_conflict_names_the_packages(store: EnvironmentStore) -> None:
    with pytest.raises(EnvironmentBuildFailed) as caught:
        await lock_for(store, "alpha", "gamma")
    error = caught.value
    assert error.cause is BuildCause.NO_SOLUTION
    assert "version conflict" in error.message
    for needle in ("alpha", "gamma", "beta<2", "beta>=2", "unsatisfiable"):
        assert needle in error.message
    assert error.detail()["cause"] == "no_solution"
    assert error.detail()["output"].startswith("error: No solution found")


async def test_an_unknown_package_is_named(store: EnvironmentStore) -> None:
    with pytest.raises(EnvironmentBuildFailed) as caught:
        await lock_for(store, "alpha", "no-such-package")
    assert caught.value.cause is BuildCause.PACKAGE_NOT_FOUND
    assert "does not exist on the configured index" in caught.value.message
    assert "no-such-package was not found" in caught.value.message


async def test_a_legacy_sdist_without_a_build_backend_fails_clearly(
    store: EnvironmentStore, links: Path
) -> None:
    # Offline, uv cannot fetch setuptools to build a setup.py-only sdist; the error
    # must say that a source build failed and why.
    write_setup_py_sdist(links, "legacy", "1.0")
    with pytest.raises(EnvironmentBuildFailed) as caught:
        await lock_for(store, "legacy")
    assert caught.value.cause is BuildCause.SDIST_BUILD_FAILED
    assert "a source distribution failed to build" in caught.value.message
    assert "legacy==1.0" in caught.value.message
    assert "setuptools" in caught.value.message


async def test_server_uv_and_pip_variables_do_not_leak_into_uv(
    store: EnvironmentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each of these would break or redirect the resolution if uv saw it.
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_CONSTRAINT", "/nonexistent/constraints.txt")
    monkeypatch.setenv("UV_OFFLINE", "0")
    monkeypatch.setenv("PIP_FIND_LINKS", "/nonexistent")
    monkeypatch.setenv("UV_RESOLUTION", "lowest")
    lock = await lock_for(store, "delta")
    assert lock.packages == (LockedPackage("delta", "1.0"),)
    assert "UV_INDEX_URL" in os.environ


async def test_resolve_streams_uv_output_to_the_log(store: EnvironmentStore) -> None:
    lines: list[str] = []
    with pytest.raises(EnvironmentBuildFailed):
        await store.resolve(reqs("no-such-package"), lines.append)
    assert any(line.startswith("error: No solution found") for line in lines)


def test_lock_hash_ignores_order_and_layout() -> None:
    one = Lock.from_text(f"b==2 {H2} {H1}\na==1 \\\n    {H1}\n")
    two = Lock.from_text(f"# generated\na==1 {H1}\n\nB==2 \\\n  {H1} \\\n  {H2}\n")
    assert one.hash == two.hash
    assert one.text == two.text
    assert [p.name for p in one.packages] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("alpha==1.0\n", "needs --hash"),
        (f"alpha>=1.0 {H1}\n", "pinned as name==version"),
        (f"alpha==1.* {H1}\n", "pinned as name==version"),
        (f"alpha {H1}\n", "pinned as name==version"),
        (f"alpha @ https://x/alpha.whl {H1}\n", "pinned as name==version"),
        ("alpha==1.0 --hash=md5\n", "needs --hash"),
        (f"al pha==1 {H1}\n", "lock, line 1"),
    ],
)
def test_a_lock_must_be_exact(text: str, why: str) -> None:
    with pytest.raises(InvalidRequirements, match=why):
        Lock.from_text(text)
