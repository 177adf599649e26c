"""Storage: the local folder (nothing escapes its root) and S3 through the minio client on a real S3 server."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from backend.errors import InvalidInput
from backend.storage import StorageError, get_storage, object_key
from backend.storage.keys import check_key, prefix_of, safe_filename
from backend.storage.local import LocalStorage
from backend.storage.s3 import S3Storage

T = "t" * 32
OBJ = "o" * 32

HOSTILE_NAMES = [
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\windows\\system32\\config",
    "C:\\Users\\x\\evil.png",
    "a/../../../../escape.txt",
    "evil\x00.png",
    "....//....//x",
    "\u2025/\u2024\u2024/x.png",  # two-dot leader and one-dot leaders
    "\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fpasswd",  # fullwidth "../../passwd"
    "caf\u00e9 \U0001f600.png",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_object_key_keeps_hostile_file_names_inside_the_object(tmp_path: Path, name: str) -> None:
    store = LocalStorage(tmp_path / "root")
    key = object_key(T, "images", OBJ, name)
    assert key.startswith(f"{T}/images/{OBJ}/")
    assert check_key(key) == key and key.isascii() and "\x00" not in key
    store.put_bytes(key, b"x")
    path = store.local_path(key)
    assert path is not None and path.resolve().is_relative_to((tmp_path / "root").resolve())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [path]


@pytest.mark.parametrize(
    "key",
    [
        "../outside.txt",
        f"{T}/images/../../outside.txt",
        "/etc/passwd",
        f"{T}\\images\\x.png",
        f"{T}/images/x\x00.png",
        f"{T}//x.png",
        f"{T}/./x.png",
        "",
        f"{T}/images/line\nbreak.png",
    ],
)
def test_local_storage_refuses_keys_that_escape_or_are_malformed(tmp_path: Path, key: str) -> None:
    store = LocalStorage(tmp_path / "root")
    for op in (lambda: store.put_bytes(key, b"x"), lambda: store.get_bytes(key), lambda: store.exists(key), lambda: store.delete(key)):
        with pytest.raises(InvalidInput):
            op()
    assert not (tmp_path / "outside.txt").exists()


def test_local_storage_refuses_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = LocalStorage(root)
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "key.pem").write_text("secret")
    (root / T).mkdir()
    os.symlink(tmp_path / "secret", root / T / "images")
    with pytest.raises(StorageError, match="escapes"):
        store.get_bytes(f"{T}/images/key.pem")
    with pytest.raises(StorageError, match="escapes"):
        store.put_bytes(f"{T}/images/new.txt", b"x")
    assert not (tmp_path / "secret" / "new.txt").exists()


def test_safe_filename() -> None:
    assert safe_filename("../../a b.PNG") == "a b.PNG"
    assert safe_filename("\u00e9t\u00e9.jpg") == "ete.jpg"
    assert safe_filename("...") == "file"
    assert safe_filename("x" * 500).__len__() == 180
    with pytest.raises(InvalidInput):
        object_key(T, "secrets", OBJ, "x")
    with pytest.raises(InvalidInput):
        object_key("../t", "images", OBJ, "x")
    with pytest.raises(InvalidInput):
        object_key(T, "images", OBJ, "../..")


def test_local_storage_roundtrip(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "root", public_base_url="https://media.example.com/")
    a, b = object_key(T, "images", OBJ, "a.png"), object_key(T, "images", OBJ, "sub/b.png")
    other = object_key(T, "images", "p" * 32, "c.png")
    store.put_bytes(a, b"aaa")
    src = tmp_path / "b.bin"
    src.write_bytes(b"bbbb")
    store.put_file(b, src)
    store.put_bytes(other, b"c")
    assert store.get_bytes(a) == b"aaa" and store.size(b) == 4 and store.exists(a)
    assert store.list(prefix_of(T, "images", OBJ)) == sorted([a, b])
    assert store.download(b, tmp_path / "out" / "b") .read_bytes() == b"bbbb"
    assert store.url(a) == f"https://media.example.com/{a}"
    assert store.delete_prefix(prefix_of(T, "images", OBJ)) == 2
    assert store.list(prefix_of(T, "images", OBJ)) == [] and store.exists(other)
    assert not (tmp_path / "root" / T / "images" / OBJ).exists()
    with pytest.raises(StorageError, match="missing"):
        store.get_bytes(a)
    assert not [p for p in (tmp_path / "root").rglob(".tmp-*")]  # atomic writes leave no temp files
    assert "local folder" in store.check()


def test_local_url_without_public_base_is_a_file_uri(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "root")
    key = object_key(T, "videos", OBJ, "v.mp4")
    assert store.url(key) == (tmp_path / "root" / key).resolve().as_uri()


# -- S3 through the minio client against moto's S3 server -----------------------------------------
def test_s3_storage_bucket_created_roundtrip_and_presigned_url(s3_env: str, s3_server: str, tmp_path: Path) -> None:
    store = get_storage()
    assert isinstance(store, S3Storage)
    assert not store.client.bucket_exists(s3_env)
    assert "s3 bucket" in store.check()  # creates the missing bucket
    assert store.client.bucket_exists(s3_env)

    a, b = object_key(T, "images", OBJ, "a.png"), object_key(T, "images", OBJ, "sub/b.png")
    other = object_key(T, "loras", OBJ, "w.safetensors")
    store.put_bytes(a, b"\x89PNG data", content_type="image/png")
    src = tmp_path / "b.bin"
    src.write_bytes(b"b" * 1000)
    store.put_file(b, src)
    store.put_bytes(other, b"w")
    assert store.get_bytes(a) == b"\x89PNG data"
    assert store.exists(a) and not store.exists(object_key(T, "images", OBJ, "nope.png"))
    assert store.size(b) == 1000
    assert store.download(b, tmp_path / "dl" / "b").read_bytes() == b"b" * 1000
    assert store.list(prefix_of(T, "images", OBJ)) == sorted([a, b])

    url = store.url(a)
    assert url.startswith(f"http://{s3_server}/{s3_env}/")
    resp = httpx.get(url)
    assert resp.status_code == 200 and resp.content == b"\x89PNG data"
    assert resp.headers["content-type"] == "image/png"
    assert parse_qs(urlparse(url).query)["X-Amz-Expires"] == ["3600"]
    assert parse_qs(urlparse(store.url(a, expires_s=120)).query)["X-Amz-Expires"] == ["120"]

    assert store.delete_prefix(prefix_of(T, "images", OBJ)) == 2
    assert store.list(prefix_of(T, "images", OBJ)) == [] and store.exists(other)
    with pytest.raises(StorageError, match="missing"):
        store.get_bytes(a)
    with pytest.raises(InvalidInput):
        store.put_bytes("../x", b"x")


def test_s3_presigned_url_carries_its_expiry(s3_env: str, studio_env) -> None:  # type: ignore[no-untyped-def]
    # moto's server does not enforce expiry, so check what S3 enforces: the signed date and lifetime.
    from datetime import datetime, timezone

    store = get_storage()
    key = object_key(T, "images", OBJ, "short.png")
    store.put_bytes(key, b"x")
    query = parse_qs(urlparse(store.url(key, expires_s=60)).query)
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - signed_at).total_seconds()) < 60
    assert query["X-Amz-Expires"] == ["60"] and query["X-Amz-SignedHeaders"] == ["host"]


def test_s3_expiry_from_settings_and_public_base_url_rewrite(s3_env: str, s3_server: str, studio_env) -> None:  # type: ignore[no-untyped-def]
    studio_env(presign_expiry_s="900", public_media_base_url="https://media.example.com/s3/")
    store = get_storage()
    key = object_key(T, "videos", OBJ, "clip.mp4")
    store.put_bytes(key, b"mp4")
    url = store.url(key)
    assert url.startswith(f"https://media.example.com/s3/{s3_env}/{key}?")
    assert parse_qs(urlparse(url).query)["X-Amz-Expires"] == ["900"]
    # The rewritten URL keeps the signature: through a proxy onto the endpoint it still works.
    direct = url.replace("https://media.example.com/s3", f"http://{s3_server}", 1)
    assert httpx.get(direct).content == b"mp4"


def test_s3_unreachable_endpoint_is_a_storage_error(studio_env) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import free_port

    studio_env(storage_url="s3://nowhere", s3_endpoint=f"127.0.0.1:{free_port()}", s3_access_key="a", s3_secret_key="b")
    store = get_storage()
    store.client._http.connection_pool_kw["retries"] = 0  # noqa: SLF001 - fail fast in the test
    with pytest.raises(StorageError, match="unusable"):
        store.check()
