"""Automation: recurring plans generate caption and image ahead of time, then wait for approval.

Each scheduler pass (1) creates a post for every plan slot inside the plan's look-ahead, with a
caption job ("generation.caption"), and (2) advances generating posts: caption done -> image job
("generation.image") with the caption's image prompt; image done -> the post goes to "needs
approval", or straight to "scheduled" when the influencer auto-approves.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from backend.calendar.models import PlanOccurrence, PlanOut, Post, PostTarget, RecurringPlan, TargetIn
from backend.calendar.slots import _clean
from backend.context import Ctx, system_ctx
from backend.db import session_scope, utcnow
from backend.errors import DomainError, InvalidInput
from backend.tenancy import get_owned

LLM_TOPIC = "a fresh, timely topic of your choice that fits this persona (you suggest it)"
# What a plan may fix about its images; prompt, LoRA and influencer come from the caption and influencer.
IMAGE_OPTION_KEYS = ("width", "height", "steps", "guidance", "scheduler", "base_model", "negative_prompt", "backend")


def clean_image_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """The plan's image options, checked now as an image request would check them."""
    from backend.generation.images import ImageRequest
    from backend.validation import parse

    options = {k: v for k, v in (options or {}).items() if v not in (None, "")}
    unknown = sorted(set(options) - set(IMAGE_OPTION_KEYS))
    if unknown:
        raise InvalidInput("invalid plan", [f"unknown image option {k!r}; use {', '.join(IMAGE_OPTION_KEYS)}" for k in unknown])
    req = parse(ImageRequest, {"prompt": "plan", **options}, what="invalid plan image options")
    return {k: getattr(req, k) for k in options}


def _out(p: RecurringPlan) -> PlanOut:
    return PlanOut.model_validate(p, from_attributes=True)


def create_plan(ctx: Ctx, *, influencer_id: str, weekdays: list[int], times: list[str], targets: list[dict[str, Any]],
                topics: list[str] | None = None, lookahead_days: int = 3, name: str = "",
                image_options: dict[str, Any] | None = None) -> PlanOut:
    """A recurring plan; an empty topic list lets the LLM suggest each topic."""
    ctx.require("editor")
    from backend.influencers.service import get_influencer

    get_influencer(ctx, influencer_id)
    _clean([(d, t) for d in weekdays for t in times])
    if not weekdays or not times:
        raise InvalidInput("invalid plan", ["choose at least one day and one time"])
    if not 1 <= lookahead_days <= 30:
        raise InvalidInput("invalid plan", ["look-ahead is 1 to 30 days"])
    parsed = [TargetIn.model_validate(t) for t in targets]
    if not parsed:
        raise InvalidInput("invalid plan", ["a plan needs at least one target"])
    image = clean_image_options(image_options)
    with session_scope() as s:
        p = RecurringPlan(tenant_id=ctx.tenant_id, influencer_id=influencer_id, name=name, weekdays=sorted(set(weekdays)),
                          times=sorted(set(times)), topics=[t.strip() for t in (topics or []) if t.strip()],
                          targets=[t.model_dump() for t in parsed], lookahead_days=lookahead_days, created_by=ctx.user_id,
                          image_options=image)
        s.add(p)
        s.flush()
        return _out(p)


def list_plans(ctx: Ctx, *, influencer_id: str | None = None) -> list[PlanOut]:
    with session_scope() as s:
        q = select(RecurringPlan).where(RecurringPlan.tenant_id == ctx.tenant_id)
        if influencer_id:
            q = q.where(RecurringPlan.influencer_id == influencer_id)
        return [_out(p) for p in s.scalars(q.order_by(RecurringPlan.created_at))]


def set_plan_active(ctx: Ctx, plan_id: str, active: bool) -> PlanOut:
    ctx.require("editor")
    with session_scope() as s:
        p = get_owned(s, RecurringPlan, ctx, plan_id, kind="plan")
        p.active = active
        return _out(p)


def _slots(ctx: Ctx, plan: RecurringPlan, now: datetime) -> list[datetime]:
    from backend.calendar.timezones import local_to_utc, workspace_tz

    tz = workspace_tz(ctx)
    out = []
    day = now.astimezone(tz).date()
    for _ in range(plan.lookahead_days + 1):
        if day.weekday() in plan.weekdays:
            for t in plan.times:
                h, m = map(int, t.split(":"))
                try:
                    at = local_to_utc(datetime(day.year, day.month, day.day, h, m), tz)
                except InvalidInput:
                    continue
                if now < at <= now + timedelta(days=plan.lookahead_days):
                    out.append(at)
        day += timedelta(days=1)
    return out


def _next_topic(plan_id: str) -> str:
    with session_scope() as s:
        p = s.get(RecurringPlan, plan_id)
        if not p.topics:
            return LLM_TOPIC
        topic = p.topics[p.topic_cursor % len(p.topics)]
        p.topic_cursor += 1
        return topic


