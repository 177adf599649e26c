"""Out-of-memory errors become a readable reason with concrete advice."""

from __future__ import annotations

import torch

from workers.pipelines.training.failures import is_out_of_memory, out_of_memory_reason


def test_out_of_memory_is_recognised():
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:114] DefaultCPUAllocator: can't allocate memory"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_advice_names_what_to_change():
    reason = out_of_memory_reason({"batch_size": 4, "resolution": 1024, "gradient_checkpointing": False,
                                   "mixed_precision": "no", "rank": 16}, device="cuda")
    assert reason.startswith("out of memory on cuda at 1024 px, batch 4")
    for advice in ("batch size (now 4, try 2", "resolution (now 1024 px, try 768)", "gradient checkpointing", "bf16"):
        assert advice in reason
    # What is already applied is not advised again.
    done = out_of_memory_reason({"batch_size": 1, "resolution": 512, "gradient_checkpointing": True,
                                 "mixed_precision": "bf16"}, device="cuda")
    assert "gradient checkpointing" not in done and "bf16" not in done and "batch size" not in done

