"""Instagram Graph API content publishing: quota, containers, status polling, media_publish, permalink.

Container steps retry in place on transient answers. ``media_publish`` is sent once: if its
answer is lost (timeout, dropped connection, 5xx) the post may be live, so the target becomes
"unconfirmed" for a person to check instead of risking a second post.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from backend.jobs.errors import PermanentError, TransientError
from backend.publishing.results import Published, RateLimited, StepLog, Unconfirmed, no_log

# Graph API error codes meaning "too many calls / posts for now": nothing happened, retry later.
RATE_LIMIT_CODES = {4, 9, 17, 32, 613}
# Codes the API documents as temporary (unknown error, service unavailable).
TRANSIENT_CODES = {1, 2}
RATE_LIMIT_RETRY_S = 15 * 60


@dataclass(frozen=True)
class GraphError:
    status: int
    message: str
    type: str
    code: int | None
    subcode: int | None
    fbtrace_id: str

    def text(self) -> str:
        sub = f"/{self.subcode}" if self.subcode else ""
        return f"{self.message} ({self.type} code {self.code}{sub}, fbtrace {self.fbtrace_id})"


def parse_error(resp: httpx.Response) -> GraphError:
    """The ``{"error": {...}}`` body of a failed Graph API call."""
    try:
        err = resp.json().get("error") or {}
    except (ValueError, AttributeError):
        err = {}
    return GraphError(
        status=resp.status_code, message=str(err.get("message") or resp.text[:200] or f"HTTP {resp.status_code}"),
        type=str(err.get("type") or ""), code=err.get("code"), subcode=err.get("error_subcode"),
        fbtrace_id=str(err.get("fbtrace_id") or ""),
    )


def classify(err: GraphError) -> Exception:
    """The domain error for a Graph API error answer."""
    if err.code in RATE_LIMIT_CODES:
        return RateLimited(f"Instagram rate limit: {err.text()}", retry_after_s=RATE_LIMIT_RETRY_S)
    if err.code in TRANSIENT_CODES or err.status >= 500:
        return TransientError(f"Instagram temporarily failed: {err.text()}")
    return PermanentError(f"Instagram refused: {err.text()}")


class GraphClient:
    """A small Graph API client bound to one access token."""

    def __init__(
        self,
        *,
        base_url: str,
        access_token: str,
        timeout_s: float = 30,
        retries: int = 3,
        backoff_s: float = 1.0,
        poll_interval_s: float = 3.0,
        poll_timeout_s: float = 600.0,
        log: StepLog = no_log,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = access_token
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.poll_interval_s = poll_interval_s
        self.poll_timeout_s = poll_timeout_s
        self.log = log
        self.sleep = sleep
        self.http = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    def _once(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        params = {**params, "access_token": self.token}
        url = f"{self.base_url}/{path.lstrip('/')}"
        if method == "GET":
            resp = self.http.get(url, params=params)
        else:
            resp = self.http.post(url, data=params)
        if resp.status_code >= 400:
            raise classify(parse_error(resp))
        try:
            return resp.json()
        except ValueError:
            raise TransientError(f"Instagram answered HTTP {resp.status_code} without JSON") from None

    def call(self, method: str, path: str, params: dict[str, Any], *, step: str) -> dict[str, Any]:
        """A call that is safe to repeat: transient failures retry in place with backoff."""
        last: Exception | None = None
        for attempt in range(1, self.retries + 1):
            try:
                data = self._once(method, path, params)
                return data
            except RateLimited as err:
                self.log(step, "error", str(err))
                raise
            except (TransientError, httpx.TimeoutException, httpx.TransportError) as err:
                last = err
                self.log(step, "error", f"attempt {attempt}: {err or type(err).__name__}")
            except PermanentError as err:
                self.log(step, "error", str(err))
                raise
            if attempt < self.retries:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
        if isinstance(last, TransientError):
            raise last
        raise TransientError(f"Instagram unreachable during {step}: {last or 'no answer'}")

    # -- the publishing steps ----------------------------------------------------------------------
    def check_quota(self, ig_user_id: str) -> dict[str, Any]:
        """Refuse (RateLimited) when the account used up its posts of the last 24 hours."""
        data = self.call("GET", f"{ig_user_id}/content_publishing_limit", {"fields": "config,quota_usage"}, step="quota")
        rows = data.get("data") or [{}]
        usage = int(rows[0].get("quota_usage") or 0)
        total = int((rows[0].get("config") or {}).get("quota_total") or 50)
        if usage >= total:
            self.log("quota", "error", f"{usage} of {total} used")
            raise RateLimited(f"Instagram publishing limit reached: {usage} of {total} posts in 24 h", retry_after_s=3600)
        self.log("quota", "ok", f"{usage} of {total} used")
        return {"usage": usage, "total": total}

    def create_container(self, ig_user_id: str, params: dict[str, Any], *, step: str = "container") -> str:
        data = self.call("POST", f"{ig_user_id}/media", params, step=step)
        cid = str(data.get("id") or "")
        if not cid:
            raise TransientError("Instagram created no container id")
        self.log(step, "ok", f"container {cid}")
        return cid

    def container_status(self, container_id: str) -> tuple[str, str]:
        data = self.call("GET", container_id, {"fields": "status_code,status"}, step="status")
        return str(data.get("status_code") or ""), str(data.get("status") or "")

    def wait_finished(self, container_id: str) -> None:
        """Poll until FINISHED; ERROR and EXPIRED fail with the API's message."""
        deadline = time.monotonic() + self.poll_timeout_s
        while True:
            code, status = self.container_status(container_id)
            if code == "FINISHED":
                self.log("status", "ok", f"container {container_id} FINISHED")
                return
            if code in ("ERROR", "EXPIRED"):
                self.log("status", "error", f"container {container_id} {code}: {status}")
                raise PermanentError(f"Instagram could not process the media ({code}): {status or 'no details'}")
            if code == "PUBLISHED":
                raise Unconfirmed(f"container {container_id} is already published; check the account")
            if time.monotonic() > deadline:
                raise TransientError(f"container {container_id} still {code or 'unknown'} after {self.poll_timeout_s:.0f} s")
            self.sleep(self.poll_interval_s)

    def media_publish(self, ig_user_id: str, container_id: str) -> str:
        """Publish once. A lost answer means the outcome is unknown: Unconfirmed, never a retry."""
        try:
            data = self._once("POST", f"{ig_user_id}/media_publish", {"creation_id": container_id})
        except RateLimited as err:
            self.log("publish", "error", str(err))
            raise  # the API refused: nothing was published
        except PermanentError as err:
            self.log("publish", "error", str(err))
            raise
        except (TransientError, httpx.TimeoutException, httpx.TransportError) as err:
            # 5xx, timeouts and dropped connections: the post may be live.
            self.log("publish", "unconfirmed", f"{type(err).__name__}: {err}")
            raise Unconfirmed(f"media_publish sent but its answer was lost ({err or type(err).__name__}); check the account") from None
        media_id = str(data.get("id") or "")
        if not media_id:
            raise Unconfirmed("media_publish answered without a media id; check the account")
        self.log("publish", "ok", f"media {media_id}")
        return media_id

    def permalink(self, media_id: str) -> str | None:
        try:
            data = self.call("GET", media_id, {"fields": "permalink"}, step="permalink")
        except (TransientError, PermanentError):
            return None  # published all the same; the link is a nicety
        return data.get("permalink")


