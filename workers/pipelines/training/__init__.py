"""The LoRA training job: ``training.lora`` on the gpu queue."""

from __future__ import annotations

import gc
import logging
from typing import Any

from backend.jobs.errors import PermanentError
from backend.settings import get_settings
from backend.training import service as training
from backend.training import specs
from workers.context import JobContext
from workers.pipelines.training.failures import is_out_of_memory, out_of_memory_reason
from workers.registry import handler

log = logging.getLogger(__name__)


@handler(specs.TRAINING_JOB)
def train_lora(ctx: JobContext) -> dict[str, Any]:
    """Train (or resume) the run, export the kohya LoRA and record it; OOM fails with advice."""
    from workers.pipelines.training.trainer import RunInfo, Trainer, pick_device

    info = RunInfo.from_payload(ctx.job_id, ctx.tenant_id, ctx.payload)
    done = training.lora_for_job(ctx.ctx, ctx.job_id)
    if done is not None:  # a redelivery after the LoRA was recorded: nothing left to do
        return {"lora_id": done.id, "name": done.name, "steps": done.steps, "final_loss": done.final_loss,
                "file_key": done.file_key, "resumed_from": done.steps}
    device = pick_device(get_settings().generation_device)
    trainer = Trainer(ctx, info, device=device)
    try:
        trainer.prepare()
        return trainer.run()
    except Exception as err:
        if not is_out_of_memory(err):
            raise
        import torch  # imported here: a worker that never trains starts without loading torch

        del trainer
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise PermanentError(out_of_memory_reason(ctx.payload.get("params", {}), device=str(device))) from err
