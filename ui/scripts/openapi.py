"""Print the server's OpenAPI document, from `create_app` itself: no server, no database.

`make ui` feeds it to openapi-typescript, so the console's types are those of the routes in
this checkout, and a changed endpoint breaks `svelte-check` rather than a page.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from sandlot.app import create_app
from sandlot.config import SandboxMode, Settings


def document() -> dict[str, object]:
    # A throwaway data dir: create_app locks one, and nothing here may touch a real one.
    # insecure-dev only because no function runs; the document is the same in every mode.
    with tempfile.TemporaryDirectory(prefix="sandlot-openapi-") as data_dir:
        settings = Settings(data_dir=Path(data_dir), sandbox=SandboxMode.INSECURE_DEV)
        app = create_app(settings)
        return app.openapi()


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "-"
    text = json.dumps(document(), indent=1, sort_keys=True) + "\n"
    if out == "-":
        sys.stdout.write(text)
    else:
        Path(out).write_text(text)
