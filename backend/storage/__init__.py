"""Object storage behind one interface: a local folder (default) or S3 through the minio client."""

from backend.storage.base import Storage, StorageError
from backend.storage.factory import get_storage, reset_storage
from backend.storage.keys import KINDS, object_key, safe_filename

__all__ = ["KINDS", "Storage", "StorageError", "get_storage", "object_key", "reset_storage", "safe_filename"]
