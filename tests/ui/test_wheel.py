"""`pip install .` gives the console too: the wheel carries the built files, though git
ignores them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from sandlot.api.ui import BUILT_UI
from tests.ui.conftest import require_built_console

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_the_built_console(tmp_path: Path) -> None:
    require_built_console()
    uv = Path(sys.executable).with_name("uv")
    subprocess.run(
        [str(uv), "build", "--wheel", "--quiet", "--out-dir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("sandlot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packed = {
            name.removeprefix("sandlot/ui_dist/")
            for name in archive.namelist()
            if name.startswith("sandlot/ui_dist/")
        }
    built = {str(path.relative_to(BUILT_UI)) for path in BUILT_UI.rglob("*") if path.is_file()}
    assert "index.html" in packed
    assert built <= packed
