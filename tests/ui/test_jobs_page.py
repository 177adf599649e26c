"""pages/jobs.py and pages/dashboard.py: table, filters, pagination, detail, cancel/retry, viewers."""

from __future__ import annotations

from backend.jobs import lifecycle
from backend.jobs import service as jobs
from tests.conftest import make_tenant
from tests.ui.conftest import texts


def table(at, index: int = 0):  # type: ignore[no-untyped-def]
    return at.dataframe[index].value


def seed(ctx):  # type: ignore[no-untyped-def]
    """Three sleep jobs and two noop jobs, queued (no workers run); one sleep cancelled."""
    sleeps = [jobs.submit(ctx, "system.sleep", {"steps": 5, "i": i}) for i in range(3)]
    noops = [jobs.submit(ctx, "system.noop", {}) for _ in range(2)]
    jobs.cancel(ctx, sleeps[0].id)
    return sleeps, noops


def test_table_shows_the_workspace_jobs_only(page_app, ctx, other_ctx):
    sleeps, noops = seed(ctx)
    foreign = jobs.submit(other_ctx, "system.sleep", {})
    at = page_app("pages/jobs.py", ctx)
    assert not at.exception
    ids = set(table(at)["id"])
    assert ids == {j.id for j in sleeps + noops}
    assert foreign.id not in ids
    assert "Page **1** of **1** · 5 jobs" in [m.value for m in at.markdown]


def test_filters_by_status_and_type(page_app, ctx):
    sleeps, noops = seed(ctx)
    at = page_app("pages/jobs.py", ctx)
    at.multiselect(key="jobs_status").set_value(["cancelled"]).run()
    assert list(table(at)["id"]) == [sleeps[0].id]
    at.multiselect(key="jobs_status").set_value([]).run()
    assert at.selectbox(key="jobs_type").options == ["All types", "system.noop", "system.sleep"]
    at.selectbox(key="jobs_type").set_value("system.noop").run()
    assert set(table(at)["id"]) == {j.id for j in noops}
    at.multiselect(key="jobs_status").set_value(["cancelled"]).run()
    assert "No jobs match." in texts(at.info)


def test_pagination(page_app, ctx):
    made = [jobs.submit(ctx, "system.noop", {"n": i}) for i in range(12)]
    at = page_app("pages/jobs.py", ctx)
    at.selectbox(key="jobs_per_page").set_value(10).run()
    assert len(table(at)) == 10
    assert at.button(key="jobs_prev").disabled
    at.button(key="jobs_next").click().run()
    assert "Page **2** of **2** · 12 jobs" in [m.value for m in at.markdown]
    page2 = set(table(at)["id"])
    assert len(page2) == 2 and page2 < {j.id for j in made}
    assert at.button(key="jobs_next").disabled
    at.multiselect(key="jobs_status").set_value(["queued"]).run()  # a filter change goes back to page 1
    assert "Page **1** of **2** · 12 jobs" in [m.value for m in at.markdown]


def test_detail_and_cancel_button(page_app, ctx):
    sleeps, _ = seed(ctx)
    job = sleeps[1]
    at = page_app("pages/jobs.py", ctx)
    at.selectbox(key="jobs_open").set_value(job.id).run()
    assert not at.exception
    assert "system.sleep" in [s.value for s in at.subheader]
    assert at.query_params["job"] in (job.id, [job.id])
    assert not at.button(key=f"detail_cancel_{job.id}").disabled
    at.button(key=f"detail_cancel_{job.id}").click().run()
    assert jobs.get(ctx, job.id).status == "cancelled"
    assert not at.exception
    at.button(key=f"detail_retry_{job.id}").click().run()  # cancelled jobs can be retried
    assert jobs.get(ctx, job.id).status == "queued"


def test_running_job_shows_progress_metrics_and_stop(page_app, ctx):
    job = jobs.submit(ctx, "system.sleep", {"steps": 4})
    lifecycle.claim(job.id, worker="test-worker")
    lifecycle.write_progress(job.id, progress=0.5, stage="sleeping", message="", metrics={"step": 2, "loss": 0.123}, new_stage=True)
    at = page_app("pages/jobs.py", ctx)
    assert list(table(at)["progress"]) == [0.5]
    at.selectbox(key="jobs_open").set_value(job.id).run()
    assert any(p.value == 50 or p.value == 0.5 for p in at.get("progress"))
    assert {m.label: m.value for m in at.metric} == {"step": "2", "loss": "0.123"}
    at.button(key=f"detail_stop_{job.id}").click().run()
    assert jobs.get(ctx, job.id).stop_requested


def test_failed_job_traceback_for_admins_only(page_app, ctx):
    job = jobs.submit(ctx, "system.sleep", {})
    lifecycle.claim(job.id, worker="test-worker")
    lifecycle.fail(job.id, "it broke", detail="Traceback (most recent call last):\n  boom")
    at = page_app("pages/jobs.py", ctx)
    at.selectbox(key="jobs_open").set_value(job.id).run()
    assert "it broke" in texts(at.error)
    assert [e.label for e in at.expander] == ["Traceback: failed: it broke"]
    assert "boom" in at.expander[0].code[0].value
    assert not at.button(key=f"detail_retry_{job.id}").disabled

    viewer = make_tenant("acme", role="viewer")
    at = page_app("pages/jobs.py", viewer)
    at.selectbox(key="jobs_open").set_value(job.id).run()
    assert "it broke" in texts(at.error)
    assert not at.expander  # no traceback for viewers
    assert at.button(key=f"detail_retry_{job.id}").disabled


def test_viewer_cannot_cancel(page_app, ctx):
    sleeps, _ = seed(ctx)
    viewer = make_tenant("acme", role="viewer")
    at = page_app("pages/jobs.py", viewer)
    at.selectbox(key="jobs_open").set_value(sleeps[1].id).run()
    assert at.button(key=f"detail_cancel_{sleeps[1].id}").disabled
    assert jobs.get(ctx, sleeps[1].id).status == "queued"


def test_job_of_another_workspace_in_the_url_is_not_found(page_app, ctx, other_ctx):
    foreign = jobs.submit(other_ctx, "system.sleep", {})
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "pages/jobs.py"), default_timeout=60)
    at.session_state["studio_ctx"] = ctx
    at.query_params["job"] = foreign.id
    at.run()
    assert not at.exception
    assert any("not found" in e for e in texts(at.error))
    assert "system.sleep" not in [s.value for s in at.subheader]


def test_dashboard_counts_running_and_recent(page_app, ctx):
    sleeps, noops = seed(ctx)
    lifecycle.claim(sleeps[1].id, worker="test-worker")
    lifecycle.write_progress(sleeps[1].id, progress=0.25, stage="sleeping", message="", metrics=None, new_stage=False)
    at = page_app("pages/dashboard.py", ctx)
    assert not at.exception
    counts = {m.label: m.value for m in at.metric}
    assert counts == {"Queued": "3", "Running": "1", "Succeeded": "0", "Failed": "0", "Cancelled": "1"}
    assert len(at.get("progress")) == 1  # the running job's bar
    assert set(table(at)["id"]) == {j.id for j in sleeps + noops}


def test_dashboard_isolates_a_broken_card(page_app, ctx, monkeypatch):
    from studio import dashboard

    monkeypatch.setattr(dashboard, "CARDS", ["studio.dashboard:job_counts_card", "studio.nowhere:card"])
    at = page_app("pages/dashboard.py", ctx)
    assert not at.exception
    assert any("studio.nowhere:card" in e for e in texts(at.error))
    assert len(at.metric) == 5
