"""`sandlot login`, `sandlot logout` and `sandlot users ...`: signing in from the CLI and
managing people. Passwords and keys are read from a prompt (or stdin), never from arguments,
which other users of the machine can read in the process list."""

from __future__ import annotations

import getpass
import os
import socket
import sys
from typing import Annotated, Any

import typer

from sandlot.cli.config import api_session, state_of
from sandlot.cli.output import (
    JsonOption,
    command_group,
    fmt,
    fmt_time,
    note,
    print_api_error,
    print_error,
    print_json,
    print_table,
    say,
)

users_app = command_group("Create, list, disable and enable users; reset their passwords.")


def read_line(prompt: str, *, secret: bool) -> str:
    """A prompt on a terminal (hidden for a secret), else one line of stdin."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt) if secret else input(prompt)
    line = sys.stdin.readline()
    if not line:
        print_error(f"expected {prompt.rstrip(': ').lower()} on stdin")
        raise typer.Exit(2)
    return line.rstrip("\r\n")


def _new_password(prompt: str) -> str:
    password = read_line(prompt, secret=True)
    if sys.stdin.isatty() and read_line("Again: ", secret=True) != password:
        print_error("the two passwords differ")
        raise typer.Exit(2)
    return password


NamespaceOption = Annotated[
    str | None,
    typer.Option("--namespace", "-n", help="The namespace (else the global --namespace)."),
]
ServerOption = Annotated[
    str | None,
    typer.Option("--server", help="The server's URL (else as for every command: --url, ...)."),
]


def login(
    ctx: typer.Context,
    server: ServerOption = None,
    namespace: NamespaceOption = None,
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="Your login name (else asked).")
    ] = None,
    key: Annotated[
        bool,
        typer.Option("--key", help="Store an existing API key (asked, or read from stdin)."),
    ] = False,
) -> None:
    """Sign in and store an API key for this server and namespace (mode 0600 in the user's
    config dir); later commands use it. The password is asked, or read from stdin."""
    from sandlot.client import ApiError, ClientError, ServerUnreachable

    state = state_of(ctx)
    url = server or state.locate().url
    chosen = namespace or state.namespace
    try:
        if key:
            stored = _store_given_key(url, chosen, read_line("API key: ", secret=True))
        else:
            name = user or read_line("Login: ", secret=False)
            stored = _sign_in_for_key(url, chosen, name, read_line("Password: ", secret=True))
    except ApiError as exc:
        print_api_error(exc)
        raise typer.Exit(1) from None
    except (ServerUnreachable, ClientError) as exc:
        print_error(str(exc))
        raise typer.Exit(1) from None
    say(f"signed in to {url} in namespace {stored['namespace']} ({stored['role']})")
    note(f"key stored in {stored['path']}")


def _sign_in_for_key(url: str, namespace: str | None, name: str, password: str) -> dict[str, Any]:
    """Sign in, make a key for the CLI with the session, sign out again, store the key."""
    from sandlot.client import SandlotClient

    with SandlotClient(url) as anonymous:
        _, session = anonymous.login(name, password)
    with SandlotClient(url, session=session, namespace=namespace) as signed_in:
        try:
            me = signed_in.me()
            chosen, role = _namespace_and_role(me, namespace)
            with SandlotClient(url, session=session, namespace=chosen) as there:
                label = f"sandlot CLI ({getpass.getuser()}@{socket.gethostname()})"
                created = there.create_key(label[:200], role)
        finally:
            signed_in.logout()
    return _store(url, chosen, created["key"], created.get("id"), role, namespace is None)


def _namespace_and_role(me: dict[str, Any], namespace: str | None) -> tuple[str, str]:
    """Where the key is made, and its role: the user's role there (the platform admin's:
    admin). Without a namespace, `default` if the user is a member, else their first."""
    memberships = {m["namespace"]: m["role"] for m in me.get("memberships", [])}
    first = "default" if "default" in memberships or not memberships else min(memberships)
    if me.get("platform_admin"):
        return namespace or first, "admin"
    chosen = namespace or first
    if chosen not in memberships:
        print_error(f"you are not a member of namespace {chosen!r}; ask an owner to add you")
        raise typer.Exit(1)
    return chosen, memberships[chosen]


def _store_given_key(url: str, namespace: str | None, key: str) -> dict[str, Any]:
    from sandlot.client import SandlotClient

    with SandlotClient(url, key.strip(), namespace=namespace) as client:
        me = client.me()
    (own,) = me["memberships"]
    chosen = namespace or own["namespace"]
    # No key id is kept: `sandlot logout` forgets a key it was given, but revokes only the
    # keys that `sandlot login` made.
    return _store(url, chosen, key.strip(), None, own["role"], namespace is None)


def _store(
    url: str, namespace: str, key: str, key_id: str | None, role: str, make_default: bool
) -> dict[str, Any]:
    from sandlot.client.credentials import StoredKey, credentials_path, store_key

    path = credentials_path(os.environ)
    store_key(path, StoredKey(url, namespace, key, key_id), make_default=make_default)
    return {"namespace": namespace, "role": role, "path": str(path)}


def logout(
    ctx: typer.Context, server: ServerOption = None, namespace: NamespaceOption = None
) -> None:
    """Revoke the key `sandlot login` made for this server and namespace, and forget it (a
    key stored with `--key` is only forgotten)."""
    from sandlot.client import ApiError, ClientError, SandlotClient, ServerUnreachable
    from sandlot.client.credentials import credentials_path, find_key, forget_key

    state = state_of(ctx)
    url = server or state.locate().url
    path = credentials_path(os.environ)
    chosen = namespace or state.namespace
    stored = find_key(path, url, chosen)
    if stored is None:
        note(f"no key stored for {url}" + (f" in {chosen}" if chosen else ""))
        return
    try:
        if stored.key_id:
            with SandlotClient(url, stored.key) as client:
                client.revoke_key(stored.key_id)
    except ApiError as exc:
        note(f"the server did not revoke the key ({exc.name}); forgetting it all the same")
    except (ServerUnreachable, ClientError) as exc:
        print_error(f"{exc}; the key is kept, try again when the server answers")
        raise typer.Exit(1) from None
    forget_key(path, url, stored.namespace)
    say(f"signed out of {url} ({stored.namespace})")


# -- users ----------------------------------------------------------------------------------


@users_app.command("create")
def create_user(
    ctx: typer.Context,
    login_name: Annotated[str, typer.Argument(metavar="LOGIN", help="The login name.")],
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    platform_admin: Annotated[
        bool, typer.Option("--platform-admin", help="May do everything everywhere.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Create a user; the password is asked (twice), or read from stdin."""
    password = _new_password("Password: ")
    with api_session(ctx) as client:
        made = client.create_user(
            login_name, password, display_name=display_name, platform_admin=platform_admin
        )
    _show(made, json_output, f"created user {made['login']}")


