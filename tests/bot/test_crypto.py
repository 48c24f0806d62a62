from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from core.crypto import DecryptionError, DeliveryCipher
from core.domain import Delivery


def test_round_trip_and_ciphertext_hides_plaintext() -> None:
    cipher = DeliveryCipher(SecretStr(Fernet.generate_key().decode()))
    token = cipher.encrypt_delivery(Delivery.from_text("user:pass SECRET123"))
    assert b"SECRET123" not in token
    assert cipher.decrypt_delivery(token).reveal() == "user:pass SECRET123"


def test_wrong_key_is_a_clear_error_without_the_key() -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = DeliveryCipher(SecretStr(key_a)).encrypt_text("x")
    with pytest.raises(DecryptionError) as info:
        DeliveryCipher(SecretStr(key_b)).decrypt_text(token)
    assert key_b not in str(info.value) and key_a not in str(info.value)
    assert key_a not in repr(DeliveryCipher(SecretStr(key_a)))


def test_rotation_new_key_first_old_key_still_decrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old_token = DeliveryCipher(SecretStr(old)).encrypt_text("legacy")
    rotated = DeliveryCipher(SecretStr(f"{new},{old}"))
    assert rotated.decrypt_text(old_token) == "legacy"
    fresh = rotated.encrypt_text("fresh")
    assert DeliveryCipher(SecretStr(new)).decrypt_text(fresh) == "fresh"
