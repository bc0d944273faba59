"""Secrets' rules: names, sizes, and how a function names the secrets it uses. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sandlot.domain.errors import InvalidInput, InvalidSecretName, SecretTooLarge

SECRET_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
SECRET_MAX_BYTES = 64 * 1024
MAX_SECRETS_PER_FUNCTION = 100
# Where file secrets appear inside an instance, one read-only file per name.
SECRETS_DIR = "/run/secrets"
# Names the runtime sets itself (ours, Python's, the Lambda runtime's and the dynamic
# loader's): a secret by such a name would silently change how every instance starts.
RESERVED_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "LANG",
        "TMPDIR",
        "TZ",
        "_HANDLER",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
    }
)
RESERVED_PREFIXES = ("SANDLOT_", "PYTHON", "AWS_", "LAMBDA_", "_X_AMZN", "LD_")


class SecretMount(StrEnum):
    """How a secret reaches a function's instances."""

    ENV = "env"  # an environment variable of the secret's name
    FILE = "file"  # a read-only file /run/secrets/<NAME>


@dataclass(frozen=True)
class SecretRef:
    """One secret a function version names: never its value."""

    name: str
    mount: SecretMount = SecretMount.ENV

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "as": self.mount.value}


@dataclass(frozen=True)
class SecretInfo:
    """What anyone allowed may know of a secret: everything but its value."""

    name: str
    version: int
    updated_by: str
    updated_at: datetime
    created_at: datetime


def check_secret_name(name: str) -> str:
    if not SECRET_NAME_RE.fullmatch(name):
        raise InvalidSecretName(
            f"invalid secret name {name[:140]!r}: use an environment-variable name, 1-128 "
            "letters, digits and '_', not starting with a digit",
            name=name[:140],
        )
    upper = name.upper()
    if upper in RESERVED_NAMES or upper.startswith(RESERVED_PREFIXES):
        raise InvalidSecretName(
            f"secret name {name!r} is reserved: the runtime sets it (reserved: "
            f"{sorted(RESERVED_NAMES)} and the prefixes {list(RESERVED_PREFIXES)})",
            name=name,
        )
    return name


def check_secret_value(value: str) -> bytes:
    """The value as stored (UTF-8), refused if too large or unusable in an environment."""
    try:
        data = value.encode()
    except UnicodeEncodeError:  # a lone surrogate, from a \ud800 escape in the JSON
        raise InvalidInput("the secret's value is not valid Unicode") from None
    if len(data) > SECRET_MAX_BYTES:
        raise SecretTooLarge(
            f"the secret's value is {len(data)} bytes; at most {SECRET_MAX_BYTES} are allowed",
            size=len(data),
            max=SECRET_MAX_BYTES,
        )
    if "\0" in value:
        raise InvalidInput("the secret's value contains a NUL byte, which no env var can hold")
    return data


def check_secret_refs(refs: tuple[SecretRef, ...], env: dict[str, str]) -> tuple[SecretRef, ...]:
    """A function's list of secrets: valid names, each once, none also in its plain env."""
    if len(refs) > MAX_SECRETS_PER_FUNCTION:
        raise InvalidInput(
            f"a function may name at most {MAX_SECRETS_PER_FUNCTION} secrets, got {len(refs)}"
        )
    seen: set[str] = set()
    for ref in refs:
        check_secret_name(ref.name)
        if ref.name in seen:
            raise InvalidInput(f"secret {ref.name!r} is named twice", secret=ref.name)
        seen.add(ref.name)
    clash = sorted(seen & set(env))
    if clash:
        raise InvalidInput(
            f"{clash} are both plain environment variables and secrets; keep one",
            names=clash,
        )
    return refs


def parse_secret_refs(raw: object) -> tuple[SecretRef, ...]:
    """`["DB_PASSWORD", {"name": "TLS_KEY", "as": "file"}]`, as a deploy carries it."""
    if not isinstance(raw, list):
        raise InvalidInput("'secrets' must be a list of names or {name, as} objects")
    return tuple(_parse_ref(item) for item in raw)


def _parse_ref(item: object) -> SecretRef:
    if isinstance(item, str):
        return SecretRef(check_secret_name(item))
    if isinstance(item, dict) and isinstance(item.get("name"), str) and set(item) <= {"name", "as"}:
        mount = item.get("as", SecretMount.ENV.value)
        if mount not in {m.value for m in SecretMount}:
            raise InvalidInput(
                f"a secret's 'as' is 'env' or 'file', got {str(mount)[:40]!r}", field="secrets"
            )
        return SecretRef(check_secret_name(item["name"]), SecretMount(mount))
    raise InvalidInput(
        'each entry of \'secrets\' is a name or an object {"name": ..., "as": "env"|"file"}',
        field="secrets",
    )


def secret_aad(namespace_id: str, name: str, version: int) -> bytes:
    """The associated data a secret's ciphertext is bound to: moved to another namespace,
    renamed or given another version number, a row no longer decrypts."""
    return f"sandlot-secret\0{namespace_id}\0{name}\0{version}".encode()


@dataclass(frozen=True)
class StoredSecret:
    """A secret's row as stored: its sealed value and the id of the key that sealed it."""

    id: str
    namespace_id: str
    info: SecretInfo
    key_id: str
    ciphertext: bytes = field(repr=False)
