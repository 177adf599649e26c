"""The base model catalogue (scan + architecture detection) and the train / loras / models commands."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from backend.basemodels.service import get_model, list_models
from backend.errors import NotFound
from tests.conftest import ROOT, studio_subprocess_env


def test_scan_detects_architectures_and_skips_what_is_not_a_base_model(studio_env, demo_models, tmp_path):
    from backend.settings import get_settings

    models_dir = get_settings().models_dir
    models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(demo_models / "demo-sdxl", models_dir / "my-xl")  # a diffusers folder
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(1), "cond_stage_model.transformer.text_model.x": torch.zeros(1)},
              str(models_dir / "real15.safetensors"))
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(1), "conditioner.embedders.1.model.x": torch.zeros(1)},
              str(models_dir / "realxl.safetensors"))
    save_file({"lora_unet_x.lora_down.weight": torch.zeros(1)}, str(models_dir / "some-lora.safetensors"))
    save_file({"model.diffusion_model.x": torch.zeros(1), "cond_stage_model.model.x": torch.zeros(1)}, str(models_dir / "sd2.safetensors"))
    (models_dir / "broken.safetensors").write_bytes(b"\xff" * 20)
    found = {m.name: (m.architecture, m.kind, m.is_demo) for m in list_models()}
    assert found == {
        "demo-sd15": ("sd15", "demo", True), "demo-sdxl": ("sdxl", "demo", True), "my-xl": ("sdxl", "diffusers", False),
        "real15": ("sd15", "single_file", False), "realxl": ("sdxl", "single_file", False),
    }
    assert get_model("demo-sd15").label == "demo — random weights, output is noise"
    with pytest.raises(NotFound):
        get_model("some-lora")
    from workers.pipelines.diffusion import load_pipeline

    assert type(load_pipeline("my-xl")).__name__ == "StableDiffusionXLPipeline"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "backend", *args], cwd=ROOT, env=studio_subprocess_env(),
                          capture_output=True, text=True, timeout=240)


def _cli_here(capsys, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """The same ``backend.cli.main`` as ``python -m backend``, in this process (no interpreter start-up)."""
    from backend.cli import main

    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out.out, out.err)


@pytest.mark.slow
def test_cli_train_wait_list_download_and_models(ctx, demo_models, embedded_workers, make_dataset, tmp_path, capsys):
    ds = make_dataset(ctx, n=2)
    embedded_workers.stop()  # the CLI runs its own in-process workers
    out = _cli_here(capsys, "models", "list", "--json")
    assert out.returncode == 0, out.stderr
    models = {m["name"]: m for m in json.loads(out.stdout)}
    assert models["demo-sdxl"]["architecture"] == "sdxl" and models["demo-sd15"]["is_demo"] is True
    assert models["demo-sd15"]["path"] == str(demo_models / "demo-sd15")

    # `train --wait` as a real `python -m backend` process: it runs the job on its own in-process workers.
    run = _cli("train", "--tenant", "acme", "--dataset", ds.id, "--base-model", "demo-sd15", "--preset", "demo-quick",
               "--set", "max_steps=2", "--set", "rank=4", "--set", "alpha=1", "--set", "save_every=1",
               "--set", "learning_rate=0.002", "--set", "batch_size=1", "--set", "resolution=64", "--wait", "--json")
    assert run.returncode == 0, run.stderr
    job = json.loads(run.stdout)
    assert job["status"] == "succeeded" and job["result"]["steps"] == 2
    lora_id = job["result"]["lora_id"]

    listed = json.loads(_cli_here(capsys, "loras", "list", "--tenant", "acme", "--json").stdout)
    assert [(x["id"], x["rank"], x["alpha"]) for x in listed] == [(lora_id, 4, 1.0)]
    dest = tmp_path / "out.safetensors"
    got = _cli_here(capsys, "loras", "download", "--tenant", "acme", lora_id, "-o", str(dest), "--json")
    assert got.returncode == 0, got.stderr
    from safetensors import safe_open

    with safe_open(str(dest), "pt") as f:
        assert f.metadata()["ss_network_alpha"] == "1" and f.metadata()["ss_max_train_steps"] == "2"
    missing = _cli_here(capsys, "loras", "download", "--tenant", "acme", "0" * 32, "-o", str(tmp_path))
    assert missing.returncode == 1 and "not found" in missing.stderr
