"""Encryption at rest for delivery data and buyer contact details (Fernet).

The database only ever sees ciphertext. With several keys configured (comma-separated),
the first encrypts and all of them decrypt, so a key can be rotated in place.
"""

from __future__ import annotations

import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from core.domain import Delivery


class DecryptionError(Exception):
    """Ciphertext could not be decrypted with any configured key (wrong or rotated key)."""


class DeliveryCipher:
    def __init__(self, keys: SecretStr) -> None:
        parts = [k.strip() for k in keys.get_secret_value().split(",") if k.strip()]
        self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
        # A one-way fingerprint of the first key: safe to store and to print.
        self._primary_fingerprint = hashlib.sha256(
            b"orderbot-key-fingerprint|" + parts[0].encode()
        ).hexdigest()[:16]

    def __repr__(self) -> str:
        return "DeliveryCipher(<keys hidden>)"

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt_text(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt_text(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise DecryptionError(
                "stored secret cannot be decrypted with the configured keys"
            ) from None

    def rotate(self, token: bytes) -> bytes:
        """The same secret, encrypted with the first key (see `python -m bot rotate-key`)."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise DecryptionError(
                "stored secret cannot be decrypted with the configured keys"
            ) from None

    @property
    def primary_fingerprint(self) -> str:
        """Which key encrypts now, without revealing it (a rotation's progress is tied to
        it: a new first key starts a new rotation)."""
        return self._primary_fingerprint

    def encrypt_delivery(self, delivery: Delivery) -> bytes:
        return self.encrypt_text(delivery.to_json())

    def decrypt_delivery(self, token: bytes) -> Delivery:
        return Delivery.from_json(self.decrypt_text(token))
