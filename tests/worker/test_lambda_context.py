"""A handler sees Lambda's runtime: its context object, environment variables and logging."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from dataclasses import replace
from typing import Any

import pytest

from sandlot.config import Settings
from sandlot.domain.arns import function_arn
from sandlot.domain.states import InvocationState
from sandlot.sandbox.plain import PlainStarter
from sandlot.worker.interface import CallInfo, InvokeOutcome, VersionSpec
from sandlot.worker.pool import RuntimePool
from tests.worker.helpers import FunctionFactory

CONTEXT = """
import os

def handler(event, context):
    identity = context.identity
    client = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "invocation_id": context.invocation_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "memory_limit_mb": context.memory_limit_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": [identity.cognito_identity_id, identity.cognito_identity_pool_id],
        "client_context": None if client is None else {
            "installation_id": client.client.installation_id,
            "app_title": client.client.app_title,
            "app_package_name": client.client.app_package_name,
            "custom": client.custom,
            "env": client.env,
        },
        "remaining": [context.get_remaining_time_in_millis(), context.get_remaining_time_ms()],
        "stream_variable": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
    }
"""

ENVIRONMENT = """
import os

NAMES = [
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
    "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER", "TZ", "AWS_LAMBDA_LOG_LEVEL",
]

def handler(event, context):
    return {name: os.environ.get(name) for name in NAMES}
"""

STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[3\][0-9a-f]{32}$")
LINE = r"\[{level}\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{request}\t{message}\n"


@pytest.fixture(params=[True, False], ids=["zygotes", "processes"])
async def both_pools(request: pytest.FixtureRequest, settings: Settings) -> Any:
    """The same checks with instances forked from a zygote and started one by one."""
    configured = settings.model_copy(update={"zygotes": request.param, "aws_region": "eu-west-3"})
    runtime = RuntimePool(PlainStarter(), configured)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close(grace_s=0)


def _result(outcome: InvokeOutcome) -> Any:
    assert outcome.state is InvocationState.SUCCEEDED, outcome.error
    assert outcome.result_json is not None
    return json.loads(outcome.result_json)


async def test_the_context_has_lambdas_attributes_names_and_types(
    both_pools: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(CONTEXT, namespace="team-a", function_name="ctx", version=3, memory_mb=192)
    arn = function_arn("eu-west-3", "team-a", "ctx")
    plain = _result(await both_pools.invoke(spec, "inv-1", b"null"))
    assert plain["aws_request_id"] == plain["invocation_id"] == "inv-1"
    assert plain["function_name"] == "ctx"
    assert plain["function_version"] == "3"
    assert plain["invoked_function_arn"] == arn
    assert plain["memory_limit_in_mb"] == "192" and plain["memory_limit_mb"] == 192
    assert plain["log_group_name"] == "/sandlot/team-a/ctx"
    assert STREAM.fullmatch(plain["log_stream_name"]), plain["log_stream_name"]
    assert plain["stream_variable"] == plain["log_stream_name"]
    assert plain["identity"] == [None, None]
    assert plain["client_context"] is None
    assert 0 < plain["remaining"][0] <= 10_000 and 0 < plain["remaining"][1] <= 10_000

    client_context = {
        "client": {"installation_id": "i-1", "app_title": "shop", "app_package_name": "p"},
        "custom": {"tenant": "t1"},
        "env": {"locale": "fr"},
    }
    call = CallInfo(qualifier="prod", client_context=client_context)
    routed = _result(await both_pools.invoke(spec, "inv-2", b"null", call))
    assert routed["invoked_function_arn"] == f"{arn}:prod"
    assert routed["client_context"] == {
        "installation_id": "i-1",
        "app_title": "shop",
        "app_package_name": "p",
        "custom": {"tenant": "t1"},
        "env": {"locale": "fr"},
    }
    # The same warm instance: same stream; the next call without a qualifier is unqualified.
    assert routed["log_stream_name"] == plain["log_stream_name"]
    again = _result(await both_pools.invoke(spec, "inv-3", b"null"))
    assert again["invoked_function_arn"] == arn and again["client_context"] is None
    numbered = _result(await both_pools.invoke(spec, "inv-4", b"null", CallInfo(qualifier="3")))
    assert numbered["invoked_function_arn"] == f"{arn}:3"


async def test_each_instance_has_its_own_log_stream(
    both_pools: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(CONTEXT, version=3, max_concurrency=2)
    first = _result(await both_pools.invoke(spec, "a", b"null"))
    # Two calls at once need two instances.
    outcomes = await asyncio.gather(
        both_pools.invoke(spec, "b", b"null"), both_pools.invoke(spec, "c", b"null")
    )
    streams = {first["log_stream_name"], *(_result(o)["log_stream_name"] for o in outcomes)}
    assert len(streams) >= 2


async def test_lambdas_environment_variables(
    both_pools: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(ENVIRONMENT, namespace="ns", function_name="env-fn", version=2, memory_mb=256)
    env = _result(await both_pools.invoke(spec, "a", b"null"))
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert env == {
        "AWS_LAMBDA_FUNCTION_NAME": "env-fn",
        "AWS_LAMBDA_FUNCTION_VERSION": "2",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/sandlot/ns/env-fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": env["AWS_LAMBDA_LOG_STREAM_NAME"],
        "AWS_REGION": "eu-west-3",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{python}",
        "LAMBDA_TASK_ROOT": env["LAMBDA_TASK_ROOT"],
        "LAMBDA_RUNTIME_DIR": env["LAMBDA_RUNTIME_DIR"],
        "_HANDLER": "main.handler",
        "TZ": ":UTC",
        "AWS_LAMBDA_LOG_LEVEL": None,
    }
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[2\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    # Without a task root from the launcher, the code's own folder is it (plain processes).
    assert env["LAMBDA_TASK_ROOT"] == str(spec.code_dir.resolve())

    leveled = replace(spec, function_id="fid-warn", log_level="WARNING")
    assert _result(await both_pools.invoke(leveled, "b", b"null"))["AWS_LAMBDA_LOG_LEVEL"] == "WARN"


async def test_the_functions_own_env_overrides_lambdas(
    both_pools: RuntimePool, function: FunctionFactory
) -> None:
    own = {
        "AWS_REGION": "mine-1",
        "TZ": "Europe/Paris",
        "AWS_LAMBDA_LOG_STREAM_NAME": "my-stream",
        "LAMBDA_TASK_ROOT": "/my/root",
        "_HANDLER": "other.handler",
    }
    spec = function(ENVIRONMENT, env=own)
    env = _result(await both_pools.invoke(spec, "a", b"null"))
    for name, value in own.items():
        assert env[name] == value, name
    assert env["AWS_DEFAULT_REGION"] == "eu-west-3"  # not overridden: Sandlot's value


LOGGING = """
import logging

