"""Storage in a local folder: atomic writes, and every path proven to stay under the root."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from backend.storage.base import Storage, StorageError
from backend.storage.keys import check_key


class LocalStorage(Storage):
    """Objects as files under ``root``; ``public_base_url`` + key is their public URL."""

    def __init__(self, root: Path, public_base_url: str | None = None) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise StorageError(f"key {key!r} escapes the storage root")
        return path

    def _write(self, path: Path, fill) -> None:  # type: ignore[no-untyped-def]
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fill(fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._write(self._path(key), lambda fh: fh.write(data))

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        with open(path, "rb") as src:
            self._write(self._path(key), lambda fh: shutil.copyfileobj(src, fh, 1024 * 1024))

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"object {key} is missing") from None

    def download(self, key: str, dest: Path) -> Path:
        src = self._path(key)
        if not src.is_file():
            raise StorageError(f"object {key} is missing")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return dest

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise StorageError(f"object {key} is missing") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.exists():
            return []
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
        keys = [p.relative_to(self.root).as_posix() for p in files if not p.name.startswith(".tmp-")]
        return sorted(k for k in keys if k.startswith(prefix))

    def delete_prefix(self, prefix: str) -> int:
        n = super().delete_prefix(prefix)
        base = self._path(prefix.rstrip("/"))
        if base.is_dir():
            shutil.rmtree(base, ignore_errors=True)
        return n

    def url(self, key: str, *, expires_s: int | None = None) -> str:
        if self.public_base_url:
            return f"{self.public_base_url}/{check_key(key)}"
        return self._path(key).as_uri()

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def check(self) -> str:
        probe = self.root / ".doctor-probe"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as err:
            raise StorageError(f"storage folder {self.root} is not writable: {err}") from None
        return f"local folder {self.root}"
