"""The LLM client against a local server speaking the OpenAI chat-completions protocol."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from backend.jobs.errors import PermanentError, TransientError
from backend.llm import service as llm
from backend.llm.client import BudgetExceeded, InvalidAnswer, LlmClient, LlmNotConfigured
from tests.generation.servers import Reply, api_error, chat_answer

MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]


class Plan(BaseModel):
    caption: str
    hashtags: list[str]


def client(ctx, sleeps=None):  # type: ignore[no-untyped-def]
    return LlmClient(ctx, sleep=(sleeps.append if sleeps is not None else (lambda s: None)))


def test_answer_bearer_token_and_cost_from_usage(ctx, llm_server):
    llm_server.add(chat_answer("hi there", cost=0.0123))
    costs: list[float] = []
    res = client(ctx).chat(MSGS, purpose="test", job_id="job123", on_cost=costs.append)
    assert res.content == "hi there" and res.cost_usd == pytest.approx(0.0123) and res.cost_source == "usage"
    req = llm_server.requests[0]
    assert req["path"] == "/api/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test-123"
    assert req["json"]["model"] == "test/model" and req["json"]["messages"] == MSGS
    assert costs == [pytest.approx(0.0123)]
    calls = llm.list_calls(ctx, job_id="job123")
    assert len(calls) == 1 and calls[0].prompt_tokens == 100 and calls[0].completion_tokens == 50
    assert calls[0].cost_usd == pytest.approx(0.0123)


def test_cost_from_price_table_when_usage_has_none(ctx, llm_server, studio_env):
    studio_env(llm_prices='{"test/model": [2.0, 10.0]}')
    llm_server.add(chat_answer("x", prompt_tokens=1000, completion_tokens=500))
    res = client(ctx).chat(MSGS)
    assert res.cost_source == "price_table"
    assert res.cost_usd == pytest.approx((1000 * 2.0 + 500 * 10.0) / 1e6)


def test_429_honours_retry_after_then_succeeds(ctx, llm_server):
    llm_server.add(api_error(429, "slow down", {"Retry-After": "3"}), chat_answer("ok"))
    sleeps: list[float] = []
    assert client(ctx, sleeps).chat(MSGS).content == "ok"
    assert len(llm_server.requests) == 2
    assert sleeps == [3.0]  # the server's Retry-After, not our much shorter backoff


def test_500s_back_off_exponentially_then_transient_error(ctx, llm_server, studio_env):
    studio_env(llm_max_attempts="3", llm_backoff_s="0.5")
    llm_server.add(*[api_error(500, "upstream exploded")] * 3)
    sleeps: list[float] = []
    with pytest.raises(TransientError, match="upstream exploded"):
        client(ctx, sleeps).chat(MSGS)
    assert len(llm_server.requests) == 3
    assert sleeps == [0.5, 1.0]
    assert llm.list_calls(ctx)[0].ok is False


def test_500_then_success(ctx, llm_server):
    llm_server.add(api_error(502, "bad gateway"), chat_answer("recovered"))
    assert client(ctx).chat(MSGS).content == "recovered"


def test_timeout_is_retried(ctx, llm_server, studio_env):
    studio_env(llm_timeout_s="0.3")
    llm_server.add(Reply(200, {"late": True}, delay_s=1.0), chat_answer("in time"))
    assert client(ctx).chat(MSGS).content == "in time"
    assert len(llm_server.requests) == 2


def test_long_retry_after_hands_the_job_back_to_the_queue(ctx, llm_server):
    llm_server.add(api_error(429, "quota", {"Retry-After": "120"}))
    with pytest.raises(TransientError) as info:
        client(ctx).chat(MSGS)
    assert info.value.retry_after_s == 120 and len(llm_server.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 402, 403])
def test_client_errors_fail_at_once_with_the_api_message(ctx, llm_server, status):
    llm_server.add(api_error(status, f"message number {status}"))
    with pytest.raises(PermanentError, match=f"{status}.*message number {status}"):
        client(ctx).chat(MSGS)
    assert len(llm_server.requests) == 1


def test_malformed_json_gets_one_repair_request(ctx, llm_server):
    llm_server.add(chat_answer("Sure! {caption: oops"), chat_answer('{"caption": "Hello", "hashtags": ["#a"]}'))
    plan, results = client(ctx).chat_json(Plan, MSGS)
    assert plan.caption == "Hello" and len(results) == 2
    repair = llm_server.requests[1]["json"]["messages"]
    assert repair[-2] == {"role": "assistant", "content": "Sure! {caption: oops"}
    assert "not valid" in repair[-1]["content"] and "hashtags" in repair[-1]["content"]
    # the original request is now answered from the cache with the repaired answer
    again, results2 = client(ctx).chat_json(Plan, MSGS)
    assert again == plan and results2[0].cached and len(llm_server.requests) == 2


def test_invalid_twice_fails(ctx, llm_server):
    llm_server.add(chat_answer('{"caption": 1}'), chat_answer("still not json"))
    with pytest.raises(InvalidAnswer, match="repair"):
        client(ctx).chat_json(Plan, MSGS)


def test_identical_request_is_served_from_cache(ctx, llm_server, other_ctx):
    llm_server.add(chat_answer("first", cost=0.01), chat_answer("second", cost=0.01), chat_answer("third", cost=0.01))
    a = client(ctx).chat(MSGS)
    b = client(ctx).chat(MSGS)
    assert (a.content, b.content) == ("first", "first") and b.cached and b.cost_usd == 0
    assert client(ctx).chat(MSGS, temperature=0.1).content == "second"  # other parameters: other key
    assert client(other_ctx).chat(MSGS).content == "third"  # workspaces never share answers
    assert len(llm_server.requests) == 3
    assert [c.cached for c in llm.list_calls(ctx)].count(True) == 1


def test_cache_ttl_zero_disables_cache(ctx, llm_server, studio_env):
    studio_env(llm_cache_ttl_s="0")
    llm_server.add(chat_answer("one"), chat_answer("two"))
    assert [client(ctx).chat(MSGS).content for _ in range(2)] == ["one", "two"]


def test_budget_refusal(ctx, llm_server):
    llm.set_monthly_budget(ctx, 0.05)
    llm_server.add(chat_answer("paid", cost=0.05))
    client(ctx).chat(MSGS)
    assert llm.budget_status(ctx)["spent_usd"] == pytest.approx(0.05)
    with pytest.raises(BudgetExceeded, match="monthly LLM budget"):
        client(ctx).chat([{"role": "user", "content": "something new"}])
    assert len(llm_server.requests) == 1  # refused before any request went out
    assert client(ctx).chat(MSGS).content == "paid"  # a cached answer costs nothing and is still served


def test_no_key_says_how_to_set_one(ctx, llm_server, studio_env):
    studio_env(llm_api_key="")
    with pytest.raises(LlmNotConfigured, match="STUDIO_LLM_API_KEY"):
        client(ctx).chat(MSGS)
    assert llm_server.requests == []
