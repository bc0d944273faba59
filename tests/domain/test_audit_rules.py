"""The audit detail guard: nothing that reads like a secret gets into an event."""

from __future__ import annotations

import pytest

from sandlot.domain.audit import DETAIL_MAX_BYTES, UnsafeAuditDetail, check_action, check_detail


@pytest.mark.parametrize(
    "detail",
    [
        {"password": "hunter2"},
        {"value": "s3cret"},
        {"key": "abc"},
        {"token": "abc"},
        {"secret": "abc"},
        {"new_password": "x"},
        {"api_key": "x"},
        {"apiKey": "x"},
        {"secret-value": "x"},
        {"CSRF_TOKEN": "x"},
        {"session_credentials": "x"},
        {"outer": {"inner": {"session_cookie": "x"}}},
        {"items": [{"name": "ok"}, {"value": "x"}]},
        {"note": "made sl_abcd1234_" + "z" * 43},  # an API key hidden in a value
    ],
)
def test_secret_looking_details_are_refused(detail: dict[str, object]) -> None:
    with pytest.raises(UnsafeAuditDetail):
        check_detail(detail)


def test_names_ids_and_prefixes_are_fine() -> None:
    detail = {
        "key_id": "8d0c",
        "prefix": "abcd1234",
        "secret_name": "DB_PASSWORD",  # a name is not a value
        "password_changed": True,
        "changed": ["memory_mb", "env"],
        "version": 3,
        "grace_s": None,
    }
    assert check_detail(detail) == detail
    assert check_detail(None) is None


def test_a_detail_is_small_plain_json() -> None:
    with pytest.raises(UnsafeAuditDetail, match="at most"):
        check_detail({"removed": ["x" * 100] * (DETAIL_MAX_BYTES // 100)})
    with pytest.raises(UnsafeAuditDetail, match="plain JSON"):
        check_detail({"when": object()})
    with pytest.raises(UnsafeAuditDetail, match="plain JSON"):
        check_detail({"ratio": float("nan")})


@pytest.mark.parametrize(
    "action",
    ["function.deploy", "auth.failed", "namespace.member.add", "login", "user.reset-password"],
)
def test_actions_are_thing_dot_verb(action: str) -> None:
    check_action(action)


@pytest.mark.parametrize(
    "action", ["", "Function.Deploy", "function.", ".deploy", "a b", "login\n", "x" * 70 + ".y"]
)
def test_other_actions_are_refused(action: str) -> None:
    with pytest.raises(UnsafeAuditDetail):
        check_action(action)
