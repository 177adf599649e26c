"""The LoRAs generation uses, read through the training feature's service (never its tables)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backend.context import Ctx
from backend.errors import InvalidInput


@dataclass(frozen=True)
class LoraRef:
    id: str
    name: str
    trigger_word: str
    base_model: str
    architecture: str
    file_key: str


def get_lora_ref(ctx: Ctx, lora_id: str) -> LoraRef:
    """The LoRA ``lora_id`` of the caller's workspace (NotFound otherwise)."""
    try:
        from backend.training.service import get_lora
    except ImportError:
        raise InvalidInput("LoRAs are not available", ["the training feature is not installed"]) from None
    lo = get_lora(ctx, lora_id)
    return LoraRef(id=lo.id, name=lo.name, trigger_word=lo.trigger_word or "", base_model=lo.base_model,
                   architecture=lo.architecture, file_key=lo.file_key)


def list_lora_refs(ctx: Ctx) -> list[LoraRef]:
    """Every LoRA of the workspace (empty when training is not installed)."""
    try:
        from backend.training.service import list_loras
    except ImportError:
        return []
    out = list_loras(ctx)
    rows = out[0] if isinstance(out, tuple) else out
    return [LoraRef(id=lo.id, name=lo.name, trigger_word=lo.trigger_word or "", base_model=lo.base_model,
                    architecture=lo.architecture, file_key=lo.file_key) for lo in rows]


def lora_local_file(ctx: Ctx, lora_id: str, cache_dir: Path) -> Path:
    """The LoRA's .safetensors file on this machine (downloaded from storage into ``cache_dir`` once)."""
    from backend.storage import get_storage

    ref = get_lora_ref(ctx, lora_id)
    storage = get_storage()
    local = storage.local_path(ref.file_key)
    if local is not None and local.is_file():
        return local
    dest = cache_dir / ctx.tenant_id / f"{ref.id}.safetensors"
    if not dest.is_file():
        storage.download(ref.file_key, dest)
    return dest