def _generate(plan: RecurringPlan, at: datetime) -> str | None:
    """Claim the plan's slot (unique key) and create its post with a caption job; None when taken."""
    ctx = system_ctx(plan.tenant_id)
    try:
        with session_scope() as s:
            s.add(PlanOccurrence(tenant_id=plan.tenant_id, plan_id=plan.id, slot_at=at))
    except IntegrityError:
        return None  # another scheduler generated this slot
    from backend.calendar.service import create_post
    from backend.generation.content import submit_caption

    topic = _next_topic(plan.id)
    post = create_post(ctx, influencer_id=plan.influencer_id, scheduled_at=at, targets=plan.targets, title=topic[:80],
                       plan_id=plan.id, generation={"state": "generating", "topic": topic})
    try:
        job = submit_caption(ctx, influencer_id=plan.influencer_id, topic=topic)
        gen = {"state": "generating", "topic": topic, "caption_job": job.id}
    except DomainError as err:
        gen = {"state": "failed", "topic": topic, "error": str(err)}
    with session_scope() as s:
        s.get(Post, post.id).generation = gen
        occ = s.scalar(select(PlanOccurrence).where(PlanOccurrence.plan_id == plan.id, PlanOccurrence.slot_at == at))
        occ.post_id = post.id
    return post.id


# An image request claimed but never recorded (scheduler died in between) is made again after this.
PENDING_RETRY = timedelta(minutes=5)


def _transition(post_id: str, seen: datetime, **values: Any) -> bool:
    """Change a generating post only if nobody changed it since ``seen`` (two schedulers race here)."""
    with session_scope() as s:
        res = s.execute(update(Post).where(Post.id == post_id, Post.updated_at == seen).values(**values, updated_at=utcnow()))
        return res.rowcount == 1


def _request_image(ctx: Ctx, post_id: str, plan_id: str | None, influencer_id: str, caption_result: dict[str, Any]) -> dict[str, Any]:
    """Submit the post's image job (prompt from the caption, the plan's options, the influencer's LoRA)."""
    from backend.generation.images import submit_images
    from backend.influencers.service import get_influencer

    with session_scope() as s:
        plan = s.get(RecurringPlan, plan_id) if plan_id else None
        options = dict(plan.image_options or {}) if plan is not None else {}
    inf = get_influencer(ctx, influencer_id)
    fields: dict[str, Any] = {**options, "prompt": caption_result.get("image_prompt") or "portrait", "influencer_id": influencer_id}
    if inf.default_lora_id:
        fields["loras"] = [{"id": inf.default_lora_id, "strength": inf.default_lora_strength}]
    try:
        return {"image_job": submit_images(ctx, **fields).id}
    except DomainError as err:
        return {"state": "failed", "error": f"image request refused: {err}"}


def _advance(post_id: str, *, now: datetime) -> None:
    """Move one generating post on when its caption or image job finished (once, however many schedulers)."""
    from backend.jobs import service as jobs

    with session_scope() as s:
        p = s.get(Post, post_id)
        tenant_id, gen, influencer_id, plan_id, seen = p.tenant_id, dict(p.generation or {}), p.influencer_id, p.plan_id, p.updated_at
    ctx = system_ctx(tenant_id)
    if gen.get("image_job") == "pending":
        if now - datetime.fromisoformat(gen["pending_at"]) < PENDING_RETRY:
            return  # another scheduler is submitting the image job right now
        gen.pop("image_job")
    step = "image_job" if gen.get("image_job") else "caption_job"
    job = jobs.get(ctx, gen[step])
    if not job.finished:
        return
    if job.status != "succeeded":
        gen.update(state="failed", error=f"{step.split('_')[0]} generation {job.status}: {job.error or ''}")
        _transition(post_id, seen, generation=gen)
        return
    if step == "caption_job":
        result = job.result or {}
        caption = result.get("full_text") or result.get("caption") or ""
        pending = gen | {"image_job": "pending", "pending_at": now.isoformat()}
        if not _transition(post_id, seen, generation=pending, caption=caption):
            return  # another scheduler took this step
        with session_scope() as s:
            seen = s.get(Post, post_id).updated_at
        _transition(post_id, seen, generation=gen | _request_image(ctx, post_id, plan_id, influencer_id, result))
        return
    from backend.generation.service import list_assets
    from backend.influencers.service import get_influencer

    assets = list_assets(ctx, job_id=job.id, limit=10)
    if not assets:
        gen.update(state="failed", error="the image job produced no image")
        _transition(post_id, seen, generation=gen)
        return
    auto = get_influencer(ctx, influencer_id).auto_approve
    gen.update(state="ready")
    values: dict[str, Any] = {"generation": gen, "media_kind": assets[0].kind, "media_asset_ids": [assets[0].id]}
    if auto:
        values.update(approved_by="auto-approve", approved_at=utcnow())
    if not _transition(post_id, seen, **values):
        return
    status = "scheduled" if auto else "needs_approval"
    with session_scope() as s:
        for t in s.scalars(select(PostTarget).where(PostTarget.post_id == post_id, PostTarget.status == "draft")):
            t.status = status if t.account_id else "needs_approval"


def run_plans(*, now: datetime | None = None) -> list[str]:
    """One automation pass over every workspace; returns the ids of posts created."""
    now = now or utcnow()
    with session_scope() as s:
        plans = list(s.scalars(select(RecurringPlan).where(RecurringPlan.active.is_(True))))
        s.expunge_all()
        generating = [p.id for p in s.scalars(select(Post).where(Post.plan_id.is_not(None), Post.scheduled_at > now - timedelta(days=1)))
                      if (p.generation or {}).get("state") == "generating" and p.generation.get("caption_job")]
    created = []
    for plan in plans:
        for at in _slots(system_ctx(plan.tenant_id), plan, now):
            post_id = _generate(plan, at)
            if post_id:
                created.append(post_id)
    for post_id in generating:
        _advance(post_id, now=now)
    return created
