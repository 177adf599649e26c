"""A user's single-file SD 1.5 checkpoint (original layout) loads offline and trains."""

from __future__ import annotations

import pytest
import torch

from backend.errors import InvalidInput
from backend.jobs import service as jobs
from backend.training import service as training
from tests.training.conftest import quick
from tests.training.singlefile import write_sd15_single_file


def _image(pipe) -> torch.Tensor:  # type: ignore[no-untyped-def]
    out = pipe("a photo of ohwx", num_inference_steps=2, generator=torch.Generator().manual_seed(5), output_type="np")
    return torch.from_numpy(out.images[0])


def test_single_file_checkpoint_loads_with_local_configs_and_trains(ctx, demo_models, embedded_workers, make_dataset):
    from backend.basemodels.service import get_model
    from backend.settings import get_settings
    from workers.pipelines.diffusion import load_pipeline, single_file_config

    demo = load_pipeline("demo-sd15")
    models_dir = get_settings().models_dir
    models_dir.mkdir(parents=True, exist_ok=True)
    write_sd15_single_file(demo, models_dir / "my-sd15.safetensors")
    model = get_model("my-sd15")
    assert (model.architecture, model.kind) == ("sd15", "single_file")
    # Its sizes fit the demo's configs and tokenizer: loaded with no Hugging Face cache at all.
    assert single_file_config(model) == demo_models / "demo-sd15"
    pipe = load_pipeline("my-sd15")
    for name in ("unet", "vae", "text_encoder"):
        ours, theirs = getattr(pipe, name).state_dict(), getattr(demo, name).state_dict()
        assert set(ours) == set(theirs)
        assert all(torch.equal(ours[k], theirs[k].reshape(ours[k].shape)) for k in ours), name
    assert torch.equal(_image(pipe), _image(demo))
    # Attention runs on PyTorch SDPA (diffusers' AttnProcessor2_0), for the trainer and generation alike.
    assert {type(p).__name__ for p in pipe.unet.attn_processors.values()} == {"AttnProcessor2_0"}

    ds = make_dataset(ctx, n=2)
    job = training.submit(ctx, dataset_id=ds.id, base_model="my-sd15", preset="demo-quick",
                          params=quick(max_steps=2, sample_prompts=[]))
    done = jobs.wait(ctx, job.id, timeout_s=120)
    assert done.status == "succeeded", done.error
    assert training.get_lora(ctx, done.result["lora_id"]).base_model == "my-sd15"


def test_single_file_without_fitting_configs_is_refused_readably(studio_env, demo_models):
    from safetensors.torch import save_file

    from backend.settings import get_settings
    from workers.pipelines.diffusion import load_pipeline

    models_dir = get_settings().models_dir
    models_dir.mkdir(parents=True, exist_ok=True)
    # An SD 1.5 layout whose sizes (320 channels, 768 context) fit no local folder: a real SD 1.5 file.
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(320, 4, 3, 3),
               "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": torch.zeros(320, 768),
               "cond_stage_model.transformer.text_model.final_layer_norm.weight": torch.zeros(768)},
              str(models_dir / "real15.safetensors"))
    with pytest.raises(InvalidInput) as err:
        load_pipeline("real15")
    assert "could not be loaded" in str(err.value)
    assert any("put a diffusers folder of the same architecture" in r for r in err.value.reasons)
