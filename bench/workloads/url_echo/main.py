"""The trivial echo for the function URL row: the same answer whichever door the call came
through, so that both sides of the ratio do the same work in the handler."""

import json
from typing import Any


def handler(event: Any, context: Any) -> Any:
    if isinstance(event, dict) and event.get("version") == "2.0" and "rawPath" in event:
        return json.loads(event.get("body") or "null")  # a URL call: its body is the event
    return event
