"""Storage in an S3 bucket through the minio client (MinIO in production, any S3 server)."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from minio import Minio
from minio.error import S3Error
from urllib3.exceptions import HTTPError

from backend.storage.base import Storage, StorageError
from backend.storage.keys import check_key


class S3Storage(Storage):
    """Objects in ``bucket`` (created when missing); URLs are presigned GETs.

    :param public_base_url: when set, presigned URLs are rewritten onto it, so a social network
        can download media through a public host while the studio talks to an internal endpoint.
    """

    def __init__(
        self,
        *,
        bucket: str,
        endpoint: str,
        access_key: str,
        secret_key: str,
        secure: bool = False,
        region: str = "us-east-1",
        expires_s: int = 3600,
        public_base_url: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        self.expires_s = expires_s
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region)
        self._bucket_ready = False

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)
        except (S3Error, HTTPError, OSError) as err:
            raise StorageError(f"S3 bucket {self.bucket} at {self.endpoint} unusable: {err}") from None
        self._bucket_ready = True

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._ensure_bucket()
        self.client.put_object(
            self.bucket, check_key(key), io.BytesIO(data), len(data), content_type=content_type or "application/octet-stream"
        )

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        self._ensure_bucket()
        self.client.fput_object(self.bucket, check_key(key), str(path), content_type=content_type or "application/octet-stream")

    def get_bytes(self, key: str) -> bytes:
        self._ensure_bucket()
        try:
            resp = self.client.get_object(self.bucket, check_key(key))
        except S3Error as err:
            raise StorageError(f"object {key} is missing: {err.code}") from None
        try:
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()

    def download(self, key: str, dest: Path) -> Path:
        self._ensure_bucket()
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.fget_object(self.bucket, check_key(key), str(dest))
        except S3Error as err:
            raise StorageError(f"object {key} is missing: {err.code}") from None
        return dest

    def exists(self, key: str) -> bool:
        self._ensure_bucket()
        try:
            self.client.stat_object(self.bucket, check_key(key))
            return True
        except S3Error:
            return False

    def size(self, key: str) -> int:
        self._ensure_bucket()
        try:
            return int(self.client.stat_object(self.bucket, check_key(key)).size or 0)
        except S3Error as err:
            raise StorageError(f"object {key} is missing: {err.code}") from None

    def delete(self, key: str) -> None:
        self._ensure_bucket()
        self.client.remove_object(self.bucket, check_key(key))

    def list(self, prefix: str) -> list[str]:
        self._ensure_bucket()
        return sorted(o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True))

    def url(self, key: str, *, expires_s: int | None = None) -> str:
        self._ensure_bucket()
        url = self.client.presigned_get_object(
            self.bucket, check_key(key), expires=timedelta(seconds=expires_s or self.expires_s)
        )
        if self.public_base_url:
            scheme = "https" if self.client._base_url.is_https else "http"  # noqa: SLF001
            url = url.replace(f"{scheme}://{self.endpoint}", self.public_base_url, 1)
        return url

    def check(self) -> str:
        self._ensure_bucket()
        return f"s3 bucket {self.bucket} at {self.endpoint}"
