"""Content plans: topic + influencer + platform -> caption, hashtags, image prompt, alt text (by the LLM)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

from backend.context import Ctx
from backend.errors import InvalidInput
from backend.influencers.models import InfluencerOut
from backend.influencers.service import get_influencer, persona_text
from backend.jobs import service as jobs
from backend.jobs.models import JobOut
from backend.jobs.specs import JobSpec, register

CAPTION_JOB = register(JobSpec("generation.caption", queue="cpu", max_attempts=4, time_limit_s=600, backoff_s=5))

# Platform limits on the whole caption text (hashtags included) and on hashtags.
PLATFORM_LIMITS: dict[str, dict[str, int]] = {
    "instagram": {"max_chars": 2200, "max_hashtags": 30},
    "tiktok": {"max_chars": 2200, "max_hashtags": 30},
}
_HASHTAG = re.compile(r"#\w+", re.UNICODE)


class CaptionAnswer(BaseModel):
    """What the LLM must answer (JSON)."""

    caption: str = Field(min_length=1)
    hashtags: list[str] = Field(default_factory=list)
    image_prompt: str = Field(min_length=1)
    alt_text: str = ""


class ContentPlan(BaseModel):
    """A caption ready to post, within the platform's limits; every part is editable."""

    caption: str
    hashtags: list[str]
    image_prompt: str
    alt_text: str
    platform: str
    full_text: str = ""

    @field_validator("platform")
    @classmethod
    def _platform(cls, v: str) -> str:
        if v not in PLATFORM_LIMITS:
            raise ValueError(f"unknown platform {v!r}; use {', '.join(PLATFORM_LIMITS)}")
        return v


def normalise_hashtags(tags: list[str]) -> list[str]:
    """'#tag' form, no spaces or punctuation, no duplicates (case-insensitive), order kept."""
    out: list[str] = []
    seen: set[str] = set()
    for t in tags:
        t = str(t)
        # One element is one tag ("#life in bali" -> #lifeinbali) unless it lists several ("#a #b", "a, b").
        pieces = re.split(r"[#,]", t) if t.count("#") > 1 or "," in t else [t]
        for piece in pieces:
            word = re.sub(r"[^\w]", "", piece.lstrip("#"), flags=re.UNICODE)
            if word and word.lower() not in seen:
                seen.add(word.lower())
                out.append("#" + word)
    return out


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)].rsplit(" ", 1)[0].rstrip()
    return (cut or text[: limit - 1]) + "…"


def fit_to_platform(caption: str, hashtags: list[str], platform: str) -> tuple[str, list[str], str]:
    """Caption, hashtags and the full post text within the platform's character and hashtag limits."""
    limits = PLATFORM_LIMITS[platform]
    caption = caption.strip()
    in_caption = {h.lower() for h in _HASHTAG.findall(caption)}
    tags = [h for h in normalise_hashtags(hashtags) if h.lower() not in in_caption]
    room = max(0, limits["max_hashtags"] - len(in_caption))
    tags = tags[:room]
    if len(in_caption) > limits["max_hashtags"]:
        raise InvalidInput("too many hashtags", [f"the caption itself holds {len(in_caption)} hashtags; "
                                                 f"{platform} allows {limits['max_hashtags']}"])

    def full(c: str, t: list[str]) -> str:
        return c + ("\n\n" + " ".join(t) if t else "")

    while tags and len(full(caption, tags)) > limits["max_chars"] and len(tags) > 5:
        tags = tags[:-1]
    tail = len(full("", tags))
    caption = _truncate(caption, limits["max_chars"] - tail)
    return caption, tags, full(caption, tags)


def ensure_trigger(prompt: str, trigger_word: str) -> str:
    """The image prompt with the LoRA's trigger word in it (prepended when the LLM left it out)."""
    prompt = prompt.strip()
    if trigger_word and not re.search(rf"(?<!\w){re.escape(trigger_word)}(?!\w)", prompt, re.I):
        prompt = f"{trigger_word}, {prompt}" if prompt else trigger_word
    return prompt


