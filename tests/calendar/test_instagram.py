"""The Instagram publisher against a local server speaking the Graph API's publishing calls."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import text

from backend.calendar import service
from backend.calendar.scheduler import claim
from backend.db import get_engine, utcnow
from backend.jobs.errors import PermanentError, TransientError
from backend.publishing.results import RateLimited
from backend.publishing.service import publish_target
from tests.calendar.conftest import TOKEN, make_image_asset, soon
from tests.calendar.servers import graph_error

RATE_LIMITS = [(4, "Application request limit reached"), (17, "User request limit reached"),
               (32, "Page request limit reached"), (613, "Calls to this api have exceeded the rate limit."),
               (9, "Application request limit reached")]


@pytest.fixture
def ig(ctx, studio_env, influencer, graph_factory):  # type: ignore[no-untyped-def]
    """A Graph server, the studio pointed at it, and an Instagram account."""
    from backend.publishing.accounts import create_account

    def make(**kw):  # type: ignore[no-untyped-def]
        srv = graph_factory(**kw)
        studio_env(instagram_graph_url=srv.url + "/v21.0", public_media_base_url="https://media.example.test",
                   publish_poll_interval_s="0.02", publish_http_timeout_s="1")
        acc = create_account(ctx, name="mia ig", kind="instagram", influencer_id=influencer.id,
                             ig_user_id=srv.ig_user_id, access_token=TOKEN)
        return srv, acc

    return make


def _claimed(ctx, influencer, acc, *, kind="instagram_feed", media_kind="image", assets=None):  # type: ignore[no-untyped-def]
    assets = assets if assets is not None else [make_image_asset(ctx).id]
    post = service.create_post(ctx, influencer_id=influencer.id, scheduled_at=soon(1), caption="Morning coffee #mia",
                               media_kind=media_kind, media_asset_ids=assets, targets=[{"kind": kind, "account_id": acc.id}])
    service.approve_post(ctx, post.id)
    target_id = post.targets[0].id
    assert claim(target_id, now=utcnow() + timedelta(minutes=2))
    return target_id


def _target(ctx, target_id):  # type: ignore[no-untyped-def]
    from backend.calendar.models import PostTarget
    from backend.db import session_scope

    with session_scope() as s:
        t = s.get(PostTarget, target_id)
        s.expunge(t)
        return t


def test_feed_image_published_with_permalink_and_token_encrypted_at_rest(ctx, influencer, ig):
    srv, acc = ig()
    target_id = _claimed(ctx, influencer, acc)
    result = publish_target(target_id, attempt=1, max_attempts=5)
    t = _target(ctx, target_id)
    assert result["status"] == "published" and t.status == "published"
    assert t.remote_id and t.permalink == f"https://www.instagram.com/p/{t.remote_id}/"
    assert len(srv.published) == 1
    (container,) = srv.containers.values()
    assert container["image_url"].startswith("https://media.example.test/") and container["caption"] == "Morning coffee #mia"
    paths = [p for _m, p in srv.calls]
    assert paths[0].endswith("content_publishing_limit")  # quota is checked first
    assert srv.polls[t.container_id] == 2  # IN_PROGRESS then FINISHED
    steps = [a.step for a in service.attempts(ctx, target_id)]
    assert steps[:2] == ["quota", "container"] and "publish" in steps
    with get_engine().connect() as c:
        stored = c.execute(text("select secret_encrypted from calendar_accounts")).scalar()
    assert TOKEN not in stored and stored.startswith("gAAAA")  # a Fernet token


def test_carousel_uses_child_containers(ctx, influencer, ig):
    srv, acc = ig()
    assets = [make_image_asset(ctx).id, make_image_asset(ctx, w=50, h=50).id]
    target_id = _claimed(ctx, influencer, acc, media_kind="carousel", assets=assets)
    assert publish_target(target_id)["status"] == "published"
    children = [c for c in srv.containers.values() if c.get("is_carousel_item") == "true"]
    parent = [c for c in srv.containers.values() if c.get("media_type") == "CAROUSEL"]
    assert len(children) == 2 and len(parent) == 1 and len(parent[0]["children"].split(",")) == 2
    assert parent[0]["caption"] == "Morning coffee #mia" and "caption" not in children[0]


def _mp4(seconds: float, *, audio: bool = True) -> bytes:
    import tempfile
    from pathlib import Path

    from backend.doctor import ffmpeg_exe

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "v.mp4"
        cmd = [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"testsrc=size=64x112:rate=10:duration={seconds}"]
        if audio:
            cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
        cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-shortest", str(out)]
        subprocess.run(cmd, check=True, capture_output=True)
        return out.read_bytes()


def _video_asset(ctx, data):  # type: ignore[no-untyped-def]
    from backend.generation.service import create_asset_from_bytes

    return create_asset_from_bytes(ctx, kind="video", data=data, filename="v.mp4", mime="video/mp4", width=64, height=112,
                                   params={}, thumb=b"x")


def test_reel_is_a_reels_container_with_video_url(ctx, influencer, ig):
    srv, acc = ig()
    asset = _video_asset(ctx, _mp4(3.5))
    target_id = _claimed(ctx, influencer, acc, kind="instagram_reel", media_kind="video", assets=[asset.id])
    assert publish_target(target_id)["status"] == "published"
    (container,) = srv.containers.values()
    assert container["media_type"] == "REELS" and container["video_url"].endswith("/v.mp4")


def test_media_that_do_not_fit_fail_with_a_clear_reason_before_any_call(ctx, influencer, ig):
    srv, acc = ig()
    gif = make_image_asset(ctx, fmt="GIF")  # neither JPEG nor a format the studio converts
    wide = make_image_asset(ctx, w=300, h=100)
    wide_png = make_image_asset(ctx, w=300, h=100, fmt="PNG")  # converted, but never silently cropped
    short = _video_asset(ctx, _mp4(1.0))
    silent = _video_asset(ctx, _mp4(3.5, audio=False))
    cases = [("instagram_feed", "image", gif.id, "JPEG images only"), ("instagram_feed", "image", wide.id, "outside 4:5 to 1.91:1"),
             ("instagram_feed", "image", wide_png.id, "300x100 (3.00:1) is outside 4:5 to 1.91:1"),
             ("instagram_reel", "video", short.id, "outside 3 s"), ("instagram_reel", "video", silent.id, "AAC")]
    for kind, media_kind, asset_id, reason in cases:
        target_id = _claimed(ctx, influencer, acc, kind=kind, media_kind=media_kind, assets=[asset_id])
        with pytest.raises(PermanentError):
            publish_target(target_id)
        t = _target(ctx, target_id)
        assert t.status == "failed" and reason in t.reason, t.reason
    assert srv.calls == []


@pytest.mark.parametrize("code", ["ERROR", "EXPIRED"])
def test_container_error_and_expired_fail_with_the_api_message(ctx, influencer, ig, code):
    srv, acc = ig(statuses=["IN_PROGRESS", code])
    target_id = _claimed(ctx, influencer, acc)
    with pytest.raises(PermanentError):
        publish_target(target_id)
    t = _target(ctx, target_id)
    assert t.status == "failed" and code in t.reason
    assert ("media download failed" in t.reason) if code == "ERROR" else ("24 hours" in t.reason)
    assert srv.published == []


@pytest.mark.parametrize(("code", "message"), RATE_LIMITS)
def test_rate_limits_retry_later_and_give_up_on_the_last_attempt(ctx, influencer, ig, code, message):
    srv, acc = ig(errors={"media": [(400 if code != 4 else 403, graph_error(message, code, subcode=2207042 if code == 9 else None))] * 2})
    target_id = _claimed(ctx, influencer, acc)
    with pytest.raises(RateLimited) as err:
        publish_target(target_id, attempt=1, max_attempts=2)
    assert err.value.retry_after_s and err.value.retry_after_s >= 60
    assert _target(ctx, target_id).status == "publishing"  # the job retries later
    with pytest.raises(PermanentError, match="gave up"):
        publish_target(target_id, attempt=2, max_attempts=2)
    t = _target(ctx, target_id)
    assert t.status == "failed" and message in t.reason and srv.published == []


def test_rate_limit_on_media_publish_is_not_unconfirmed(ctx, influencer, ig):
    srv, acc = ig(errors={"publish": [(400, graph_error("Application request limit reached", 9, subcode=2207042))]})
    target_id = _claimed(ctx, influencer, acc)
    with pytest.raises(RateLimited):
        publish_target(target_id, attempt=1, max_attempts=3)
    # The next attempt reuses the finished container and publishes once.
    assert publish_target(target_id, attempt=2, max_attempts=3)["status"] == "published"
    assert len(srv.published) == 1 and len(srv.containers) == 1


def test_container_steps_retry_in_place_on_server_errors(ctx, influencer, ig):
    boom = (500, graph_error("An unknown error occurred", 1, type_="OAuthException"))
    srv, acc = ig(errors={"media": [boom], "status": [(503, {"error": {"message": "Service unavailable", "code": 2}})]})
    target_id = _claimed(ctx, influencer, acc)
    assert publish_target(target_id)["status"] == "published"
    assert len(srv.published) == 1
    outcomes = [(a.step, a.outcome) for a in service.attempts(ctx, target_id)]
    assert ("container", "error") in outcomes and ("status", "error") in outcomes


def test_timeout_on_media_publish_leaves_unconfirmed_and_never_publishes_twice(ctx, influencer, ig):
    srv, acc = ig(errors={"publish": ["timeout"]}, publish_delay_s=2.5)
    target_id = _claimed(ctx, influencer, acc)
    result = publish_target(target_id, attempt=1, max_attempts=5)
    t = _target(ctx, target_id)
    assert result["status"] == "unconfirmed" and t.status == "unconfirmed" and "check the account" in t.reason
    # A redelivered job or another attempt does nothing: the target is no longer 'publishing'.
    assert publish_target(target_id, attempt=2, max_attempts=5) == {"skipped": "target is unconfirmed"}
    publish_calls = [p for m, p in srv.calls if p.endswith("media_publish")]
    assert len(publish_calls) == 1 and len(srv.published) == 1
    # A person checks and confirms.
    done = service.resolve_unconfirmed(ctx, target_id, published=True, permalink="https://www.instagram.com/p/x/")
    assert done.targets[0].status == "published"


def test_quota_used_up_creates_no_container(ctx, influencer, ig):
    srv, acc = ig(quota_usage=50)
    target_id = _claimed(ctx, influencer, acc)
    with pytest.raises(RateLimited, match="50 of 50"):
        publish_target(target_id, attempt=1, max_attempts=3)
    assert srv.containers == {}


def test_invalid_token_fails_at_once(ctx, influencer, ig):
    srv, acc = ig()
    srv.token = "another-token"
    target_id = _claimed(ctx, influencer, acc)
    with pytest.raises(PermanentError):
        publish_target(target_id, attempt=1, max_attempts=5)
    t = _target(ctx, target_id)
    assert t.status == "failed" and "code 190" in t.reason


def test_media_without_public_url_are_refused(ctx, influencer, studio_env, graph_factory):
    from backend.publishing.accounts import create_account

    srv = graph_factory()
    studio_env(instagram_graph_url=srv.url)  # local storage, no STUDIO_PUBLIC_MEDIA_BASE_URL
    acc = create_account(ctx, name="ig", kind="instagram", ig_user_id=srv.ig_user_id, access_token=TOKEN)
    target_id = _claimed(ctx, influencer, acc)
    with pytest.raises(PermanentError, match="PUBLIC_MEDIA_BASE_URL"):
        publish_target(target_id)
    assert srv.calls == []


def test_transient_error_class_is_retryable():
    assert issubclass(RateLimited, TransientError)


def test_retry_after_a_worker_died_past_media_publish_never_posts_twice(ctx, influencer, ig):
    """The worker published, then died before recording it: the target is still 'publishing' with
    its container. The retried job sees the container PUBLISHED and stops at 'unconfirmed'."""
    from sqlalchemy import update

    from backend.calendar.models import PostTarget
    from backend.db import session_scope

    srv, acc = ig()
    target_id = _claimed(ctx, influencer, acc)
    assert publish_target(target_id)["status"] == "published"
    with session_scope() as s:  # the final write never happened
        s.execute(update(PostTarget).where(PostTarget.id == target_id).values(status="publishing", remote_id=None, permalink=None))
    result = publish_target(target_id, attempt=2, max_attempts=5)
    t = _target(ctx, target_id)
    assert result["status"] == "unconfirmed" and t.status == "unconfirmed" and "already published" in t.reason
    assert len(srv.published) == 1 and len(srv.containers) == 1
    # A person looks at the account and says it is not there after all: failed, never re-sent by itself.
    assert service.resolve_unconfirmed(ctx, target_id, published=False).targets[0].status == "failed"
    assert len(srv.published) == 1


@pytest.mark.parametrize("answer", [(500, {"error": {"message": "An unexpected error has occurred", "code": 2}}),
                                    (502, {"error": {"message": "Bad gateway", "code": 1}})])
def test_server_error_on_media_publish_is_unconfirmed_not_retried(ctx, influencer, ig, answer):
    srv, acc = ig(errors={"publish": [answer]})
    target_id = _claimed(ctx, influencer, acc)
    assert publish_target(target_id, attempt=1, max_attempts=5)["status"] == "unconfirmed"
    assert [p for _m, p in srv.calls].count(f"v21.0/{srv.ig_user_id}/media_publish") == 1
    assert _target(ctx, target_id).status == "unconfirmed"


def test_the_targets_own_caption_goes_into_the_container(ctx, influencer, ig):
    srv, acc = ig()
    post = service.create_post(ctx, influencer_id=influencer.id, scheduled_at=soon(1), caption="General words",
                               media_kind="image", media_asset_ids=[make_image_asset(ctx).id],
                               targets=[{"kind": "instagram_feed", "account_id": acc.id, "caption": "Insta words #mia"}])
    assert post.targets[0].caption_override == "Insta words #mia" and post.caption == "General words"
    service.approve_post(ctx, post.id)
    assert claim(post.targets[0].id, now=utcnow() + timedelta(minutes=2))
    assert publish_target(post.targets[0].id)["status"] == "published"
    (container,) = srv.containers.values()
    assert container["caption"] == "Insta words #mia"


def test_feed_aspect_limits_are_inclusive_and_other_video_codecs_are_refused(ctx, influencer, ig):
    import tempfile
    from pathlib import Path

    from backend.doctor import ffmpeg_exe
    from backend.publishing.media import video_problems

    srv, acc = ig()
    for w, h in ((80, 100), (191, 100)):  # exactly 4:5 and exactly 1.91:1
        target_id = _claimed(ctx, influencer, acc, assets=[make_image_asset(ctx, w=w, h=h).id])
        assert publish_target(target_id)["status"] == "published"
    tall = make_image_asset(ctx, w=79, h=100)  # just taller than 4:5
    target_id = _claimed(ctx, influencer, acc, assets=[tall.id])
    with pytest.raises(PermanentError):
        publish_target(target_id)
    assert "outside 4:5 to 1.91:1" in _target(ctx, target_id).reason
    with tempfile.TemporaryDirectory() as d:  # MPEG-4 part 2 video in an MP4, with AAC audio: not H.264
        out = Path(d) / "m.mp4"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x112:rate=10:duration=3.5",
                        "-f", "lavfi", "-i", "sine=duration=3.5", "-c:v", "mpeg4", "-c:a", "aac", "-shortest", str(out)],
                       check=True, capture_output=True)
        problems = video_problems(out.read_bytes(), label="video v")
        # 15 min 5 s of a tiny 1 fps picture with silent AAC audio: cheap to make, just too long for a reel.
        long = Path(d) / "long.mp4"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=blue:size=16x16:rate=1:duration=905",
                        "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "905", "-c:v", "libx264", "-preset", "ultrafast",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "8k", "-shortest", str(long)], check=True, capture_output=True)
        assert video_problems(long.read_bytes(), label="long") == ["long: duration 905.0 s is outside 3 s to 15 min"]
    assert problems == ["video v: video codec must be H.264, this is mpeg4"]
    assert video_problems(_mp4(3.5), label="ok") == []
    assert any("MP4" in p for p in video_problems(b"\x1aE\xdf\xa3 not an mp4", label="v"))
