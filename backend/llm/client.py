"""A client for any OpenAI-compatible chat-completions endpoint (OpenRouter by default).

Retries 429 (honouring Retry-After), 5xx and timeouts with exponential backoff; 400/401/402/403
fail at once with the API's message. Every request is recorded with its tokens and cost, answers
are cached, and the workspace's monthly budget is checked before a request goes out.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from backend.context import Ctx
from backend.db import utcnow
from backend.jobs.errors import PermanentError, TransientError
from backend.llm import service as llm
from backend.settings import get_settings

M = TypeVar("M", bound=BaseModel)
CostSink = Callable[[float], None]
NO_KEY_MESSAGE = (
    "No LLM API key is set. Set STUDIO_LLM_API_KEY (and STUDIO_LLM_BASE_URL for a provider other than "
    "OpenRouter) in the environment or .env and restart the studio; captions can still be written by hand."
)


class LlmNotConfigured(PermanentError):
    """No API key: the LLM cannot be asked."""


class BudgetExceeded(PermanentError):
    """The call would take the workspace past its monthly LLM budget."""


class InvalidAnswer(PermanentError):
    """The model's answer did not match the expected JSON, even after one repair request."""


@dataclass(frozen=True)
class ChatResult:
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cost_source: str  # usage | price_table | cache
    cached: bool
    cache_key: str
    usage: dict[str, Any]


class _Retryable(Exception):
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


def api_message(resp: httpx.Response) -> str:
    """The error message an OpenAI-compatible API put in its answer."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:500] or resp.reason_phrase
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("message") or err)[:500]
    if isinstance(err, str):
        return err[:500]
    return json.dumps(body)[:500]


def extract_json(text: str) -> Any:
    """The JSON value in a model's answer (tolerates ```json fences and prose around one object)."""
    stripped = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", stripped, re.S)
    if fence:
        stripped = fence.group(1).strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        start, end = stripped.find("{"), stripped.rfind("}")
        if 0 <= start < end:
            return json.loads(stripped[start:end + 1])
        raise


