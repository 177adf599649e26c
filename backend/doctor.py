"""Health checks of every part the studio depends on (``python -m backend doctor``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from backend.settings import get_settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "required": self.required}


def _database() -> str:
    from sqlalchemy import text

    from backend.db import get_engine

    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from backend.migrate import alembic_config

    engine = get_engine()
    with engine.connect() as conn:
        conn.execute(text("select 1"))
        # One head per feature branch, so compare sets of heads.
        current = set(MigrationContext.configure(conn).get_current_heads())
    where = engine.url.render_as_string(hide_password=True)
    if not current:
        raise RuntimeError(f"{where} has no schema; run: python -m backend migrate")
    latest = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    if current != latest:
        behind = ", ".join(sorted(latest - current)) or "?"
        raise RuntimeError(f"{where} schema is out of date (missing {behind}); run: python -m backend migrate")
    return f"{engine.dialect.name} at revision {', '.join(sorted(current))}"


def _broker() -> str:
    settings = get_settings()
    if settings.is_embedded_broker:
        return "embedded (in-process worker threads)"
    import redis

    redis.Redis.from_url(settings.broker_url, socket_connect_timeout=3).ping()
    return f"redis {settings.broker_url.split('@')[-1]}"


def _storage() -> str:
    from backend.storage import get_storage

    return get_storage().check()


def ffmpeg_exe() -> str:
    """Path of the FFmpeg binary (the one inside imageio-ffmpeg's wheel unless one is on PATH)."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001
        found = shutil.which("ffmpeg")
        if not found:
            raise RuntimeError("ffmpeg not found: pip install imageio-ffmpeg") from None
        return found


def _ffmpeg() -> str:
    import subprocess

    exe = ffmpeg_exe()
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=20, check=True).stdout
    return out.splitlines()[0] if out else exe


def _gpu() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    raise RuntimeError(f"no CUDA GPU (torch {torch.__version__}); training and generation run on the CPU")


def _llm() -> str:
    s = get_settings()
    if not s.llm_api_key:
        raise RuntimeError("STUDIO_LLM_API_KEY is not set; captions can still be written by hand")
    r = httpx.get(f"{s.llm_base_url.rstrip('/')}/models", headers={"Authorization": f"Bearer {s.llm_api_key}"}, timeout=5)
    return f"{s.llm_base_url} answered {r.status_code}"


def _comfyui() -> str:
    s = get_settings()
    if not s.comfyui_url:
        raise RuntimeError("STUDIO_COMFYUI_URL is not set; the builtin diffusers backend is used")
    r = httpx.get(f"{s.comfyui_url.rstrip('/')}/system_stats", timeout=5)
    r.raise_for_status()
    return f"{s.comfyui_url} answered {r.status_code}"


CHECKS: list[tuple[str, Callable[[], str], bool]] = [
    ("database", _database, True),
    ("broker", _broker, True),
    ("storage", _storage, True),
    ("ffmpeg", _ffmpeg, True),
    ("gpu", _gpu, False),
    ("llm", _llm, False),
    ("comfyui", _comfyui, False),
]


def run_checks() -> list[Check]:
    """Run every check; each gives OK with a detail or a one-line reason."""
    out = []
    for name, fn, required in CHECKS:
        try:
            out.append(Check(name, True, fn(), required))
        except Exception as err:  # noqa: BLE001 - the reason is the point
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            out.append(Check(name, False, reason, required))
    return out