logging.getLogger().info("imported")
logging.basicConfig(level=logging.DEBUG, format="%(message)s")  # does nothing, as on Lambda
log = logging.getLogger("my.module")

def handler(event, context):
    log.debug("debug %s", event)
    log.info("info %s", event)
    logging.warning("root warning")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    return None
"""


async def test_logging_goes_through_lambdas_root_handler(
    both_pools: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(LOGGING)
    first = await both_pools.invoke(spec, "req-1", b'"one"')
    lines = first.logs
    assert re.match(LINE.format(level="INFO", request="", message="imported"), lines), lines
    assert re.search(LINE.format(level="INFO", request="req-1", message="info one"), lines)
    assert re.search(LINE.format(level="WARNING", request="req-1", message="root warning"), lines)
    assert re.search(LINE.format(level="ERROR", request="req-1", message="failed"), lines)
    assert "Traceback (most recent call last)" in lines and "ValueError: boom" in lines
    assert "debug one" not in lines  # INFO by default; basicConfig changed nothing
    second = await both_pools.invoke(spec, "req-2", b'"two"')
    assert re.match(LINE.format(level="INFO", request="req-2", message="info two"), second.logs)
    assert "req-1" not in second.logs and "imported" not in second.logs


@pytest.mark.parametrize(
    ("level", "seen", "unseen"),
    [("DEBUG", ["debug x", "info x"], []), ("ERROR", ["failed"], ["info x", "root warning"])],
)
async def test_the_log_level_is_the_versions(
    both_pools: RuntimePool,
    function: FunctionFactory,
    level: str,
    seen: list[str],
    unseen: list[str],
) -> None:
    spec: VersionSpec = function(LOGGING, log_level=level)
    logs = (await both_pools.invoke(spec, "r", b'"x"')).logs
    for message in seen:
        assert message in logs, (message, logs)
    for message in unseen:
        assert message not in logs, (message, logs)
