"""Calendar page widgets: the calendar itself, the create and edit forms, slots, accounts, import/export."""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from backend.calendar import exports, service, slots
from backend.calendar.models import TARGET_KINDS
from backend.calendar.timezones import local_to_utc, workspace_tz
from backend.context import Ctx
from backend.influencers.models import InfluencerOut
from backend.publishing import accounts
from studio.calendar_events import (
    STATUS_COLOURS,
    VIEWS,
    CalendarAction,
    calendar_options,
    callback_signature,
    events_for,
    handle_callback,
)
from studio.feedback import attempt

CREATE_KEY = "cal_create_at"
EDIT_KEY = "cal_edit_post"
VERSION_KEY = "cal_version"
LAST_CB_KEY = "cal_last_callback"


def legend() -> None:
    st.markdown(" ".join(f"<span style='background:{c};color:white;padding:2px 8px;border-radius:8px;margin-right:4px'>"
                         f"{s.replace('_', ' ')}</span>" for s, c in STATUS_COLOURS.items()), unsafe_allow_html=True)


def apply_action(action: CalendarAction) -> None:
    """Remember what a callback asked for; a drag redraws the calendar from the database."""
    if action.kind == "create":
        st.session_state[CREATE_KEY] = action.when
        st.session_state.pop(EDIT_KEY, None)
    elif action.kind == "edit":
        st.session_state[EDIT_KEY] = action.post_id
        st.session_state.pop(CREATE_KEY, None)
    elif action.kind in ("moved", "refused"):
        st.session_state[VERSION_KEY] = st.session_state.get(VERSION_KEY, 0) + 1  # new key: re-drawn from the DB
        st.session_state["cal_flash"] = (action.kind, action.message, action.warnings or [])


def calendar_widget(ctx: Ctx, view: str, influencer_id: str | None) -> None:
    """The month/week/list calendar; its callbacks are handled on the server once each."""
    from streamlit_calendar import calendar

    flash = st.session_state.pop("cal_flash", None)
    if flash:
        kind, message, warnings = flash
        (st.error if kind == "refused" else st.success)(("Not moved: " if kind == "refused" else "Post ") + message)
        for w in warnings:
            st.warning(w)
    posts = service.list_posts(ctx, influencer_id=influencer_id)
    value = calendar(
        events=events_for(ctx, posts),
        options=calendar_options(view, editable=ctx.can_edit),
        callbacks=["dateClick", "eventClick", "eventChange"],
        key=f"calendar-{VIEWS[view]}-{st.session_state.get(VERSION_KEY, 0)}",
    )
    sig = callback_signature(value)
    if value and value.get("callback") and st.session_state.get(LAST_CB_KEY) != sig:
        st.session_state[LAST_CB_KEY] = sig
        action = handle_callback(ctx, value)
        apply_action(action)
        if action.kind != "none":
            st.rerun()
    st.caption(f"{len(posts)} post(s) · times in {workspace_tz(ctx).key}")


def _targets_input(ctx: Ctx, influencer_id: str, key: str, current: list[tuple[str, str | None]] | None = None,
                   *, captions: bool = False) -> list[dict]:
    """Target kinds with their accounts; with ``captions``, an optional caption per target."""
    accs = accounts.list_accounts(ctx, influencer_id=influencer_id)
    kinds = st.multiselect("Targets", TARGET_KINDS, default=[k for k, _ in (current or [])] or ["webhook"], key=f"{key}-kinds")
    out = []
    for kind in kinds:
        fits = [a for a in accs if (a.kind == "instagram") == kind.startswith("instagram")]
        labels = {a.id: f"{a.name} ({a.kind})" for a in fits}
        if not fits:
            st.caption(f"{kind}: no {'Instagram' if kind.startswith('instagram') else 'webhook'} account yet (add one below)")
            out.append({"kind": kind, "account_id": None})
            continue
        chosen = st.selectbox(f"Account for {kind}", list(labels), format_func=labels.get, key=f"{key}-acc-{kind}")
        out.append({"kind": kind, "account_id": chosen})
    if captions and kinds:
        with st.expander("Caption per target (optional)"):
            for t in out:
                text = st.text_area(f"Caption for {t['kind']} (empty: the post's caption)", key=f"{key}-cap-{t['kind']}")
                if text.strip():
                    t["caption"] = text
    return out


