"""``python -m backend posts list|import|export|publish-now`` and ``scheduler`` through real subprocesses."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import timedelta

from icalendar import Calendar

from backend.calendar import service
from backend.db import utcnow
from tests.calendar.conftest import soon
from tests.conftest import ROOT, studio_subprocess_env


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "backend", *args], cwd=ROOT, env=studio_subprocess_env(),
                          capture_output=True, text=True, timeout=120)


def test_posts_list_export_import_and_ics(ctx, influencer, webhook_account, tmp_path):
    posts = [service.create_post(ctx, influencer_id=influencer.id, scheduled_at=soon(600 * (i + 1)), title=f"P{i}",
                                 caption=f"=cmd|' /C calc'!A{i}", targets=[{"kind": "webhook", "account_id": webhook_account.id}])
             for i in range(2)]
    r = cli("posts", "list", "--tenant", "acme", "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert listed["total"] == 2 and [p["id"] for p in listed["posts"]] == [p.id for p in posts]
    assert listed["posts"][0]["targets"][0]["status"] == "draft"
    assert json.loads(cli("posts", "list", "--tenant", "acme", "--status", "published", "--json").stdout)["total"] == 0

    out = tmp_path / "posts.csv"
    r = cli("posts", "export", "--tenant", "acme", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"format": "csv", "out": str(out), "bytes": out.stat().st_size, "posts": 2}
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    assert [r["caption"][:2] for r in rows] == ["'=", "'="]  # a spreadsheet shows the text, runs nothing
    r = cli("posts", "import", "--tenant", "acme", str(out), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert (report["created"], report["updated"], report["errors"]) == (0, 2, [])
    assert service.get_post(ctx, posts[0].id).caption == posts[0].caption  # the quote is taken off again

    bad = tmp_path / "bad.csv"
    rows[0].update(id="", scheduled_local="not a time")
    rows[1].update(id="", influencer_id="someone-else")
    with bad.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    r = cli("posts", "import", "--tenant", "acme", str(bad), "--json")
    assert r.returncode == 1
    report = json.loads(r.stdout)
    assert report["created"] == 0 and [e.split(":")[0] for e in report["errors"]] == ["row 2", "row 3"]

    r = subprocess.run([sys.executable, "-m", "backend", "posts", "export", "--tenant", "acme", "--format", "ics"],
                       cwd=ROOT, env=studio_subprocess_env(), capture_output=True, timeout=120)
    assert r.returncode == 0
    events = list(Calendar.from_ical(r.stdout).walk("VEVENT"))
    assert sorted(e.decoded("DTSTART") for e in events) == [p.scheduled_at for p in posts]

    r = cli("posts", "list", "--tenant", "nobody", "--json")
    assert r.returncode != 0 and "nobody" in (r.stdout + r.stderr)


def test_publish_now_and_scheduler_once(ctx, influencer, webhook_account, receiver):
    draft = service.create_post(ctx, influencer_id=influencer.id, scheduled_at=soon(600), caption="Not approved",
                                targets=[{"kind": "webhook", "account_id": webhook_account.id}])
    r = cli("posts", "publish-now", "--tenant", "acme", draft.id, "--json")
    assert r.returncode != 0 and "approve" in (r.stdout + r.stderr)
    assert receiver.requests == 0

    post = service.approve_post(ctx, service.create_post(
        ctx, influencer_id=influencer.id, scheduled_at=soon(600), caption="Right now",
        targets=[{"kind": "webhook", "account_id": webhook_account.id}]).id)
    r = cli("posts", "publish-now", "--tenant", "acme", post.id, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["id"] == post.id and out["targets"][0]["status"] == "published"
    assert receiver.deliveries[post.targets[0].id] == 1 and receiver.bodies[0]["caption"] == "Right now"

    due = service.create_post(ctx, influencer_id=influencer.id, scheduled_at=utcnow() - timedelta(minutes=5), allow_past=True,
                              caption="Due", targets=[{"kind": "webhook", "account_id": webhook_account.id}])
    service.approve_post(ctx, due.id)
    r = cli("scheduler", "--once", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["claimed"] == 1
    assert service.get_post(ctx, due.id).targets[0].status in ("publishing", "published")
