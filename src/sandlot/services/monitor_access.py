"""Who may read /metrics and the detailed /readyz: they show host paths, the cgroup layout and
what runs, so not anonymous callers. An operator opens them to a scraper by address
(`monitor_allow`: addresses or CIDR networks) or by a bearer token (`monitor_token`); the
platform admin may always, with a key or signed in (the console's operator pages). `/healthz`
and the bare ready / not-ready answer stay open to all."""

from __future__ import annotations

import hmac
import ipaddress

from sandlot.domain.actions import Action
from sandlot.services.authenticator import Authenticator, Credentials
from sandlot.services.authz import authorize

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class MonitorAccess:
    def __init__(
        self, *, token: str | None, allow: list[str], authenticator: Authenticator
    ) -> None:
        self._token = token.encode() if token else None
        self._networks = [_network(entry) for entry in allow]
        self._authenticator = authenticator

    async def check(self, credentials: Credentials) -> None:
        """Return if the caller may read monitoring data; else raise Unauthenticated (401),
        PermissionDenied (403) or TooManyAuthFailures (429)."""
        if self._address_allowed(credentials.address) or self._token_matches(
            credentials.authorization
        ):
            return
        principal = await self._authenticator.principal(credentials)
        authorize(principal, Action.MONITOR_READ)

    async def shows_details(self, credentials: Credentials) -> bool:
        """Whether /readyz answers in full: for callers that may monitor. Anonymous callers
        get the bare answer; a caller whose credentials fail gets their error."""
        if self._address_allowed(credentials.address):
            return True
        if not credentials.authorization and not credentials.session_token:
            return False
        await self.check(credentials)
        return True

    def _address_allowed(self, client: str | None) -> bool:
        if not self._networks or client is None:
            return False
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)

    def _token_matches(self, authorization: str | None) -> bool:
        if self._token is None or not authorization:
            return False
        scheme, _, given = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self._token
        )


def _network(entry: str) -> Network:
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"SANDLOT_MONITOR_ALLOW: {entry!r} is not an address or network") from exc