def _media_input(ctx: Ctx, influencer_id: str, key: str) -> tuple[str, list[str]]:
    from backend.generation.service import list_assets

    assets = list_assets(ctx, influencer_id=influencer_id, limit=60)
    labels = {a.id: f"{a.kind} · {a.prompt[:40] or a.filename} · {a.created_at:%m-%d %H:%M}" for a in assets}
    chosen = st.multiselect("Media (generated assets)", list(labels), format_func=labels.get, key=f"{key}-media")
    kinds = {a.id: a.kind for a in assets}
    if not chosen:
        return "none", []
    if len(chosen) > 1:
        return "carousel", chosen
    return kinds[chosen[0]], chosen


def create_form(ctx: Ctx, influencers: list[InfluencerOut], when: datetime | None) -> None:
    """The 'new post' form, prefilled with the clicked day (or the next free slot)."""
    names = {i.id: i.name for i in influencers}
    st.subheader("New post")
    influencer_id = st.selectbox("Influencer", list(names), format_func=names.get, key="new-inf")
    tz = workspace_tz(ctx)
    if st.button("Use next free slot", key="new-slot"):
        free = slots.next_free_slot(ctx, influencer_id)
        if free is None:
            st.info("No posting slots set for this influencer (see Posting slots).")
        else:
            st.session_state[CREATE_KEY] = free.astimezone(tz).replace(tzinfo=None)
            st.rerun()
    default = when or (datetime.now(tz) + timedelta(hours=1)).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    c1, c2 = st.columns(2)
    day = c1.date_input("Day", value=default.date(), key=f"new-day-{default:%Y%m%d%H%M}")
    at = c2.time_input("Time", value=default.time(), step=timedelta(minutes=15), key=f"new-time-{default:%Y%m%d%H%M}")
    title = st.text_input("Title", key="new-title")
    caption = st.text_area("Caption", key="new-caption")
    media_kind, media = _media_input(ctx, influencer_id, "new")
    targets = _targets_input(ctx, influencer_id, "new", captions=True)
    submit = st.checkbox("Submit for approval", value=not ctx.is_admin, key="new-submit")
    if st.button("Create post", type="primary", key="new-create"):
        def create():  # type: ignore[no-untyped-def]
            post = service.create_post(ctx, influencer_id=influencer_id, scheduled_at=datetime.combine(day, at),
                                       caption=caption, title=title, media_kind=media_kind, media_asset_ids=media,
                                       targets=targets, submit=submit and not ctx.is_admin)
            return post

        post = attempt(create, success="Post created")
        if post is not None:
            for w in post.warnings:
                st.warning(w)
            st.session_state.pop(CREATE_KEY, None)
            st.session_state[EDIT_KEY] = post.id
            st.session_state[VERSION_KEY] = st.session_state.get(VERSION_KEY, 0) + 1
            st.rerun()


