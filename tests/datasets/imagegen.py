"""Generated test inputs: distinct real images in every mode and format the ingest meets."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image


def pattern(seed: int, size: tuple[int, int] = (320, 288), mode: str = "RGB") -> Image.Image:
    """A distinct picture per seed (blocks of random colour: different perceptual hashes)."""
    rng = np.random.default_rng(seed)
    w, h = size
    blocks = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    im = Image.fromarray(blocks).resize((w, h), Image.Resampling.NEAREST)
    return im.convert(mode) if mode != "RGB" else im


def encode(im: Image.Image, fmt: str = "JPEG", **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def jpeg(seed: int, size: tuple[int, int] = (320, 288), **kw: object) -> bytes:
    return encode(pattern(seed, size), "JPEG", quality=90, **kw)


def png(seed: int, size: tuple[int, int] = (320, 288), mode: str = "RGB") -> bytes:
    return encode(pattern(seed, size, mode), "PNG")


def jpeg_rotated(seed: int, size: tuple[int, int] = (400, 300), orientation: int = 6) -> bytes:
    """A landscape JPEG whose EXIF says 'rotate 90°' (portrait once oriented)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(pattern(seed, size), "JPEG", quality=90, exif=exif.tobytes())


def bomb_png(side: int = 10000) -> bytes:
    """A small PNG whose header announces side x side pixels (a decompression bomb)."""
    im = Image.new("1", (side, side), 0)
    return encode(im, "PNG", optimize=True)


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def png16(seed: int, size: tuple[int, int] = (320, 288)) -> bytes:
    """A 16-bit greyscale PNG."""
    grey = np.asarray(pattern(seed, size, "L")).astype(np.uint16) * 257
    return encode(Image.fromarray(grey), "PNG")
