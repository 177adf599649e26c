"""LLM jobs: the content plan of a post ("generation.caption") and the style profile ("persona.profile")."""

from __future__ import annotations

from typing import Any

from backend.generation.content import (
    CaptionAnswer,
    ProfileAnswer,
    caption_messages,
    make_plan,
    profile_messages,
    trigger_word_for,
)
from backend.influencers.service import get_influencer, style_document_texts, update_influencer
from backend.jobs.errors import PermanentError
from backend.llm.client import LlmClient
from workers.context import JobContext
from workers.registry import handler


def _costs(results: list[Any]) -> dict[str, Any]:
    return {"cost_usd": round(sum(r.cost_usd for r in results), 6), "llm_calls": len(results),
            "cached": all(r.cached for r in results), "model": results[-1].model if results else None,
            "tokens": sum(r.prompt_tokens + r.completion_tokens for r in results)}


@handler("generation.caption")
def caption(ctx: JobContext) -> dict[str, Any]:
    p = ctx.payload
    inf = get_influencer(ctx.ctx, p["influencer_id"])
    trigger = trigger_word_for(ctx.ctx, inf, p.get("lora_id"))
    messages = caption_messages(inf, topic=p["topic"], platform=p["platform"], trigger_word=trigger,
                                instructions=p.get("instructions") or "")
    ctx.progress(0.1, stage="asking the LLM", force=True)
    client = LlmClient(ctx.ctx)
    answer, results = client.chat_json(CaptionAnswer, messages, model=p.get("model"), purpose="caption",
                                       job_id=ctx.job_id, on_cost=ctx.add_cost)
    ctx.check_cancelled()
    plan = make_plan(answer, platform=p["platform"], trigger_word=trigger)
    ctx.progress(1.0, stage="done", force=True)
    return {**plan.model_dump(), "influencer_id": inf.id, "topic": p["topic"], "trigger_word": trigger, **_costs(results)}


@handler("persona.profile")
def profile(ctx: JobContext) -> dict[str, Any]:
    inf = get_influencer(ctx.ctx, ctx.payload["influencer_id"])
    docs = style_document_texts(ctx.ctx, inf.id)
    if not docs:
        raise PermanentError("the influencer has no style documents")
    ctx.progress(0.1, stage="asking the LLM", force=True)
    client = LlmClient(ctx.ctx)
    answer, results = client.chat_json(ProfileAnswer, profile_messages(inf, docs), model=ctx.payload.get("model"),
                                       purpose="profile", job_id=ctx.job_id, on_cost=ctx.add_cost, temperature=0.3)
    ctx.check_cancelled()
    update_influencer(ctx.ctx, inf.id, style_profile=answer.style_profile.strip())
    ctx.progress(1.0, stage="done", force=True)
    return {"influencer_id": inf.id, "style_profile": answer.style_profile.strip(), "documents": len(docs), **_costs(results)}
