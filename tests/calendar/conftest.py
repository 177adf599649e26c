"""Calendar fixtures: an influencer, publishing accounts, assets and the local protocol servers."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from backend.db import utcnow
from tests.calendar.servers import GraphServer, WebhookReceiver

# The generation tests' local LLM server and demo model, reused by the recurring plan's end-to-end test.
from tests.generation.conftest import _demo_sd15_build, demo_sd15, llm_server  # noqa: F401

SECRET = "hook-secret-123"
TOKEN = "EAAGtesttoken"


@pytest.fixture
def influencer(ctx):  # type: ignore[no-untyped-def]
    from backend.influencers.service import create_influencer

    return create_influencer(ctx, name="Mia", handle="mia.ai", topics=["coffee", "travel"])


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    srv = WebhookReceiver(SECRET).start()
    yield srv
    srv.stop()


@pytest.fixture
def webhook_account(ctx, receiver, influencer):  # type: ignore[no-untyped-def]
    from backend.publishing.accounts import create_account

    return create_account(ctx, name="n8n", kind="webhook", influencer_id=influencer.id,
                          webhook_url=receiver.url + "/webhook/post", webhook_secret=SECRET)


def soon(minutes: int = 60):  # type: ignore[no-untyped-def]
    return (utcnow() + timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def jpeg(w: int = 40, h: int = 50, fmt: str = "JPEG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 120, 80)).save(buf, format=fmt)
    return buf.getvalue()


def make_image_asset(ctx, *, w: int = 40, h: int = 50, fmt: str = "JPEG"):  # type: ignore[no-untyped-def]
    from backend.generation.service import create_asset_from_bytes

    ext = "jpg" if fmt == "JPEG" else fmt.lower()
    return create_asset_from_bytes(ctx, kind="image", data=jpeg(w, h, fmt), filename=f"img.{ext}",
                                   mime=f"image/{'jpeg' if fmt == 'JPEG' else fmt.lower()}", width=w, height=h, params={})


@pytest.fixture
def graph_factory():  # type: ignore[no-untyped-def]
    servers: list[GraphServer] = []

    def make(**kw):  # type: ignore[no-untyped-def]
        srv = GraphServer(token=TOKEN, **kw).start()
        servers.append(srv)
        return srv

    yield make
    for s in servers:
        s.stop()
