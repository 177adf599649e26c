"""Posts: create, edit, reschedule (drag), submit and approve; reads in the workspace's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from backend.calendar.models import (
    EDITABLE_STATUSES,
    INSTAGRAM_KINDS,
    MEDIA_KINDS,
    TARGET_KINDS,
    TARGET_STATUSES,
    AttemptOut,
    Post,
    PostOut,
    PostTarget,
    PublishAccount,
    PublishAttempt,
    TargetIn,
    TargetOut,
)
from backend.calendar.timezones import format_local, local_to_utc, parse_local, workspace_tz
from backend.context import Ctx
from backend.db import session_scope, utcnow
from backend.errors import Conflict, InvalidInput, PermissionDenied
from backend.tenancy import get_owned
from backend.validation import parse

# How a post's colour and label are chosen from its targets: the first status present wins.
_SUMMARY_ORDER = ("failed", "unconfirmed", "publishing", "needs_approval", "draft", "scheduled", "published")
# Editing or moving into the past is refused; a small slack absorbs the seconds a form takes.
PAST_SLACK = timedelta(seconds=60)


def summary_status(statuses: list[str]) -> str:
    """One status for a post: the most attention-worthy of its targets' statuses."""
    for status in _SUMMARY_ORDER:
        if status in statuses:
            return status
    return "draft"


def _target_out(t: PostTarget) -> TargetOut:
    return TargetOut.model_validate(t, from_attributes=True)


def _post_out(p: Post, targets: list[PostTarget], tz, warnings: list[str] | None = None) -> PostOut:  # type: ignore[no-untyped-def]
    return PostOut(
        id=p.id, tenant_id=p.tenant_id, influencer_id=p.influencer_id, title=p.title, caption=p.caption,
        media_kind=p.media_kind, media_asset_ids=list(p.media_asset_ids or []), scheduled_at=p.scheduled_at,
        local_time=format_local(p.scheduled_at, tz), timezone=tz.key,
        status=summary_status([t.status for t in targets]), approved_by=p.approved_by, plan_id=p.plan_id,
        generation=dict(p.generation or {}), targets=[_target_out(t) for t in targets], warnings=warnings or [],
    )


def _own_post(s, ctx: Ctx, post_id: str) -> Post:  # type: ignore[no-untyped-def]
    return get_owned(s, Post, ctx, post_id, kind="post")


def _targets(s, post_id: str) -> list[PostTarget]:  # type: ignore[no-untyped-def]
    return list(s.scalars(select(PostTarget).where(PostTarget.post_id == post_id).order_by(PostTarget.kind, PostTarget.id)))


def to_utc(ctx: Ctx, when: datetime | str) -> datetime:
    """A time from a user: aware datetimes as given, naive ones (and strings) in the workspace zone."""
    tz = workspace_tz(ctx)
    if isinstance(when, str):
        return parse_local(when, tz)
    return local_to_utc(when, tz)


def _not_in_past(at: datetime, *, now: datetime | None = None) -> None:
    if at < (now or utcnow()) - PAST_SLACK:
        raise InvalidInput("invalid time", ["a post cannot be scheduled in the past"])


def _check_influencer(ctx: Ctx, influencer_id: str) -> None:
    from backend.influencers.service import get_influencer

    get_influencer(ctx, influencer_id)  # NotFound for another workspace's influencer


def _check_media(ctx: Ctx, media_kind: str, asset_ids: list[str]) -> None:
    if media_kind not in MEDIA_KINDS:
        raise InvalidInput("invalid media", [f"{media_kind!r} is not one of {', '.join(MEDIA_KINDS)}"])
    want = {"none": (0, 0), "image": (1, 1), "video": (1, 1), "carousel": (2, 10)}[media_kind]
    if not want[0] <= len(asset_ids) <= want[1]:
        raise InvalidInput("invalid media", [f"a {media_kind} post takes {want[0]}..{want[1]} assets, got {len(asset_ids)}"])
    if asset_ids:
        from backend.generation.service import get_asset

        for asset_id in asset_ids:
            asset = get_asset(ctx, asset_id)
            if media_kind in ("image", "video") and asset.kind != media_kind:
                raise InvalidInput("invalid media", [f"asset {asset_id} is a {asset.kind}, not a {media_kind}"])


