from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandlot.config import Settings
from sandlot.sandbox.plain import PlainStarter
from sandlot.worker.pool import RuntimePool
from tests.worker.helpers import FunctionFactory


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        max_log_bytes=64 * 1024,
        max_result_bytes=256 * 1024,
        queue_timeout_s=10.0,
    )


@pytest.fixture
def function(tmp_path: Path) -> FunctionFactory:
    return FunctionFactory(tmp_path / "functions")


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[RuntimePool]:
    runtime = RuntimePool(PlainStarter(), settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close(grace_s=0)
