"""Encryption at rest for TINs and bank account numbers: Fernet tokens under a MultiFernet of the
configured keys (the first encrypts, all decrypt), each token stored with the id of the key that
sealed it so that a rotation knows what is left to re-encrypt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class NoKeys(Exception):
    """No encryption key is configured (production without DIAMONDS_TIN_KEYS)."""

    def __init__(self) -> None:
        super().__init__(
            "DIAMONDS_TIN_KEYS is not set: TINs and account numbers cannot be encrypted or "
            "decrypted (set Fernet keys, comma separated, the newest first)"
        )


class CannotDecrypt(Exception):
    """No configured key opens this token (a key was removed too early, or the data is bad)."""


def key_id(key: str) -> str:
    """A short, non-secret name for a key: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:12]


@dataclass(frozen=True)
class Sealed:
    token: str
    key_id: str


class Cipher:
    """Seals and opens short secrets. `keys[0]` is the primary key: it seals; every key opens."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise NoKeys()
        self._fernets = [Fernet(k.encode("ascii")) for k in keys]
        self._multi = MultiFernet(self._fernets)
        self._ids = [key_id(k) for k in keys]
        self.primary_key_id = self._ids[0]

    def seal(self, plaintext: str) -> Sealed:
        token = self._fernets[0].encrypt(plaintext.encode("utf-8")).decode("ascii")
        return Sealed(token=token, key_id=self.primary_key_id)

    def open(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise CannotDecrypt("no configured key opens this value") from exc

    def reseal(self, token: str) -> Sealed:
        """The same secret sealed with the primary key (MultiFernet.rotate)."""
        try:
            rotated = self._multi.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise CannotDecrypt("no configured key opens this value") from exc
        return Sealed(token=rotated, key_id=self.primary_key_id)


@lru_cache(maxsize=8)
def cipher_for(keys: tuple[str, ...]) -> Cipher:
    """One cipher per key list, shared by the process. Raises `NoKeys` for an empty list."""
    return Cipher(keys)
