"""Style documents -> profile job -> persona and profile in every caption request; the CLI commands."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from reportlab.lib.pagesizes import A6
from reportlab.pdfgen import canvas

from backend.errors import InvalidInput
from backend.generation.content import fit_to_platform, submit_caption
from backend.influencers import service as influencers
from backend.jobs import service as jobs
from tests.conftest import ROOT, studio_subprocess_env
from tests.generation.servers import api_error, chat_answer

PROFILE = "Writes in short bursts, lots of sunshine emojis, always ends with a question to followers."


def pdf(text: str | None) -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A6)
    if text:
        c.drawString(20, 300, text)
    else:
        c.rect(20, 20, 100, 100, fill=1)  # a "scan": drawing only, no text layer
    c.showPage()
    c.save()
    return out.getvalue()


def test_pdf_profile_then_caption_request_carries_persona(ctx, llm_server, embedded_workers):
    inf = influencers.create_influencer(ctx, name="Mia", handle="mia", tone="sunny", words_to_avoid=["cheap"],
                                        trigger_word="ohwx")
    doc = influencers.add_style_document(ctx, inf.id, filename="voice.pdf", data=pdf("Hello sunshine! Coffee first, always."))
    assert doc.pages == 1 and "Coffee first" in doc.excerpt
    influencers.add_style_document(ctx, inf.id, filename="notes.md", data=b"# Voice\nNever formal.")

    llm_server.add(chat_answer(json.dumps({"style_profile": PROFILE}), cost=0.002))
    job = jobs.wait(ctx, influencers.submit_profile_job(ctx, inf.id).id, timeout_s=30)
    assert job.status == "succeeded", job.error
    assert influencers.get_influencer(ctx, inf.id).style_profile == PROFILE
    sent = llm_server.requests[0]["json"]["messages"][1]["content"]
    assert "Coffee first, always." in sent and "Never formal." in sent

    answer = {"caption": "Morning light on the terrace ☀️ #sunrise", "hashtags": ["sunrise", "#Coffee", "coffee", "#life in bali"],
              "image_prompt": "woman on a terrace at sunrise, 35mm photo", "alt_text": "A woman drinking coffee at sunrise."}
    llm_server.add(chat_answer(json.dumps(answer), cost=0.001))
    cj = jobs.wait(ctx, submit_caption(ctx, influencer_id=inf.id, topic="morning coffee", platform="instagram").id, timeout_s=30)
    assert cj.status == "succeeded", cj.error
    system = llm_server.requests[1]["json"]["messages"][0]["content"]
    assert PROFILE in system and "sunny" in system and "cheap" in system and "ohwx" in system
    r = cj.result
    assert r["hashtags"] == ["#Coffee", "#lifeinbali"]  # normalised, de-duplicated, not repeating the caption's
    assert r["image_prompt"].startswith("ohwx, ")  # the trigger word is guaranteed
    assert r["alt_text"] and cj.cost == pytest.approx(0.001) and r["cost_usd"] == pytest.approx(0.001)


def test_scanned_pdf_and_bad_documents_get_clear_messages(ctx):
    inf = influencers.create_influencer(ctx, name="Mia")
    with pytest.raises(InvalidInput, match="no text layer.*scanned"):
        influencers.add_style_document(ctx, inf.id, filename="scan.pdf", data=pdf(None))
    with pytest.raises(InvalidInput, match="unreadable PDF"):
        influencers.add_style_document(ctx, inf.id, filename="broken.pdf", data=b"%PDF-1.4 garbage")
    with pytest.raises(InvalidInput, match="unsupported"):
        influencers.add_style_document(ctx, inf.id, filename="x.docx", data=b"PK...")
    with pytest.raises(InvalidInput, match="empty"):
        influencers.add_style_document(ctx, inf.id, filename="x.txt", data=b"   ")
    with pytest.raises(InvalidInput, match="no style documents"):
        influencers.submit_profile_job(ctx, inf.id)
    doc = influencers.add_style_document(ctx, inf.id, filename="../../etc/passwd.txt", data="héllo".encode())
    assert doc.filename == "passwd.txt" and doc.excerpt == "héllo"


def test_platform_limits():
    caption, tags, full = fit_to_platform("word " * 600, [f"t{i}" for i in range(40)], "instagram")
    assert len(full) <= 2200 and len(tags) <= 30 and caption.endswith("…")
    caption, tags, full = fit_to_platform("hi #a #b", [f"t{i}" for i in range(40)], "instagram")
    assert len(tags) == 28  # 30 minus the two already in the caption
    with pytest.raises(InvalidInput):
        fit_to_platform(" ".join(f"#h{i}" for i in range(31)), [], "instagram")
    caption, tags, full = fit_to_platform("mot " * 700, ["fyp", "travel"], "tiktok")
    assert len(full) <= 2200 and full.endswith("#fyp #travel") and caption.endswith("…")
    caption, tags, full = fit_to_platform("short one", ["a"], "tiktok")
    assert (caption, full) == ("short one", "short one\n\n#a")


def test_image_prompt_carries_the_default_loras_trigger_word(ctx, llm_server, demo_sd15, embedded_workers):
    from tests.generation.loras import record_random_lora

    lora = record_random_lora(ctx, name="Zoe", trigger_word="zxq")
    inf = influencers.create_influencer(ctx, name="Zoe", default_lora_id=lora.id)  # no trigger word of its own
    answer = {"caption": "Boat day", "hashtags": ["sea"], "image_prompt": "woman on a sailing boat", "alt_text": "A boat."}
    llm_server.add(chat_answer(json.dumps(answer), cost=0.001))
    done = jobs.wait(ctx, submit_caption(ctx, influencer_id=inf.id, topic="boat", platform="tiktok").id, timeout_s=30)
    assert done.status == "succeeded", done.error
    assert "'zxq'" in llm_server.requests[0]["json"]["messages"][0]["content"]  # the LLM was told the token
    assert done.result["image_prompt"] == "zxq, woman on a sailing boat" and done.result["trigger_word"] == "zxq"
    assert done.result["full_text"] == "Boat day\n\n#sea" and done.result["platform"] == "tiktok"


def test_caption_job_fails_at_once_on_402(ctx, llm_server, embedded_workers):
    inf = influencers.create_influencer(ctx, name="Mia")
    llm_server.add(api_error(402, "Insufficient credits. Add more using https://openrouter.ai/credits"))
    done = jobs.wait(ctx, submit_caption(ctx, influencer_id=inf.id, topic="x").id, timeout_s=30)
    assert done.status == "failed" and done.attempts == 1 and "Insufficient credits" in done.error


def test_caption_request_validation_and_tenancy(ctx, other_ctx):
    inf = influencers.create_influencer(ctx, name="Mia")
    with pytest.raises(InvalidInput):
        submit_caption(ctx, influencer_id=inf.id, topic=" ", platform="instagram")
    with pytest.raises(InvalidInput):
        submit_caption(ctx, influencer_id=inf.id, topic="x", platform="myspace")
    from backend.errors import NotFound

    with pytest.raises(NotFound):
        submit_caption(other_ctx, influencer_id=inf.id, topic="x")


def test_cli_influencers_and_generate_caption(ctx, llm_server):
    env = studio_subprocess_env()

    def cli(*args: str) -> dict:  # type: ignore[type-arg]
        out = subprocess.run([sys.executable, "-m", "backend", *args], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    created = cli("influencers", "create", "--tenant", "acme", "--name", "Mia", "--bio", "Travel girl", "--json")
    listed = cli("influencers", "list", "--tenant", "acme", "--json")
    assert [i["id"] for i in listed["influencers"]] == [created["id"]]
    llm_server.add(chat_answer(json.dumps({"caption": "Hi", "hashtags": ["travel"], "image_prompt": "beach",
                                           "alt_text": "a beach"}), cost=0.0005))
    job = cli("generate", "caption", "--tenant", "acme", "--influencer", created["id"], "--topic", "beach day",
              "--platform", "instagram", "--json")
    assert job["status"] == "succeeded" and job["cost"] == pytest.approx(0.0005)
    assert {"caption", "hashtags", "image_prompt", "alt_text"} <= set(job["result"])