def make_plan(answer: CaptionAnswer, *, platform: str, trigger_word: str) -> ContentPlan:
    """The LLM's answer cleaned up: limits applied, trigger word guaranteed."""
    caption, tags, full = fit_to_platform(answer.caption, answer.hashtags, platform)
    return ContentPlan(caption=caption, hashtags=tags, image_prompt=ensure_trigger(answer.image_prompt, trigger_word),
                       alt_text=answer.alt_text.strip()[:1000], platform=platform, full_text=full)


def trigger_word_for(ctx: Ctx, inf: InfluencerOut, lora_id: str | None = None) -> str:
    """The influencer's own trigger word, else the (given or default) LoRA's."""
    if inf.trigger_word:
        return inf.trigger_word
    lid = lora_id or inf.default_lora_id
    if not lid:
        return ""
    from backend.generation.loras import get_lora_ref

    try:
        return get_lora_ref(ctx, lid).trigger_word
    except Exception:  # noqa: BLE001 - a deleted LoRA must not stop the caption
        return ""


def caption_messages(inf: InfluencerOut, *, topic: str, platform: str, trigger_word: str,
                     instructions: str = "") -> list[dict[str, str]]:
    """The chat messages of a content plan request: persona and style profile in the system message."""
    limits = PLATFORM_LIMITS[platform]
    system = (
        persona_text(inf)
        + "\n\nAnswer with one JSON object with the keys caption (string), hashtags (array of strings), "
        "image_prompt (string) and alt_text (string)."
        + f"\nRules for {platform}: the caption plus hashtags stay under {limits['max_chars']} characters; "
        f"at most {limits['max_hashtags']} hashtags; put hashtags only in the hashtags array."
        + "\nimage_prompt: an English text-to-image prompt describing one photo of the influencer for this post "
        "(subject, setting, light, camera)"
        + (f" that contains the exact token '{trigger_word}' for the influencer" if trigger_word else "")
        + ".\nalt_text: one sentence describing the image for screen readers."
    )
    user = f"Write a {platform} post about: {topic.strip()}"
    if instructions.strip():
        user += f"\nExtra instructions: {instructions.strip()}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def profile_messages(inf: InfluencerOut, documents: list[tuple[str, str]], *, max_chars: int = 60_000) -> list[dict[str, str]]:
    """The chat messages asking the LLM to condense style documents into a style profile."""
    parts, used = [], 0
    for name, text in documents:
        chunk = text[: max(0, max_chars - used)]
        if not chunk:
            break
        parts.append(f"--- document: {name} ---\n{chunk}")
        used += len(chunk)
    system = (
        "You are a brand-voice analyst. From the writing samples, write a style profile that another writer can "
        "follow to sound exactly like this person: voice and tone, sentence length and rhythm, vocabulary and "
        "recurring phrases, emoji and punctuation habits, hashtag habits, topics, and a short do/don't list. "
        "At most 300 words. Answer with one JSON object: {\"style_profile\": \"...\"}."
    )
    user = f"Influencer: {inf.name}" + (f" (@{inf.handle})" if inf.handle else "") + "\n\n" + "\n\n".join(parts)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


class ProfileAnswer(BaseModel):
    style_profile: str = Field(min_length=20)


def submit_caption(ctx: Ctx, *, influencer_id: str, topic: str, platform: str = "instagram",
                   model: str | None = None, instructions: str = "", lora_id: str | None = None) -> JobOut:
    """Queue a "generation.caption" job (content plan for one post)."""
    ctx.require("editor")
    reasons = []
    if not topic or not topic.strip():
        reasons.append("topic: write what the post is about")
    elif len(topic) > 2000:
        reasons.append("topic: at most 2,000 characters")
    if platform not in PLATFORM_LIMITS:
        reasons.append(f"platform: {platform!r} is not one of {', '.join(PLATFORM_LIMITS)}")
    if reasons:
        raise InvalidInput("invalid content request", reasons)
    get_influencer(ctx, influencer_id)
    payload: dict[str, Any] = {"influencer_id": influencer_id, "topic": topic.strip(), "platform": platform,
                               "instructions": instructions}
    if model:
        payload["model"] = model
    if lora_id:
        payload["lora_id"] = lora_id
    return jobs.submit(ctx, CAPTION_JOB.name, payload, subject_id=influencer_id)
