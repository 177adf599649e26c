"""The ComfyUI backend against a local server speaking ComfyUI's HTTP + WebSocket protocol."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from backend.generation import service as assets
from backend.generation.comfyui import ComfyBackend, apply_loras, check_graph, fill, load_workflow, server_lists
from backend.generation.images import LoraFile, RenderJob, png_metadata, submit_images
from backend.jobs import service as jobs
from backend.jobs.errors import PermanentError
from tests.generation.comfy_server import ComfyServer, object_info


def job(**kw) -> RenderJob:  # type: ignore[no-untyped-def]
    base = dict(prompt="ohwx woman on a beach", negative_prompt="blurry", base_model="sd15.safetensors", width=64,
                height=72, steps=3, guidance=6.0, scheduler="dpmpp_2m_karras", seed=42, num_images=2)
    return RenderJob(**(base | kw))


@pytest.fixture
def comfy():
    server = ComfyServer()
    yield server
    server.close()


def test_workflow_placeholders_and_lora_chain():
    g = fill(load_workflow("txt2img_lora"), {"checkpoint": "c", "prompt": "p {x}", "negative_prompt": "n", "width": 64,
                                              "height": 64, "seed": 5, "steps": 3, "guidance": 7.0, "sampler": "euler",
                                              "sigma_schedule": "normal", "lora_name": "", "lora_strength": 1.0})
    assert g["3"]["inputs"]["seed"] == 5 and isinstance(g["5"]["inputs"]["width"], int)
    none = apply_loras(g, [])
    assert "10" not in none and none["3"]["inputs"]["model"] == ["4", 0] and none["6"]["inputs"]["clip"] == ["4", 1]
    two = apply_loras(g, [("a.safetensors", 0.7), ("b.safetensors", 0.3)])
    assert two["10_1"]["inputs"]["model"] == ["10_0", 0] and two["3"]["inputs"]["model"] == ["10_1", 0]
    assert two["10_0"]["inputs"]["strength_model"] == 0.7
    problems = check_graph(two, object_info(["c"], ["a.safetensors"], []))
    assert any("b.safetensors" in p and "available: a.safetensors" in p for p in problems)


def test_render_with_ws_progress_view_and_lora(comfy):
    seen: list[tuple[float, str]] = []
    images = ComfyBackend(comfy.url).render(job(loras=[LoraFile("lora123", "mia", 0.8, "lora123.safetensors")]),
                                            progress=lambda f, m: seen.append((f, m)), cancelled=lambda: False)
    assert [i.seed for i in images] == [42, 43]
    assert Image.open(io.BytesIO(images[0].png)).size == (64, 72)
    assert images[0].png != images[1].png
    assert len(comfy.prompts) == 2
    graph = comfy.prompts[0]["graph"]
    assert graph["3"]["inputs"]["sampler_name"] == "dpmpp_2m" and graph["3"]["inputs"]["scheduler"] == "karras"
    assert graph["10_0"]["inputs"]["lora_name"] == "lora123.safetensors"
    # progress came from the socket, step by step
    assert [m for _, m in seen][:3] == ["image 1/2 · step 1/3", "image 1/2 · step 2/3", "image 1/2 · step 3/3"]
    assert seen[-1][0] == pytest.approx(1.0)


def test_falls_back_to_polling_history_when_the_socket_fails():
    server = ComfyServer(ws_broken=True)
    try:
        images = ComfyBackend(server.url, poll_s=0.05).render(job(num_images=1), progress=lambda f, m: None,
                                                             cancelled=lambda: False)
        assert len(images) == 1 and images[0].seed == 42
    finally:
        server.close()


def test_node_errors_become_the_reason(comfy):
    comfy.loras = []
    with pytest.raises(PermanentError, match="lora123.safetensors"):  # caught by /object_info before sending
        ComfyBackend(comfy.url).render(job(loras=[LoraFile("lora123", "mia", 0.8, "lora123.safetensors")]),
                                       progress=lambda f, m: None, cancelled=lambda: False)
    assert comfy.prompts == []
    # a graph the pre-check passes but the server refuses: its node_errors are shown
    backend = ComfyBackend(comfy.url)
    from backend.generation.comfyui import ComfyClient

    client = ComfyClient(comfy.url)
    graph = backend.graph_for(job(), seed=1, init_name=None)
    graph["3"]["inputs"]["sampler_name"] = "nope"
    with pytest.raises(PermanentError, match=r"node 3 \(KSampler\): Value not in list — sampler_name: 'nope'"):
        client.queue_prompt(graph)
    client.close()


def test_execution_error_and_upload_for_img2img():
    server = ComfyServer(fail_node="3")
    try:
        init = io.BytesIO()
        Image.new("RGB", (32, 32), "green").save(init, format="PNG")
        with pytest.raises(PermanentError, match="KSampler.*out of memory"):
            ComfyBackend(server.url).render(job(workflow="img2img", init_image=init.getvalue(), num_images=1),
                                            progress=lambda f, m: None, cancelled=lambda: False)
        assert "studio-input.png" in server.inputs
        assert server.prompts[0]["graph"]["11"]["inputs"]["image"] == "studio-input.png"
    finally:
        server.close()


def test_server_lists_and_job_end_to_end(ctx, comfy, studio_env):
    studio_env(comfyui_url=comfy.url, generation_backend="comfyui")
    assert server_lists() == {"checkpoints": ["sd15.safetensors", "sdxl.safetensors"], "loras": ["lora123.safetensors"]}
    from workers.runner import ensure_embedded_workers

    ensure_embedded_workers()  # after the settings change (the fixture stops them)
    j = submit_images(ctx, prompt="a portrait", base_model="sd15.safetensors", width=64, height=64, steps=2, seed=9)
    done = jobs.wait(ctx, j.id, timeout_s=60)
    assert done.status == "succeeded", done.error
    a = assets.get_asset(ctx, done.result["asset_ids"][0])
    assert a.params["backend"] == "comfyui" and a.params["seed"] == 9 and a.params["comfyui_prompt_id"]
    assert png_metadata(assets.asset_bytes(ctx, a.id))["seed"] == 9
    bad = submit_images(ctx, prompt="x", base_model="missing.ckpt", width=64, height=64, steps=2)
    failed = jobs.wait(ctx, bad.id, timeout_s=60)
    assert failed.status == "failed" and "missing.ckpt" in failed.error and "sd15.safetensors" in failed.error
    assert failed.attempts == 1
