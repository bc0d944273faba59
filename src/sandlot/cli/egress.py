"""`sandlot egress show|set|reset`: a namespace's egress bound, what its functions'
network policies may ask for (setting: the platform admin)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sandlot.cli.config import api_session
from sandlot.cli.output import JsonOption, command_group, print_json, say

egress_app = command_group(
    "Show and set what a namespace's functions may reach (setting: the platform admin)."
)

NamespaceArg = Annotated[str, typer.Argument(help="The namespace.")]


@egress_app.command("show")
def show_bound(
    namespace: Annotated[
        str | None, typer.Argument(help="The namespace (default: the key's own).")
    ] = None,
    *,
    ctx: typer.Context,
    json_output: JsonOption = False,
) -> None:
    """The namespace's egress bound, and whether this server enforces policies."""
    with api_session(ctx) as client:
        name = namespace or str(client.get_quota(None)["namespace"])
        view = client.get_egress_bound(name)
    _print(view, json_output)


@egress_app.command("set")
def set_bound(
    namespace: NamespaceArg,
    bound: Annotated[
        list[str],
        typer.Argument(
            help="'none', 'internet', and/or destinations: host:port, *.example.com:443, "
            "10.0.0.0/8:5432, [2001:db8::]/32; the metadata address only when listed exactly."
        ),
    ],
    *,
    ctx: typer.Context,
    json_output: JsonOption = False,
) -> None:
    """Set the bound; a later deploy asking for more is refused (EgressNotAllowed)."""
    with api_session(ctx) as client:
        view = client.set_egress_bound(namespace, bound)
    _print(view, json_output)


@egress_app.command("reset")
def reset_bound(
    namespace: NamespaceArg, *, ctx: typer.Context, json_output: JsonOption = False
) -> None:
    """Back to the server's default bound (SANDLOT_EGRESS_DEFAULT_BOUND)."""
    with api_session(ctx) as client:
        view = client.set_egress_bound(namespace, None)
    _print(view, json_output)


def _print(view: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print_json(view)
        return
    default = "  (the server's default)" if view["default"] else ""
    say(f"{view['namespace']}  egress bound: {', '.join(view['bound'])}{default}")
    if not view["enforced"]:
        say(f"not enforced on this server: {view['reason']}")
