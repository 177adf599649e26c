"""Influencers: CRUD, style documents, and the persona text every caption request carries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from backend.context import Ctx
from backend.db import new_id, session_scope
from backend.errors import InvalidInput
from backend.influencers.documents import extract_text
from backend.influencers.models import Influencer, InfluencerFields, InfluencerOut, StyleDocument, StyleDocumentOut
from backend.jobs import service as jobs
from backend.jobs.models import JobOut
from backend.jobs.specs import JobSpec, register
from backend.storage import get_storage, object_key
from backend.storage.keys import prefix_of
from backend.tenancy import get_owned
from backend.validation import parse

PROFILE_JOB = register(JobSpec("persona.profile", queue="cpu", max_attempts=4, time_limit_s=600, backoff_s=5))


def _out(row: Influencer) -> InfluencerOut:
    return InfluencerOut.model_validate(row, from_attributes=True)


def _own(s, ctx: Ctx, influencer_id: str) -> Influencer:  # type: ignore[no-untyped-def]
    return get_owned(s, Influencer, ctx, influencer_id, kind="influencer")


def _check_lora(ctx: Ctx, lora_id: str | None) -> None:
    """A default LoRA must be one of the workspace's (NotFound otherwise)."""
    if lora_id:
        from backend.generation.loras import get_lora_ref

        get_lora_ref(ctx, lora_id)


def create_influencer(ctx: Ctx, **fields: Any) -> InfluencerOut:
    """A new influencer of the caller's workspace; ``name`` is required."""
    ctx.require("editor")
    data = parse(InfluencerFields, fields, what="invalid influencer")
    if not data.name or not data.name.strip():
        raise InvalidInput("invalid influencer", ["name: a name is required"])
    values = data.model_dump(exclude_none=True)
    values["name"] = values["name"].strip()
    _check_lora(ctx, values.get("default_lora_id"))
    with session_scope() as s:
        row = Influencer(tenant_id=ctx.tenant_id, **values)
        for list_field in ("topics", "words_to_use", "words_to_avoid", "default_hashtags", "platforms"):
            if getattr(row, list_field) is None:
                setattr(row, list_field, [])
        s.add(row)
        s.flush()
        s.refresh(row)
        return _out(row)


def get_influencer(ctx: Ctx, influencer_id: str) -> InfluencerOut:
    """One influencer of the caller's workspace."""
    with session_scope() as s:
        return _out(_own(s, ctx, influencer_id))


def list_influencers(ctx: Ctx) -> list[InfluencerOut]:
    """Every influencer of the workspace, by name."""
    with session_scope() as s:
        rows = s.scalars(select(Influencer).where(Influencer.tenant_id == ctx.tenant_id).order_by(Influencer.name, Influencer.id))
        return [_out(r) for r in rows]


def update_influencer(ctx: Ctx, influencer_id: str, **fields: Any) -> InfluencerOut:
    """Change the given fields (others stay); ``default_lora_id=""`` clears the LoRA."""
    ctx.require("editor")
    clear_lora = fields.get("default_lora_id") in ("",)
    data = parse(InfluencerFields, fields, what="invalid influencer")
    values = data.model_dump(exclude_none=True)
    if "name" in values and not values["name"].strip():
        raise InvalidInput("invalid influencer", ["name: a name is required"])
    _check_lora(ctx, values.get("default_lora_id"))
    with session_scope() as s:
        row = _own(s, ctx, influencer_id)
        for k, v in values.items():
            setattr(row, k, v)
        if clear_lora:
            row.default_lora_id = None
        s.flush()
        s.refresh(row)
        return _out(row)


def delete_influencer(ctx: Ctx, influencer_id: str) -> None:
    """Delete the influencer and its style documents (its assets stay in the gallery)."""
    ctx.require("editor")
    with session_scope() as s:
        row = _own(s, ctx, influencer_id)
        docs = list(s.scalars(select(StyleDocument).where(StyleDocument.influencer_id == row.id,
                                                          StyleDocument.tenant_id == ctx.tenant_id)))
        for d in docs:
            s.delete(d)
        s.delete(row)
    storage = get_storage()
    for d in docs:
        storage.delete_prefix(prefix_of(ctx.tenant_id, "docs", d.id))


