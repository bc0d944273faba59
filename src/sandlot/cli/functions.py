"""Commands about functions: deploy, invoke, `functions list|get|delete`, versions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sandlot.cli.config import api_session
from sandlot.cli.output import (
    JsonOption,
    command_group,
    fmt,
    fmt_time,
    note,
    print_error,
    print_json,
    print_record,
    print_table,
    say,
    stderr_console,
)
from sandlot.cli.parsing import (
    check_name,
    check_qualified_name,
    parse_egress,
    parse_env,
    parse_secrets,
    read_data,
)

if TYPE_CHECKING:
    from sandlot.client import JSON, FunctionConfig, SandlotClient

functions_app = command_group("List, show and delete functions.")

NameArg = Annotated[str, typer.Argument(help="The function's name.", callback=check_name)]
QualifiedArg = Annotated[
    str,
    typer.Argument(
        help="The function's name, or NAME:ALIAS to call through an alias.",
        callback=check_qualified_name,
    ),
]
_SETTLED = frozenset({"ready", "failed"})


# The configuration options `deploy` and `config` share.
HandlerOption = Annotated[
    str | None, typer.Option(help="module.function (the server defaults to main.handler).")
]
MemoryOption = Annotated[int | None, typer.Option(help="Memory limit in MB.", min=1)]
TimeoutOption = Annotated[int | None, typer.Option(help="Timeout in seconds.", min=1)]
MaxConcurrencyOption = Annotated[
    int | None, typer.Option(help="At most this many instances at once.", min=1)
]
MinWarmOption = Annotated[
    int | None, typer.Option(help="Keep this many instances started and ready.", min=0)
]
KeepAliveOption = Annotated[
    int | None, typer.Option(help="Stop idle instances after this many seconds.", min=0)
]
SecretOption = Annotated[
    list[str] | None,
    typer.Option(
        "--secret",
        "-s",
        help="A secret of the namespace its instances get: NAME (an env var) or NAME:file "
        "(/run/secrets/NAME); repeatable. Replaces the list; without it the list is kept.",
    ),
]
EgressOption = Annotated[
    str | None,
    typer.Option(
        "--egress",
        metavar="none|internet",
        help="Network access: 'none' (nothing) or 'internet' (every public address, plus "
        "any --allow-egress). Without it or --allow-egress the policy is kept.",
    ),
]
AllowEgressOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-egress",
        metavar="DEST",
        help="A destination the function may reach: host:port, host, 1.2.3.4:443, "
        "10.0.5.0/24:5432, [2001:db8::1]:443; repeatable. Replaces the allow-list.",
    ),
]
LogLevelOption = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        metavar="DEBUG|INFO|WARNING|ERROR|CRITICAL",
        help="The level of the function's root logger (Lambda's log level); default INFO.",
        callback=lambda value: None if value is None else value.upper(),
    ),
]
WaitOption = Annotated[
    bool, typer.Option(help="Follow the dependency build until the version is ready.")
]


def deploy(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            exists=True, file_okay=False, help="The folder with the handler module to deploy."
        ),
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="Function name.", callback=check_name)],
    handler: HandlerOption = None,
    memory: MemoryOption = None,
    timeout: TimeoutOption = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            "-e",
            help="KEY=VALUE, repeatable. Replaces the whole environment: variables not given "
            "are gone (to change one, use `sandlot config NAME --env-set/--env-unset`). "
            "Without --env a new version keeps the current environment.",
        ),
    ] = None,
    max_concurrency: MaxConcurrencyOption = None,
    min_warm: MinWarmOption = None,
    keep_alive: KeepAliveOption = None,
    secret: SecretOption = None,
    egress: EgressOption = None,
    allow_egress: AllowEgressOption = None,
    log_level: LogLevelOption = None,
    expect_version: Annotated[
        int | None,
        typer.Option(
            "--expect-version",
            help="The version this deploy supersedes: refused if another deploy made a newer "
            "one first (the function must exist).",
            min=1,
        ),
    ] = None,
    wait: WaitOption = True,
    json_output: JsonOption = False,
) -> None:
    """Create the function from a folder, or add a new version if it exists. Code and
    configuration identical to the newest version make no new version (and say so)."""
    from sandlot.client import FunctionConfig, zip_folder

    config = FunctionConfig(
        handler=handler,
        memory_mb=memory,
        timeout_s=timeout,
        env=parse_env(env),
        max_concurrency=max_concurrency,
        min_warm=min_warm,
        keep_alive_s=keep_alive,
        secrets=parse_secrets(secret),
        egress=parse_egress(egress, allow_egress),
        log_level=log_level,
    )
    code = zip_folder(path)
    with api_session(ctx) as client:
        if expect_version is None:
            function = _create_or_update(client, name, code, config)
        else:
            function = client.update_function(name, code, config, expect_version=expect_version)
        _warn(function)
        version = _settle(client, function, wait=wait, quiet=json_output)
    _report(name, version, json_output=json_output, unchanged=bool(function.get("unchanged")))


def config(
    ctx: typer.Context,
    name: NameArg,
    handler: HandlerOption = None,
    memory: MemoryOption = None,
    timeout: TimeoutOption = None,
    env_set: Annotated[
        list[str] | None,
        typer.Option("--env-set", help="KEY=VALUE to set (or change), repeatable."),
    ] = None,
    env_unset: Annotated[
        list[str] | None, typer.Option("--env-unset", help="KEY to remove, repeatable.")
    ] = None,
    max_concurrency: MaxConcurrencyOption = None,
    min_warm: MinWarmOption = None,
    keep_alive: KeepAliveOption = None,
    secret: SecretOption = None,
    no_secrets: Annotated[
        bool, typer.Option("--no-secrets", help="The new version names no secret.")
    ] = False,
    egress: EgressOption = None,
    allow_egress: AllowEgressOption = None,
    log_level: LogLevelOption = None,
    wait: WaitOption = True,
    json_output: JsonOption = False,
) -> None:
    """Change a function's configuration: a new version with the newest version's code.

    Other variables of its environment are kept; what is not given stays as it was.
    """
    from sandlot.client import FunctionConfig

    changes = FunctionConfig(
        handler=handler,
        memory_mb=memory,
        timeout_s=timeout,
        max_concurrency=max_concurrency,
        min_warm=min_warm,
        keep_alive_s=keep_alive,
        env_set=parse_env(env_set, "--env-set"),
        env_unset=tuple(env_unset) if env_unset else None,
        secrets=() if no_secrets else parse_secrets(secret),
        egress=parse_egress(egress, allow_egress),
        log_level=log_level,
    )
    if not changes.fields():
        raise typer.BadParameter("nothing to change: give at least one option (see --help)")
    with api_session(ctx) as client:
        function = client.update_function(name, None, changes)
        _warn(function)
        version = _settle(client, function, wait=wait, quiet=json_output)
    _report(name, version, json_output=json_output, unchanged=bool(function.get("unchanged")))


def _warn(function: JSON) -> None:
    """What the server said the caller should know (e.g. egress is not enforced here)."""
    for warning in function.get("warnings") or ():
        note(f"warning: {warning}")


def _settle(client: SandlotClient, function: JSON, *, wait: bool, quiet: bool) -> JSON:
    """The version a deploy made, followed until it is ready or failed when it is building."""
    version = _new_version(client, function)
    if wait and version["state"] not in _SETTLED:
        _follow_build(client, function["name"], version["number"], quiet=quiet)
        version = client.get_version(function["name"], version["number"])
    return version


def _report(name: str, version: JSON, *, json_output: bool, unchanged: bool = False) -> None:
    """The new version's state; a failed one (its traceback included) exits with status 1.
    `unchanged`: the deploy made no version, `version` is the identical newest one."""
    if json_output:
        print_json({**version, "unchanged": True} if unchanged else version)
    elif unchanged:
        say(
            f"{name}  version {version['number']}  {version['state']}  "
            "(unchanged: identical to the newest version, no new version made)"
        )
    else:
        say(f"{name}  version {version['number']}  {version['state']}")
    if version["state"] == "failed":
        print_error(f"version {version['number']} failed to build: {fmt(version.get('error'))}")
        raise typer.Exit(1)


def _create_or_update(
    client: SandlotClient, name: str, code: bytes, config: FunctionConfig
) -> JSON:
    from sandlot.client import ApiError

    try:
        return client.create_function(name, code, config)
    except ApiError as exc:
        if exc.name != "FunctionAlreadyExists":
            raise
    return client.update_function(name, code, config)


def _new_version(client: SandlotClient, function: JSON) -> JSON:
    # `config` describes the latest *ready* version, which need not be the one just made;
    # versions are numbered without gaps, so the count is the new version's number.
    number = int(function["versions"])
    config = function.get("config")
    if isinstance(config, dict) and config.get("number") == number:
        return config
    return client.get_version(function["name"], number)


def _follow_build(client: SandlotClient, name: str, number: int, *, quiet: bool) -> None:
    """Show the build log live (on stderr, so stdout stays the result) with a spinner."""
    stderr = stderr_console()
    with stderr.status(f"building {name} version {number}...") as status:
        for event, data in client.follow_build(name, number):
            if event == "log" and data:
                if not quiet:
                    stderr.print(f"  {data}", style="dim")
                status.update(f"building {name} version {number}: {data[:60]}")


def invoke(
    ctx: typer.Context,
    name: QualifiedArg,
    data: Annotated[
        str | None,
        typer.Option("--data", "-d", help="The event: JSON, @file, or - for stdin."),
    ] = None,
    version: Annotated[int | None, typer.Option(help="Run this version, not the latest.")] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also print invocation details to stderr.")
    ] = False,
    queue: Annotated[
        bool,
        typer.Option(
            "--async",
            help="Queue the call (run in the background, retried by the function's policy) "
            "and print its invocation id and state.",
        ),
    ] = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            help="With --async: a repeat with this key within 24 hours gives the first call.",
        ),
    ] = None,
    routing_key: Annotated[
        str | None,
        typer.Option(
            "--routing-key",
            help="With NAME:ALIAS: the same key always reaches the same version of a split.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Call a function (NAME, or NAME:ALIAS through an alias) and print its result as JSON
    (with --async: queue it)."""
    event = read_data(data)
    if queue or idempotency_key is not None:
        from sandlot.cli.async_control import invoke_async

        invoke_async(
            ctx,
            name,
            event,
            version=version,
            idempotency_key=idempotency_key,
            json_output=json_output,
            routing_key=routing_key,
        )
        return
    with api_session(ctx) as client:
        outcome = client.invoke(name, event, version=version, routing_key=routing_key)
    print_json(outcome.result)
    if verbose:
        note(
            f"invocation {outcome.invocation_id}  version {fmt(outcome.version)}  "
            f"alias {fmt(outcome.alias)}  "
            f"cold start {fmt(outcome.cold_start)}  {fmt(outcome.duration_ms)} ms"
        )


