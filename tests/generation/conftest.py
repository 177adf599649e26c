"""Fixtures of the generation tests: a local OpenAI-compatible LLM server wired into the settings."""

from __future__ import annotations

import pytest

from tests.generation.servers import ScriptedServer


@pytest.fixture
def llm_server(studio_env):  # type: ignore[no-untyped-def]
    """A local chat-completions server; the studio's LLM settings point at it."""
    server = ScriptedServer()
    studio_env(llm_base_url=server.url + "/api/v1", llm_api_key="sk-test-123", llm_model="test/model",
               llm_backoff_s="0.01", llm_backoff_max_s="5", llm_timeout_s="2")
    yield server
    server.close()


@pytest.fixture(scope="session")
def _demo_sd15_build(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The demo SD 1.5 model, built once per run."""
    from workers.pipelines.diffusion import build_demo_pipeline

    return build_demo_pipeline("sd15", tmp_path_factory.mktemp("demo") / "demo-sd15")


@pytest.fixture
def demo_sd15(studio_env, _demo_sd15_build):  # type: ignore[no-untyped-def]
    """The demo model where this test's studio looks for it (a copy of the session's build)."""
    import shutil

    from backend.basemodels.service import demo_dir

    dest = demo_dir("sd15")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(_demo_sd15_build, dest)
    from workers.pipelines.images import BuiltinBackend

    BuiltinBackend.unload()  # the cached pipeline belongs to the previous test's folder
    yield "demo-sd15"
    BuiltinBackend.unload()
