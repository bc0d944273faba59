"""The trivial handler: echoes its event, the same work as the bare FastAPI baseline."""

import time
from typing import Any


def handler(event: Any, context: Any) -> Any:
    if isinstance(event, dict) and "bench_hold_s" in event:  # the bench's anchor call
        time.sleep(float(event["bench_hold_s"]))
        return {"held": True}
    return event
