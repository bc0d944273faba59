"""`sandlot keys create|list|revoke`: API keys of this namespace."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from sandlot.cli.config import api_session, state_of
from sandlot.cli.output import (
    JsonOption,
    command_group,
    fmt,
    fmt_time,
    note,
    print_error,
    print_json,
    print_table,
    say,
)

keys_app = command_group("Create, list and revoke API keys.")


class Role(StrEnum):
    ADMIN = "admin"
    OWNER = "owner"
    DEVELOPER = "developer"
    INVOKER = "invoker"
    VIEWER = "viewer"


@keys_app.command("create")
def create_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="A label for the key.")],
    role: Annotated[
        Role, typer.Option("--role", "-r", help="What the key may do; never above your role.")
    ],
    function: Annotated[
        list[str] | None,
        typer.Option(
            "--function", "-f", help="Limit the key to this function (repeat for several)."
        ),
    ] = None,
    expires_in_days: Annotated[
        int | None,
        typer.Option("--expires-in-days", min=1, max=3650, help="The key stops working then."),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Write the key to this machine's database directly (SANDLOT_DATA_DIR, "
            "SANDLOT_DATABASE_URL), needing no key: the way back in when no admin key is "
            "left. Works with the server stopped or running.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Create a key. Its secret is printed this once only."""
    if offline:
        if function or expires_in_days is not None:
            print_error("--offline makes a recovery key: without --function or --expires-in-days")
            raise typer.Exit(2)
        created = _create_offline(ctx, name, role)
        endpoint = _endpoint(ctx)
    else:
        with api_session(ctx) as client:
            created = client.create_key(
                name, role.value, functions=function or None, expires_in_days=expires_in_days
            )
            endpoint = client.url
    if json_output:
        print_json(created)
        return
    say(created["key"])
    limits = ""
    if created.get("functions"):
        limits += f", only {', '.join(created['functions'])}"
    if created.get("expires_at"):
        limits += f", expires {fmt_time(created['expires_at'])}"
    note(
        f"key {created['id']} ({created['name']}, {created['role']}{limits}): store it now, "
        "it will not be shown again."
    )
    _aws_profile(created, endpoint)


def _aws_profile(created: dict[str, Any], endpoint: str) -> None:
    """The same key for boto3 and the AWS CLI, as their files take it (on stderr, like every
    hint: stdout stays the key alone, for `KEY=$(sandlot keys create ...)`)."""
    access = created.get("aws_access_key_id")
    if not access:  # a server from before the Lambda API
        return
    region = created.get("aws_region") or "us-east-1"
    note(
        "\nFor boto3 and the AWS CLI (the Lambda API), in ~/.aws/credentials:\n\n"
        f"[sandlot]\naws_access_key_id = {access}\naws_secret_access_key = {created['key']}\n\n"
        f"and in ~/.aws/config:\n\n[profile sandlot]\nregion = {region}\n\n"
        f"then: aws lambda list-functions --profile sandlot --endpoint-url {endpoint}"
    )


def _endpoint(ctx: typer.Context) -> str:
    """Where this machine's server answers, for an offline key's hint."""
    from sandlot.client import ClientError

    try:
        return state_of(ctx).locate().url
    except ClientError:
        return "http://127.0.0.1:8000"


def _create_offline(ctx: typer.Context, name: str, role: Role) -> dict[str, Any]:
    from sandlot.app import create_key_offline
    from sandlot.config import Settings
    from sandlot.domain.errors import SandlotError

    data_dir = state_of(ctx).data_dir
    settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
    try:
        made = create_key_offline(settings, name=name, role=role.value)
    except SandlotError as exc:
        print_error(exc.message)
        raise typer.Exit(1) from None
    if made.server_pid is not None:
        note(
            f"the server (pid {made.server_pid}) is running on this data dir; "
            "it accepts the new key at once"
        )
    return made.created


@keys_app.command("list")
def list_keys(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List keys (their prefixes, never the secrets): an owner sees the namespace's, anyone
    else their own."""
    with api_session(ctx) as client:
        items = client.list_keys()
    if json_output:
        print_json({"items": items})
        return
    rows = (
        [
            fmt(key.get("id")),
            fmt(key.get("name")),
            fmt(key.get("role")),
            fmt(key.get("prefix")),
            ", ".join(key.get("functions") or []) or "all",
            fmt(key.get("created_by")) if key.get("created_by") else "",
            fmt_time(key.get("created_at")),
            fmt_time(key.get("expires_at")) if key.get("expires_at") else "never",
            fmt_time(key.get("last_used_at")) if key.get("last_used_at") else "never",
            "revoked" if key.get("revoked_at") else "",
        ]
        for key in items
    )
    print_table(
        (
            "ID",
            "NAME",
            "ROLE",
            "PREFIX",
            "FUNCTIONS",
            "BY",
            "CREATED",
            "EXPIRES",
            "LAST USED",
            "",
        ),
        rows,
    )


@keys_app.command("revoke")
def revoke_key(
    ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="The key's id.")]
) -> None:
    """Revoke a key: it stops working at once."""
    with api_session(ctx) as client:
        client.revoke_key(key_id)
    say(f"revoked {key_id}")
