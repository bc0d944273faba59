"""Who signed a Lambda API request (AWS Signature Version 4), as a `Principal`.

The access key id is a Sandlot key's public prefix (`sl_<prefix>`) and the secret access key
is the key itself, so the server needs the key to recompute the signature: each key keeps a
copy sealed with the secrets keyring (`services.auth.seal_key`). Once a signature matches,
the key goes through the same `Authenticator` path as a bearer key (revoked, expired, a
disabled creator, a deleted namespace, the failure limits), so nothing here grants more than
`Authorization: Bearer <key>` would. Wrong signatures count as wrong keys do.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sandlot.domain import sigv4
from sandlot.domain.ids import API_KEY_PREFIX
from sandlot.domain.models import Principal
from sandlot.domain.sigv4 import Credential, SignatureError, SignedRequest
from sandlot.services.auth import open_key
from sandlot.services.authenticator import Authenticator, Credentials
from sandlot.services.caches import TtlCache
from sandlot.services.secret_keys import Keyring
from sandlot.storage.db import Database
from sandlot.storage.keys import ApiKeyRepo, SigningKey


def access_key_id(prefix: str) -> str:
    """The AWS access key id of a Sandlot key: its public prefix, as listings show it."""
    return f"{API_KEY_PREFIX}_{prefix}"


def prefix_of(access_key: str) -> str | None:
    head, sep, prefix = access_key.partition("_")
    if head != API_KEY_PREFIX or not sep or not prefix or len(prefix) > 16:
        return None
    return prefix


class LambdaAuth:
    """Verifies signatures; the keys a prefix names are cached as briefly as principals are
    (a revoked key is refused by the authenticator, whatever this cache holds)."""

    def __init__(
        self, *, database: Database, keyring: Keyring, authenticator: Authenticator, region: str
    ) -> None:
        self._database = database
        self._keyring = keyring
        self._authenticator = authenticator
        self.region = region
        self._keys: TtlCache[str, tuple[tuple[str, str | None], ...]] = TtlCache(
            ttl_s=authenticator.keys.ttl_s
        )

    async def principal(
        self, request: SignedRequest, address: str | None, now: datetime | None = None
    ) -> Principal:
        header = _one(request, "authorization")
        credential = sigv4.parse_authorization(header)
        sigv4.check_scope(credential, _one(request, "x-amz-date"), self.region, now or _now())
        await self._authenticator.check_failure_limit(address)
        prefix = prefix_of(credential.access_key_id)
        keys = await self._candidates(prefix) if prefix else ()
        if not keys:
            await self._authenticator.credential_failed(address, "unknown", prefix)
            raise SignatureError(
                f"no API key has the access key id {credential.access_key_id!r} (it is a "
                "key's `sl_<prefix>`, as `sandlot keys list` shows it)",
                "UnrecognizedClientException",
            )
        if all(key is None for _, key in keys):
            raise SignatureError(
                f"the key {credential.access_key_id} was made before Lambda API support: "
                "create a new key (this server keeps no copy of it to verify signatures with)",
                "UnrecognizedClientException",
            )
        key = self._matching(keys, request, credential)
        if key is None:
            await self._authenticator.credential_failed(address, "signature", prefix)
            raise SignatureError(
                "the request signature does not match: sign with the whole Sandlot key as "
                "the secret access key"
            )
        return await self._authenticator.principal(
            Credentials(authorization=f"Bearer {key}", method=request.method, address=address)
        )

    def forget(self) -> None:
        self._keys.clear()

    def _matching(
        self,
        keys: tuple[tuple[str, str | None], ...],
        request: SignedRequest,
        credential: Credential,
    ) -> str | None:
        amz_date = _one(request, "x-amz-date") or ""
        canonical = sigv4.canonical_request(request, credential)
        for _, key in keys:
            if key is not None and sigv4.matches(key, credential, amz_date, canonical):
                return key
        return None

    async def _candidates(self, prefix: str) -> tuple[tuple[str, str | None], ...]:
        cached = self._keys.get(prefix)
        if cached is not None:
            return cached
        async with self._database.sessions() as session:
            found = await ApiKeyRepo(session).signing_keys(prefix)
        keys = tuple((key.id, self._open(key)) for key in found)
        if keys:  # unknown prefixes are not cached: a key made a moment later must work
            self._keys.put(prefix, keys)
        return keys

    def _open(self, key: SigningKey) -> str | None:
        return None if key.sealed is None else open_key(self._keyring, key.id, key.sealed)


def _one(request: SignedRequest, name: str) -> str | None:
    values = request.headers.get(name)
    return values[0] if values else None


def _now() -> datetime:
    return datetime.now(UTC)
