"""Fixtures: an offline find-links folder of hand-made wheels and a store that uses it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sandlot.envs import BuildOptions, EnvironmentStore, Target, detect_target

from .helpers import PACKAGES
from .wheelkit import write_wheel


@pytest.fixture(scope="session")
def target() -> Target:
    return asyncio.run(detect_target())


@pytest.fixture
def links(tmp_path: Path) -> Path:
    folder = tmp_path / "links"
    folder.mkdir()
    for (name, version), requires in PACKAGES.items():
        write_wheel(str(folder), name, version, requires)
    return folder


@pytest.fixture
def options(links: Path) -> BuildOptions:
    return BuildOptions(find_links=(str(links),), build_timeout_s=120.0)


@pytest.fixture
def store(tmp_path: Path, options: BuildOptions, target: Target) -> EnvironmentStore:
    return EnvironmentStore(tmp_path / "envs", options, target)
