"""A numpy matrix multiply of two 128x128 matrices."""

import time
from typing import Any

import numpy as np  # type: ignore[import-not-found, unused-ignore]


def handler(event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "bench_hold_s" in event:  # the bench's anchor call
        time.sleep(float(event["bench_hold_s"]))
        return {"held": True}
    size = int((event or {}).get("size", 128))
    a = np.arange(size * size, dtype=np.float64).reshape(size, size) / (size * size)
    product = a @ a.T
    return {"size": size, "trace": float(np.trace(product))}
