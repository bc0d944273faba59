"""The trivial handler: echoes its event, the same work as the bare FastAPI baseline."""

from typing import Any


def handler(event: Any, context: Any) -> Any:
    return event
