"""`sandlot invoke NAME --async`, `sandlot invocations wait|redrive|discard`: what a caller
does with asynchronous calls (their dead letters are `sandlot invocations list --state dead`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from sandlot.cli.config import api_session
from sandlot.cli.output import JsonOption, note, print_error, print_json, say

if TYPE_CHECKING:
    from sandlot.client import JSON

# `sandlot invocations wait`: the call ended some other way than succeeded, or had not ended
# when the timeout came (as `timeout(1)` says it).
EXIT_NOT_SUCCEEDED = 1
EXIT_STILL_RUNNING = 124

IdArg = Annotated[str | None, typer.Argument(help="The invocation id (or --function NAME --all).")]
FunctionOption = Annotated[
    str | None, typer.Option("--function", "-f", help="With --all: this function's.")
]
AllOption = Annotated[bool, typer.Option("--all", help="Every dead letter of --function.")]


def invoke_async(
    ctx: typer.Context,
    name: str,
    event: bytes,
    *,
    version: int | None,
    idempotency_key: str | None,
    json_output: bool,
    routing_key: str | None = None,
) -> None:
    """Queue the call; print its id and state (the whole invocation with --json)."""
    with api_session(ctx) as client:
        queued = client.invoke_async(
            name,
            event,
            version=version,
            idempotency_key=idempotency_key,
            routing_key=routing_key,
        )
    if json_output:
        print_json(queued)
        return
    say(f"{queued['id']}  {queued['state']}")
    note(f"wait for it: sandlot invocations wait {queued['id']}")


def wait(
    ctx: typer.Context,
    invocation_id: Annotated[str, typer.Argument(help="The invocation id.")],
    timeout: Annotated[
        float | None,
        typer.Option(help="Give up after this many seconds (default: wait until it ends).", min=0),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Wait until an invocation ends; print its result (exit 0) or its error (exit 1).
    Exit 124 if it had not ended by --timeout."""
    with api_session(ctx) as client:
        found = client.wait_invocation(invocation_id, timeout)
    if json_output:
        print_json(found)
    elif found.get("state") == "succeeded":
        print_json(found.get("result"))
    state = found.get("state")
    if state == "succeeded":
        return
    if state in ("queued", "running"):
        note(f"{invocation_id} is still {state} (attempt {found.get('attempt')})")
        raise typer.Exit(EXIT_STILL_RUNNING)
    if not json_output:
        _print_failure(found)
    raise typer.Exit(EXIT_NOT_SUCCEEDED)


def _print_failure(found: JSON) -> None:
    error = found.get("error") or {}
    kind = error.get("exception_type") or error.get("kind") or "error"
    print_error(f"{found.get('state')}: {kind}: {error.get('message', '')}".rstrip(": "))
    for earlier in found.get("attempts") or []:
        cause = earlier.get("error") or {}
        attempt, state = earlier.get("attempt"), earlier.get("state")
        note(f"  attempt {attempt}: {state}  {cause.get('message', '')}")


def _target(invocation_id: str | None, function: str | None, every: bool) -> str | None:
    """The function whose dead letters all go, or None for the one id; a usage error unless
    exactly one of the two was given."""
    if every and function and invocation_id is None:
        return function
    if invocation_id is not None and not every and function is None:
        return None
    print_error("give an invocation id, or --function NAME --all")
    raise typer.Exit(2)


def redrive(
    ctx: typer.Context,
    invocation_id: IdArg = None,
    function: FunctionOption = None,
    every: AllOption = False,
    json_output: JsonOption = False,
) -> None:
    """Queue a dead letter again (attempts counted afresh), or all of a function's."""
    name = _target(invocation_id, function, every)
    with api_session(ctx) as client:
        if name is not None:
            count = client.redrive_dead_letters(name)
            _counted(json_output, "redriven", count, f"queued {count} dead letters of {name} again")
            return
        assert invocation_id is not None
        queued = client.redrive_invocation(invocation_id)
    if json_output:
        print_json(queued)
    else:
        say(f"{queued['id']}  {queued['state']}")


def discard(
    ctx: typer.Context,
    invocation_id: IdArg = None,
    function: FunctionOption = None,
    every: AllOption = False,
    json_output: JsonOption = False,
) -> None:
    """Delete a dead letter, or all of a function's (they are gone: see the audit log)."""
    name = _target(invocation_id, function, every)
    with api_session(ctx) as client:
        if name is not None:
            count = client.discard_dead_letters(name)
            _counted(json_output, "discarded", count, f"deleted {count} dead letters of {name}")
            return
        assert invocation_id is not None
        client.discard_invocation(invocation_id)
    _counted(json_output, "discarded", 1, f"deleted {invocation_id}")


def _counted(json_output: bool, key: str, count: int, text: str) -> None:
    if json_output:
        print_json({key: count})
    else:
        say(text)


def register(invocations_app: typer.Typer) -> None:
    invocations_app.command("wait")(wait)
    invocations_app.command("redrive")(redrive)
    invocations_app.command("discard")(discard)
