"""The ComfyUI backend: API-format graphs from workflows/ with named placeholders, sent over ComfyUI's HTTP API.

POST /prompt queues a graph; progress arrives on the /ws socket (with a poll of /history when the
socket fails); images come from /view; inputs go through /upload/image; /object_info checks a
graph before it is sent and lists the server's checkpoints and LoRAs.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from backend.context import Ctx
from backend.errors import InvalidInput
from backend.generation.images import CancelFn, ImageFn, ProgressFn, RenderedImage, RenderJob, centre_crop, render_size
from backend.jobs.errors import JobCancelled, PermanentError, TransientError
from backend.settings import get_settings

WORKFLOWS_DIR = Path(__file__).resolve().parents[2] / "workflows"
_PLACEHOLDER = re.compile(r"^\{\{(\w+)\}\}$")
_INLINE = re.compile(r"\{\{(\w+)\}\}")
# Our scheduler names -> ComfyUI's (sampler_name, scheduler).
SAMPLERS: dict[str, tuple[str, str]] = {
    "euler": ("euler", "normal"), "euler_a": ("euler_ancestral", "normal"), "dpmpp_2m": ("dpmpp_2m", "normal"),
    "dpmpp_2m_karras": ("dpmpp_2m", "karras"), "ddim": ("ddim", "ddim_uniform"), "unipc": ("uni_pc", "normal"),
    "heun": ("heun", "normal"), "lms": ("lms", "normal"),
}


def comfy_lora_name(ctx: Ctx, lora_id: str) -> str:
    """The file name a studio LoRA has in ComfyUI's models/loras folder (copied there by the operator)."""
    return f"{lora_id}.safetensors"


def load_workflow(name: str) -> dict[str, Any]:
    """An API-format graph from workflows/ (``txt2img_lora`` or ``img2img``)."""
    path = WORKFLOWS_DIR / f"{name}.json"
    if not path.is_file():
        raise InvalidInput("unknown workflow", [f"{name}: no {path.name} in workflows/"])
    return json.loads(path.read_text())


