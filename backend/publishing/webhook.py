"""Webhook publisher: POST the post as JSON, signed with HMAC-SHA256 (n8n-compatible)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from backend.jobs.errors import PermanentError, TransientError
from backend.publishing.results import Published, StepLog, no_log

SIGNATURE_HEADER = "X-Studio-Signature"  # "sha256=<hex of HMAC-SHA256(secret, raw body)>"
DELIVERY_HEADER = "X-Studio-Delivery"  # the target id: receivers drop a delivery they already handled
TIMESTAMP_HEADER = "X-Studio-Timestamp"


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` (for receivers and tests)."""
    return hmac.compare_digest(sign(secret, body), header or "")


def _result(resp: httpx.Response) -> Published:
    try:
        data = resp.json()
    except ValueError:
        data = {}
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]  # n8n's "respond with all items"
    if not isinstance(data, dict):
        data = {}
    remote = data.get("id") or data.get("remote_id")
    return Published(remote_id=str(remote) if remote else None, permalink=data.get("permalink") or data.get("url"))


def publish_webhook(
    *,
    url: str,
    secret: str,
    payload: dict[str, Any],
    delivery_id: str,
    timeout_s: float = 30,
    retries: int = 3,
    backoff_s: float = 1.0,
    log: StepLog = no_log,
) -> Published:
    """Deliver ``payload``; 5xx and timeouts retry with backoff, then raise TransientError; 4xx fail."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "InfluencerAI-Studio/1.0",
        SIGNATURE_HEADER: sign(secret, body) if secret else "",
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(int(time.time())),
    }
    last = ""
    for attempt in range(1, retries + 1):
        try:
            resp = httpx.post(url, content=body, headers=headers, timeout=timeout_s)
        except httpx.TimeoutException:
            last = f"timed out after {timeout_s:.0f} s"
        except httpx.TransportError as err:
            last = f"connection failed: {err}"
        else:
            if resp.status_code < 300:
                log("webhook", "ok", f"HTTP {resp.status_code}")
                return _result(resp)
            if resp.status_code < 500 and resp.status_code != 429:
                log("webhook", "error", f"HTTP {resp.status_code}: {resp.text[:300]}")
                raise PermanentError(f"webhook refused the post: HTTP {resp.status_code} {resp.text[:200]}")
            last = f"HTTP {resp.status_code}"
        log("webhook", "error", f"attempt {attempt}: {last}")
        if attempt < retries:
            time.sleep(backoff_s * 2 ** (attempt - 1))
    raise TransientError(f"webhook unreachable: {last}")
