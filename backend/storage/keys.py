"""Storage keys ``{tenant}/{kind}/{id}/{file}``: built only here, so no name can escape the root."""

from __future__ import annotations

import re
import unicodedata

from backend.errors import InvalidInput

KINDS = ("datasets", "loras", "images", "videos", "audio", "docs", "models")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_filename(name: str, *, default: str = "file") -> str:
    """One path segment safe on every filesystem and in S3: no separators, no dot-only names."""
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:180] or default


def object_key(tenant_id: str, kind: str, obj_id: str, file: str) -> str:
    """The key of ``file`` (may hold sub-folders, each segment sanitised) of one object."""
    if kind not in KINDS:
        raise InvalidInput("invalid storage kind", [f"{kind!r} is not one of {', '.join(KINDS)}"])
    for part, what in ((tenant_id, "tenant"), (obj_id, "id")):
        if not _ID.match(part):
            raise InvalidInput("invalid storage key", [f"{what} {part!r} is not a plain identifier"])
    segments = [safe_filename(seg) for seg in file.replace("\\", "/").split("/") if seg not in ("", ".", "..")]
    if not segments:
        raise InvalidInput("invalid storage key", [f"file name {file!r} is empty"])
    return "/".join([tenant_id, kind, obj_id, *segments])


def prefix_of(tenant_id: str, kind: str, obj_id: str) -> str:
    """The key prefix holding every file of one object (ends with '/')."""
    return object_key(tenant_id, kind, obj_id, "x").rsplit("/", 1)[0] + "/"


def check_key(key: str) -> str:
    """Refuse a key that is absolute, holds '..' or empty segments, backslashes or control characters."""
    parts = key.split("/")
    control = any(ord(c) < 32 or ord(c) == 127 for c in key)
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key or control:
        raise InvalidInput("invalid storage key", [repr(key)])
    return key
