"""Schemathesis hooks for tests/e2e/test_schemathesis.py (loaded by its schemathesis.toml).

The run may create and revoke keys (the stateful phase does), but never the key it runs
with: it would lock itself out and every later answer would be a 401. Likewise it may delete
functions, but never `echo`, which the config pins every call and read to: once gone, every
later read of it would be a 404 that the stateful checks take for a lost resource.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

OWN_KEY_ID = os.environ.get("SANDLOT_SCHEMATHESIS_KEY_ID", "")
# A well-formed id that no key has, so the call still goes out and is still checked (a 404).
STAND_IN_ID = "00000000-0000-4000-8000-000000000000"
PINNED_FUNCTION = "echo"
STAND_IN_FUNCTION = "echo-stand-in"  # a valid name that no function has: a 404, still checked


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.path.endswith("/logs/stream"):
        # A followed stream lasts up to `max_s` (an hour by default), past the request
        # timeout: check its replay, which ends by itself.
        case.query = {**(case.query or {}), "follow": "false"}
    parameters = case.path_parameters or {}
    if case.method.upper() != "DELETE":
        return
    if parameters.get("key_id") == OWN_KEY_ID:
        parameters["key_id"] = STAND_IN_ID
    if parameters.get("name") == PINNED_FUNCTION:
        parameters["name"] = STAND_IN_FUNCTION