@users_app.command("list")
def list_users(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List users."""
    with api_session(ctx) as client:
        items = client.list_users()
    if json_output:
        print_json({"items": items})
        return
    rows = (
        [
            fmt(user.get("login")),
            fmt(user.get("display_name")),
            "yes" if user.get("platform_admin") else "",
            "disabled" if user.get("disabled") else "active",
            fmt_time(user.get("created_at")),
        ]
        for user in items
    )
    print_table(("LOGIN", "NAME", "ADMIN", "STATE", "CREATED"), rows)


@users_app.command("disable")
def disable_user(
    ctx: typer.Context, login_name: Annotated[str, typer.Argument(metavar="LOGIN")]
) -> None:
    """Disable a user: their sessions end and their keys stop working at once."""
    with api_session(ctx) as client:
        client.update_user(login_name, disabled=True)
    say(f"disabled {login_name}")


@users_app.command("enable")
def enable_user(
    ctx: typer.Context, login_name: Annotated[str, typer.Argument(metavar="LOGIN")]
) -> None:
    """Enable a disabled user again."""
    with api_session(ctx) as client:
        client.update_user(login_name, disabled=False)
    say(f"enabled {login_name}")


@users_app.command("reset-password")
def reset_password(
    ctx: typer.Context, login_name: Annotated[str, typer.Argument(metavar="LOGIN")]
) -> None:
    """Set a user's password (asked twice, or read from stdin); their sessions end."""
    password = _new_password("New password: ")
    with api_session(ctx) as client:
        client.set_password(login_name, password)
    say(f"password of {login_name} set")


def _show(record: dict[str, Any], json_output: bool, message: str) -> None:
    if json_output:
        print_json(record)
    else:
        say(message)


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(logout)
    app.add_typer(users_app, name="users")
