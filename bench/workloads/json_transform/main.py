"""A JSON transform: group, sum and sort a list of records."""

import time
from typing import Any


def handler(event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "bench_hold_s" in event:  # the bench's anchor call
        time.sleep(float(event["bench_hold_s"]))
        return {"held": True}
    records = (event or {}).get("records") or [
        {"team": f"t{i % 7}", "score": (i * 37) % 101} for i in range(200)
    ]
    totals: dict[str, int] = {}
    for record in records:
        totals[record["team"]] = totals.get(record["team"], 0) + int(record["score"])
    ranking = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return {"teams": len(totals), "ranking": [{"team": t, "total": s} for t, s in ranking]}
