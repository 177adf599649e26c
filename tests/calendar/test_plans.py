"""Recurring plans: each slot inside the look-ahead gets one post and one caption job, once."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.calendar import service
from backend.calendar.plans import LLM_TOPIC, create_plan, run_plans
from backend.jobs import service as jobs


def test_plan_generates_each_slot_once_with_caption_jobs(ctx, influencer, webhook_account):
    create_plan(ctx, influencer_id=influencer.id, weekdays=[0, 2], times=["09:00"], topics=["espresso", "trains"],
                targets=[{"kind": "webhook", "account_id": webhook_account.id}], lookahead_days=7)
    create_plan(ctx, influencer_id=influencer.id, weekdays=[4], times=["18:00"], topics=[],
                targets=[{"kind": "webhook", "account_id": webhook_account.id}], lookahead_days=7)
    now = datetime(2031, 3, 2, 12, 0, tzinfo=UTC)  # a Sunday
    created = run_plans(now=now)
    assert len(created) == 3  # Mon 09:00, Wed 09:00, Fri 18:00
    assert run_plans(now=now) == []  # a second pass (or a second scheduler) adds nothing
    posts = [service.get_post(ctx, i) for i in created]
    by_topic = {p.generation["topic"]: p for p in posts}
    assert set(by_topic) == {"espresso", "trains", LLM_TOPIC}
    for p in posts:
        assert p.status == "draft" and p.generation["state"] == "generating"
        job = jobs.get(ctx, p.generation["caption_job"])
        assert job.type == "generation.caption" and job.payload["topic"] == p.generation["topic"]
    # Approval waits for the generated content.
    import pytest

    from backend.errors import Conflict

    with pytest.raises(Conflict, match="generated"):
        service.approve_post(ctx, posts[0].id)
