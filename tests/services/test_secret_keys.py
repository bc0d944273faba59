"""The keyring that seals secrets: what binds a ciphertext to its row, the key file, and a
rotation's steps."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from sandlot.config import Settings
from sandlot.domain.errors import InvalidInput, SecretUndecryptable
from sandlot.domain.secrets import secret_aad
from sandlot.services.secret_keys import Keyring, Sealed, key_id, load_keyring


def _key(byte: int) -> bytes:
    return bytes([byte]) * 32


def test_a_sealed_value_opens_only_for_its_own_row() -> None:
    keyring = Keyring(_key(1))
    aad = secret_aad("ns-a", "DB_PASSWORD", 3)
    sealed = keyring.seal(b"hunter2-hunter2", aad)
    assert b"hunter2" not in sealed.ciphertext
    assert keyring.open(sealed, aad) == b"hunter2-hunter2"
    for other in (
        secret_aad("ns-b", "DB_PASSWORD", 3),  # moved to another namespace
        secret_aad("ns-a", "OTHER", 3),  # renamed
        secret_aad("ns-a", "DB_PASSWORD", 2),  # an older version put back
    ):
        with pytest.raises(SecretUndecryptable):
            keyring.open(sealed, other)
    flipped = bytes([sealed.ciphertext[-1] ^ 1])
    with pytest.raises(SecretUndecryptable):
        keyring.open(Sealed(sealed.key_id, sealed.ciphertext[:-1] + flipped), aad)


def test_each_seal_has_its_own_nonce() -> None:
    keyring = Keyring(_key(1))
    aad = secret_aad("ns", "X", 1)
    assert keyring.seal(b"same", aad).ciphertext != keyring.seal(b"same", aad).ciphertext


def test_previous_keys_open_and_only_the_current_one_seals() -> None:
    old = Keyring(_key(1))
    sealed = old.seal(b"value", b"aad")
    both = Keyring(_key(2), [_key(1)])
    assert both.open(sealed, b"aad") == b"value"
    assert both.seal(b"value", b"aad").key_id == key_id(_key(2))
    with pytest.raises(SecretUndecryptable) as raised:
        Keyring(_key(2)).open(sealed, b"aad")
    assert raised.value.extra["key_id"] == key_id(_key(1))
    assert base64.b64encode(_key(1)).decode() not in raised.value.message


def test_the_key_file_is_made_once_0600_and_rotated_in_two_steps(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    keyring = load_keyring(settings)
    path = settings.secret_key_path
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_keyring(settings).current_id == keyring.current_id  # not made again
    sealed = keyring.seal(b"value", b"aad")
    old_id = keyring.current_id
    keyring.begin_rotation()
    assert len(path.read_text().split()) == 2  # both, should the server stop now
    assert load_keyring(settings).open(sealed, b"aad") == b"value"
    assert keyring.current_id != old_id and keyring.previous_ids == [old_id]
    assert keyring.end_rotation() == [old_id]
    assert len(path.read_text().split()) == 1
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(SecretUndecryptable):
        keyring.open(sealed, b"aad")


def test_keys_from_settings_are_checked() -> None:
    good = base64.b64encode(_key(7)).decode()
    keyring = load_keyring(Settings(secret_key=good, secret_previous_keys=[good]))
    assert keyring.path is None and keyring.current_id == key_id(_key(7))
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(InvalidInput):
            load_keyring(Settings(secret_key=bad))
