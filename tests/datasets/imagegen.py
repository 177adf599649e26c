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


def png_header_bomb(width: int, height: int) -> bytes:
    """A ~60-byte PNG whose header declares ``width`` x ``height`` pixels but holds no real data.

    Decoding it would fail as truncated/corrupt; only a check made on the header, before any
    decoding, can answer "too many pixels".
    """
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def palette_with_transparency(seed: int, size: tuple[int, int] = (320, 288)) -> bytes:
    """A palette PNG whose colour index 0 is fully transparent (tRNS), used in the top-left corner."""
    im = pattern(seed, size).quantize(colors=16)
    px = im.load()
    for x in range(40):
        for y in range(40):
            px[x, y] = 0
    return encode(im, "PNG", transparency=0)


def la_png(seed: int, size: tuple[int, int] = (320, 288)) -> bytes:
    """A greyscale + alpha PNG, transparent in the top-left corner."""
    grey = pattern(seed, size, "L")
    alpha = Image.new("L", size, 255)
    alpha.paste(0, (0, 0, 40, 40))
    im = Image.merge("LA", (grey, alpha))
    return encode(im, "PNG")
