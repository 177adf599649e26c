"""LLM bookkeeping: recorded calls, the answer cache, prices and the monthly budget per workspace."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from backend.context import Ctx
from backend.db import session_scope, utcnow
from backend.errors import InvalidInput
from backend.llm.models import LlmBudget, LlmCacheEntry, LlmCall, LlmCallOut
from backend.settings import get_settings


# -- prices ------------------------------------------------------------------------------------
def price_per_million(model: str) -> tuple[float, float]:
    """(input, output) USD per million tokens from STUDIO_LLM_PRICES, '*' for unknown models."""
    prices = get_settings().llm_prices
    pair = prices.get(model) or prices.get(model.split(":", 1)[0]) or prices.get("*") or [0.0, 0.0]
    return float(pair[0]), float(pair[1] if len(pair) > 1 else pair[0])


def price_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """The cost of a call by the price table."""
    pin, pout = price_per_million(model)
    return (prompt_tokens * pin + completion_tokens * pout) / 1_000_000


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """A rough prompt size (4 characters a token) used before a call to check the budget."""
    return sum(len(str(m.get("content", ""))) for m in messages) // 4 + 8 * len(messages)


# -- budget --------------------------------------------------------------------------------------
def month_start(now: datetime | None = None) -> datetime:
    now = now or utcnow()
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def monthly_budget(ctx: Ctx) -> float:
    """The workspace's monthly LLM budget in USD (its own, else STUDIO_LLM_MONTHLY_BUDGET_USD)."""
    with session_scope() as s:
        row = s.get(LlmBudget, ctx.tenant_id)
        return float(row.monthly_usd) if row else float(get_settings().llm_monthly_budget_usd)


def set_monthly_budget(ctx: Ctx, usd: float) -> float:
    """Change the workspace's monthly LLM budget (admins)."""
    ctx.require("admin")
    if usd < 0 or usd > 1_000_000:
        raise InvalidInput("invalid budget", [f"{usd} is not between 0 and 1,000,000 USD"])
    with session_scope() as s:
        row = s.get(LlmBudget, ctx.tenant_id)
        if row is None:
            s.add(LlmBudget(tenant_id=ctx.tenant_id, monthly_usd=float(usd)))
        else:
            row.monthly_usd = float(usd)
    return float(usd)


def month_spend(ctx: Ctx, *, now: datetime | None = None) -> float:
    """USD spent on the LLM by the workspace since the start of this (UTC) month."""
    with session_scope() as s:
        total = s.scalar(select(func.coalesce(func.sum(LlmCall.cost_usd), 0.0))
                         .where(LlmCall.tenant_id == ctx.tenant_id, LlmCall.created_at >= month_start(now)))
        return float(total or 0.0)


def budget_status(ctx: Ctx) -> dict[str, float]:
    """This month's budget, spend and what is left."""
    budget, spent = monthly_budget(ctx), month_spend(ctx)
    return {"budget_usd": budget, "spent_usd": spent, "left_usd": max(0.0, budget - spent)}


# -- calls -----------------------------------------------------------------------------------------
def record_call(
    tenant_id: str,
    *,
    model: str,
    job_id: str | None,
    purpose: str,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost_usd: float = 0.0,
    cost_source: str = "",
    cached: bool = False,
    duration_ms: int = 0,
    error: str | None = None,
) -> None:
    """Record one request to the LLM (or one answer from the cache)."""
    with session_scope() as s:
        s.add(LlmCall(tenant_id=tenant_id, model=model, job_id=job_id, purpose=purpose, prompt_tokens=prompt_tokens,
                      completion_tokens=completion_tokens, cost_usd=cost_usd, cost_source=cost_source, cached=cached,
                      duration_ms=duration_ms, ok=error is None, error=error))


def list_calls(ctx: Ctx, *, job_id: str | None = None, limit: int = 200) -> list[LlmCallOut]:
    """The workspace's LLM calls, newest first."""
    conds = [LlmCall.tenant_id == ctx.tenant_id]
    if job_id:
        conds.append(LlmCall.job_id == job_id)
    with session_scope() as s:
        rows = s.scalars(select(LlmCall).where(*conds).order_by(LlmCall.created_at.desc(), LlmCall.id).limit(limit))
        return [LlmCallOut.model_validate(r, from_attributes=True) for r in rows]


def daily_costs(ctx: Ctx, *, days: int = 30) -> list[dict[str, Any]]:
    """USD spent and calls made per day over the last ``days`` days (for the cost chart)."""
    since = utcnow() - timedelta(days=days)
    with session_scope() as s:
        rows = s.execute(select(LlmCall.created_at, LlmCall.cost_usd, LlmCall.cached)
                         .where(LlmCall.tenant_id == ctx.tenant_id, LlmCall.created_at >= since))
        per_day: dict[date, dict[str, Any]] = {}
        for at, cost, cached in rows:
            d = per_day.setdefault(at.date(), {"day": at.date(), "cost_usd": 0.0, "calls": 0, "cached": 0})
            d["cost_usd"] += float(cost or 0.0)
            d["calls"] += 1
            d["cached"] += int(bool(cached))
    return [per_day[k] for k in sorted(per_day)]


# -- cache -------------------------------------------------------------------------------------------
def cache_key(tenant_id: str, model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    """sha256 over workspace, model, messages and parameters (the workspace keeps caches apart)."""
    blob = json.dumps({"t": tenant_id, "m": model, "msg": messages, "p": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cache_get(key: str) -> LlmCacheEntry | None:
    """A live cache entry (its hit count bumped), or None."""
    with session_scope() as s:
        row = s.get(LlmCacheEntry, key)
        if row is None or row.expires_at <= utcnow():
            return None
        row.hits += 1
        s.flush()
        s.expunge(row)
        return row


def cache_put(key: str, *, tenant_id: str, model: str, content: str, usage: dict[str, Any]) -> None:
    """Store an answer for STUDIO_LLM_CACHE_TTL_S seconds (0 disables the cache)."""
    ttl = get_settings().llm_cache_ttl_s
    if ttl <= 0:
        return
    now = utcnow()
    with session_scope() as s:
        row = s.get(LlmCacheEntry, key)
        if row is None:
            s.add(LlmCacheEntry(key=key, tenant_id=tenant_id, model=model, content=content, usage=usage,
                                created_at=now, expires_at=now + timedelta(seconds=ttl)))
        else:
            row.content, row.usage, row.created_at = content, usage, now
            row.expires_at = now + timedelta(seconds=ttl)


def purge_expired_cache() -> int:
    """Delete expired cache entries; returns how many."""
    with session_scope() as s:
        return int(s.execute(delete(LlmCacheEntry).where(LlmCacheEntry.expires_at <= utcnow())).rowcount or 0)
