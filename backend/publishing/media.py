"""Media checks against a target's limits before anything is sent (Instagram feed, reels, stories)."""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FEED_MIN_ASPECT = 4 / 5  # portrait limit
FEED_MAX_ASPECT = 1.91  # landscape limit
REEL_MIN_S = 3.0
REEL_MAX_S = 15 * 60.0
# Formats the studio turns into a JPEG rendition for Instagram (generated images are PNG).
CONVERTIBLE_FORMATS = ("PNG", "WEBP")
RENDITION_QUALITY = 92


@dataclass(frozen=True)
class VideoInfo:
    container_mp4: bool
    video_codec: str | None
    audio_codec: str | None
    duration_s: float | None
    width: int
    height: int


def image_problems(data: bytes, *, label: str, check_aspect: bool = True) -> list[str]:
    """Why an image cannot go to an Instagram feed (JPEG only, aspect 4:5 to 1.91:1)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (w, h) = im.format, im.size
    except (UnidentifiedImageError, OSError):
        return [f"{label}: not an image"]
    problems = []
    if fmt != "JPEG":
        problems.append(f"{label}: Instagram takes JPEG images only (PNG and WebP are converted), this is {fmt}")
    if check_aspect and h:
        aspect = w / h
        if not FEED_MIN_ASPECT - 1e-3 <= aspect <= FEED_MAX_ASPECT + 1e-3:
            problems.append(f"{label}: aspect ratio {w}x{h} ({aspect:.2f}:1) is outside 4:5 to 1.91:1")
    return problems


def image_format(data: bytes) -> str | None:
    """The image's format as Pillow names it ("PNG", "JPEG", ...), or None when it is no image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.format
    except (UnidentifiedImageError, OSError):
        return None


def jpeg_rendition(data: bytes, *, quality: int = RENDITION_QUALITY) -> bytes:
    """``data`` (PNG or WebP) re-encoded as a JPEG of the same size, transparency flattened on white."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))  # JPEG has no alpha: transparent areas become white
        else:
            flat = im.convert("RGB")
        out = io.BytesIO()
        flat.save(out, format="JPEG", quality=quality, optimize=True)
        return out.getvalue()


def probe_video(data: bytes) -> VideoInfo:
    """Container, codecs, duration and size of a video, read by the ffmpeg binary."""
    from backend.doctor import ffmpeg_exe

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "probe.bin"
        path.write_bytes(data)
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, timeout=60)
    text = proc.stderr
    video = re.search(r"Stream #\S+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})", text)
    audio = re.search(r"Stream #\S+.*?: Audio: (\w+)", text)
    dur = re.search(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)", text)
    container = re.search(r"Input #0, ([\w,]+),", text)
    return VideoInfo(
        container_mp4=bool(container and "mp4" in container.group(1).split(",")) and data[4:8] == b"ftyp",
        video_codec=video.group(1) if video else None,
        audio_codec=audio.group(1) if audio else None,
        duration_s=(int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3))) if dur else None,
        width=int(video.group(2)) if video else 0,
        height=int(video.group(3)) if video else 0,
    )


def video_problems(data: bytes, *, label: str, min_s: float = REEL_MIN_S, max_s: float = REEL_MAX_S) -> list[str]:
    """Why a video cannot be a reel (MP4 with H.264 video and AAC audio, 3 s to 15 min)."""
    info = probe_video(data)
    problems = []
    if not info.container_mp4:
        problems.append(f"{label}: reels must be MP4 files")
    if info.video_codec != "h264":
        problems.append(f"{label}: video codec must be H.264, this is {info.video_codec or 'no video'}")
    if info.audio_codec != "aac":
        problems.append(f"{label}: audio codec must be AAC, this is {info.audio_codec or 'no audio track'}")
    if info.duration_s is None:
        problems.append(f"{label}: duration unreadable")
    elif not min_s <= info.duration_s <= max_s:
        problems.append(f"{label}: duration {info.duration_s:.1f} s is outside {min_s:.0f} s to {max_s / 60:.0f} min")
    return problems


def target_media_problems(target_kind: str, media_kind: str, files: list[tuple[str, str, bytes]]) -> list[str]:
    """Every reason ``files`` (asset id, asset kind, bytes) do not fit ``target_kind``; [] when they do."""
    if target_kind not in ("instagram_feed", "instagram_reel", "instagram_story"):
        return []  # webhooks and TikTok via n8n receive URLs; the receiver decides
    if not files:
        return [f"{target_kind} needs media"]
    problems: list[str] = []
    if target_kind == "instagram_reel":
        if media_kind != "video" or len(files) != 1:
            return ["an Instagram reel is exactly one video"]
        return video_problems(files[0][2], label=f"video {files[0][0]}")
    if target_kind == "instagram_story" and len(files) != 1:
        return ["an Instagram story is one image or one video"]
    for asset_id, kind, data in files:
        label = f"{kind} {asset_id}"
        if kind == "image":
            problems += image_problems(data, label=label, check_aspect=target_kind == "instagram_feed")
        elif target_kind == "instagram_feed" and media_kind != "carousel":
            problems.append("a feed post with a video is published as a reel: use the instagram_reel target")
        else:
            problems += video_problems(data, label=label, max_s=60 if target_kind == "instagram_story" else REEL_MAX_S)
    return problems
