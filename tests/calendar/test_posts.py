"""Posts: time zones across DST, dragging, approval gate, gap warnings, slots, tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.accounts.service import update_tenant
from backend.calendar import service
from backend.calendar.slots import next_free_slot, set_slots
from backend.context import Ctx
from backend.db import utcnow
from backend.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tests.calendar.conftest import soon


def _post(ctx, influencer, account, at, **kw):  # type: ignore[no-untyped-def]
    return service.create_post(ctx, influencer_id=influencer.id, scheduled_at=at, caption=kw.pop("caption", "Hello"),
                               targets=[{"kind": "webhook", "account_id": account.id}], **kw)


def test_rome_0900_on_both_sides_of_dst_lands_on_the_right_utc_instant(ctx, influencer, webhook_account):
    update_tenant(ctx, timezone="Europe/Rome")
    year = utcnow().year + 1  # always in the future; DST starts the last Sunday of March
    last_sunday = max(d for d in range(25, 32) if datetime(year, 3, d).weekday() == 6)
    before = _post(ctx, influencer, webhook_account, datetime(year, 3, last_sunday - 1, 9, 0))  # CET, UTC+1
    after = _post(ctx, influencer, webhook_account, datetime(year, 3, last_sunday + 1, 9, 0))  # CEST, UTC+2
    assert before.scheduled_at == datetime(year, 3, last_sunday - 1, 8, 0, tzinfo=UTC)
    assert after.scheduled_at == datetime(year, 3, last_sunday + 1, 7, 0, tzinfo=UTC)
    shown = {p.id: p.local_time for p in service.list_posts(ctx)}
    assert shown[before.id].endswith(" 09:00") and shown[after.id].endswith(" 09:00")
    # Autumn: 09:00 on both sides of the last Sunday of October.
    oct_sunday = max(d for d in range(25, 32) if datetime(year, 10, d).weekday() == 6)
    day_before = datetime(year, 10, oct_sunday) - timedelta(days=1)
    day_after = datetime(year, 10, oct_sunday) + timedelta(days=1)
    a = _post(ctx, influencer, webhook_account, f"{day_before:%Y-%m-%d} 09:00")  # CEST
    b = _post(ctx, influencer, webhook_account, f"{day_after:%Y-%m-%d} 09:00")  # CET
    assert a.scheduled_at.hour == 7 and b.scheduled_at.hour == 8
    assert a.local_time.endswith("09:00") and b.local_time.endswith("09:00")
    # 02:30 on the spring-forward night does not exist in Rome: refused, not shifted.
    with pytest.raises(InvalidInput, match="does not exist"):
        _post(ctx, influencer, webhook_account, datetime(year, 3, last_sunday, 2, 30))


def test_dragging_into_the_past_is_refused_and_nothing_moves(ctx, influencer, webhook_account):
    post = _post(ctx, influencer, webhook_account, soon(120))
    with pytest.raises(InvalidInput, match="past"):
        service.reschedule_post(ctx, post.id, utcnow() - timedelta(hours=2))
    assert service.get_post(ctx, post.id).scheduled_at == post.scheduled_at
    moved = service.reschedule_post(ctx, post.id, soon(300))
    assert moved.scheduled_at > post.scheduled_at
    assert all(t.status == "draft" for t in moved.targets)


def test_published_posts_do_not_move(ctx, influencer, webhook_account):
    from sqlalchemy import update

    from backend.calendar.models import PostTarget
    from backend.db import session_scope

    post = _post(ctx, influencer, webhook_account, soon(120))
    with session_scope() as s:
        s.execute(update(PostTarget).where(PostTarget.post_id == post.id).values(status="published"))
    with pytest.raises(Conflict, match="published"):
        service.reschedule_post(ctx, post.id, soon(600))
    with pytest.raises(Conflict):
        service.update_post(ctx, post.id, caption="changed")


def test_approval_gate_editors_submit_admins_approve_only_approved_publish(ctx, influencer, webhook_account):
    from backend.calendar.scheduler import run_once

    editor = make_tenant_user(ctx, "editor")
    post = _post(editor, influencer, webhook_account, utcnow() + timedelta(seconds=2))
    assert post.status == "draft"
    with pytest.raises(PermissionDenied):
        service.approve_post(editor, post.id)
    submitted = service.submit_post(editor, post.id)
    assert submitted.status == "needs_approval"
    # Due, but not approved: the scheduler leaves it alone.
    later = utcnow() + timedelta(minutes=1)
    assert run_once(now=later).claimed == []
    approved = service.approve_post(ctx, post.id)
    assert approved.status == "scheduled" and approved.approved_by == ctx.user_id
    # An editor changing approved content sends it back for approval.
    back = service.update_post(editor, post.id, caption="new words")
    assert back.status == "needs_approval"
    assert run_once(now=later).claimed == []
    service.approve_post(ctx, post.id)
    assert len(run_once(now=later).claimed) == 1


def make_tenant_user(admin: Ctx, role: str) -> Ctx:
    from backend.accounts.service import create_user

    u = create_user(admin, username=f"u-{role}", password="password123", role=role)
    return Ctx(tenant_id=admin.tenant_id, user_id=u.id, role=role, username=u.username)  # type: ignore[arg-type]


def test_viewers_cannot_create_and_other_tenants_see_nothing(ctx, other_ctx, influencer, webhook_account):
    post = _post(ctx, influencer, webhook_account, soon())
    viewer = make_tenant_user(ctx, "viewer")
    with pytest.raises(PermissionDenied):
        _post(viewer, influencer, webhook_account, soon())
    with pytest.raises(NotFound):
        service.get_post(other_ctx, post.id)
    with pytest.raises(NotFound):
        service.reschedule_post(other_ctx, post.id, soon(500))
    with pytest.raises(NotFound):
        service.approve_post(other_ctx, post.id)
    assert service.list_posts(other_ctx) == []
    # Another workspace's influencer or account cannot be used either.
    with pytest.raises(NotFound):
        service.create_post(other_ctx, influencer_id=influencer.id, scheduled_at=soon(), targets=[{"kind": "webhook"}])


def test_invalid_targets_and_media_are_refused(ctx, influencer, webhook_account):
    with pytest.raises(InvalidInput, match="at least one target"):
        service.create_post(ctx, influencer_id=influencer.id, scheduled_at=soon(), targets=[])
    with pytest.raises(InvalidInput, match="not one of"):
        service.create_post(ctx, influencer_id=influencer.id, scheduled_at=soon(), targets=[{"kind": "myspace"}])
    with pytest.raises(InvalidInput, match="needs media"):
        service.create_post(ctx, influencer_id=influencer.id, scheduled_at=soon(), targets=[{"kind": "instagram_feed"}])
    with pytest.raises(InvalidInput, match="cannot publish through"):
        service.create_post(ctx, influencer_id=influencer.id, scheduled_at=soon(), media_kind="none",
                            targets=[{"kind": "tiktok", "account_id": webhook_account.id}, {"kind": "instagram_story", "account_id": webhook_account.id}])


def test_gap_warning_when_two_posts_come_close(ctx, influencer, webhook_account, studio_env):
    first = _post(ctx, influencer, webhook_account, soon(600))
    assert first.warnings == []
    second = _post(ctx, influencer, webhook_account, first.scheduled_at + timedelta(minutes=30))
    assert len(second.warnings) == 1 and "30 min" in second.warnings[0]
    far = _post(ctx, influencer, webhook_account, first.scheduled_at + timedelta(hours=5))
    assert far.warnings == []


def test_slots_and_next_free_slot(ctx, influencer, webhook_account):
    update_tenant(ctx, timezone="Europe/Rome")
    set_slots(ctx, influencer.id, [(d, "09:00") for d in range(5)] + [(d, "18:00") for d in range(5)])
    with pytest.raises(InvalidInput):
        set_slots(ctx, influencer.id, [(7, "09:00"), (1, "25:00")])
    monday_utc = datetime(2031, 3, 3, 0, 0, tzinfo=UTC)  # a Monday
    first = next_free_slot(ctx, influencer.id, after=monday_utc)
    assert first == datetime(2031, 3, 3, 8, 0, tzinfo=UTC)  # 09:00 CET
    _post(ctx, influencer, webhook_account, first, allow_past=True)
    second = next_free_slot(ctx, influencer.id, after=monday_utc)
    assert second == datetime(2031, 3, 3, 17, 0, tzinfo=UTC)  # 18:00 CET
    # Friday evening is followed by Monday morning: weekends have no slots.
    friday_night = datetime(2031, 3, 7, 18, 0, tzinfo=UTC)
    assert next_free_slot(ctx, influencer.id, after=friday_night) == datetime(2031, 3, 10, 8, 0, tzinfo=UTC)


def test_a_viewer_changes_nothing(ctx, influencer, webhook_account):
    from backend.calendar.plans import create_plan, set_plan_active
    from backend.calendar.slots import set_slots
    from backend.publishing.accounts import create_account, delete_account
    from studio.calendar_events import handle_callback

    post = _post(ctx, influencer, webhook_account, soon(120))
    plan = create_plan(ctx, influencer_id=influencer.id, weekdays=[0], times=["09:00"],
                       targets=[{"kind": "webhook", "account_id": webhook_account.id}])
    viewer = make_tenant_user(ctx, "viewer")
    tries = [
        lambda: service.update_post(viewer, post.id, caption="x"),
        lambda: service.reschedule_post(viewer, post.id, soon(600)),
        lambda: service.submit_post(viewer, post.id),
        lambda: service.approve_post(viewer, post.id),
        lambda: service.reject_post(viewer, post.id),
        lambda: service.publish_now(viewer, post.id),
        lambda: service.delete_post(viewer, post.id),
        lambda: service.resolve_unconfirmed(viewer, post.targets[0].id, published=True),
        lambda: service.retry_target(viewer, post.targets[0].id),
        lambda: set_slots(viewer, influencer.id, [(0, "09:00")]),
        lambda: create_plan(viewer, influencer_id=influencer.id, weekdays=[0], times=["09:00"], targets=[{"kind": "webhook"}]),
        lambda: set_plan_active(viewer, plan.id, False),
        lambda: create_account(viewer, name="x", kind="webhook", webhook_url="http://127.0.0.1:9/h"),
        lambda: delete_account(viewer, webhook_account.id),
    ]
    for i, call in enumerate(tries):
        with pytest.raises(PermissionDenied):
            call()
            pytest.fail(f"call {i} was allowed")
    # A drag by a viewer on the calendar is refused on the server too.
    drag = handle_callback(viewer, {"callback": "eventChange", "eventChange": {"event": {"id": post.id, "start": "2031-05-08T18:00:00Z"}}})
    assert drag.kind == "refused"
    after = service.get_post(ctx, post.id)
    assert (after.caption, after.scheduled_at, after.status) == (post.caption, post.scheduled_at, "draft")


def test_the_gap_is_configurable_and_zero_turns_the_warning_off(ctx, influencer, webhook_account, studio_env):
    studio_env(post_min_gap_minutes="20")
    first = _post(ctx, influencer, webhook_account, soon(600))
    assert _post(ctx, influencer, webhook_account, first.scheduled_at + timedelta(minutes=30)).warnings == []
    close = _post(ctx, influencer, webhook_account, first.scheduled_at + timedelta(minutes=10))
    assert len(close.warnings) == 1 and "10 min" in close.warnings[0] and "gap 20 min" in close.warnings[0]
    # A drag next to another post warns as well (the move itself is saved).
    moved = service.reschedule_post(ctx, first.id, first.scheduled_at + timedelta(minutes=25))
    assert moved.warnings and moved.scheduled_at == first.scheduled_at + timedelta(minutes=25)
    studio_env(post_min_gap_minutes="0")
    assert _post(ctx, influencer, webhook_account, first.scheduled_at + timedelta(minutes=1)).warnings == []


def test_unconfirmed_is_resolved_by_a_person_either_way(ctx, influencer, webhook_account):
    from sqlalchemy import update

    from backend.calendar.models import PostTarget
    from backend.db import session_scope

    post = _post(ctx, influencer, webhook_account, soon(120), caption="Hi")
    with pytest.raises(Conflict, match="not unconfirmed"):
        service.resolve_unconfirmed(ctx, post.targets[0].id, published=True)
    with session_scope() as s:
        s.execute(update(PostTarget).where(PostTarget.post_id == post.id).values(status="unconfirmed"))
    assert service.get_post(ctx, post.id).status == "unconfirmed"
    # Unconfirmed posts are locked: they may be live already.
    with pytest.raises(Conflict):
        service.reschedule_post(ctx, post.id, soon(600))
    not_live = service.resolve_unconfirmed(ctx, post.targets[0].id, published=False)
    assert not_live.targets[0].status == "failed" and "checked by a person" in not_live.targets[0].reason
    again = service.retry_target(ctx, post.targets[0].id)  # an admin sends it again on purpose
    assert again.targets[0].status == "scheduled"


def test_caption_override_per_target_survives_edits(ctx, influencer, webhook_account):
    post = service.create_post(ctx, influencer_id=influencer.id, scheduled_at=soon(120), caption="Shared",
                               targets=[{"kind": "webhook", "account_id": webhook_account.id},
                                        {"kind": "tiktok", "account_id": webhook_account.id, "caption": "Short #fyp"}])
    overrides = {t.kind: t.caption_override for t in post.targets}
    assert overrides == {"tiktok": "Short #fyp", "webhook": None}
    edited = service.update_post(ctx, post.id, caption="Shared, edited")
    assert {t.kind: t.caption_override for t in edited.targets} == overrides and edited.caption == "Shared, edited"
    moved = service.reschedule_post(ctx, post.id, soon(300))
    assert {t.kind: t.caption_override for t in moved.targets} == overrides