# -- style documents -----------------------------------------------------------------------------
def _doc_out(d: StyleDocument) -> StyleDocumentOut:
    return StyleDocumentOut(id=d.id, influencer_id=d.influencer_id, filename=d.filename, mime=d.mime, size=d.size,
                            pages=d.pages, chars=len(d.text), created_at=d.created_at, excerpt=d.text[:300])


def add_style_document(ctx: Ctx, influencer_id: str, *, filename: str, data: bytes) -> StyleDocumentOut:
    """Store a PDF/TXT/Markdown document and its extracted text (a scanned PDF is refused)."""
    ctx.require("editor")
    get_influencer(ctx, influencer_id)
    extracted = extract_text(filename, data)
    doc_id = new_id()
    key = object_key(ctx.tenant_id, "docs", doc_id, filename)
    get_storage().put_bytes(key, data, content_type=extracted.mime)
    with session_scope() as s:
        _own(s, ctx, influencer_id)
        d = StyleDocument(id=doc_id, tenant_id=ctx.tenant_id, influencer_id=influencer_id, filename=key.rsplit("/", 1)[-1],
                          mime=extracted.mime, storage_key=key, size=len(data), pages=extracted.pages, text=extracted.text)
        s.add(d)
        s.flush()
        return _doc_out(d)


def _documents(s, ctx: Ctx, influencer_id: str) -> list[StyleDocument]:  # type: ignore[no-untyped-def]
    """The influencer's style documents, oldest first (NotFound for another workspace's influencer)."""
    _own(s, ctx, influencer_id)
    return list(s.scalars(select(StyleDocument).where(StyleDocument.tenant_id == ctx.tenant_id,
                                                      StyleDocument.influencer_id == influencer_id)
                          .order_by(StyleDocument.created_at, StyleDocument.id)))


def list_style_documents(ctx: Ctx, influencer_id: str) -> list[StyleDocumentOut]:
    """The influencer's style documents, oldest first."""
    with session_scope() as s:
        return [_doc_out(d) for d in _documents(s, ctx, influencer_id)]


def style_document_texts(ctx: Ctx, influencer_id: str) -> list[tuple[str, str]]:
    """(filename, text) of every style document of the influencer."""
    with session_scope() as s:
        return [(d.filename, d.text) for d in _documents(s, ctx, influencer_id)]


def delete_style_document(ctx: Ctx, document_id: str) -> None:
    """Remove one style document."""
    ctx.require("editor")
    with session_scope() as s:
        s.delete(get_owned(s, StyleDocument, ctx, document_id, kind="style document"))
    get_storage().delete_prefix(prefix_of(ctx.tenant_id, "docs", document_id))


def submit_profile_job(ctx: Ctx, influencer_id: str, *, model: str | None = None) -> JobOut:
    """Queue the "persona.profile" job that condenses the documents into the style profile."""
    ctx.require("editor")
    if not list_style_documents(ctx, influencer_id):
        raise InvalidInput("no style documents", ["upload at least one PDF, .txt or .md document first"])
    payload: dict[str, Any] = {"influencer_id": influencer_id}
    if model:
        payload["model"] = model
    return jobs.submit(ctx, PROFILE_JOB.name, payload, subject_id=influencer_id)


# -- the persona as the LLM reads it ------------------------------------------------------------
def persona_text(inf: InfluencerOut) -> str:
    """The persona and style profile, as written into every caption request's system message."""
    lines = [f"You write social media posts as the influencer {inf.name}" + (f" (@{inf.handle})." if inf.handle else ".")]
    for label, value in (("Bio", inf.bio), ("Tone of voice", inf.tone), ("Audience", inf.audience)):
        if value.strip():
            lines.append(f"{label}: {value.strip()}")
    if inf.topics:
        lines.append("Topics: " + ", ".join(inf.topics))
    if inf.words_to_use:
        lines.append("Words and phrases to use: " + ", ".join(inf.words_to_use))
    if inf.words_to_avoid:
        lines.append("Never use these words: " + ", ".join(inf.words_to_avoid))
    if inf.default_hashtags:
        lines.append("Signature hashtags: " + " ".join(inf.default_hashtags))
    if inf.style_profile.strip():
        lines.append("Style profile:\n" + inf.style_profile.strip())
    return "\n".join(lines)
