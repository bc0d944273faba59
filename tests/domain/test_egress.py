"""The egress policy's text form and its rules: what parses, what it means, and when a
policy asks for more than its namespace's bound."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from sandlot.domain.egress import (
    ALWAYS_DENIED,
    NONE,
    Destination,
    EgressPolicy,
    first_excess,
    is_public,
    parse_bound,
    unlocked_denied,
    within,
)
from sandlot.domain.errors import InvalidEgressPolicy


def test_every_documented_form_parses_and_prints_back() -> None:
    items = [
        "api.test:443",
        "api.test:8000-8100",
        "files.test",
        "1.2.3.4:443",
        "10.0.5.0/24:5432",
        "[2001:db8::1]:443",
        "2001:db8::/32",
        "internet",
    ]
    policy = EgressPolicy.parse(items)
    assert policy.mode == "internet"
    assert policy.as_text() == items
    assert EgressPolicy.parse(policy.as_text()) == policy
    assert policy.destinations[0] == Destination("api.test", None, ((443, 443),))
    assert policy.destinations[3].network == ip_network("1.2.3.4/32")
    assert policy.destinations[2].ports == ()  # every port


def test_none_allow_and_normalising() -> None:
    assert EgressPolicy.parse([]) == NONE == EgressPolicy.parse(["none"])
    assert NONE.as_text() == ["none"]
    policy = EgressPolicy.parse(["API.Test.:443,80", "api.test:80,443", "1password.com:443"])
    assert policy.mode == "allow"
    assert policy.as_text() == ["api.test:80,443", "1password.com:443"]


@pytest.mark.parametrize(
    "item",
    [
        "api.test:0",
        "api.test:65536",
        "api.test:90-80",
        "api.test:https",
        "10.0.5.1/24",  # host bits set
        "300.1.2.3",
        "1.2.3",
        "-bad-.test",
        "*.test:443",  # wildcards only in a namespace's bound
        "[2001:db8::1",
        "[2001:db8::1]443",
        "",
    ],
)
def test_bad_destinations_are_named(item: str) -> None:
    with pytest.raises(InvalidEgressPolicy):
        EgressPolicy.parse([item])


def test_none_does_not_combine() -> None:
    with pytest.raises(InvalidEgressPolicy):
        EgressPolicy.parse(["none", "api.test:443"])


def test_non_public_and_denied_ranges() -> None:
    for text in ("10.1.0.0/16", "127.0.0.1/32", "169.254.169.254/32", "198.18.0.0/15", "fe80::/64"):
        assert not is_public(ip_network(text)), text
    assert is_public(ip_network("8.8.8.0/24"))
    assert not is_public(ip_network("0.0.0.0/0"))
    assert ip_network("169.254.169.254/32") in ALWAYS_DENIED


def test_a_none_bound_refuses_anything_but_none() -> None:
    assert within(NONE, NONE) is None
    reason = within(EgressPolicy.parse(["api.test:443"]), NONE)
    assert reason is not None and "allows no network access" in reason


def test_an_allow_bound_covers_names_ranges_and_ports() -> None:
    bound = parse_bound(["10.0.0.0/16:5432", "*.corp.test:443", "api.test"])
    assert within(EgressPolicy.parse(["10.0.5.0/24:5432", "db.corp.test:443"]), bound) is None
    assert within(EgressPolicy.parse(["api.test:1-65535"]), bound) is None
    too_wide = within(EgressPolicy.parse(["10.0.0.0/8:5432"]), bound)
    assert too_wide is not None and "'10.0.0.0/8:5432' exceeds" in too_wide
    assert within(EgressPolicy.parse(["10.0.5.0/24:5433"]), bound) is not None
    assert within(EgressPolicy.parse(["10.0.5.0/24"]), bound) is not None  # every port
    assert within(EgressPolicy.parse(["other.test:443"]), bound) is not None
    assert within(EgressPolicy.parse(["corp.test:443"]), bound) is not None
    assert first_excess(EgressPolicy.parse(["db.corp.test:443", "x.test"]), bound) == "x.test"
    internet = within(EgressPolicy.parse(["internet"]), bound)
    assert internet is not None and "'internet' exceeds" in internet


def test_an_internet_bound_covers_public_addresses_only() -> None:
    bound = parse_bound(["internet"])
    assert within(EgressPolicy.parse(["internet", "8.8.8.8:53", "api.test:443"]), bound) is None
    assert within(EgressPolicy.parse(["10.0.5.0/24:5432"]), bound) is not None
    listed = parse_bound(["internet", "10.0.0.0/8"])
    assert within(EgressPolicy.parse(["internet", "10.0.5.0/24:5432"]), listed) is None


def test_the_metadata_address_needs_exact_listing_on_both_sides() -> None:
    metadata = EgressPolicy.parse(["169.254.169.254:80"])
    assert within(metadata, parse_bound(["internet", "169.254.0.0/16"])) is not None
    assert within(metadata, parse_bound(["169.254.169.254"])) is None
    assert unlocked_denied(metadata) == (ip_network("169.254.169.254/32"),)
    assert unlocked_denied(EgressPolicy.parse(["169.254.0.0/16", "internet"])) == ()


def test_ipv6_ranges_are_judged_like_their_ipv4_kin() -> None:
    for text in ("::1/128", "fc00::/7", "fd00:ec2::254/128", "fe80::/10", "ff02::1/128",
                 "2001:2::/48", "2001:db8::1/128"):  # fmt: skip
        assert not is_public(ip_network(text)), text
    assert is_public(ip_network("2606:4700::/32"))
    assert ip_network("fd00:ec2::254/128") in ALWAYS_DENIED
    internet = parse_bound(["internet"])
    assert within(EgressPolicy.parse(["[2606:4700::1111]:443"]), internet) is None
    assert within(EgressPolicy.parse(["[fd12::1]:443"]), internet) is not None
    v6 = parse_bound(["[2001:2::/48]:443"])
    assert within(EgressPolicy.parse(["[2001:2:0:1::/64]:443"]), v6) is None
    assert within(EgressPolicy.parse(["[2001:2:0:1::/64]:80"]), v6) is not None


def test_an_ipv4_mapped_address_is_its_ipv4_address() -> None:
    # The kernel sends a connect to ::ffff:a.b.c.d as IPv4: the policy means a.b.c.d.
    mapped = EgressPolicy.parse(["[::ffff:10.0.5.7]:5432", "[::ffff:8.8.8.0/120]:53"])
    assert [d.network for d in mapped.destinations] == [
        ip_network("10.0.5.7/32"),
        ip_network("8.8.8.0/24"),
    ]
    assert mapped.as_text() == ["10.0.5.7:5432", "8.8.8.0/24:53"]
    assert within(EgressPolicy.parse(["[::ffff:8.8.8.8]:53"]), parse_bound(["internet"])) is None
    assert (
        within(EgressPolicy.parse(["[::ffff:10.0.0.1]:53"]), parse_bound(["internet"])) is not None
    )
    metadata = EgressPolicy.parse(["[::ffff:169.254.169.254]:80"])
    assert unlocked_denied(metadata) == (ip_network("169.254.169.254/32"),)
    assert within(metadata, parse_bound(["internet"])) is not None
