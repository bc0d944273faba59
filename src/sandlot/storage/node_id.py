"""The id of this data dir as a claimer of queued calls: `<node>:<run>`.

The node part is kept in the data dir, the run part is new at each start. Only one server
holds a data dir at a time (storage.datadir), so at start-up a row leased by `<node>:` with
another run is a previous run's, and that run is certainly dead.
"""

from __future__ import annotations

import secrets
from pathlib import Path

_FILE = "node.id"


def node_id(data_dir: Path) -> str:
    path = data_dir / _FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    if len(text) == 16 and text.isalnum():
        return text
    text = secrets.token_hex(8)
    path.write_text(text + "\n", encoding="ascii")
    return text


def new_owner(node: str) -> str:
    return f"{node}:{secrets.token_hex(6)}"
