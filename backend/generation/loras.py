"""The LoRAs generation uses, read through the training feature's service (never its tables)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backend.context import Ctx
from backend.storage import get_storage
from backend.training import service as training
from backend.training.models import LoraOut


@dataclass(frozen=True)
class LoraRef:
    """What generation needs of a trained LoRA."""

    id: str
    name: str
    trigger_word: str
    base_model: str
    architecture: str
    file_key: str

    @property
    def label(self) -> str:
        """How pickers show it: name and trigger word."""
        return f"{self.name} ({self.trigger_word or 'no trigger'})"


def _ref(lo: LoraOut) -> LoraRef:
    return LoraRef(id=lo.id, name=lo.name, trigger_word=lo.trigger_word or "", base_model=lo.base_model,
                   architecture=lo.architecture, file_key=lo.file_key)


def get_lora_ref(ctx: Ctx, lora_id: str) -> LoraRef:
    """The LoRA ``lora_id`` of the caller's workspace (NotFound otherwise)."""
    return _ref(training.get_lora(ctx, lora_id))


def list_lora_refs(ctx: Ctx, *, architecture: str | None = None) -> list[LoraRef]:
    """Every LoRA of the workspace, newest first (optionally of one architecture)."""
    return [_ref(lo) for lo in training.list_loras(ctx, architecture=architecture)]


def lora_local_file(ctx: Ctx, lora_id: str, cache_dir: Path) -> Path:
    """The LoRA's .safetensors file on this machine (downloaded from storage into ``cache_dir`` once)."""
    ref = get_lora_ref(ctx, lora_id)
    local = get_storage().local_path(ref.file_key)
    if local is not None and local.is_file():
        return local
    dest = cache_dir / ctx.tenant_id / f"{ref.id}.safetensors"
    if not dest.is_file():  # LoRA files never change under one id, so a cached copy stays valid
        tmp = dest.with_suffix(".part")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        training.download_lora(ctx, lora_id, tmp)
        tmp.replace(dest)  # a half-downloaded file is never taken for a LoRA
    return dest
