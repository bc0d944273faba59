"""Invoke through Lambda's API, with boto3 and the AWS CLI unmodified: a result, a function's
failure in Lambda's words, the log's tail, an Event call that is queued and then runs, a dry
run, qualifiers (a version, an alias, an ARN), throttling and the event's size limit. The
functions are deployed through Sandlot's own API, so nothing here depends on CreateFunction.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import ADMIN_KEY, HELLO, LiveServer, start_server, stop_server, zip_bytes
from tests.lambda_api.conftest import (
    REGION,
    AwsCli,
    admin_client,
    lambda_client,
    make_key,
    make_namespace,
)

BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}

HANDLER = {
    "main.py": "import time\n"
    "def handler(event, context):\n"
    "    event = event or {}\n"
    "    print('called with', sorted(event))\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('asked to fail')\n"
    "    if event.get('sleep'):\n"
    "        time.sleep(event['sleep'])\n"
    "    return {'hello': event.get('name', 'world'), 'version': VERSION}\n"
    "VERSION = 1\n"
}


CLIENT_CONTEXT = {
    "main.py": "def handler(event, context):\n"
    "    client = context.client_context\n"
    "    if client is None:\n"
    "        return None\n"
    "    return {'app_title': client.client.app_title, 'custom': client.custom,\n"
    "            'env': client.env, 'arn': context.invoked_function_arn}\n"
}


def code(version: int) -> dict[str, str]:
    return {"main.py": HANDLER["main.py"].replace("VERSION = 1", f"VERSION = {version}")}


def deploy(server: LiveServer, name: str, files: dict[str, str], **fields: str) -> int:
    """A new version through /api/v1 (create or update); its number, once ready."""
    exists = httpx.get(f"{server.url}/api/v1/functions/{name}", headers=BEARER, timeout=30)
    upload = {"code": ("code.zip", zip_bytes(files), "application/zip")}
    if exists.status_code == 404:
        answer = httpx.post(
            f"{server.url}/api/v1/functions",
            data={"name": name, **fields},
            files=upload,
            headers=BEARER,
            timeout=120,
        )
    else:
        answer = httpx.put(
            f"{server.url}/api/v1/functions/{name}",
            data=fields,
            files=upload,
            headers=BEARER,
            timeout=120,
        )
    assert answer.status_code in (200, 201), answer.text
    made = answer.json()
    assert made["config"]["state"] == "ready", made
    number: int = made["latest_version"]
    return number


def sandlot_get(server: LiveServer, path: str) -> Any:
    answer = httpx.get(f"{server.url}/api/v1{path}", headers=BEARER, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def payload_of(answer: Any) -> Any:
    return json.loads(answer["Payload"].read())


def error_code(refused: pytest.ExceptionInfo[ClientError]) -> str:
    return str(refused.value.response["Error"]["Code"])


def _request_response_failure_tail_and_qualifiers(server: LiveServer) -> None:
    lam = admin_client(server)

    answer = lam.invoke(FunctionName="hello", Payload=json.dumps({"name": "Ada"}))
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    assert payload_of(answer) == {"hello": "Ada", "version": 2}

    failed = lam.invoke(FunctionName="hello", Payload=json.dumps({"fail": True}))
    assert failed["StatusCode"] == 200
    assert failed["FunctionError"] == "Unhandled"
    error = payload_of(failed)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "asked to fail"
    assert error["stackTrace"] and all(frame.startswith("  File ") for frame in error["stackTrace"])
    assert any("raise ValueError" in frame for frame in error["stackTrace"])

    tailed = lam.invoke(FunctionName="hello", LogType="Tail", Payload=b'{"name": "Tail"}')
    assert payload_of(tailed) == {"hello": "Tail", "version": 2}
    log = base64.b64decode(tailed["LogResult"]).decode()
    assert "called with ['name']" in log
    request_id = tailed["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id} Version: $LATEST" in log
    assert f"REPORT RequestId: {request_id}" in log
    # The tail is the record's own log: the same invocation, found through /api/v1.
    assert sandlot_get(server, f"/invocations/{request_id}")["state"] == "succeeded"

    by_version = lam.invoke(FunctionName="hello", Qualifier="1")
    assert by_version["ExecutedVersion"] == "1"
    assert payload_of(by_version)["version"] == 1

    routes = {"routes": [{"version": 1, "weight": 100}]}
    made = httpx.put(
        f"{server.url}/api/v1/functions/hello/aliases/prod", json=routes, headers=BEARER
    )
    assert made.status_code == 201, made.text
    by_alias = lam.invoke(FunctionName="hello:prod")
    assert by_alias["ExecutedVersion"] == "1"
    assert payload_of(by_alias)["version"] == 1
    arn = lam.get_function(FunctionName="hello")["Configuration"]["FunctionArn"]
    by_arn = lam.invoke(FunctionName=f"{arn}:prod")
    assert by_arn["ExecutedVersion"] == "1" and payload_of(by_arn)["version"] == 1

    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName="hello", Qualifier="9")
    assert error_code(refused) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName="hello:prod", Qualifier="1")
    assert error_code(refused) == "InvalidParameterValueException"


def _the_aws_cli_invokes(aws: AwsCli) -> None:
    answer = aws.json(
        "invoke",
        "--function-name",
        "hello",
        "--payload",
        '{"name": "cli"}',
        "--log-type",
        "Tail",
        "out.json",
    )
    assert answer["StatusCode"] == 200
    assert answer["ExecutedVersion"] == "$LATEST"
    assert "called with ['name']" in base64.b64decode(answer["LogResult"]).decode()
    assert json.loads((aws.home / "out.json").read_text()) == {"hello": "cli", "version": 2}

    failed = aws.json(
        "invoke",
        "--function-name",
        "hello",
        "--payload",
        '{"fail": true}',
        "err.json",
    )
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads((aws.home / "err.json").read_text())["errorType"] == "ValueError"


def _an_event_call_is_queued_then_runs_and_a_dry_run_only_checks(server: LiveServer) -> None:
    lam = admin_client(server)

    accepted = lam.invoke(FunctionName="hello", InvocationType="Event", Payload=b'{"name": "q"}')
    assert accepted["StatusCode"] == 202
    assert accepted["Payload"].read() == b""
    invocation_id = accepted["ResponseMetadata"]["RequestId"]
    record = sandlot_get(server, f"/invocations/{invocation_id}")
    assert record["trigger"] == "async"
    deadline = time.monotonic() + 60
    while record["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)  # a bounded poll of the record: the call runs in the background
        record = sandlot_get(server, f"/invocations/{invocation_id}")
    assert record["state"] == "succeeded", record

    before = len(sandlot_get(server, "/invocations?function=hello")["items"])
    dry = lam.invoke(FunctionName="hello", InvocationType="DryRun")
    assert dry["StatusCode"] == 204 and dry["Payload"].read() == b""
    assert len(sandlot_get(server, "/invocations?function=hello")["items"]) == before
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName="nothing-here", InvocationType="DryRun")
    assert error_code(refused) == "ResourceNotFoundException"


def _a_timeout_is_a_function_error_in_lambdas_words(server: LiveServer) -> None:
    deploy(server, "slow", code(1), timeout_s="1")
    answer = admin_client(server).invoke(FunctionName="slow", Payload=b'{"sleep": 30}')
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    error = payload_of(answer)
    assert error["errorType"] == "Sandbox.Timedout"
    assert re.search(r"Task timed out after 1\.00 seconds$", error["errorMessage"])


def _other_namespaces_and_roles(server: LiveServer) -> None:
    arn = admin_client(server).get_function(FunctionName="hello")["Configuration"]["FunctionArn"]
    other = lambda_client(server, make_namespace(server, "other-team"))
    for name in ("hello", arn):
        with pytest.raises(ClientError) as refused:
            other.invoke(FunctionName=name)
        assert error_code(refused) == "ResourceNotFoundException"
        with pytest.raises(ClientError) as refused:
            other.invoke(FunctionName=name, InvocationType="Event")
        assert error_code(refused) == "ResourceNotFoundException"

    invoker = lambda_client(server, make_key(server, role="invoker"))
    assert payload_of(invoker.invoke(FunctionName="hello"))["hello"] == "world"
    limited = lambda_client(server, make_key(server, role="developer", functions=["else"]))
    with pytest.raises(ClientError) as refused:
        limited.invoke(FunctionName="hello", InvocationType="DryRun")
    assert error_code(refused) in ("AccessDeniedException", "ResourceNotFoundException")


def _a_client_context_reaches_the_handler(server: LiveServer) -> None:
    deploy(server, "ctx", CLIENT_CONTEXT)
    lam = admin_client(server)
    lam.create_alias(FunctionName="ctx", Name="prod", FunctionVersion="1")
    sent = {"client": {"app_title": "shop"}, "custom": {"who": "me"}, "env": {"locale": "fr"}}
    context = base64.b64encode(json.dumps(sent).encode()).decode()
    with_context = lam.invoke(FunctionName="ctx:prod", ClientContext=context)
    assert payload_of(with_context) == {
        "app_title": "shop",
        "custom": {"who": "me"},
        "env": {"locale": "fr"},
        "arn": lam.get_function(FunctionName="ctx")["Configuration"]["FunctionArn"] + ":prod",
    }
    assert payload_of(lam.invoke(FunctionName="ctx")) is None
    for bad in ("not base64!", base64.b64encode(b"[1]").decode(), "e" * 3584):
        with pytest.raises(ClientError) as refused:
            lam.invoke(FunctionName="hello", ClientContext=bad)
        assert error_code(refused) == "InvalidParameterValueException", bad


def test_throttled_and_too_large(tmp_path: Path, database_url: str) -> None:
    live = start_server(
        tmp_path / "data",
        {
            "SANDLOT_DATABASE_URL": database_url,
            "SANDLOT_MAX_EVENT_BYTES": "2048",
            "SANDLOT_QUEUE_TIMEOUT_S": "0.2",
        },
    )
    try:
        deploy(live, "busy", code(1), max_concurrency="1")
        lam = admin_client(live)
        with pytest.raises(ClientError) as refused:
            lam.invoke(FunctionName="busy", Payload=json.dumps({"name": "x" * 4096}))
        assert error_code(refused) == "RequestTooLargeException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413

        first: dict[str, Any] = {}
        running = threading.Thread(
            target=lambda: first.update(lam.invoke(FunctionName="busy", Payload=b'{"sleep": 8}'))
        )
        running.start()
        try:
            _wait_busy(live, "busy")
            with pytest.raises(ClientError) as refused:
                lam.invoke(FunctionName="busy")
            assert error_code(refused) == "TooManyRequestsException"
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            assert int(refused.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"])
        finally:
            running.join(timeout=60)
        assert first["StatusCode"] == 200 and "FunctionError" not in first
        assert payload_of(first) == {"hello": "world", "version": 1}
    finally:
        stop_server(live)


def _wait_busy(server: LiveServer, function: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        held = sandlot_get(server, "/pool")["versions"]
        if any(item["function"] == function and item["busy"] for item in held):
            return
        time.sleep(0.05)  # a bounded poll until the first call holds the only slot
    raise AssertionError(f"{function} never became busy")


def _the_readmes_boto3_example_runs(server: LiveServer) -> None:
    pair = make_key(server, role="developer")
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Coming from AWS Lambda", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    example = (
        example.replace("http://127.0.0.1:8000", server.url)
        .replace('"us-east-1"', f'"{REGION}"')
        .replace('"sl_ab12cd34_..."', f'"{pair.secret}"')
        .replace('"sl_ab12cd34"', f'"{pair.access_key_id}"')
        .replace('FunctionName="hello"', 'FunctionName="greet"')
    )
    printed: list[tuple[Any, ...]] = []
    exec(example, {"print": lambda *args: printed.append(args)})  # noqa: S102 - the README's own code
    assert printed == [(200, {"hello": "Ada"}), ("1", {"hello": "world"})], printed


# One server per test (each start costs seconds), so each test checks several things.


def test_sync_calls_their_failures_tails_and_qualifiers(server: LiveServer, aws: AwsCli) -> None:
    assert deploy(server, "hello", code(1)) == 1
    assert deploy(server, "hello", code(2)) == 2
    _request_response_failure_tail_and_qualifiers(server)
    _the_aws_cli_invokes(aws)
    _a_client_context_reaches_the_handler(server)
    deploy(server, "greet", HELLO)
    _the_readmes_boto3_example_runs(server)


def test_event_calls_dry_runs_timeouts_namespaces_and_roles(server: LiveServer) -> None:
    deploy(server, "hello", code(1))
    _an_event_call_is_queued_then_runs_and_a_dry_run_only_checks(server)
    _other_namespaces_and_roles(server)
    _a_timeout_is_a_function_error_in_lambdas_words(server)
