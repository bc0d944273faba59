"""The keyring that encrypts secrets at rest: AES-256-GCM, a random 96-bit nonce per write,
and associated data that binds each ciphertext to its namespace, name and version.

The key never touches the database. It comes from `SANDLOT_SECRET_KEY` (with earlier keys in
`SANDLOT_SECRET_PREVIOUS_KEYS` while a rotation runs), or from `<data dir>/secret.key`
(0600), generated on the first start: one base64 key per line, the first one current, any
others previous keys that only decrypt. Each row stores the id of the key that sealed it (a
digest of the key, never the key), so a row names the key it needs and any key of the
keyring opens what it sealed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sandlot.config import Settings
from sandlot.domain.errors import InvalidInput, SecretUndecryptable

KEY_BYTES = 32
NONCE_BYTES = 12


def key_id(key: bytes) -> str:
    """A name for a key that reveals nothing of it (16 hex characters of its SHA-256)."""
    return hashlib.sha256(b"sandlot-secret-key\0" + key).hexdigest()[:16]


def decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{where} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise InvalidInput(f"{where} must be {KEY_BYTES} bytes (base64), not {len(key)}")
    return key


def new_key_text() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


@dataclass(frozen=True)
class Sealed:
    key_id: str
    ciphertext: bytes  # nonce, then AES-GCM's ciphertext and tag


class Keyring:
    """The current key (which seals) and the previous ones (which only open)."""

    def __init__(self, current: bytes, previous: Sequence[bytes] = (), path: Path | None = None):
        self._current = current
        self._keys = {key_id(key): key for key in (current, *previous)}
        self.path = path  # the key file, when the keys came from one; None: from settings

    @property
    def current_id(self) -> str:
        return key_id(self._current)

    @property
    def previous_ids(self) -> list[str]:
        return [kid for kid in self._keys if kid != self.current_id]

    def seal(self, plaintext: bytes, aad: bytes) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(self._current).encrypt(nonce, plaintext, aad)
        return Sealed(self.current_id, nonce + ciphertext)

    def open(self, sealed: Sealed, aad: bytes) -> bytes:
        key = self._keys.get(sealed.key_id)
        if key is None:
            raise SecretUndecryptable(
                f"a secret is sealed with key {sealed.key_id}, which this server does not "
                "hold: give it in SANDLOT_SECRET_PREVIOUS_KEYS",
                key_id=sealed.key_id,
            )
        nonce, ciphertext = sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:]
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise SecretUndecryptable(
                "a stored secret does not authenticate: its row was changed or moved",
                key_id=sealed.key_id,
            ) from None

    # rotation, when the keys live in the key file

    def begin_rotation(self) -> None:
        """A new current key; the old ones keep opening what they sealed. The file is
        written first, so a restart in the middle of a rotation still holds every key."""
        assert self.path is not None
        new = decode_key(new_key_text(), "the new key")
        _write_key_file(self.path, [new, *self._keys.values()])
        self._current = new
        self._keys = {key_id(new): new, **self._keys}

    def end_rotation(self) -> list[str]:
        """Forget the previous keys (every row is sealed with the current one now)."""
        dropped = self.previous_ids
        if self.path is not None:
            _write_key_file(self.path, [self._current])
        self._keys = {self.current_id: self._current}
        return dropped


def load_keyring(settings: Settings) -> Keyring:
    """From the settings' keys if given, else from the data dir's key file (made if missing)."""
    if settings.secret_key is not None:
        current = decode_key(settings.secret_key.get_secret_value(), "SANDLOT_SECRET_KEY")
        previous = [
            decode_key(key.get_secret_value(), "a key of SANDLOT_SECRET_PREVIOUS_KEYS")
            for key in settings.secret_previous_keys
        ]
        return Keyring(current, previous)
    path = settings.secret_key_path
    if not path.exists():
        _write_key_file(path, [decode_key(new_key_text(), "a new key")])
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise InvalidInput(f"the secret key file {path} is empty")
    keys = [decode_key(line, f"a line of {path}") for line in lines]
    return Keyring(keys[0], keys[1:], path=path)


def _write_key_file(path: Path, keys: Sequence[bytes]) -> None:
    """Atomically, mode 0600 from its first byte: a crash leaves the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(base64.b64encode(key).decode() + "\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
