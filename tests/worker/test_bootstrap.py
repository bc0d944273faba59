"""The bootstrap stays standard-library only, and bad events leave the instance usable."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from sandlot.domain.errors import InvalidEvent
from sandlot.worker.inside import bootstrap
from sandlot.worker.pool import RuntimePool
from tests.worker.helpers import FunctionFactory


def test_inside_folder_holds_only_stdlib_modules() -> None:
    folder = Path(bootstrap.__file__).parent
    modules = sorted(p.name for p in folder.glob("*.py"))
    assert modules == ["__init__.py", "bootstrap.py", "layers.py", "zygote.py"]
    siblings = {name.removesuffix(".py") for name in modules}
    for module in modules:
        imported = set()
        for node in ast.walk(ast.parse((folder / module).read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
        assert imported - {"__future__"} - siblings <= sys.stdlib_module_names, module


async def test_invalid_event_is_rejected_and_the_instance_kept(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        def handler(event, context):
            return event
        """
    )
    first = await pool.invoke(spec, "a", b"1")
    with pytest.raises(InvalidEvent):
        await pool.invoke(spec, "b", b'{"not": json')
    after = await pool.invoke(spec, "c", b"2")
    assert after.result_json == b"2"
    assert first.cold_start is True and after.cold_start is False
