"""AppTest of the Calendar page and the server-side handling of the calendar widget's callbacks."""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.accounts.service import update_tenant
from backend.calendar import service
from backend.db import utcnow
from studio.calendar_events import events_for, handle_callback


def _setup(ctx):  # type: ignore[no-untyped-def]
    from backend.influencers.service import create_influencer
    from backend.publishing.accounts import create_account

    inf = create_influencer(ctx, name="Mia")
    acc = create_account(ctx, name="n8n", kind="webhook", webhook_url="http://127.0.0.1:9/hook", webhook_secret="s")
    return inf, acc


def test_calendar_page_renders_posts_and_the_create_form(page_app, ctx):
    update_tenant(ctx, timezone="Europe/Rome")
    inf, acc = _setup(ctx)
    post = service.create_post(ctx, influencer_id=inf.id, scheduled_at=utcnow() + timedelta(days=1), title="Launch",
                               caption="Hi", targets=[{"kind": "webhook", "account_id": acc.id}])
    at = page_app("pages/calendar.py", ctx)
    assert not at.exception
    assert at.title[0].value == "Calendar"
    assert any("1 post(s)" in c.value and "Europe/Rome" in c.value for c in at.caption)
    # A click on a day (as the widget reports it) opens the create form prefilled with that day.
    at.session_state["cal_create_at"] = datetime(2031, 5, 6, 9, 0)
    at.run()
    assert not at.exception
    assert any(h.value == "New post" for h in at.subheader)
    assert at.date_input[0].value.isoformat() == "2031-05-06"
    at.text_input(key="new-title").input("From the calendar")
    at.text_area(key="new-caption").input("Hello from a click")
    next(b for b in at.button if b.label == "Create post").click().run()
    assert not at.exception, at.exception
    created = [p for p in service.list_posts(ctx) if p.title == "From the calendar"]
    assert len(created) == 1 and created[0].local_time == "2031-05-06 09:00"
    # The page now shows the new post's edit panel; an admin can approve it there.
    assert any(h.value == "From the calendar" for h in at.subheader)
    next(b for b in at.button if b.label == "Approve").click().run()
    assert service.get_post(ctx, created[0].id).status == "scheduled"
    assert post.id != created[0].id


def test_callbacks_create_edit_and_drag_validated_on_the_server(ctx):
    update_tenant(ctx, timezone="Europe/Rome")
    inf, acc = _setup(ctx)
    post = service.create_post(ctx, influencer_id=inf.id, scheduled_at="2031-05-06 09:00", title="P",
                               targets=[{"kind": "webhook", "account_id": acc.id}])
    (event,) = events_for(ctx, [service.get_post(ctx, post.id)])
    assert event["start"] == "2031-05-06T09:00:00" and event["backgroundColor"] == "#9e9e9e" and event["editable"]

    click = handle_callback(ctx, {"callback": "dateClick", "dateClick": {"date": "2031-05-07T00:00:00.000Z", "allDay": True}})
    assert click.kind == "create" and click.when == datetime(2031, 5, 7, 9, 0)
    edit = handle_callback(ctx, {"callback": "eventClick", "eventClick": {"event": {"id": post.id}}})
    assert edit.kind == "edit" and edit.post_id == post.id

    # Drag to the 8th at 18:00 Rome time: saved as the right UTC instant.
    moved = handle_callback(ctx, {"callback": "eventChange", "eventChange": {"event": {"id": post.id, "start": "2031-05-08T18:00:00Z"}}})
    assert moved.kind == "moved"
    assert service.get_post(ctx, post.id).local_time == "2031-05-08 18:00"
    # Drag into the past: refused, the database keeps the time, so the redraw puts it back.
    past = handle_callback(ctx, {"callback": "eventChange", "eventChange": {"event": {"id": post.id, "start": "2020-01-01T09:00:00Z"}}})
    assert past.kind == "refused" and "past" in past.message
    assert service.get_post(ctx, post.id).local_time == "2031-05-08 18:00"


def test_viewer_sees_the_calendar_but_no_editing(page_app, ctx):
    from backend.accounts.service import create_user
    from backend.context import Ctx

    _setup(ctx)
    u = create_user(ctx, username="vera", password="password123", role="viewer")
    viewer = Ctx(tenant_id=ctx.tenant_id, user_id=u.id, role="viewer", username="vera")
    at = page_app("pages/calendar.py", viewer)
    assert not at.exception
    assert not any(b.label == "New post" for b in at.button)


def test_a_recurring_plan_is_created_and_paused_from_the_page(page_app, ctx):
    from backend.calendar.plans import list_plans

    inf, acc = _setup(ctx)
    at = page_app("pages/calendar.py", ctx)
    at.selectbox(key="cal-influencer").select(inf.id).run()
    assert not at.exception
    key = f"plan-{inf.id}"
    at.text_input(key=f"{key}-name").input("Weekday coffee")
    at.text_area(key=f"{key}-topics").input("espresso\nlatte art")
    at.selectbox(key=f"{key}-size").select("square 1:1 (1080×1080)")
    next(b for b in at.button if b.label == "Create plan").click().run()
    assert not at.exception, at.exception
    (plan,) = list_plans(ctx, influencer_id=inf.id)
    assert plan.name == "Weekday coffee" and plan.topics == ["espresso", "latte art"] and plan.weekdays == [0, 2, 4]
    assert plan.image_options == {"width": 1080, "height": 1080} and plan.targets[0]["account_id"] == acc.id
    next(b for b in at.button if b.label == "Pause").click().run()
    assert not at.exception and list_plans(ctx, influencer_id=inf.id)[0].active is False


