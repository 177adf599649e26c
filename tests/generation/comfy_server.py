"""A local server speaking ComfyUI's protocol: /object_info, /prompt (with node_errors), /ws, /history, /view, /upload/image.

One port serves HTTP and the WebSocket (RFC 6455 handshake and unmasked server frames), as ComfyUI does.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import threading
import time
import uuid
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from PIL import Image

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def object_info(checkpoints: list[str], loras: list[str], inputs: list[str]) -> dict[str, Any]:
    def node(required: dict[str, Any], output: list[str]) -> dict[str, Any]:
        return {"input": {"required": required}, "output": output}

    return {
        "CheckpointLoaderSimple": node({"ckpt_name": [checkpoints]}, ["MODEL", "CLIP", "VAE"]),
        "LoraLoader": node({"model": ["MODEL"], "clip": ["CLIP"], "lora_name": [loras],
                            "strength_model": ["FLOAT", {"default": 1.0}], "strength_clip": ["FLOAT", {"default": 1.0}]},
                           ["MODEL", "CLIP"]),
        "CLIPTextEncode": node({"text": ["STRING", {"multiline": True}], "clip": ["CLIP"]}, ["CONDITIONING"]),
        "EmptyLatentImage": node({"width": ["INT", {}], "height": ["INT", {}], "batch_size": ["INT", {}]}, ["LATENT"]),
        "KSampler": node({"model": ["MODEL"], "seed": ["INT", {}], "steps": ["INT", {}], "cfg": ["FLOAT", {}],
                          "sampler_name": [["euler", "euler_ancestral", "dpmpp_2m", "ddim", "uni_pc", "heun", "lms"]],
                          "scheduler": [["normal", "karras", "ddim_uniform"]], "positive": ["CONDITIONING"],
                          "negative": ["CONDITIONING"], "latent_image": ["LATENT"], "denoise": ["FLOAT", {}]}, ["LATENT"]),
        "VAEDecode": node({"samples": ["LATENT"], "vae": ["VAE"]}, ["IMAGE"]),
        "VAEEncode": node({"pixels": ["IMAGE"], "vae": ["VAE"]}, ["LATENT"]),
        "LoadImage": node({"image": [inputs]}, ["IMAGE", "MASK"]),
        "ImageScale": node({"image": ["IMAGE"], "upscale_method": [["nearest-exact", "lanczos"]], "width": ["INT", {}],
                            "height": ["INT", {}], "crop": [["disabled", "center"]]}, ["IMAGE"]),
        "SaveImage": node({"images": ["IMAGE"], "filename_prefix": ["STRING", {}]}, []),
    }


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


class ComfyServer:
    """Executes queued prompts by drawing a PNG whose colour depends on the seed."""

    def __init__(self, *, ws_broken: bool = False, fail_node: str | None = None, step_delay_s: float = 0.01) -> None:
        self.checkpoints = ["sd15.safetensors", "sdxl.safetensors"]
        self.loras = ["lora123.safetensors"]
        self.inputs: dict[str, bytes] = {}
        self.ws_broken = ws_broken
        self.fail_node = fail_node  # the node id whose execution raises
        self.step_delay_s = step_delay_s
        self.prompts: list[dict[str, Any]] = []
        self.history: dict[str, Any] = {}
        self.outputs: dict[str, bytes] = {}
        self.sockets: dict[str, Any] = {}
        self.ws_messages: list[dict[str, Any]] = []
        self.interrupted = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                q = parse_qs(url.query)
                if url.path == "/ws":
                    return outer._websocket(self, q.get("clientId", [""])[0])
                if url.path == "/object_info":
                    return self._json(200, object_info(outer.checkpoints, outer.loras, list(outer.inputs)))
                if url.path.startswith("/history/"):
                    pid = url.path.rsplit("/", 1)[-1]
                    with outer._lock:
                        entry = outer.history.get(pid)
                    return self._json(200, {pid: entry} if entry else {})
                if url.path == "/view":
                    data = outer.outputs.get(q.get("filename", [""])[0])
                    if data is None:
                        return self._json(404, {"error": "not found"})
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return None
                return self._json(404, {"error": "unknown path"})

            def do_POST(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                raw = self._body()
                if url.path == "/prompt":
                    return self._json(*outer._queue(json.loads(raw)))
                if url.path == "/upload/image":
                    msg = BytesParser(policy=email_policy).parsebytes(
                        f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + raw)
                    fields = {p.get_param("name", header="content-disposition"): p for p in msg.iter_parts()}
                    part = fields.get("image")
                    if part is None:
                        return self._json(400, {"error": "no image"})
                    name = part.get_filename()
                    outer.inputs[name] = part.get_payload(decode=True)
                    return self._json(200, {"name": name, "subfolder": "", "type": "input"})
                if url.path == "/interrupt":
                    outer.interrupted += 1
                    return self._json(200, {})
                return self._json(404, {"error": "unknown path"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    # -- websocket ----------------------------------------------------------------------------
    def _websocket(self, h: BaseHTTPRequestHandler, client_id: str) -> None:
        if self.ws_broken or h.headers.get("Upgrade", "").lower() != "websocket":
            h.send_response(500)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        accept = base64.b64encode(hashlib.sha1((h.headers["Sec-WebSocket-Key"] + WS_GUID).encode()).digest()).decode()
        h.send_response(101)
        h.send_header("Upgrade", "websocket")
        h.send_header("Connection", "Upgrade")
        h.send_header("Sec-WebSocket-Accept", accept)
        h.end_headers()
        h.wfile.flush()
        done = threading.Event()
        with self._lock:
            self.sockets[client_id] = (h, done)
        self._send(client_id, {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id}})
        done.wait(30)
        h.close_connection = True

    def _send(self, client_id: str, msg: dict[str, Any] | bytes) -> None:
        with self._lock:
            entry = self.sockets.get(client_id)
            if isinstance(msg, dict):
                self.ws_messages.append(msg)
        if entry is None:
            return
        h, _done = entry
        try:
            if isinstance(msg, bytes):
                h.wfile.write(ws_frame(msg, 0x2))
            else:
                h.wfile.write(ws_frame(json.dumps(msg).encode()))
            h.wfile.flush()
        except OSError:
            pass

    # -- prompts --------------------------------------------------------------------------------
    def _validate(self, graph: dict[str, Any]) -> dict[str, Any]:
        info = object_info(self.checkpoints, self.loras, list(self.inputs))
        errors: dict[str, Any] = {}
        for nid, node in graph.items():
            spec = info.get(node.get("class_type"))
            if spec is None:
                return {"__class__": node.get("class_type")}
            for name, s in spec["input"]["required"].items():
                value = node["inputs"].get(name)
                if value is None:
                    errors.setdefault(nid, {"errors": [], "dependent_outputs": ["9"], "class_type": node["class_type"]})[
                        "errors"].append({"type": "required_input_missing", "message": "Required input is missing",
                                          "details": name, "extra_info": {"input_name": name}})
                elif isinstance(s[0], list) and not isinstance(value, list) and value not in s[0]:
                    errors.setdefault(nid, {"errors": [], "dependent_outputs": ["9"], "class_type": node["class_type"]})[
                        "errors"].append({"type": "value_not_in_list", "message": "Value not in list",
                                          "details": f"{name}: '{value}' not in {s[0]}", "extra_info": {"input_name": name}})
        return errors

    def _queue(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        graph = body.get("prompt") or {}
        errors = self._validate(graph)
        if "__class__" in errors:
            return 400, {"error": {"type": "invalid_prompt", "message": f"Cannot execute because node {errors['__class__']} does not exist.",
                                   "details": "", "extra_info": {}}, "node_errors": {}}
        if errors:
            return 400, {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                                   "details": "", "extra_info": {}}, "node_errors": errors}
        pid = str(uuid.uuid4())
        with self._lock:
            self.prompts.append({"prompt_id": pid, "graph": graph, "client_id": body.get("client_id")})
        threading.Thread(target=self._execute, args=(pid, graph, body.get("client_id") or ""), daemon=True).start()
        return 200, {"prompt_id": pid, "number": len(self.prompts), "node_errors": {}}

    def _execute(self, pid: str, graph: dict[str, Any], cid: str) -> None:
        time.sleep(0.05)  # let the client start listening
        sampler = next(n for n in graph.values() if n["class_type"] == "KSampler")
        steps, seed = int(sampler["inputs"]["steps"]), int(sampler["inputs"]["seed"])
        latent = next((n for n in graph.values() if n["class_type"] in ("EmptyLatentImage", "ImageScale")), None)
        w, h = (int(latent["inputs"]["width"]), int(latent["inputs"]["height"])) if latent else (64, 64)
        self._send(cid, {"type": "execution_start", "data": {"prompt_id": pid, "timestamp": 0}})
        for nid in graph:
            self._send(cid, {"type": "executing", "data": {"node": nid, "display_node": nid, "prompt_id": pid}})
            if nid == self.fail_node:
                err = {"prompt_id": pid, "node_id": nid, "node_type": graph[nid]["class_type"], "executed": [],
                       "exception_message": "CUDA out of memory. Tried to allocate 20.00 GiB",
                       "exception_type": "torch.OutOfMemoryError", "traceback": ["..."],
                       "current_inputs": {}, "current_outputs": {}}
                self._send(cid, {"type": "execution_error", "data": err})
                with self._lock:
                    self.history[pid] = {"prompt": [0, pid, graph, {}, ["9"]], "outputs": {},
                                         "status": {"status_str": "error", "completed": False,
                                                    "messages": [["execution_start", {"prompt_id": pid}], ["execution_error", err]]}}
                return
            if graph[nid]["class_type"] == "KSampler":
                for i in range(1, steps + 1):
                    time.sleep(self.step_delay_s)
                    self._send(cid, {"type": "progress", "data": {"value": i, "max": steps, "prompt_id": pid, "node": nid}})
                    self._send(cid, b"\x00\x00\x00\x01\x00\x00\x00\x02preview")
        colour = (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)
        out = io.BytesIO()
        Image.new("RGB", (w, h), colour).save(out, format="PNG")
        fname = f"studio_{len(self.outputs):05d}_.png"
        self.outputs[fname] = out.getvalue()
        images = [{"filename": fname, "subfolder": "", "type": "output"}]
        self._send(cid, {"type": "executed", "data": {"node": "9", "display_node": "9", "output": {"images": images}, "prompt_id": pid}})
        with self._lock:
            self.history[pid] = {"prompt": [0, pid, graph, {}, ["9"]], "outputs": {"9": {"images": images}},
                                 "status": {"status_str": "success", "completed": True, "messages": []}}
        self._send(cid, {"type": "execution_success", "data": {"prompt_id": pid, "timestamp": 0}})
        self._send(cid, {"type": "executing", "data": {"node": None, "prompt_id": pid}})
        with self._lock:
            entry = self.sockets.get(cid)
        if entry:
            entry[1].set()

    def close(self) -> None:
        for _h, done in list(self.sockets.values()):
            done.set()
        self.httpd.shutdown()
        self.httpd.server_close()
