"""The egress probe against a host firewall that forwards nothing, in a namespace of the test's
own (the host's real firewall is never touched): such a host cannot enforce egress."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from sandlot.sandbox.egress_probe import forward_blocker, probe
from tests.conftest import skip_outside_ci


@pytest.fixture
def netns() -> Iterator[list[str]]:
    if os.geteuid() != 0:
        skip_outside_ci("network namespaces and nftables need root")
    name = f"slfw{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=10)
    try:
        yield ["ip", "netns", "exec", name]
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10, check=False)


def _nft(prefix: list[str], script: str) -> None:
    subprocess.run([*prefix, "nft", "-f", "-"], input=script.encode(), check=True, timeout=10)


def test_a_forward_hook_that_drops_by_default_refuses_egress(netns: list[str]) -> None:
    assert forward_blocker(netns) is None
    assert probe(1, netns).ok
    # What `iptables-nft -P FORWARD DROP` makes, and the same in an inet table of one's own.
    _nft(netns, "table ip filter { chain FORWARD { type filter hook forward priority 0; "
                "policy drop; }; }\n")  # fmt: skip
    why = forward_blocker(netns)
    assert why == "the nftables chain 'ip filter FORWARD' drops forwarded traffic by default"
    support = probe(1, netns)
    assert not support.ok and support.reason.startswith(why)
    _nft(netns, "delete table ip filter\n"
                "table inet hostfw { chain forwarding { type filter hook forward priority 10; "
                "policy drop; ct state established accept; }; }\n")  # fmt: skip
    assert forward_blocker(netns) == (
        "the nftables chain 'inet hostfw forwarding' drops forwarded traffic by default"
    )
    # A forward chain that accepts by default (whatever its rules drop) is not a blocker, and
    # neither is Sandlot's own table.
    _nft(netns, "delete table inet hostfw\n"
                "table inet hostfw { chain forwarding { type filter hook forward priority 10; "
                "policy accept; ip daddr 10.0.0.0/8 drop; }; }\n"
                "table inet sandlot_beef { chain f { type filter hook forward priority 0; "
                "policy drop; }; }\n")  # fmt: skip
    assert forward_blocker(netns) is None
    assert probe(1, netns).ok