def container_params(target_kind: str, media: list[tuple[str, str]], caption: str) -> list[dict[str, Any]]:
    """The container calls for ``media`` [(kind, public url)]: one, or the children then the carousel."""
    def one(kind: str, url: str) -> dict[str, Any]:
        if target_kind == "instagram_story":
            return {"media_type": "STORIES", ("video_url" if kind == "video" else "image_url"): url}
        if kind == "video":
            return {"media_type": "REELS", "video_url": url}
        return {"image_url": url}

    if len(media) == 1:
        params = one(*media[0])
        if target_kind != "instagram_story":
            params["caption"] = caption
        return [params]
    children = []
    for kind, url in media:
        child = {"is_carousel_item": "true"}
        child.update({"media_type": "VIDEO", "video_url": url} if kind == "video" else {"image_url": url})
        children.append(child)
    return children + [{"media_type": "CAROUSEL", "caption": caption}]


def publish_instagram(
    client: GraphClient,
    *,
    ig_user_id: str,
    target_kind: str,
    media: list[tuple[str, str]],
    caption: str,
    container_id: str | None = None,
    on_container: Callable[[str], None] = lambda _cid: None,
) -> Published:
    """Publish one target: quota, containers (reusing ``container_id`` from an earlier attempt), publish."""
    client.check_quota(ig_user_id)
    if container_id:
        code, _status = client.container_status(container_id)
        if code == "PUBLISHED":
            # An earlier attempt's media_publish went through (its worker died before recording
            # it): a fresh container would post the same thing twice.
            client.log("status", "unconfirmed", f"container {container_id} is already published")
            raise Unconfirmed(f"container {container_id} was already published by an earlier attempt; check the account")
        if code not in ("FINISHED", "IN_PROGRESS"):
            container_id = None  # expired or failed: build a fresh one
    if not container_id:
        calls = container_params(target_kind, media, caption)
        if len(calls) == 1:
            container_id = client.create_container(ig_user_id, calls[0])
        else:
            child_ids = []
            for i, params in enumerate(calls[:-1]):
                cid = client.create_container(ig_user_id, params, step=f"child {i + 1}")
                client.wait_finished(cid)
                child_ids.append(cid)
            container_id = client.create_container(ig_user_id, {**calls[-1], "children": ",".join(child_ids)})
        on_container(container_id)
    client.wait_finished(container_id)
    media_id = client.media_publish(ig_user_id, container_id)
    return Published(remote_id=media_id, permalink=client.permalink(media_id))
