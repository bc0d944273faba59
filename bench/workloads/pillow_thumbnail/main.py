"""A Pillow thumbnail of a 512x512 image generated in memory (no input file needed)."""

import hashlib
import io
import time
from typing import Any

from PIL import Image  # type: ignore[import-not-found, unused-ignore]


def handler(event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "bench_hold_s" in event:  # the bench's anchor call
        time.sleep(float(event["bench_hold_s"]))
        return {"held": True}
    side = int((event or {}).get("side", 512))
    image = Image.linear_gradient("L").resize((side, side)).convert("RGB")
    image.thumbnail((64, 64))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return {"size": list(image.size), "sha256": hashlib.sha256(out.getvalue()).hexdigest()}
