"""Renders a Jinja2 template: `sandlot deploy examples/template --name greet`.

Its dependency is declared in requirements.txt and installed once, at deploy time.
"""

from jinja2 import Environment

TEMPLATE = Environment(autoescape=True).from_string(
    "<h1>Hello, {{ name }}!</h1><ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul>"
)


def handler(event, context):
    event = event or {}
    return {"html": TEMPLATE.render(name=event.get("name", "world"), items=event.get("items", []))}