def _check_targets(s, ctx: Ctx, targets: list[TargetIn], media_kind: str) -> None:  # type: ignore[no-untyped-def]
    if not targets:
        raise InvalidInput("invalid targets", ["a post needs at least one target"])
    reasons = []
    for t in targets:
        if t.kind not in TARGET_KINDS:
            reasons.append(f"{t.kind!r} is not one of {', '.join(TARGET_KINDS)}")
            continue
        if t.kind in INSTAGRAM_KINDS and media_kind == "none":
            reasons.append(f"{t.kind} needs media")
        if t.kind == "instagram_reel" and media_kind != "video":
            reasons.append("an Instagram reel needs a video")
        if not t.account_id:
            continue  # allowed while drafting; approval checks it
        acc = get_owned(s, PublishAccount, ctx, t.account_id, kind="publishing account")
        if (acc.kind == "instagram") != (t.kind in INSTAGRAM_KINDS):
            reasons.append(f"{t.kind} cannot publish through the {acc.kind} account {acc.name!r}")
    if reasons:
        raise InvalidInput("invalid targets", reasons)


def gap_warnings(ctx: Ctx, influencer_id: str, at: datetime, *, exclude_post_id: str | None = None) -> list[str]:
    """Warnings for other posts of the influencer closer to ``at`` than the configured gap."""
    from backend.settings import get_settings

    gap = timedelta(minutes=get_settings().post_min_gap_minutes)
    if not gap:
        return []
    tz = workspace_tz(ctx)
    with session_scope() as s:
        q = select(Post).where(
            Post.tenant_id == ctx.tenant_id, Post.influencer_id == influencer_id,
            Post.scheduled_at > at - gap, Post.scheduled_at < at + gap,
        )
        near = [p for p in s.scalars(q) if p.id != exclude_post_id]
    minutes = int(gap.total_seconds() // 60)
    return [
        f"only {int(abs((p.scheduled_at - at).total_seconds()) // 60)} min from "
        f"\"{p.title or p.caption[:40]}\" at {format_local(p.scheduled_at, tz)} (gap {minutes} min)"
        for p in near
    ]


def create_post(
    ctx: Ctx,
    *,
    influencer_id: str,
    scheduled_at: datetime | str,
    targets: list[TargetIn | dict[str, Any]],
    caption: str = "",
    title: str = "",
    media_kind: str = "none",
    media_asset_ids: list[str] | None = None,
    submit: bool = False,
    plan_id: str | None = None,
    generation: dict[str, Any] | None = None,
    allow_past: bool = False,
) -> PostOut:
    """A new post in draft (or needs approval with ``submit``); the result carries gap warnings."""
    ctx.require("editor")
    at = to_utc(ctx, scheduled_at)
    if not allow_past:
        _not_in_past(at)
    target_ins = [t if isinstance(t, TargetIn) else parse(TargetIn, t, what="invalid target") for t in targets]
    asset_ids = [str(a) for a in (media_asset_ids or [])]
    _check_influencer(ctx, influencer_id)
    _check_media(ctx, media_kind, asset_ids)
    warnings = gap_warnings(ctx, influencer_id, at)
    status = "needs_approval" if submit else "draft"
    with session_scope() as s:
        _check_targets(s, ctx, target_ins, media_kind)
        p = Post(
            tenant_id=ctx.tenant_id, influencer_id=influencer_id, title=title[:200], caption=caption,
            media_kind=media_kind, media_asset_ids=asset_ids, scheduled_at=at, created_by=ctx.user_id,
            submitted_by=ctx.user_id if submit else None, plan_id=plan_id, generation=generation or {},
        )
        s.add(p)
        s.flush()
        for t in target_ins:
            s.add(PostTarget(tenant_id=ctx.tenant_id, post_id=p.id, kind=t.kind, account_id=t.account_id,
                             caption_override=t.caption, status=status, due_at=at))
        s.flush()
        post_id = p.id
    return get_post(ctx, post_id, warnings=warnings)


def get_post(ctx: Ctx, post_id: str, *, warnings: list[str] | None = None) -> PostOut:
    """One post of the caller's workspace with its targets."""
    tz = workspace_tz(ctx)
    with session_scope() as s:
        p = _own_post(s, ctx, post_id)
        return _post_out(p, _targets(s, p.id), tz, warnings)


def list_posts(
    ctx: Ctx,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    influencer_id: str | None = None,
    status: str | None = None,
    limit: int = 2000,
) -> list[PostOut]:
    """The workspace's posts in ``[start, end)`` (UTC), oldest first."""
    if status and status not in TARGET_STATUSES:
        raise InvalidInput("unknown status", [status])
    tz = workspace_tz(ctx)
    conds = [Post.tenant_id == ctx.tenant_id]
    if start:
        conds.append(Post.scheduled_at >= start)
    if end:
        conds.append(Post.scheduled_at < end)
    if influencer_id:
        conds.append(Post.influencer_id == influencer_id)
    with session_scope() as s:
        posts = list(s.scalars(select(Post).where(*conds).order_by(Post.scheduled_at, Post.id).limit(limit)))
        by_post: dict[str, list[PostTarget]] = {p.id: [] for p in posts}
        if posts:
            rows = s.scalars(select(PostTarget).where(PostTarget.post_id.in_(list(by_post))).order_by(PostTarget.kind, PostTarget.id))
            for t in rows:
                by_post[t.post_id].append(t)
        out = [_post_out(p, by_post[p.id], tz) for p in posts]
    if status:
        out = [p for p in out if any(t.status == status for t in p.targets)]
    return out


def _require_unsent(targets: list[PostTarget], what: str) -> None:
    sent = [t for t in targets if t.status not in EDITABLE_STATUSES]
    if sent:
        raise Conflict(f"cannot {what}: target {sent[0].kind} is {sent[0].status}")


def update_post(
    ctx: Ctx,
    post_id: str,
    *,
    caption: str | None = None,
    title: str | None = None,
    media_kind: str | None = None,
    media_asset_ids: list[str] | None = None,
    targets: list[TargetIn | dict[str, Any]] | None = None,
    scheduled_at: datetime | str | None = None,
) -> PostOut:
    """Edit a post that has not been sent; an editor's change to approved content needs approval again."""
    ctx.require("editor")
    current = get_post(ctx, post_id)
    kind = media_kind if media_kind is not None else current.media_kind
    assets = [str(a) for a in media_asset_ids] if media_asset_ids is not None else current.media_asset_ids
    if media_kind is not None or media_asset_ids is not None:
        _check_media(ctx, kind, assets)
    at = to_utc(ctx, scheduled_at) if scheduled_at is not None else None
    if at is not None and at != current.scheduled_at:
        _not_in_past(at)
    target_ins = [t if isinstance(t, TargetIn) else parse(TargetIn, t, what="invalid target") for t in targets] if targets is not None else None
    with session_scope() as s:
        p = _own_post(s, ctx, post_id)
        rows = _targets(s, p.id)
        _require_unsent(rows, "edit a post that was sent")
        if target_ins is not None:
            _check_targets(s, ctx, target_ins, kind)
        content_changed = any(v is not None for v in (caption, media_kind, media_asset_ids, targets))
        if caption is not None:
            p.caption = caption
        if title is not None:
            p.title = title[:200]
        p.media_kind, p.media_asset_ids = kind, assets
        if at is not None:
            p.scheduled_at = at
        # An approval covers the content an admin saw: an editor's change sends it back for review.
        reapprove = content_changed and not ctx.is_admin and any(t.status == "scheduled" for t in rows)
        if reapprove:
            p.approved_by, p.approved_at = None, None
        if target_ins is not None:
            keep_status = rows[0].status if rows else "draft"
            if reapprove:
                keep_status = "needs_approval"
            for t in rows:
                s.delete(t)
            s.flush()
            for t in target_ins:
                s.add(PostTarget(tenant_id=ctx.tenant_id, post_id=p.id, kind=t.kind, account_id=t.account_id,
                                 caption_override=t.caption, status=keep_status, due_at=p.scheduled_at))
        else:
            for t in rows:
                t.due_at = p.scheduled_at
                if reapprove and t.status == "scheduled":
                    t.status = "needs_approval"
        s.flush()
        influencer_id, new_at = p.influencer_id, p.scheduled_at
    return get_post(ctx, post_id, warnings=gap_warnings(ctx, influencer_id, new_at, exclude_post_id=post_id))


def reschedule_post(ctx: Ctx, post_id: str, new_time: datetime | str, *, now: datetime | None = None) -> PostOut:
    """Move a post (a drag on the calendar): never into the past, never once it was sent."""
    ctx.require("editor")
    at = to_utc(ctx, new_time)
    _not_in_past(at, now=now)
    with session_scope() as s:
        p = _own_post(s, ctx, post_id)
        rows = _targets(s, p.id)
        _require_unsent(rows, "move a post that was sent")
        p.scheduled_at = at
        for t in rows:
            t.due_at = at
            if t.status == "failed" and t.reason == "missed":
                t.status, t.reason = "scheduled", None  # moving a missed post is how it is retried
        influencer_id = p.influencer_id
    return get_post(ctx, post_id, warnings=gap_warnings(ctx, influencer_id, at, exclude_post_id=post_id))


def submit_post(ctx: Ctx, post_id: str) -> PostOut:
    """An editor hands a draft to the admins for approval."""
    ctx.require("editor")
    with session_scope() as s:
        p = _own_post(s, ctx, post_id)
        rows = _targets(s, p.id)
        drafts = [t for t in rows if t.status in ("draft", "failed")]
        if not drafts:
            raise Conflict("only drafts can be submitted for approval")
        for t in drafts:
            t.status, t.reason = "needs_approval", None
        p.submitted_by = ctx.user_id
    return get_post(ctx, post_id)


def approve_post(ctx: Ctx, post_id: str) -> PostOut:
    """An admin approves: the post's draft and pending targets become scheduled."""
    if not ctx.is_admin:
        raise PermissionDenied("only admins approve posts")
    with session_scope() as s:
        p = _own_post(s, ctx, post_id)
        rows = _targets(s, p.id)
        pending = [t for t in rows if t.status in ("draft", "needs_approval")]
        if not pending:
            raise Conflict("nothing to approve: no target is a draft or waiting for approval")
        missing = [t.kind for t in pending if not t.account_id]
        if missing:
            raise InvalidInput("cannot approve", [f"target {k} has no publishing account" for k in missing])
        if (p.generation or {}).get("state") == "generating":
            raise Conflict("the post's caption and image are still being generated")
        for t in pending:
            t.status, t.reason, t.due_at = "scheduled", None, p.scheduled_at
        p.approved_by, p.approved_at = ctx.user_id, utcnow()
    return get_post(ctx, post_id)


def reject_post(ctx: Ctx, post_id: str, *, reason: str = "") -> PostOut:
    """An admin sends a post back to draft with a reason."""
    if not ctx.is_admin:
        raise PermissionDenied("only admins approve or reject posts")
    with session_scope() as s:
        p = _own_post(s, ctx, post_id)
        rows = [t for t in _targets(s, p.id) if t.status in ("needs_approval", "scheduled")]
        if not rows:
            raise Conflict("nothing to reject")
        for t in rows:
            t.status, t.reason = "draft", (f"rejected: {reason}" if reason else "rejected")
        p.approved_by, p.approved_at = None, None
    return get_post(ctx, post_id)


def delete_post(ctx: Ctx, post_id: str) -> None:
    """Remove a post unless one of its targets is being published right now."""
    ctx.require("editor")
    with session_scope() as s:
        p = _own_post(s, ctx, post_id)
        busy = [t for t in _targets(s, p.id) if t.status == "publishing"]
        if busy:
            raise Conflict("the post is being published")
        s.delete(p)


def resolve_unconfirmed(ctx: Ctx, target_id: str, *, published: bool, permalink: str | None = None) -> PostOut:
    """A person checked an unconfirmed target on the network: mark it published or failed."""
    ctx.require("editor")
    with session_scope() as s:
        t = get_owned(s, PostTarget, ctx, target_id, kind="target")
        if t.status != "unconfirmed":
            raise Conflict(f"target is {t.status}, not unconfirmed")
        if published:
            t.status, t.permalink, t.published_at = "published", permalink or t.permalink, t.published_at or utcnow()
        else:
            t.status, t.reason = "failed", "not published (checked by a person)"
        post_id = t.post_id
    return get_post(ctx, post_id)


def retry_target(ctx: Ctx, target_id: str) -> PostOut:
    """Schedule a failed target again (admins), for now or its post's time if that is later."""
    if not ctx.is_admin:
        raise PermissionDenied("only admins re-publish")
    with session_scope() as s:
        t = get_owned(s, PostTarget, ctx, target_id, kind="target")
        if t.status != "failed":
            raise Conflict(f"target is {t.status}, not failed")
        t.status, t.reason, t.due_at, t.job_id, t.claimed_at = "scheduled", None, max(t.due_at, utcnow()), None, None
        post_id = t.post_id
    return get_post(ctx, post_id)


def publish_now(ctx: Ctx, post_id: str) -> PostOut:
    """Make an approved post due now (the scheduler picks it up on its next pass)."""
    if not ctx.is_admin:
        raise PermissionDenied("only admins publish now")
    now = utcnow()
    with session_scope() as s:
        p = _own_post(s, ctx, post_id)
        rows = _targets(s, p.id)
        ready = [t for t in rows if t.status == "scheduled"]
        if not ready:
            raise Conflict("only approved (scheduled) posts can be published; approve it first")
        p.scheduled_at = now
        for t in rows:
            t.due_at = now
    return get_post(ctx, post_id)


def attempts(ctx: Ctx, target_id: str) -> list[AttemptOut]:
    """The publish log of one target, oldest first."""
    with session_scope() as s:
        get_owned(s, PostTarget, ctx, target_id, kind="target")  # another workspace's target: not found
        rows = s.scalars(select(PublishAttempt).where(PublishAttempt.target_id == target_id).order_by(PublishAttempt.at, PublishAttempt.id))
        return [AttemptOut.model_validate(a, from_attributes=True) for a in rows]