def fill(graph: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Replace "{{name}}" placeholders: a whole-string placeholder takes the value's type."""

    def sub(v: Any) -> Any:
        if isinstance(v, str):
            m = _PLACEHOLDER.match(v)
            if m:
                if m.group(1) not in values:
                    raise InvalidInput("workflow placeholder without a value", [m.group(1)])
                return values[m.group(1)]
            return _INLINE.sub(lambda mm: str(values.get(mm.group(1), mm.group(0))), v)
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        if isinstance(v, list):
            return [sub(x) for x in v]
        return v

    return sub(copy.deepcopy(graph))


def apply_loras(graph: dict[str, Any], loras: list[tuple[str, float]]) -> dict[str, Any]:
    """Chain one LoraLoader per LoRA where the graph has its 'studio:lora' node (removed when none)."""
    graph = copy.deepcopy(graph)
    node_id = next((k for k, n in graph.items() if n.get("_meta", {}).get("title") == "studio:lora"), None)
    if node_id is None:
        if loras:
            raise InvalidInput("workflow has no LoRA node", ["add a LoraLoader titled 'studio:lora'"])
        return graph
    template = graph.pop(node_id)
    model_src, clip_src = template["inputs"]["model"], template["inputs"]["clip"]
    for i, (name, strength) in enumerate(loras):
        nid = f"{node_id}_{i}"
        node = copy.deepcopy(template)
        node["inputs"].update(model=model_src, clip=clip_src, lora_name=name, strength_model=strength, strength_clip=strength)
        graph[nid] = node
        model_src, clip_src = [nid, 0], [nid, 1]
    for n in graph.values():
        for k, v in n.get("inputs", {}).items():
            if isinstance(v, list) and len(v) == 2 and v[0] == node_id:
                n["inputs"][k] = model_src if v[1] == 0 else clip_src
    return graph


def check_graph(graph: dict[str, Any], object_info: dict[str, Any]) -> list[str]:
    """Problems the server would refuse the graph for: unknown nodes, missing inputs, unknown choices."""
    problems = []
    for nid, node in graph.items():
        cls = node.get("class_type")
        info = object_info.get(cls)
        if info is None:
            problems.append(f"node {nid}: ComfyUI has no node type {cls!r} (missing custom node?)")
            continue
        inputs = node.get("inputs", {})
        for name, spec in (info.get("input", {}).get("required") or {}).items():
            if name not in inputs:
                problems.append(f"node {nid} ({cls}): required input {name!r} is missing")
                continue
            choices = spec[0] if isinstance(spec, list) and spec and isinstance(spec[0], list) else None
            value = inputs[name]
            if choices is not None and not isinstance(value, list) and value not in choices:
                shown = ", ".join(map(str, choices[:20])) or "(none)"
                problems.append(f"node {nid} ({cls}): {name} {value!r} is not on the server; available: {shown}")
    return problems


def node_errors_text(body: dict[str, Any]) -> str:
    """ComfyUI's /prompt refusal as one readable reason."""
    parts = []
    err = body.get("error")
    if isinstance(err, dict) and err.get("message"):
        parts.append(str(err["message"]))
    for nid, ne in (body.get("node_errors") or {}).items():
        for e in ne.get("errors", []):
            extra = e.get("details") or ""
            parts.append(f"node {nid} ({ne.get('class_type', '?')}): {e.get('message', '')}" + (f" — {extra}" if extra else ""))
    return "; ".join(parts) or json.dumps(body)[:500]


class ComfyClient:
    """ComfyUI's HTTP and WebSocket API."""

    def __init__(self, base_url: str, *, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout_s)
        self.client_id = uuid.uuid4().hex

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = self.http.request(method, path, **kw)
        except httpx.HTTPError as err:
            raise TransientError(f"ComfyUI at {self.base_url} unreachable: {type(err).__name__}: {err}") from None
        if resp.status_code >= 500:
            raise TransientError(f"ComfyUI {method} {path} answered {resp.status_code}: {resp.text[:300]}")
        return resp

    def object_info(self) -> dict[str, Any]:
        resp = self._call("GET", "/object_info")
        resp.raise_for_status()
        return resp.json()

    def upload_image(self, data: bytes, filename: str) -> str:
        """Upload an input image; returns the name a LoadImage node refers to."""
        resp = self._call("POST", "/upload/image", files={"image": (filename, data, "image/png")},
                          data={"overwrite": "true", "type": "input"})
        if resp.status_code != 200:
            raise PermanentError(f"ComfyUI refused the input image ({resp.status_code}): {resp.text[:300]}")
        body = resp.json()
        return f"{body['subfolder']}/{body['name']}" if body.get("subfolder") else body["name"]

    def queue_prompt(self, graph: dict[str, Any]) -> str:
        resp = self._call("POST", "/prompt", json={"prompt": graph, "client_id": self.client_id})
        try:
            body = resp.json()
        except ValueError:
            body = {"error": {"message": resp.text[:300]}}
        if resp.status_code != 200 or body.get("node_errors"):
            raise PermanentError(f"ComfyUI refused the workflow: {node_errors_text(body)}")
        return str(body["prompt_id"])

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        resp = self._call("GET", f"/history/{prompt_id}")
        body = resp.json() if resp.status_code == 200 else {}
        return body.get(prompt_id)

    def view(self, image: dict[str, Any]) -> bytes:
        resp = self._call("GET", "/view", params={"filename": image["filename"], "subfolder": image.get("subfolder", ""),
                                                  "type": image.get("type", "output")})
        if resp.status_code != 200:
            raise TransientError(f"ComfyUI /view answered {resp.status_code} for {image.get('filename')}")
        return resp.content

    def interrupt(self) -> None:
        try:
            self.http.post("/interrupt", json={"prompt_id": None})
        except httpx.HTTPError:
            pass

    def ws_url(self) -> str:
        return re.sub(r"^http", "ws", self.base_url) + f"/ws?clientId={self.client_id}"

    def lists(self) -> dict[str, list[str]]:
        """The server's checkpoints and LoRAs (from /object_info)."""
        info = self.object_info()

        def choices(node: str, field: str) -> list[str]:
            try:
                return list(info[node]["input"]["required"][field][0])
            except (KeyError, IndexError, TypeError):
                return []

        return {"checkpoints": choices("CheckpointLoaderSimple", "ckpt_name"), "loras": choices("LoraLoader", "lora_name")}


def _history_error(entry: dict[str, Any]) -> str | None:
    status = entry.get("status") or {}
    if status.get("status_str") == "error":
        for kind, data in status.get("messages") or []:
            if kind == "execution_error":
                return f"{data.get('node_type', '?')} (node {data.get('node_id', '?')}): {data.get('exception_message', '').strip()}"
        return "ComfyUI reported an error"
    return None


class ComfyBackend:
    """Image generation on a ComfyUI server."""

    name = "comfyui"

    def __init__(self, base_url: str, *, timeout_s: float = 900.0, poll_s: float = 0.5) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.poll_s = poll_s

    @classmethod
    def from_settings(cls) -> ComfyBackend:
        s = get_settings()
        if not s.comfyui_url:
            raise PermanentError("STUDIO_COMFYUI_URL is not set; use the builtin backend or set the ComfyUI URL")
        return cls(s.comfyui_url, timeout_s=s.comfyui_timeout_s)

    def graph_for(self, job: RenderJob, *, seed: int, init_name: str | None) -> dict[str, Any]:
        sampler, sigmas = SAMPLERS.get(job.scheduler, ("euler", "normal"))
        rw, rh = render_size(job.width, job.height)
        name = "img2img" if job.workflow == "img2img" else "txt2img_lora"
        values = {"checkpoint": job.base_model, "prompt": job.prompt, "negative_prompt": job.negative_prompt,
                  "width": rw, "height": rh, "seed": seed, "steps": job.steps, "guidance": job.guidance,
                  "sampler": sampler, "sigma_schedule": sigmas, "denoise": job.denoise, "init_image": init_name or "",
                  "lora_name": "", "lora_strength": 1.0}
        return apply_loras(fill(load_workflow(name), values), [(lo.path, lo.strength) for lo in job.loras])

    def render(self, job: RenderJob, *, progress: ProgressFn, cancelled: CancelFn,
               on_image: ImageFn | None = None) -> list[RenderedImage]:
        client = ComfyClient(self.base_url)
        try:
            init_name = client.upload_image(job.init_image, "studio-input.png") if job.workflow == "img2img" and job.init_image else None
            info = client.object_info()  # after the upload, so the input image is on its list
            out = []
            for index in range(job.num_images):
                seed = job.seed + index
                graph = self.graph_for(job, seed=seed, init_name=init_name)
                problems = check_graph(graph, info)
                if problems:
                    raise PermanentError("the workflow does not fit this ComfyUI server: " + "; ".join(problems))
                png, prompt_id = self._run_one(client, graph, index, job, progress, cancelled)
                out.append(RenderedImage(png=centre_crop(png, job.width, job.height), seed=seed, width=job.width,
                                         height=job.height, extra={"comfyui_prompt_id": prompt_id}))
                if on_image:
                    on_image(out[-1])
            return out
        finally:
            client.close()

    def _run_one(self, client: ComfyClient, graph: dict[str, Any], index: int, job: RenderJob,
                 progress: ProgressFn, cancelled: CancelFn) -> tuple[bytes, str]:
        ws = None
        try:
            from websockets.sync.client import connect

            ws = connect(client.ws_url(), open_timeout=5, close_timeout=1, max_size=2**24)
        except Exception:  # noqa: BLE001 - any socket failure: we poll /history instead
            ws = None
        try:
            prompt_id = client.queue_prompt(graph)
            if ws is not None:
                try:
                    self._follow_socket(ws, client, prompt_id, index, job, progress, cancelled)
                except (OSError, ConnectionError, _SocketLost):
                    pass  # fall through to polling
            entry = self._poll_history(client, prompt_id, cancelled)
        finally:
            if ws is not None:
                try:
                    ws.close()
                except Exception:  # noqa: BLE001
                    pass
        error = _history_error(entry)
        if error:
            raise PermanentError(f"ComfyUI failed: {error}")
        images = [img for node in (entry.get("outputs") or {}).values() for img in node.get("images", [])
                  if img.get("type", "output") == "output"]
        if not images:
            raise PermanentError("ComfyUI finished without an output image (does the workflow have a SaveImage node?)")
        return client.view(images[0]), prompt_id

    def _follow_socket(self, ws: Any, client: ComfyClient, prompt_id: str, index: int, job: RenderJob,
                       progress: ProgressFn, cancelled: CancelFn) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if cancelled():
                client.interrupt()
                raise JobCancelled("cancelled; ComfyUI was interrupted")
            try:
                raw = ws.recv(timeout=1.0)
            except TimeoutError:
                continue
            except Exception as err:  # noqa: BLE001 - closed or broken socket
                raise _SocketLost(str(err)) from None
            if isinstance(raw, bytes):
                continue  # binary preview frames
            msg = json.loads(raw)
            data = msg.get("data") or {}
            if data.get("prompt_id") not in (None, prompt_id):
                continue
            kind = msg.get("type")
            if kind == "progress" and data.get("max"):
                step, total = int(data["value"]), int(data["max"])
                progress((index + step / total) / job.num_images, f"image {index + 1}/{job.num_images} · step {step}/{total}")
            elif kind == "execution_error":
                return  # /history carries the error
            elif kind == "execution_success" or (kind == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id):
                return
        raise TransientError(f"ComfyUI did not finish within {self.timeout_s:g} s")

    def _poll_history(self, client: ComfyClient, prompt_id: str, cancelled: CancelFn) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            entry = client.history(prompt_id)
            if entry and ((entry.get("status") or {}).get("completed") or entry.get("outputs") or _history_error(entry)):
                return entry
            if cancelled():
                client.interrupt()
                raise JobCancelled("cancelled; ComfyUI was interrupted")
            time.sleep(self.poll_s)
        raise TransientError(f"ComfyUI did not finish within {self.timeout_s:g} s")


class _SocketLost(Exception):
    pass


def server_lists() -> dict[str, list[str]]:
    """The configured ComfyUI server's checkpoints and LoRAs."""
    backend = ComfyBackend.from_settings()
    client = ComfyClient(backend.base_url, timeout_s=10)
    try:
        return client.lists()
    finally:
        client.close()