class LlmClient:
    """Chat completions for one workspace (``ctx``); settings are read at construction."""

    def __init__(self, ctx: Ctx, *, sleep: Callable[[float], None] = time.sleep) -> None:
        s = get_settings()
        self.ctx = ctx
        self.base_url = s.llm_base_url.rstrip("/")
        self.api_key = s.llm_api_key
        self.default_model = s.llm_model
        self.timeout_s = s.llm_timeout_s
        self.max_attempts = s.llm_max_attempts
        self.backoff_s = s.llm_backoff_s
        self.backoff_max_s = s.llm_backoff_max_s
        self._sleep = sleep

    @property
    def configured(self) -> bool:
        return bool(self.api_key)

    # -- one request ---------------------------------------------------------------------------
    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        temperature: float = 0.7,
        max_tokens: int = 1200,
        json_mode: bool = False,
        purpose: str = "",
        job_id: str | None = None,
        on_cost: CostSink | None = None,
        use_cache: bool = True,
        write_cache: bool = True,
    ) -> ChatResult:
        """One chat completion: from the cache, else from the API (budget-checked, recorded)."""
        model = model or self.default_model
        params: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens}
        if json_mode:
            params["response_format"] = {"type": "json_object"}
        key = llm.cache_key(self.ctx.tenant_id, model, messages, params)
        if use_cache:
            hit = llm.cache_get(key)
            if hit is not None:
                llm.record_call(self.ctx.tenant_id, model=model, job_id=job_id, purpose=purpose, cached=True,
                                cost_source="cache", prompt_tokens=int(hit.usage.get("prompt_tokens", 0)),
                                completion_tokens=int(hit.usage.get("completion_tokens", 0)))
                return ChatResult(hit.content, model, int(hit.usage.get("prompt_tokens", 0)),
                                  int(hit.usage.get("completion_tokens", 0)), 0.0, "cache", True, key, dict(hit.usage))
        if not self.api_key:
            raise LlmNotConfigured(NO_KEY_MESSAGE)
        self._check_budget(model, messages, max_tokens)
        started = time.monotonic()
        try:
            body = self._post_with_retries({"model": model, "messages": messages, **params})
        except (PermanentError, TransientError) as err:
            llm.record_call(self.ctx.tenant_id, model=model, job_id=job_id, purpose=purpose, error=str(err)[:2000],
                            duration_ms=int((time.monotonic() - started) * 1000))
            raise
        result = self._result(body, model, key)
        llm.record_call(self.ctx.tenant_id, model=result.model, job_id=job_id, purpose=purpose,
                        prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                        cost_usd=result.cost_usd, cost_source=result.cost_source,
                        duration_ms=int((time.monotonic() - started) * 1000))
        if on_cost is not None:
            on_cost(result.cost_usd)
        if write_cache:
            self.remember(result)
        return result

    def remember(self, result: ChatResult) -> None:
        """Put an answer into the cache."""
        llm.cache_put(result.cache_key, tenant_id=self.ctx.tenant_id, model=result.model, content=result.content,
                      usage={"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens})

    # -- structured answers --------------------------------------------------------------------
    def chat_json(self, schema: type[M], messages: list[dict[str, Any]], **kw: Any) -> tuple[M, list[ChatResult]]:
        """An answer validated as ``schema``; one repair request when the first is not valid."""
        results: list[ChatResult] = []
        first = self.chat(messages, json_mode=True, write_cache=False, **kw)
        results.append(first)
        try:
            value = self._validate(schema, first.content)
        except (ValueError, ValidationError) as err:
            if first.cached:  # a bad answer never enters the cache, but be safe
                kw = {**kw, "use_cache": False}
            repair = [*messages, {"role": "assistant", "content": first.content},
                      {"role": "user", "content": (
                          "Your answer was not valid for the required JSON format: " + _short(err) +
                          "\nReply again with only one JSON object that matches this JSON schema:\n" +
                          json.dumps(schema.model_json_schema()))}]
            second = self.chat(repair, json_mode=True, write_cache=False, **kw)
            results.append(second)
            try:
                value = self._validate(schema, second.content)
            except (ValueError, ValidationError) as err2:
                raise InvalidAnswer(f"the LLM's answer was not valid JSON for {schema.__name__} "
                                    f"even after a repair request: {_short(err2)}") from None
            # The original request now maps to the repaired answer.
            self.remember(replace(second, cache_key=first.cache_key))
            return value, results
        self.remember(first)
        return value, results

    @staticmethod
    def _validate(schema: type[M], content: str) -> M:
        return schema.model_validate(extract_json(content))

    # -- plumbing -----------------------------------------------------------------------------
    def _check_budget(self, model: str, messages: list[dict[str, Any]], max_tokens: int) -> None:
        budget = llm.monthly_budget(self.ctx)
        spent = llm.month_spend(self.ctx)
        estimate = llm.price_cost(model, llm.estimate_tokens(messages), max_tokens)
        if spent + estimate > budget:
            raise BudgetExceeded(
                f"monthly LLM budget reached: ${spent:.4f} of ${budget:.2f} spent this month and this request "
                f"may cost up to ${estimate:.4f}. An admin can raise the budget on the Influencers page; "
                "captions can still be written by hand."
            )

    def _result(self, body: dict[str, Any], model: str, key: str) -> ChatResult:
        try:
            content = body["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise TransientError(f"the LLM API answered without a message: {json.dumps(body)[:300]}") from None
        usage = body.get("usage") or {}
        pt, ct = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        answered_model = str(body.get("model") or model)
        if usage.get("cost") is not None:
            cost, source = float(usage["cost"]), "usage"
        else:
            cost, source = llm.price_cost(model, pt, ct), "price_table"
        return ChatResult(content, answered_model, pt, ct, cost, source, False, key, usage)

    def _post_with_retries(self, request: dict[str, Any]) -> dict[str, Any]:
        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            ra = getattr(exc, "retry_after_s", None)
            backoff = min(self.backoff_max_s, self.backoff_s * 2 ** (state.attempt_number - 1))
            return max(backoff, ra) if ra is not None else backoff

        def too_long(state: RetryCallState) -> bool:
            # A Retry-After longer than we would ever wait here: give the job back to the queue.
            exc = state.outcome.exception() if state.outcome else None
            ra = getattr(exc, "retry_after_s", None)
            return ra is not None and ra > self.backoff_max_s

        retrying = Retrying(retry=retry_if_exception_type(_Retryable),
                            stop=stop_after_attempt(self.max_attempts) | too_long,
                            wait=wait, sleep=self._sleep, reraise=True)
        try:
            with httpx.Client(timeout=self.timeout_s) as http:
                for attempt in retrying:
                    with attempt:
                        return self._post_once(http, request)
        except _Retryable as err:
            raise TransientError(f"LLM API unavailable after retries: {err}", retry_after_s=err.retry_after_s) from None
        raise AssertionError("unreachable")

    def _post_once(self, http: httpx.Client, request: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json",
                   "HTTP-Referer": "https://github.com/influencerai-studio", "X-Title": "InfluencerAI Studio"}
        try:
            resp = http.post(f"{self.base_url}/chat/completions", json=request, headers=headers)
        except httpx.TimeoutException as err:
            raise _Retryable(f"timeout after {self.timeout_s:g} s ({type(err).__name__})") from None
        except httpx.TransportError as err:
            raise _Retryable(f"connection failed: {err}") from None
        if resp.status_code == 429:
            raise _Retryable(f"429 rate limited: {api_message(resp)}", parse_retry_after(resp.headers.get("retry-after")))
        if resp.status_code >= 500 or resp.status_code == 408:
            raise _Retryable(f"{resp.status_code} {api_message(resp)}", parse_retry_after(resp.headers.get("retry-after")))
        if resp.status_code >= 400:
            raise PermanentError(f"LLM API refused the request ({resp.status_code} {resp.reason_phrase}): {api_message(resp)}")
        try:
            body = resp.json()
        except ValueError:
            raise _Retryable(f"the LLM API answered {resp.status_code} with a body that is not JSON") from None
        if isinstance(body, dict) and body.get("error") and not body.get("choices"):
            # OpenRouter reports upstream failures as 200 with an error object.
            raise _Retryable(f"upstream error: {api_message(resp)}")
        if not isinstance(body, dict):
            raise _Retryable("the LLM API answered JSON that is not an object")
        return body


def _short(err: Exception) -> str:
    if isinstance(err, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in err.errors()[:8])
    return str(err)[:300]


def llm_configured() -> bool:
    """Whether an API key is set (the UI offers hand-written captions otherwise)."""
    return bool(get_settings().llm_api_key)
