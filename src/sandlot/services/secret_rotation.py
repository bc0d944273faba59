"""Re-encrypting every secret under a new key while the server runs (`sandlot secrets
rotate-key`, `POST /api/v1/secret-key/rotate`).

Why a server route rather than a command on the database: the server is the one that seals
new values and opens them at every instance start, so it must know the new key before any row
is sealed with it and must stop sealing with the old one at once. Done in the server, that is
one in-memory swap, with no window in which a row is sealed under a key a server lacks.

- With the key file (the default): the server makes a new key and writes the file as
  [new, old] before it swaps; every row is then re-sealed in small transactions, each row only
  if it was not set meanwhile (a set seals under the new key anyway); once none is left under
  an old key, the file is written as [new] and the old key is forgotten.
- API keys' sealed copies (kept to verify AWS Signature Version 4 requests) are re-sealed
  with the secrets, under the same rules.
- With `SANDLOT_SECRET_KEY`: the operator sets the new key there and the old one in
  `SANDLOT_SECRET_PREVIOUS_KEYS` and restarts the servers (one by one: each opens both); the
  route then re-seals every row under the current key, and says when the old key may go.

Instances keep running throughout: they hold their values already, and any start during the
rotation opens its secrets with whichever key of the keyring sealed them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sandlot.domain.actions import Action
from sandlot.domain.models import Principal
from sandlot.domain.secrets import secret_aad
from sandlot.services import audit
from sandlot.services.auth import open_key, seal_key
from sandlot.services.authz import authorize
from sandlot.services.destinations import reseal_webhook_secrets
from sandlot.services.secret_keys import Keyring
from sandlot.services.secrets import open_secret
from sandlot.storage.db import Database
from sandlot.storage.keys import ApiKeyRepo
from sandlot.storage.secrets import SecretRepo

BATCH = 100


@dataclass(frozen=True)
class Rotation:
    key_id: str  # the key every secret is sealed with now
    resealed: int
    retired_key_ids: list[str]  # keys forgotten (key file) or no longer needed (settings)
    source: str  # "file" or "settings"


class SecretRotator:
    """One rotation at a time per server (a second caller waits for the first)."""

    def __init__(self, *, database: Database, keyring: Keyring) -> None:
        self.database = database
        self.keyring = keyring
        self._lock = asyncio.Lock()

    async def rotate(self, principal: Principal) -> Rotation:
        authorize(principal, Action.SECRET_KEY_ROTATE)
        async with self._lock:
            from_file = self.keyring.path is not None
            if from_file:
                self.keyring.begin_rotation()
            resealed = await self._reseal_all()
            resealed += await reseal_webhook_secrets(self.database.sessions, self.keyring)
            # Counted apart: `resealed` is the secrets' (and webhook secrets') count.
            keys_resealed = await self._reseal_api_keys()
            async with self.database.sessions.begin() as session:
                current = self.keyring.current_id
                left = await SecretRepo(session).count_sealed_with_other_keys(current)
                left += await ApiKeyRepo(session).count_sealed_with_other_keys(current)
                retired = self.keyring.previous_ids if left == 0 else []
                if from_file and left == 0:
                    self.keyring.end_rotation()
                await audit.record(
                    session,
                    principal=principal,
                    action="secret.rotate-key",
                    target=f"secret-key:{self.keyring.current_id}",
                    detail={
                        "key_id": self.keyring.current_id,
                        "resealed": resealed,
                        "resealed_api_keys": keys_resealed,
                        "retired_key_ids": retired,
                    },
                )
        return Rotation(
            key_id=self.keyring.current_id,
            resealed=resealed,
            retired_key_ids=retired,
            source="file" if from_file else "settings",
        )

    async def _reseal_api_keys(self) -> int:
        """API keys' sealed copies (for AWS Signature Version 4) go the same way: a copy
        left under a forgotten key would no longer sign anything."""
        resealed = 0
        while True:
            async with self.database.sessions.begin() as session:
                repo = ApiKeyRepo(session)
                batch = await repo.sealed_with_other_keys(self.keyring.current_id, BATCH)
                if not batch:
                    return resealed
                for key in batch:
                    if key.sealed is None:  # only selected when both columns are set
                        continue
                    plaintext = open_key(self.keyring, key.id, key.sealed)
                    made = seal_key(self.keyring, key.id, plaintext)
                    # Not written (the row changed meanwhile): the next batch sees it again.
                    resealed += await repo.reseal(key, made)

    async def _reseal_all(self) -> int:
        resealed = 0
        while True:
            async with self.database.sessions.begin() as session:
                repo = SecretRepo(session)
                batch = await repo.sealed_with_other_keys(self.keyring.current_id, BATCH)
                if not batch:
                    return resealed
                for stored in batch:
                    plaintext = open_secret(self.keyring, stored)
                    aad = secret_aad(stored.namespace_id, stored.info.name, stored.info.version)
                    sealed = self.keyring.seal(plaintext, aad)
                    if await repo.reseal(
                        stored, key_id=sealed.key_id, ciphertext=sealed.ciphertext
                    ):
                        resealed += 1