def edit_panel(ctx: Ctx, post_id: str) -> None:
    """A post's details, its targets' statuses, and the actions the caller's role allows."""
    post = attempt(lambda: service.get_post(ctx, post_id))
    if post is None:
        st.session_state.pop(EDIT_KEY, None)
        return
    st.subheader(post.title or "Post")
    st.markdown(f"**{post.local_time}** ({post.timezone}) · status "
                f"<span style='color:{STATUS_COLOURS.get(post.status)}'>**{post.status.replace('_', ' ')}**</span>",
                unsafe_allow_html=True)
    for w in post.warnings:
        st.warning(w)
    for t in post.targets:
        line = f"- `{t.kind}` — **{t.status}**"
        if t.caption_override is not None:
            line += f" · own caption: “{t.caption_override[:60]}”"
        if t.permalink:
            line += f" · [{t.permalink}]({t.permalink})"
        if t.reason:
            line += f" · {t.reason}"
        st.markdown(line)
        if t.status == "unconfirmed" and ctx.can_edit:
            c1, c2 = st.columns(2)
            if c1.button("It is live", key=f"live-{t.id}"):
                attempt(lambda t=t: service.resolve_unconfirmed(ctx, t.id, published=True), success="Marked published")
                st.rerun()
            if c2.button("It is not live", key=f"notlive-{t.id}"):
                attempt(lambda t=t: service.resolve_unconfirmed(ctx, t.id, published=False), success="Marked failed")
                st.rerun()
    if post.media_asset_ids:
        from backend.generation.service import asset_bytes, get_asset

        cols = st.columns(min(4, len(post.media_asset_ids)))
        for col, asset_id in zip(cols, post.media_asset_ids, strict=False):
            asset = attempt(lambda a=asset_id: get_asset(ctx, a))
            if asset is not None and asset.kind == "image":
                col.image(asset_bytes(ctx, asset_id, thumbnail=True))
            elif asset is not None:
                col.video(asset_bytes(ctx, asset_id))
    if not ctx.can_edit:
        st.write(post.caption)
        return
    caption = st.text_area("Caption", value=post.caption, key=f"edit-caption-{post.id}")
    tz = workspace_tz(ctx)
    local = post.scheduled_at.astimezone(tz)
    c1, c2 = st.columns(2)
    day = c1.date_input("Day", value=local.date(), key=f"edit-day-{post.id}")
    at = c2.time_input("Time", value=local.time().replace(second=0, microsecond=0), step=timedelta(minutes=15), key=f"edit-time-{post.id}")
    actions = [("Submit", service.submit_post, "Submitted for approval")]
    if ctx.is_admin:
        actions += [("Approve", service.approve_post, "Approved"), ("Reject", service.reject_post, "Sent back to draft"),
                    ("Publish now", service.publish_now, "Publishing shortly")]
    # Three buttons a row: the edit panel is a narrow column, six in one row cut their labels.
    cells = [c for _ in range((len(actions) + 4) // 3) for c in st.columns(3)]
    if cells[0].button("Save", key=f"save-{post.id}", width="stretch"):
        when = datetime.combine(day, at)
        changes = {"caption": caption} if caption != post.caption else {}
        if local_to_utc(when, tz) != post.scheduled_at:
            changes["scheduled_at"] = when
        if attempt(lambda: service.update_post(ctx, post.id, **changes), success="Saved") is not None:
            st.session_state[VERSION_KEY] = st.session_state.get(VERSION_KEY, 0) + 1
            st.rerun()
    for col, (label, fn, msg) in zip(cells[1:], actions, strict=False):
        if col.button(label, key=f"{label}-{post.id}", width="stretch"):
            if attempt(lambda fn=fn: fn(ctx, post.id), success=msg) is not None:
                st.session_state[VERSION_KEY] = st.session_state.get(VERSION_KEY, 0) + 1
                st.rerun()
    if cells[len(actions) + 1].button("Delete", key=f"delete-{post.id}", width="stretch"):
        attempt(lambda: service.delete_post(ctx, post.id), success="Deleted")
        st.session_state.pop(EDIT_KEY, None)  # closed whether or not the delete went through
        st.session_state[VERSION_KEY] = st.session_state.get(VERSION_KEY, 0) + 1
        st.rerun()
    with st.expander("Publish log"):
        for t in post.targets:
            for a in service.attempts(ctx, t.id):
                st.caption(f"{a.at:%m-%d %H:%M:%S} {t.kind} {a.step}: {a.outcome} {a.detail}")


def slots_editor(ctx: Ctx, influencer_id: str) -> None:
    """Posting slots of one influencer (weekdays x times) and the next free one."""
    current = slots.list_slots(ctx, influencer_id)
    days = st.multiselect("Days", list(range(7)), default=sorted({s.weekday for s in current}) or [0, 1, 2, 3, 4],
                          format_func=lambda d: slots.WEEKDAYS[d], key=f"slot-days-{influencer_id}")
    times = st.text_input("Times (HH:MM, comma separated)", value=", ".join(sorted({s.time for s in current})) or "09:00, 18:00",
                          key=f"slot-times-{influencer_id}")
    if ctx.can_edit and st.button("Save slots", key=f"slot-save-{influencer_id}"):
        pairs = [(d, t.strip()) for d in days for t in times.split(",") if t.strip()]
        attempt(lambda: slots.set_slots(ctx, influencer_id, pairs), success="Slots saved")
    free = slots.next_free_slot(ctx, influencer_id)
    tz = workspace_tz(ctx)
    st.caption(f"Next free slot: {free.astimezone(tz):%a %Y-%m-%d %H:%M}" if free else "No free slot in the next 60 days")


def plans_editor(ctx: Ctx, influencer_id: str) -> None:
    """Recurring plans of one influencer: list, pause/resume, and a form for a new one."""
    from backend.calendar import plans
    from backend.generation.images import SIZE_PRESETS

    for plan in plans.list_plans(ctx, influencer_id=influencer_id):
        days = ", ".join(slots.WEEKDAYS[d] for d in plan.weekdays)
        topics = ", ".join(plan.topics) or "LLM suggests"
        c1, c2 = st.columns([4, 1])
        c1.caption(f"**{plan.name or 'Plan'}** · {days} at {', '.join(plan.times)} · topics: {topics} · "
                   f"{plan.lookahead_days} day(s) ahead · {'active' if plan.active else 'paused'}")
        if ctx.can_edit and c2.button("Pause" if plan.active else "Resume", key=f"plan-toggle-{plan.id}"):
            attempt(lambda plan=plan: plans.set_plan_active(ctx, plan.id, not plan.active), success="Plan updated")
            st.rerun()
    if not ctx.can_edit:
        return
    key = f"plan-{influencer_id}"
    name = st.text_input("Plan name", key=f"{key}-name")
    days = st.multiselect("Days", list(range(7)), default=[0, 2, 4], format_func=lambda d: slots.WEEKDAYS[d], key=f"{key}-days")
    times = st.text_input("Times (HH:MM, comma separated)", value="09:00", key=f"{key}-times")
    topics = st.text_area("Topics, one per line (empty: the LLM suggests)", key=f"{key}-topics")
    size = st.selectbox("Image size", list(SIZE_PRESETS), key=f"{key}-size")
    lookahead = st.number_input("Generate days ahead", min_value=1, max_value=30, value=3, key=f"{key}-ahead")
    targets = _targets_input(ctx, influencer_id, key)
    if st.button("Create plan", key=f"{key}-create"):
        width, height = SIZE_PRESETS[size]
        created = attempt(lambda: plans.create_plan(
            ctx, influencer_id=influencer_id, name=name, weekdays=days, targets=targets, lookahead_days=int(lookahead),
            times=[t.strip() for t in times.split(",") if t.strip()], topics=topics.splitlines(),
            image_options={"width": width, "height": height}), success="Plan created: posts appear as they are generated")
        if created is not None:
            st.rerun()  # list it above


def accounts_editor(ctx: Ctx, influencers: list[InfluencerOut]) -> None:
    """Publishing accounts (admins): tokens and secrets are stored encrypted."""
    for a in accounts.list_accounts(ctx):
        st.caption(f"{a.name} · {a.kind} · {a.ig_user_id or a.webhook_url}")
    if not ctx.is_admin:
        return
    with st.form("new-account"):
        kind = st.selectbox("Kind", ["webhook", "instagram"])
        name = st.text_input("Name")
        names = {"": "all influencers", **{i.id: i.name for i in influencers}}
        influencer_id = st.selectbox("Influencer", list(names), format_func=names.get)
        url = st.text_input("Webhook URL (n8n)")
        ig_user = st.text_input("Instagram user id")
        secret = st.text_input("Access token / webhook secret", type="password")
        if st.form_submit_button("Add account"):
            attempt(lambda: accounts.create_account(
                ctx, name=name, kind=kind, influencer_id=influencer_id or None, ig_user_id=ig_user,
                access_token=secret if kind == "instagram" else "", webhook_url=url,
                webhook_secret=secret if kind == "webhook" else ""), success="Account added")


def import_export(ctx: Ctx) -> None:
    c1, c2 = st.columns(2)
    # Built on click, not on every rerun of the page (each export reads every post of the workspace).
    c1.download_button("Download CSV", lambda: exports.export_csv(ctx), file_name="posts.csv", mime="text/csv")
    c2.download_button("Download .ics", lambda: exports.export_ics(ctx), file_name="calendar.ics", mime="text/calendar")
    if ctx.can_edit:
        upload = st.file_uploader("Import CSV", type=["csv"])
        if upload is not None and st.button("Import"):
            report = attempt(lambda: exports.import_csv(ctx, upload.getvalue()))
            if report is not None:
                st.success(f"Created {len(report.created)}, updated {len(report.updated)}")
                for e in report.errors:
                    st.error(e)
                st.session_state[VERSION_KEY] = st.session_state.get(VERSION_KEY, 0) + 1
