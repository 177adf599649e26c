"""The configured storage backend, built once per process."""

from __future__ import annotations

import threading
from pathlib import Path

from backend.settings import Settings, get_settings
from backend.storage.base import Storage
from backend.storage.local import LocalStorage
from backend.storage.s3 import S3Storage

_storage: Storage | None = None
_lock = threading.Lock()


def build_storage(settings: Settings) -> Storage:
    """A storage backend for ``settings.storage_url`` (default: ``data_dir/storage``)."""
    url = settings.storage_url
    if url and url.startswith("s3://"):
        return S3Storage(
            bucket=url.removeprefix("s3://").strip("/"),
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
            expires_s=settings.presign_expiry_s,
            public_base_url=settings.public_media_base_url,
        )
    root = Path(url.removeprefix("file://")) if url else settings.data_dir / "storage"
    return LocalStorage(root, public_base_url=settings.public_media_base_url)


def get_storage() -> Storage:
    """The process-wide storage backend."""
    global _storage
    with _lock:
        if _storage is None:
            _storage = build_storage(get_settings())
        return _storage


def reset_storage() -> None:
    """Forget the backend (tests switch storage between runs)."""
    global _storage
    with _lock:
        _storage = None
