"""Checking and normalising one image: the real format, size limits, orientation, RGB, hashes, thumbnail.

Pure functions on bytes (no database, no storage) so ingest can run them in a thread pool:
Pillow releases the GIL while it decodes, resizes and encodes.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
THUMB_SIDE = 256
THUMB_QUALITY = 80
THUMB_METHOD = 2  # libwebp effort 0-6: 2 is fast and good enough for a 256 px preview
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}

# A truncated file must be refused, never half-decoded into the dataset.
ImageFile.LOAD_TRUNCATED_IMAGES = False


class Refused(Exception):
    """The file cannot join the dataset; ``str(err)`` is the reason shown to the user."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int
    min_side: int

    @classmethod
    def from_settings(cls) -> Limits:
        from backend.settings import get_settings

        s = get_settings()
        return cls(max_bytes=s.max_image_bytes, max_pixels=s.max_image_pixels, min_side=s.min_image_side)


@dataclass
class Normalised:
    """An accepted image: what ingest stores and records."""

    format: str  # JPEG | PNG | WEBP (of the original)
    ext: str  # of the original
    width: int  # after orientation
    height: int
    image_bytes: bytes | None  # normalised RGB image; None: the original already is one (upright, opaque RGB)
    image_ext: str
    thumb_bytes: bytes  # WebP
    pixel_hash: str  # sha256 of the oriented RGB pixels
    phash: str  # perceptual hash, hex


def sniff_format(data: bytes) -> str | None:
    """The format the magic bytes announce, among the accepted ones (the extension proves nothing)."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def open_checked(data: bytes, limits: Limits) -> Image.Image:
    """Open ``data`` reading only the header, refusing what must never be decoded."""
    if len(data) > limits.max_bytes:
        raise Refused(f"file is {_mb(len(data))}; the limit is {_mb(limits.max_bytes)}")
    fmt = sniff_format(data)
    if fmt is None:
        try:
            with Image.open(io.BytesIO(data)) as other:
                found = other.format
        except Exception:  # noqa: BLE001 - anything Pillow cannot identify is not an image
            raise Refused("not an image (JPEG, PNG or WebP expected)") from None
        raise Refused(f"unsupported format {found}: only JPEG, PNG and WebP are accepted")
    try:
        # Only the header is read here; formats= stops Pillow guessing past what the bytes announce.
        im = Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError:
        raise Refused(f"image has too many pixels; the limit is {limits.max_pixels / 1e6:g} megapixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise Refused(f"corrupt {fmt} file: {err}") from None
    w, h = im.size
    if w * h > limits.max_pixels:
        # Checked before load(): a decompression bomb never gets decoded.
        raise Refused(f"image is {w}x{h} ({w * h / 1e6:.1f} megapixels); the limit is {limits.max_pixels / 1e6:g} megapixels")
    if min(w, h) < limits.min_side:
        raise Refused(f"image is {w}x{h}; the short side must be at least {limits.min_side} px")
    return im


def to_rgb(im: Image.Image) -> Image.Image:
    """RGB from any mode: CMYK, palette, greyscale, 16-bit; transparency flattened on white."""
    if "transparency" in im.info and im.mode in ("RGB", "L", "P", "1", "I;16", "I"):
        # A palette entry or colour key marked transparent (tRNS): flatten like an alpha channel.
        if im.mode in ("I;16", "I"):
            im = _eight_bit(im)
        im = im.convert("RGBA")
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        return _eight_bit(im).convert("RGB")
    if im.mode == "F":
        arr = np.asarray(im)
        return Image.fromarray((arr.clip(0, 1) * 255).astype(np.uint8) if arr.max() <= 1.0 else arr.clip(0, 255).astype(np.uint8)).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def _eight_bit(im: Image.Image) -> Image.Image:
    """16-bit (or 32-bit integer) greyscale to 8-bit "L": the top byte of each sample."""
    arr = np.asarray(im)
    if arr.dtype != np.uint8:
        arr = (arr.astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8) if arr.max() > 255 else arr.astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(arr), "L")


def _orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block does not make the pixels wrong
        return 1
    return value if 1 <= value <= 8 else 1


def _encode_thumbnail(rgb: Image.Image) -> tuple[Image.Image, bytes]:
    """Shrink ``rgb`` in place (reduce + Lanczos, no full-size copy) and encode it as WebP."""
    rgb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    buf = io.BytesIO()
    rgb.save(buf, "WEBP", quality=THUMB_QUALITY, method=THUMB_METHOD)
    return rgb, buf.getvalue()


def normalise(data: bytes, limits: Limits) -> Normalised:
    """Decode once, check and normalise one file; raises Refused with the reason.

    The full decode is unavoidable (exact duplicates are "same pixels", and a truncated file must
    be caught), so everything else works from that one decoded image: the pixel hash, the
    thumbnail (shrunk in place), the perceptual hash (from the thumbnail). The original bytes are
    kept as they are; a normalised copy is encoded only when the original is not already an
    upright, opaque RGB image.
    """
    im = open_checked(data, limits)
    # A phone's MPO (stereo / depth pair) is a JPEG whose first frame is the photo.
    fmt = "JPEG" if im.format == "MPO" else (im.format or "?")
    try:
        # Decode before anything reads metadata: PNG's getexif() would otherwise trigger the
        # load itself, where an error would be swallowed with the EXIF.
        im.load()
    except Image.DecompressionBombError:
        raise Refused(f"image has too many pixels; the limit is {limits.max_pixels / 1e6:g} megapixels") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise Refused(f"truncated or corrupt {fmt} image: {err}") from None
    orientation = _orientation(im)
    already_plain = im.mode == "RGB" and orientation == 1 and "transparency" not in im.info
    try:
        oriented = ImageOps.exif_transpose(im) if orientation != 1 else im
    except Exception:  # noqa: BLE001 - an unusable orientation tag: keep the pixels as stored
        oriented = im
    rgb = to_rgb(oriented)
    width, height = rgb.size
    digest = hashlib.sha256(f"{width}x{height}:".encode())
    digest.update(rgb.tobytes())  # no concatenation: that would copy the pixels once more
    pixel_hash = digest.hexdigest()
    image_bytes: bytes | None = None
    image_ext = EXTENSIONS[fmt]
    if not already_plain:
        buf = io.BytesIO()
        if fmt == "JPEG":
            rgb.save(buf, "JPEG", quality=95, subsampling=0)
            image_ext = "jpg"
        else:
            rgb.save(buf, "PNG", compress_level=1)
            image_ext = "png"
        image_bytes = buf.getvalue()
    small, thumb = _encode_thumbnail(rgb)
    # The perceptual hash only looks at 32x32 pixels: computing it from the thumbnail gives the
    # same answer as from the full image at a fraction of the cost.
    phash = str(imagehash.phash(small))
    return Normalised(
        format=fmt,
        ext=EXTENSIONS[fmt],
        width=width,
        height=height,
        image_bytes=image_bytes,
        image_ext=image_ext,
        thumb_bytes=thumb,
        pixel_hash=pixel_hash,
        phash=phash,
    )


def phash_distance(a: str, b: str) -> int:
    """Hamming distance of two perceptual hashes (hex)."""
    return int(imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b))
