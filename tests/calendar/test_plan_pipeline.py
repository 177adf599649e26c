"""A recurring plan end to end on the embedded workers: plan slot -> caption job (local LLM server)
-> image job (demo model) -> post waiting for approval, or scheduled for an auto-approving influencer."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from PIL import Image

from backend.calendar import service
from backend.calendar.plans import create_plan
from backend.db import utcnow
from backend.errors import InvalidInput
from backend.jobs import service as jobs
from tests.conftest import wait_until
from tests.generation.servers import chat_answer

ANSWER = {"caption": "Sunrise espresso on the terrace", "hashtags": ["coffee", "morning"],
          "image_prompt": "photo of a woman holding an espresso cup at sunrise", "alt_text": "a woman with coffee"}


def _slot_time(ctx) -> str:  # type: ignore[no-untyped-def]
    """HH:MM two hours from now in the workspace's time zone (inside a one-day look-ahead)."""
    from backend.calendar.timezones import workspace_tz

    return (utcnow() + timedelta(hours=2)).astimezone(workspace_tz(ctx)).strftime("%H:%M")


def test_plan_slot_becomes_a_generated_post_awaiting_approval_or_scheduled(
        ctx, influencer, webhook_account, llm_server, demo_sd15, studio_env):
    from backend.generation.service import asset_bytes
    from backend.influencers.service import create_influencer
    from backend.publishing.accounts import create_account
    from workers.runner import ensure_embedded_workers

    llm_server.default = chat_answer(json.dumps(ANSWER), cost=0.001)
    studio_env(scheduler_interval_s="0.2")
    auto = create_influencer(ctx, name="Leo", handle="leo.ai", topics=["trains"], auto_approve=True)
    auto_hook = create_account(ctx, name="leo n8n", kind="webhook", influencer_id=auto.id,
                               webhook_url=webhook_account.webhook_url, webhook_secret="s")
    image = {"width": 64, "height": 80, "steps": 2}
    at = _slot_time(ctx)
    for inf, acc, topic in ((influencer, webhook_account, "espresso"), (auto, auto_hook, "night trains")):
        create_plan(ctx, influencer_id=inf.id, weekdays=list(range(7)), times=[at], topics=[topic], lookahead_days=1,
                    targets=[{"kind": "webhook", "account_id": acc.id}], image_options=image)

    ensure_embedded_workers()  # workers for both queues and the scheduler thread that runs the plans

    def generated():  # type: ignore[no-untyped-def]
        posts = service.list_posts(ctx)
        return posts if len(posts) == 2 and all(p.generation.get("state") in ("ready", "failed") for p in posts) else None

    posts = {p.influencer_id: p for p in wait_until(generated, timeout=120, interval=0.3)}
    review, scheduled = posts[influencer.id], posts[auto.id]
    for post, status in ((review, "needs_approval"), (scheduled, "scheduled")):
        assert post.generation["state"] == "ready", post.generation
        assert post.status == status and [t.status for t in post.targets] == [status]
        assert post.caption.startswith(ANSWER["caption"]) and "#coffee" in post.caption
        assert post.local_time.endswith(at) and post.scheduled_at > utcnow()
        caption_job = jobs.get(ctx, post.generation["caption_job"])
        image_job = jobs.get(ctx, post.generation["image_job"])
        assert caption_job.status == image_job.status == "succeeded"
        assert image_job.payload["prompt"] == ANSWER["image_prompt"] and image_job.payload["steps"] == 2
        assert post.media_kind == "image" and len(post.media_asset_ids) == 1
        with Image.open(io.BytesIO(asset_bytes(ctx, post.media_asset_ids[0]))) as im:
            assert im.size == (64, 80)
    assert scheduled.approved_by == "auto-approve" and review.approved_by is None
    # The LLM was asked once per post, about the plan's topic, with the configured key.
    assert len(llm_server.requests) == 2
    prompts = " ".join(json.dumps(r["json"]["messages"]) for r in llm_server.requests)
    assert "espresso" in prompts and "night trains" in prompts
    assert all(r["headers"].get("Authorization") == "Bearer sk-test-123" for r in llm_server.requests)
    # An admin approves the reviewed post; it joins the schedule.
    assert service.approve_post(ctx, review.id).status == "scheduled"


def test_plan_image_options_are_checked_when_the_plan_is_made(ctx, influencer, webhook_account):
    target = [{"kind": "webhook", "account_id": webhook_account.id}]
    with pytest.raises(InvalidInput):
        create_plan(ctx, influencer_id=influencer.id, weekdays=[0], times=["09:00"], targets=target,
                    image_options={"width": 1001, "height": 64})
    with pytest.raises(InvalidInput, match="unknown image option|invalid plan"):
        create_plan(ctx, influencer_id=influencer.id, weekdays=[0], times=["09:00"], targets=target,
                    image_options={"prompt": "overrides the caption"})
