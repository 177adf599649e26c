"""The storage interface that every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from backend.errors import DomainError


class StorageError(DomainError):
    """A storage backend could not read or write an object."""


class Storage(ABC):
    """Objects addressed by keys built with :func:`backend.storage.keys.object_key`."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Write ``data`` at ``key`` (replacing what was there)."""

    @abstractmethod
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        """Copy the local file ``path`` to ``key``."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The content at ``key``; StorageError when missing."""

    @abstractmethod
    def download(self, key: str, dest: Path) -> Path:
        """Copy the object at ``key`` to the local file ``dest``."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""

    @abstractmethod
    def size(self, key: str) -> int:
        """The object's size in bytes."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object at ``key`` (no error when missing)."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, sorted."""

    @abstractmethod
    def url(self, key: str, *, expires_s: int | None = None) -> str:
        """A URL a client outside the studio can fetch (presigned on S3, public base URL locally)."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix``; returns how many."""
        keys = self.list(prefix)
        for key in keys:
            self.delete(key)
        return len(keys)

    def local_path(self, key: str) -> Path | None:
        """The object's path on this machine when the backend is a local folder, else None."""
        return None

    def check(self) -> str:
        """A one-line health report; raises StorageError when the backend is unusable."""
        return "ok"
