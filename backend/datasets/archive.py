"""Reading uploaded inputs safely: zip entries and plain files, without ever extracting to disk.

Entries are read into memory with a hard cap and stored only under keys built by
``object_key``, so no entry name can place a file outside the storage root.
"""

from __future__ import annotations

import re
import stat
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

from backend.datasets.images import Refused

MAX_CAPTION_BYTES = 64 * 1024
JUNK_NAMES = {".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", ".localized", "icon\r"}
JUNK_DIRS = {"__macosx", ".spotlight-v100", ".trashes", ".fseventsd"}
KOHYA_FOLDER = re.compile(r"^(\d{1,4})_(.*)$")


@dataclass
class Entry:
    """One input file: its name as given and a bounded reader."""

    name: str
    size: int | None  # declared size, when known before reading
    read: Callable[[int], bytes] = field(repr=False)  # read(limit): at most limit bytes, else Refused

    @property
    def is_caption(self) -> bool:
        return self.name.lower().endswith(".txt")

    @property
    def stem(self) -> str:
        """The name without its extension: an image and its caption share it."""
        base = self.name.rsplit("/", 1)[-1]
        return self.name[: len(self.name) - len(base)] + (base.rsplit(".", 1)[0] if "." in base else base)

    @property
    def folder(self) -> str:
        return self.name.rsplit("/", 1)[0] if "/" in self.name else ""


@dataclass
class Rejection:
    file: str
    reason: str


def is_junk(name: str) -> bool:
    """OS litter that is ignored silently: __MACOSX/, .DS_Store, Thumbs.db, AppleDouble ._ files."""
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    if not parts:
        return True
    if any(p.lower() in JUNK_DIRS for p in parts[:-1]):
        return True
    base = parts[-1]
    return base.lower() in JUNK_NAMES or base.startswith("._")


def path_problem(name: str) -> str | None:
    """Why an entry name is unsafe (absolute, escaping, control characters), or None."""
    if "\x00" in name or any(ord(c) < 32 for c in name):
        return "invalid file name (control characters)"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return "absolute path refused"
    if any(p == ".." for p in norm.split("/")):
        return "path escapes the archive ('..') refused"
    return None


def kohya_repeats(folder: str) -> tuple[int, str] | None:
    """(repeats, "trigger class") from a kohya folder name ``10_ohwx woman``, else None."""
    last = folder.rsplit("/", 1)[-1]
    m = KOHYA_FOLDER.match(last)
    if not m or int(m.group(1)) < 1:
        return None
    return int(m.group(1)), m.group(2).strip()


def bounded(data: bytes, limit: int, what: str) -> bytes:
    if len(data) > limit:
        raise Refused(f"{what} is over the limit of {limit} bytes")
    return data


def limit_for(entry_name: str, max_image_bytes: int) -> int:
    return MAX_CAPTION_BYTES if entry_name.lower().endswith(".txt") else max_image_bytes


class ZipSource:
    """A zip upload: entries that pass the safety checks, and the refused ones with reasons.

    :param max_bytes: per-file limit (images); captions get MAX_CAPTION_BYTES.
    :param max_total: cap on the sum of uncompressed sizes, declared and actually read.
    :param max_entries: cap on the number of entries in the archive.
    """

    def __init__(self, path: str, label: str, *, max_bytes: int, max_total: int, max_entries: int) -> None:
        self.label = label
        self.max_bytes = max_bytes
        self.max_total = max_total
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._read_total = 0
        self.zf: zipfile.ZipFile | None = None
        self.path = path

    def scan(self) -> tuple[list[Entry], list[Rejection]]:
        try:
            self.zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError) as err:
            return [], [Rejection(self.label, f"not a readable zip archive: {err}")]
        infos = self.zf.infolist()
        if len(infos) > self.max_entries:
            return [], [Rejection(self.label, f"archive has {len(infos)} entries; the limit is {self.max_entries}")]
        entries: list[Entry] = []
        rejected: list[Rejection] = []
        declared_total = 0
        for info in infos:
            name = info.filename
            if info.is_dir() or is_junk(name):
                continue
            problem = path_problem(name)
            kind = (info.external_attr >> 16) & 0o170000
            if problem is None and kind == stat.S_IFLNK:
                problem = "symbolic link refused"
            elif problem is None and kind not in (0, stat.S_IFREG):
                problem = "not a regular file (link or device) refused"
            elif problem is None and info.flag_bits & 0x1:
                problem = "encrypted entry refused"
            limit = limit_for(name, self.max_bytes)
            if problem is None and info.file_size > limit:
                # Refused from the declared size alone: the entry is never decompressed.
                problem = f"uncompressed size {info.file_size} bytes is over the limit of {limit} bytes"
            if problem:
                rejected.append(Rejection(name, problem))
                continue
            declared_total += info.file_size
            entries.append(Entry(name=name, size=info.file_size, read=self._reader(info)))
        if declared_total > self.max_total:
            return [], [Rejection(self.label, f"archive unpacks to {declared_total} bytes; the limit is {self.max_total}")]
        return entries, rejected

    def _reader(self, info: zipfile.ZipInfo) -> Callable[[int], bytes]:
        def read(limit: int) -> bytes:
            assert self.zf is not None
            with self._lock:
                try:
                    with self.zf.open(info) as fh:
                        # Read one byte past the limit: a header that lies about the size is caught
                        # here without inflating the rest of the stream.
                        data = fh.read(limit + 1)
                except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as err:
                    raise Refused(f"corrupt archive entry: {err}") from None
                if len(data) > limit:
                    raise Refused(f"uncompressed data is over the limit of {limit} bytes (the archive header understated it)")
                self._read_total += len(data)
                if self._read_total > self.max_total:
                    raise Refused(f"archive total uncompressed size is over the limit of {self.max_total} bytes")
            return data

        return read

    def close(self) -> None:
        if self.zf is not None:
            self.zf.close()
