"""Turning a training crash into a reason a creator can act on (out of memory above all)."""

from __future__ import annotations

import sys
from typing import Any


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is an accelerator or host out-of-memory error."""
    torch = sys.modules.get("torch")  # only a process that trained can have a torch OOM
    oom_types: tuple[type[BaseException], ...] = (MemoryError,)
    if torch is not None:
        oom_types += (torch.OutOfMemoryError,)
    if isinstance(err, oom_types):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def out_of_memory_reason(params: dict[str, Any], *, device: str) -> str:
    """The readable reason and concrete advice for an out-of-memory failure with ``params``."""
    batch, res = int(params.get("batch_size", 1)), int(params.get("resolution", 512))
    advice = []
    if batch > 1:
        advice.append(f"lower the batch size (now {batch}, try {max(1, batch // 2)}; raise gradient accumulation to keep the effective batch)")
    if res > 512:
        advice.append(f"lower the resolution (now {res} px, try {max(512, res - 256)})")
    elif res > 64:
        advice.append(f"lower the resolution (now {res} px)")
    if not params.get("gradient_checkpointing"):
        advice.append("turn on gradient checkpointing")
    if params.get("mixed_precision", "no") == "no":
        advice.append("use bf16 mixed precision")
    if params.get("train_text_encoder"):
        advice.append("train the UNet only (text encoder off)")
    if int(params.get("rank", 16)) > 32:
        advice.append("use a smaller rank")
    if not advice:
        advice.append("use a GPU with more memory")
    return f"out of memory on {device} at {res} px, batch {batch}: " + "; ".join(advice)
