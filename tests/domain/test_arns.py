"""Function ARNs: a stable 12-digit account per namespace, and names that parse back."""

from __future__ import annotations

import pytest

from sandlot.domain.arns import account_id, function_arn, parse_function_arn
from sandlot.domain.errors import InvalidInput


def test_each_namespace_has_its_own_stable_twelve_digit_account() -> None:
    first, again, other = account_id("team-a"), account_id("team-a"), account_id("team-b")
    assert first == again
    assert first != other
    assert len(first) == 12 and first.isdigit()


def test_an_arn_names_its_qualifier_only_when_there_is_one() -> None:
    bare = function_arn("us-east-1", "team-a", "shop")
    assert bare == f"arn:aws:lambda:us-east-1:{account_id('team-a')}:function:shop"
    assert function_arn("us-east-1", "team-a", "shop", "prod") == f"{bare}:prod"


@pytest.mark.parametrize("qualifier", [None, "prod", "7", "$LATEST"])
def test_an_arn_parses_back_to_its_parts(qualifier: str | None) -> None:
    arn = function_arn("eu-west-2", "team-a", "shop", qualifier)
    assert parse_function_arn(arn) == ("eu-west-2", account_id("team-a"), "shop", qualifier)


@pytest.mark.parametrize(
    "text",
    [
        "shop",
        "arn:aws:lambda:us-east-1:123:function:shop",  # the account is not 12 digits
        "arn:aws:s3:us-east-1:123456789012:function:shop",
        "arn:aws:lambda:us-east-1:123456789012:layer:shop",
        "arn:aws:lambda:us-east-1:123456789012:function:sh/op",
    ],
)
def test_what_is_not_a_function_arn_is_refused_by_name(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a function ARN"):
        parse_function_arn(text)