@functions_app.command("list")
def list_functions(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the functions of this key's namespace."""
    with api_session(ctx) as client:
        items = client.list_functions()
    if json_output:
        print_json({"items": items})
        return
    columns = ("NAME", "LATEST", "VERSIONS", "STATE", "HANDLER", "MEMORY", "TIMEOUT", "UPDATED")
    print_table(columns, (_function_row(item) for item in items))


def _function_row(function: JSON) -> list[str]:
    config = function.get("config") or {}
    return [
        function["name"],
        fmt(function.get("latest_version")),
        fmt(function.get("versions")),
        fmt(config.get("state")),
        fmt(config.get("handler")),
        fmt(config.get("memory_mb")),
        fmt(config.get("timeout_s")),
        fmt_time(function.get("updated_at")),
    ]


@functions_app.command("get")
def get_function(ctx: typer.Context, name: NameArg, json_output: JsonOption = False) -> None:
    """Show one function and its latest configuration."""
    with api_session(ctx) as client:
        function = client.get_function(name)
    if json_output:
        print_json(function)
    else:
        print_record(function)
        egress = (function.get("config") or {}).get("egress")
        if egress is not None:
            say(f"network  {', '.join(egress)}")


@functions_app.command("delete")
def delete_function(
    ctx: typer.Context,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a function with all its versions."""
    if not yes:
        typer.confirm(f"Delete function {name} and all its versions?", abort=True)
    with api_session(ctx) as client:
        client.delete_function(name)
    say(f"deleted {name}")


def versions(
    ctx: typer.Context,
    name: NameArg,
    number: Annotated[int | None, typer.Argument(help="Show only this version.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List a function's versions, or show one."""
    if number is not None:
        with api_session(ctx) as client:
            version = client.get_version(name, number)
        (print_json if json_output else print_record)(version)
        return
    with api_session(ctx) as client:
        items = client.list_versions(name)
    if json_output:
        print_json({"items": items})
        return
    columns = (
        "VERSION",
        "STATE",
        "HANDLER",
        "MEMORY",
        "TIMEOUT",
        "SIZE",
        "SHA256",
        "CREATED",
        "BY",
    )
    print_table(columns, (_version_row(v) for v in items))


def _version_row(version: JSON) -> list[str]:
    return [
        fmt(version.get("number")),
        fmt(version.get("state")),
        fmt(version.get("handler")),
        fmt(version.get("memory_mb")),
        fmt(version.get("timeout_s")),
        fmt(version.get("code_size")),
        fmt(version.get("code_sha256"))[:12],
        fmt_time(version.get("created_at")),
        fmt(version.get("deployed_by")),
    ]
