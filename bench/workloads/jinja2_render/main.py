"""A jinja2 template render; the template compiles once per instance, at import."""

import time
from typing import Any

import jinja2  # type: ignore[import-not-found, unused-ignore]

TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    "<ul>{% for item in items %}<li>{{ item.name }}: {{ item.qty }}</li>{% endfor %}</ul>"
)


def handler(event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "bench_hold_s" in event:  # the bench's anchor call
        time.sleep(float(event["bench_hold_s"]))
        return {"held": True}
    items = (event or {}).get("items") or [{"name": f"item {i}", "qty": i} for i in range(20)]
    html: str = TEMPLATE.render(items=items)
    return {"html": html}
