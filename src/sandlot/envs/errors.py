"""The one error a dependency build raises, and a name for each way it can fail.

Malformed declarations raise `sandlot.domain.errors.InvalidRequirements` instead: those
are caught before anything runs, while this error means uv ran and could not finish.
"""

from __future__ import annotations

import enum
from typing import Any

from sandlot.domain.errors import SandlotError


class BuildCause(enum.StrEnum):
    """Why a resolve or an install failed; stable strings for the API and the UI."""

    PACKAGE_NOT_FOUND = "package_not_found"
    NO_SOLUTION = "no_solution"  # version conflict, or no version fits this Python
    SDIST_BUILD_FAILED = "sdist_build_failed"
    INVALID_REQUIREMENT = "invalid_requirement"
    HASH_MISMATCH = "hash_mismatch"
    DOWNLOAD_FAILED = "download_failed"
    TIMEOUT = "timeout"
    TOO_LARGE = "too_large"
    UV_ERROR = "uv_error"


class EnvironmentBuildFailed(SandlotError):
    """Resolving or installing a function's dependencies failed.

    `cause` is a `BuildCause`; `output` is the tail of uv's own error text (empty when
    Sandlot stopped uv itself, for a timeout or the size cap).
    """

    def __init__(self, message: str, *, cause: BuildCause, output: str = "", **extra: Any) -> None:
        super().__init__(message, cause=str(cause), output=output, **extra)
        self.cause = cause
        self.output = output
