"""Parsing of option values that Typer cannot check by type alone. Errors are usage errors
(`typer.BadParameter`, exit status 2) raised before anything is sent to the server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from sandlot.domain.aliases import ALIAS_NAME
from sandlot.domain.limits import FUNCTION_NAME_RE


def read_data(value: str | None) -> bytes:
    """`--data`: inline JSON, `@file` or `-` (stdin). Returns the JSON bytes as given, or
    b"" (an empty body, which the API reads as a null event) when there is no data."""
    if value is None:
        return b""
    if value == "-":
        raw = sys.stdin.buffer.read()
        source = "stdin"
    elif value.startswith("@"):
        source = value[1:]
        try:
            raw = Path(source).read_bytes()
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot read {source}: {exc.strerror}", param_hint="--data"
            ) from None
    else:
        raw, source = value.encode(), "the value"
    if raw.strip():
        check_json(raw, source)
    return raw


def check_json(raw: bytes, source: str) -> None:
    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(
            f"{source} is not valid JSON: {exc}", param_hint="--data"
        ) from None


def parse_env(pairs: list[str] | None, option: str = "--env") -> dict[str, str] | None:
    """`--env K=V` (repeatable) into a dict; None when no `--env` was given at all, so that a
    redeploy keeps the function's current environment."""
    if not pairs:
        return None
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=option)
        env[key] = value
    return env


def check_name(name: str) -> str:
    """A Typer callback: the function name rule, checked here to fail fast with status 2."""
    if not FUNCTION_NAME_RE.fullmatch(name):
        raise typer.BadParameter(
            f"{name!r}: use 1-63 lowercase letters, digits and '-', starting with a letter"
        )
    return name


def check_qualified_name(qualified: str) -> str:
    """A Typer callback: NAME or NAME:ALIAS, each part by its rule."""
    name, colon, alias = qualified.partition(":")
    check_name(name)
    if colon and alias != "latest" and not ALIAS_NAME.fullmatch(alias):
        raise typer.BadParameter(
            f"{alias!r}: an alias is a lowercase letter, then up to 62 lowercase letters, "
            "digits or '-'"
        )
    return qualified


def parse_secrets(
    given: list[str] | None, option: str = "--secret"
) -> tuple[dict[str, str], ...] | None:
    """`--secret NAME` (an env var) or `--secret NAME:file` (/run/secrets/NAME), repeatable;
    None when none was given, so that a new version keeps the function's current secrets."""
    if not given:
        return None
    refs = []
    for item in given:
        name, _, mount = item.partition(":")
        mount = mount or "env"
        if not name or mount not in ("env", "file"):
            raise typer.BadParameter(
                f"expected NAME or NAME:file (or NAME:env), got {item!r}", param_hint=option
            )
        refs.append({"name": name, "as": mount})
    return tuple(refs)
