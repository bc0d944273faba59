"""A JSON transform: group, sum and sort a list of records."""

from typing import Any


def handler(event: Any, context: Any) -> dict[str, Any]:
    records = (event or {}).get("records") or [
        {"team": f"t{i % 7}", "score": (i * 37) % 101} for i in range(200)
    ]
    totals: dict[str, int] = {}
    for record in records:
        totals[record["team"]] = totals.get(record["team"], 0) + int(record["score"])
    ranking = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return {"teams": len(totals), "ranking": [{"team": t, "total": s} for t, s in ranking]}
