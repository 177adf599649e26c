"""Secrets at rest (access tokens, webhook secrets): Fernet, keyed from settings or the data dir."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from backend.errors import DomainError
from backend.settings import get_settings


class SecretUnreadable(DomainError):
    """A stored secret cannot be decrypted (the encryption key changed)."""


def _key() -> bytes:
    settings = get_settings()
    if settings.encryption_key:
        return settings.encryption_key.encode("ascii")
    # Generated once per installation and kept beside the data, never in the repository.
    path = Path(settings.data_dir) / ".encryption_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
    return path.read_bytes().strip()


def encrypt(plain: str) -> str:
    """``plain`` encrypted for storage ("" stays "")."""
    return Fernet(_key()).encrypt(plain.encode("utf-8")).decode("ascii") if plain else ""


def decrypt(token: str) -> str:
    """The plain text of a stored secret."""
    if not token:
        return ""
    try:
        return Fernet(_key()).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise SecretUnreadable("a stored access token cannot be decrypted: was STUDIO_ENCRYPTION_KEY changed?") from None
