"""Local HTTP servers speaking the real protocols: a webhook receiver (n8n-like) and the Graph API."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from backend.publishing.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, verify


class _Server:
    def __init__(self, handler_cls: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self):  # type: ignore[no-untyped-def]
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        return None

    def _reply(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class WebhookReceiver(_Server):
    """Counts deliveries per target, checks signatures; ``fail_first`` answers 503 that many times;
    ``slow_first`` requests are handled but answered only after ``slow_s`` (the sender times out)."""

    def __init__(self, secret: str, *, fail_first: int = 0, status: int = 200, slow_first: int = 0, slow_s: float = 0) -> None:
        super().__init__(_WebhookHandler)
        self.secret = secret
        self.fail_first = fail_first
        self.slow_first = slow_first
        self.slow_s = slow_s
        self.headers: list[dict[str, str]] = []
        self.status = status
        self.deliveries: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.requests = 0


class _WebhookHandler(_Quiet):
    def do_POST(self) -> None:  # noqa: N802
        srv: WebhookReceiver = self.server.owner  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with srv.lock:
            srv.requests += 1
            if srv.fail_first > 0:
                srv.fail_first -= 1
                return self._reply(503, {"message": "busy"})
            if srv.status >= 300:
                return self._reply(srv.status, {"message": "refused"})
            if not verify(srv.secret, body, self.headers.get(SIGNATURE_HEADER, "")):
                srv.bad_signatures += 1
                return self._reply(401, {"message": "bad signature"})
            data = json.loads(body)
            srv.deliveries[self.headers.get(DELIVERY_HEADER, "")] += 1
            srv.bodies.append(data)
            srv.headers.append(dict(self.headers))
            slow = srv.slow_first > 0
            srv.slow_first -= int(slow)
        if slow:
            time.sleep(srv.slow_s)
        try:
            self._reply(200, {"id": f"remote-{data['target_id'][:8]}", "permalink": f"https://example.test/p/{data['target_id'][:8]}"})
        except OSError:
            pass  # the sender gave up waiting


class GraphServer(_Server):
    """The Instagram Graph API's content publishing endpoints.

    :param statuses: the status_code answers for each container, in turn (last one repeats).
    :param errors: {step: [(http status, error dict) | "timeout", ...]} answered before success,
        step in quota, media, status, publish, permalink.
    :param fetch_media: download each container's image_url/video_url as Instagram does (kept in
        ``fetched``); a URL that cannot be fetched answers the API's media download error.
    """

    def __init__(self, *, token: str, ig_user_id: str = "17841400000000001", statuses: list[str] | None = None,
                 errors: dict[str, list[Any]] | None = None, quota_usage: int = 0, publish_delay_s: float = 3.0,
                 fetch_media: bool = False) -> None:
        super().__init__(_GraphHandler)
        self.token = token
        self.ig_user_id = ig_user_id
        self.statuses = statuses or ["IN_PROGRESS", "FINISHED"]
        self.errors = {k: list(v) for k, v in (errors or {}).items()}
        self.quota_usage = quota_usage
        self.publish_delay_s = publish_delay_s
        self.containers: dict[str, dict[str, Any]] = {}
        self.polls: Counter[str] = Counter()
        self.published: list[str] = []  # container ids really published
        self.calls: list[tuple[str, str]] = []
        self.fetch_media = fetch_media
        self.fetched: dict[str, tuple[str, bytes]] = {}  # container id -> (content type, body)
        self._n = 0

    def next_id(self) -> str:
        self._n += 1
        return f"{17900000000000000 + self._n}"


def graph_error(message: str, code: int, *, type_: str = "OAuthException", subcode: int | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"message": message, "type": type_, "code": code, "fbtrace_id": "AbCdEf123"}
    if subcode:
        err["error_subcode"] = subcode
    return {"error": err}


class _GraphHandler(_Quiet):
    def _params(self) -> dict[str, str]:
        q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        if self.command == "POST":
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            q.update({k: v[0] for k, v in parse_qs(body).items()})
        return q

    def _injected(self, srv: GraphServer, step: str) -> bool:
        queue = srv.errors.get(step) or []
        if not queue:
            return False
        what = queue.pop(0)
        if what == "timeout":
            if step == "publish":  # the publish really happens; only the answer is lost
                self._do_publish(srv, self._pending_creation)
            time.sleep(srv.publish_delay_s)
            try:
                self._reply(200, {"id": "late"})
            except OSError:
                pass
            return True
        status, body = what
        self._reply(status, body)
        return True

    def _do_publish(self, srv: GraphServer, creation_id: str) -> str:
        media_id = srv.next_id()
        srv.published.append(creation_id)
        srv.containers[creation_id]["published_media"] = media_id
        return media_id

    def _handle(self) -> None:
        srv: GraphServer = self.server.owner  # type: ignore[attr-defined]
        path = urlparse(self.path).path.strip("/").split("/")
        params = self._params()
        if params.get("access_token") != srv.token:
            return self._reply(400, graph_error("Invalid OAuth access token - Cannot parse access token", 190))
        with srv.lock:
            srv.calls.append((self.command, "/".join(path)))
        last = path[-1]
        if self.command == "GET" and last == "content_publishing_limit":
            if self._injected(srv, "quota"):
                return
            return self._reply(200, {"data": [{"quota_usage": srv.quota_usage, "config": {"quota_total": 50, "quota_duration": 86400}}]})
        if self.command == "POST" and last == "media" and path[-2] == srv.ig_user_id:
            if self._injected(srv, "media"):
                return
            if not (params.get("image_url") or params.get("video_url") or params.get("media_type") == "CAROUSEL"):
                return self._reply(400, graph_error("The parameter image_url is required", 100, type_="OAuthException"))
            if params.get("media_type") == "CAROUSEL":
                kids = params.get("children", "").split(",")
                if len(kids) < 2 or any(k not in srv.containers for k in kids):
                    return self._reply(400, graph_error("Invalid children", 100))
            fetched = None
            media_url = params.get("image_url") or params.get("video_url")
            if srv.fetch_media and media_url:
                try:
                    resp = httpx.get(media_url, timeout=10)
                    resp.raise_for_status()
                    fetched = (resp.headers.get("content-type", ""), resp.content)
                except httpx.HTTPError:
                    return self._reply(400, graph_error("Media download has failed.: The media could not be fetched from this uri",
                                                        9004, type_="OAuthException", subcode=2207052))
            with srv.lock:
                cid = srv.next_id()
                srv.containers[cid] = dict(params)
                if fetched:
                    srv.fetched[cid] = fetched
            return self._reply(200, {"id": cid})
        if self.command == "POST" and last == "media_publish":
            cid = params.get("creation_id", "")
            self._pending_creation = cid
            if cid not in srv.containers:
                return self._reply(400, graph_error("Media ID is not available", 9007, subcode=2207027))
            if self._injected(srv, "publish"):
                return
            with srv.lock:
                media_id = self._do_publish(srv, cid)
            return self._reply(200, {"id": media_id})
        if self.command == "GET" and len(path) >= 1:
            obj = path[-1]
            fields = params.get("fields", "")
            if "status_code" in fields and obj in srv.containers:
                if self._injected(srv, "status"):
                    return
                with srv.lock:
                    n = srv.polls[obj]
                    srv.polls[obj] += 1
                code = srv.statuses[min(n, len(srv.statuses) - 1)]
                if srv.containers[obj].get("published_media"):
                    code = "PUBLISHED"
                status = {"ERROR": "Error: media download failed (2207026)", "EXPIRED": "Expired: not published within 24 hours"}.get(code, code)
                return self._reply(200, {"status_code": code, "status": status, "id": obj})
            if "permalink" in fields:
                if self._injected(srv, "permalink"):
                    return
                return self._reply(200, {"permalink": f"https://www.instagram.com/p/{obj}/", "id": obj})
        self._reply(404, graph_error("Unsupported request", 100, type_="GraphMethodException"))

    do_GET = _handle  # noqa: N815
    do_POST = _handle  # noqa: N815