def test_events_are_coloured_by_status_and_sent_posts_cannot_be_dragged(ctx):
    from sqlalchemy import update

    from backend.calendar.models import TARGET_STATUSES, PostTarget
    from backend.db import session_scope
    from studio.calendar_events import STATUS_COLOURS, VIEWS, calendar_options

    inf, acc = _setup(ctx)
    ids = {}
    for i, status in enumerate(TARGET_STATUSES):
        p = service.create_post(ctx, influencer_id=inf.id, scheduled_at=utcnow() + timedelta(days=i + 1),
                                targets=[{"kind": "webhook", "account_id": acc.id}])
        with session_scope() as s:
            s.execute(update(PostTarget).where(PostTarget.post_id == p.id).values(status=status))
        ids[p.id] = status
    events = {e["id"]: e for e in events_for(ctx, service.list_posts(ctx))}
    assert len(set(STATUS_COLOURS.values())) == len(TARGET_STATUSES)  # one colour each
    for post_id, status in ids.items():
        assert events[post_id]["backgroundColor"] == STATUS_COLOURS[status]
        assert events[post_id]["editable"] == (status not in ("publishing", "published", "unconfirmed"))
    assert {calendar_options(v)["initialView"] for v in VIEWS} == {"dayGridMonth", "timeGridWeek", "listMonth"}
    assert calendar_options("Month", editable=False)["editable"] is False
    # The widget is only a view: a drag of a published post that reaches the server anyway is refused.
    published = next(i for i, s in ids.items() if s == "published")
    before = service.get_post(ctx, published).scheduled_at
    drag = handle_callback(ctx, {"callback": "eventChange", "eventChange": {"event": {"id": published, "start": "2031-05-08T18:00:00Z"}}})
    assert drag.kind == "refused" and "published" in drag.message
    assert service.get_post(ctx, published).scheduled_at == before


def test_a_drag_is_saved_on_the_server_and_the_calendar_redrawn_from_the_database(page_app, ctx, monkeypatch):
    """The page end to end around the browser widget: the component's drag callback (what
    streamlit-calendar returns) is validated and saved, then the widget is drawn again under a
    new key with the events read back from the database; a refused drag shows its reason."""
    import streamlit_calendar

    update_tenant(ctx, timezone="Europe/Rome")
    inf, acc = _setup(ctx)
    post = service.create_post(ctx, influencer_id=inf.id, scheduled_at="2031-05-06 09:00", title="P",
                               targets=[{"kind": "webhook", "account_id": acc.id}])
    drawn: list[tuple[str, list[dict]]] = []
    answers = [{"callback": "eventChange", "eventChange": {"event": {"id": post.id, "start": "2031-05-08T18:00:00Z"}}}]

    def widget(*, events, options, callbacks, key):  # type: ignore[no-untyped-def]
        drawn.append((key, events))
        return answers.pop(0) if answers else None  # the browser reports each interaction once

    monkeypatch.setattr(streamlit_calendar, "calendar", widget)
    at = page_app("pages/calendar.py", ctx)
    assert not at.exception, at.exception
    assert service.get_post(ctx, post.id).local_time == "2031-05-08 18:00"
    first_key, last_key = drawn[0][0], drawn[-1][0]
    assert first_key != last_key  # a fresh widget, not the browser's dragged copy
    assert [e["start"] for e in drawn[-1][1]] == ["2031-05-08T18:00:00"]
    assert any("moved to 2031-05-08 18:00" in m.value for m in at.success)
    answers.append({"callback": "eventChange", "eventChange": {"event": {"id": post.id, "start": "2020-01-01T09:00:00Z"}}})
    at.run()
    assert any("Not moved" in e.value and "past" in e.value for e in at.error)
    assert [e["start"] for e in drawn[-1][1]] == ["2031-05-08T18:00:00"] and drawn[-1][0] != last_key


def test_create_form_sets_a_caption_per_target_and_unconfirmed_is_resolved_from_the_panel(page_app, ctx):
    from sqlalchemy import update

    from backend.calendar.models import PostTarget
    from backend.db import session_scope

    inf, acc = _setup(ctx)
    at = page_app("pages/calendar.py", ctx)
    at.session_state["cal_create_at"] = datetime(2031, 5, 6, 9, 0)
    at.run()
    at.multiselect(key="new-kinds").set_value(["webhook", "tiktok"]).run()
    at.text_area(key="new-caption").input("Shared caption")
    at.text_area(key="new-cap-tiktok").input("TikTok only #fyp")
    next(b for b in at.button if b.label == "Create post").click().run()
    assert not at.exception, at.exception
    (post,) = service.list_posts(ctx)
    assert post.caption == "Shared caption"
    assert {t.kind: t.caption_override for t in post.targets} == {"tiktok": "TikTok only #fyp", "webhook": None}
    assert any("own caption" in m.value for m in at.markdown)
    # A target whose outcome is unknown: a person checks and says.
    with session_scope() as s:
        s.execute(update(PostTarget).where(PostTarget.post_id == post.id, PostTarget.kind == "tiktok").values(status="unconfirmed"))
    at.run()
    next(b for b in at.button if b.label == "It is live").click().run()
    assert not at.exception
    assert {t.kind: t.status for t in service.get_post(ctx, post.id).targets}["tiktok"] == "published"
