"""Invalid runs are refused at submit with every reason; estimates and presets."""

from __future__ import annotations

import pytest

from backend.errors import InvalidInput, NotFound
from backend.jobs import service as jobs
from backend.training import service as training
from tests.training.conftest import quick


def _refused(ctx, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as err:
        training.submit(ctx, **kw)
    return err.value.reasons


def test_invalid_parameters_are_refused_with_reasons(ctx, embedded_workers, make_dataset):
    ds = make_dataset(ctx, n=1)
    reasons = _refused(ctx, dataset_id=ds.id, base_model="demo-sd15",
                       params={"rank": 0, "resolution": 100, "learning_rate": -1, "batch_size": 0, "bogus": 1,
                               "mixed_precision": "fp8", "caption_dropout": 2})
    text = "; ".join(reasons)
    for field in ("rank", "resolution", "learning_rate", "batch_size", "bogus", "mixed_precision", "caption_dropout"):
        assert field in text, (field, reasons)
    assert "multiple of 64" in text
    # Warmup longer than the run, and a text-encoder run with no text-encoder rate.
    reasons = _refused(ctx, dataset_id=ds.id, base_model="demo-sd15",
                       params=quick(max_steps=5, lr_scheduler="cosine", lr_warmup_steps=5))
    assert any("lr_warmup_steps" in r for r in reasons)
    reasons = _refused(ctx, dataset_id=ds.id, base_model="demo-sd15", params=quick(train_text_encoder=True, text_encoder_lr=0))
    assert any("text_encoder_lr" in r for r in reasons)
    assert jobs.list_jobs(ctx, job_type="training.lora")[1] == 0


def test_missing_base_model_empty_dataset_and_other_tenant(ctx, other_ctx, studio_env, make_dataset):
    from backend.datasets import service as datasets

    empty = datasets.create_dataset(ctx, name="Empty", trigger_word="ohwx")
    reasons = _refused(ctx, dataset_id=empty.id, base_model="no-such-model", params=quick())
    assert any("base model 'no-such-model' not found" in r for r in reasons)
    assert any("has no images" in r for r in reasons)
    theirs = datasets.create_dataset(other_ctx, name="Theirs")
    with pytest.raises(NotFound):  # another workspace's dataset is "not found", never a refusal
        training.submit(ctx, dataset_id=theirs.id, base_model="demo-sd15", params=quick())
    assert any("unknown preset" in r or "not one of" in r
               for r in _refused(ctx, dataset_id=empty.id, base_model="demo-sd15", preset="turbo"))
    assert any("optimizer prodigy" in r for r in _refused(ctx, dataset_id=empty.id, base_model="demo-sd15",
                                                          params={"optimizer": "prodigy"})) or "prodigy" in training.available_optimizers()


def test_set_args_parse_and_refuse():
    assert training.parse_set_args(["max_steps=200", "rank=16", "alpha=8", "sample_prompts=a [trigger]|b", "min_snr_gamma=none"]) == {
        "max_steps": "200", "rank": "16", "alpha": "8", "sample_prompts": ["a [trigger]", "b"], "min_snr_gamma": None}
    with pytest.raises(InvalidInput) as err:
        training.parse_set_args(["nokey", "colour=red", "=3"])
    assert len(err.value.reasons) == 3
    p = training.build_params("sd15-512", training.parse_set_args(["max_steps=200", "learning_rate=2e-4", "gradient_checkpointing=true"]))
    assert (p.max_steps, p.learning_rate, p.gradient_checkpointing, p.resolution) == (200, 2e-4, True, 512)


def test_total_steps_and_estimates():
    from backend.basemodels.service import get_model

    p = training.build_params("sd15-512", {"epochs": 4, "batch_size": 2, "gradient_accumulation": 1})
    assert training.total_steps(30, p) == 60  # 15 images x 2 repeats x 4 epochs / batch 2
    assert training.total_steps(30, p.model_copy(update={"max_steps": 7})) == 7
    small = training.estimate(get_model("demo-sd15"), training.build_params("demo-quick"), 10)
    assert small.total_steps == 20 and small.device.startswith("CPU")


def test_estimates_scale_with_resolution_and_checkpointing(studio_env, tmp_path):
    from backend.basemodels.service import BaseModel

    xl = BaseModel(name="xl", architecture="sdxl", kind="diffusers", path=tmp_path)
    base = training.build_params("sdxl-1024", {"gradient_checkpointing": False})
    e1 = training.estimate(xl, base, 20)
    e2 = training.estimate(xl, base.model_copy(update={"gradient_checkpointing": True}), 20)
    e3 = training.estimate(xl, base.model_copy(update={"resolution": 512}), 20)
    assert e2.memory_gb < e1.memory_gb and e3.memory_gb < e1.memory_gb and e3.seconds < e1.seconds


def test_loras_are_tenant_scoped(ctx, other_ctx, studio_env):
    with pytest.raises(NotFound):
        training.get_lora(other_ctx, "0" * 32)
    assert training.list_loras(ctx) == []
