"""A numpy matrix multiply of two 128x128 matrices."""

from typing import Any

import numpy as np  # type: ignore[import-not-found, unused-ignore]


def handler(event: Any, context: Any) -> dict[str, Any]:
    size = int((event or {}).get("size", 128))
    a = np.arange(size * size, dtype=np.float64).reshape(size, size) / (size * size)
    product = a @ a.T
    return {"size": size, "trace": float(np.trace(product))}
