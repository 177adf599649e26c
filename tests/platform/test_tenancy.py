"""Tenancy: every service function that takes (ctx, <something>_id) answers "not found" for another
workspace's object.

Adding a function: add one line to CASES (its dotted path and any required keyword arguments).
Listings filtered by a parent id may go to SCOPED_FILTERS instead (they must return nothing).
The second test fails, listing the function, when a service function is not covered.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import backend
from backend import all_models  # noqa: F401 - every feature's tables
from backend.context import Ctx
from backend.db import Base, new_id, session_scope, utcnow
from backend.errors import NotFound

LATER = datetime.now(timezone.utc) + timedelta(days=3)

# dotted path -> required keyword arguments (values that pass validation, so the lookup is what fails)
CASES: dict[str, dict[str, Any]] = {
    "backend.accounts.service.delete_user": {},
    "backend.accounts.service.get_user": {},
    "backend.accounts.service.update_user": {"role": "viewer"},
    "backend.calendar.plans.create_plan": {"weekdays": [0], "times": ["10:00"], "targets": [{"kind": "webhook"}]},
    "backend.calendar.plans.set_plan_active": {"active": False},
    "backend.calendar.service.approve_post": {},
    "backend.calendar.service.attempts": {},
    "backend.calendar.service.create_post": {"scheduled_at": LATER, "targets": [{"kind": "webhook"}]},
    "backend.calendar.service.delete_post": {},
    "backend.calendar.service.get_post": {},
    "backend.calendar.service.publish_now": {},
    "backend.calendar.service.reject_post": {},
    "backend.calendar.service.reschedule_post": {"new_time": LATER},
    "backend.calendar.service.resolve_unconfirmed": {"published": True},
    "backend.calendar.service.retry_target": {},
    "backend.calendar.service.submit_post": {},
    "backend.calendar.service.update_post": {},
    "backend.calendar.slots.set_slots": {"slots": []},
    "backend.datasets.ingest.run_ingest": {"files": []},
    "backend.datasets.ingest.start_upload": {"files": []},
    "backend.datasets.kohya.export_kohya": {"dest": Path("/nonexistent-tenancy-test")},
    "backend.datasets.kohya.export_kohya_bytes": {},
    "backend.datasets.service.all_images": {},
    "backend.datasets.service.bulk_caption": {"op": "add_trigger"},
    "backend.datasets.service.dataset_hash": {},
    "backend.datasets.service.delete_dataset": {},
    "backend.datasets.service.get_dataset": {},
    "backend.datasets.service.get_image": {},
    "backend.datasets.service.image_bytes": {},
    "backend.datasets.service.list_images": {},
    "backend.datasets.service.remove_images": {"image_ids": []},
    "backend.datasets.service.rename_dataset": {"name": "renamed"},
    "backend.datasets.service.set_caption": {"caption": "x"},
    "backend.datasets.service.set_repeats": {"repeats": 2},
    "backend.datasets.service.stats": {},
    "backend.datasets.service.training_items": {},
    "backend.datasets.service.update_dataset": {},
    "backend.generation.content.submit_caption": {"topic": "x"},
    "backend.generation.loras.get_lora_ref": {},
    "backend.generation.loras.lora_local_file": {"cache_dir": Path("/nonexistent-tenancy-test")},
    "backend.generation.service.asset_bytes": {},
    "backend.generation.service.asset_url": {},
    "backend.generation.service.delete_asset": {},
    "backend.generation.service.get_asset": {},
    "backend.generation.service.rate_asset": {"rating": 1},
    "backend.influencers.service.add_style_document": {"filename": "a.txt", "data": b"hello"},
    "backend.influencers.service.delete_influencer": {},
    "backend.influencers.service.delete_style_document": {},
    "backend.influencers.service.get_influencer": {},
    "backend.influencers.service.list_style_documents": {},
    "backend.influencers.service.style_document_texts": {},
    "backend.influencers.service.submit_profile_job": {},
    "backend.influencers.service.update_influencer": {},
    "backend.jobs.service.cancel": {},
    "backend.jobs.service.events": {},
    "backend.jobs.service.get": {},
    "backend.jobs.service.request": {"what": "save_now"},
    "backend.jobs.service.request_stop": {},
    "backend.jobs.service.retry": {},
    "backend.jobs.service.wait": {"timeout_s": 0},
    "backend.publishing.accounts.account_secret": {},
    "backend.publishing.accounts.delete_account": {},
    "backend.publishing.accounts.get_account": {},
    "backend.training.service.artifact_bytes": {"key": "x"},
    "backend.training.service.cancel": {},
    "backend.training.service.checkpoints": {},
    "backend.training.service.delete_lora": {},
    "backend.training.service.download_lora": {"dest": Path("/nonexistent-tenancy-test")},
    "backend.training.service.get_lora": {},
    "backend.training.service.get_run": {},
    "backend.training.service.lora_bytes": {},
    "backend.training.service.rename_lora": {"name": "renamed"},
    "backend.training.service.resume": {},
    "backend.training.service.sample_now": {},
    "backend.training.service.samples": {},
    "backend.training.service.save_now": {},
    "backend.training.service.stop": {},
    "backend.training.service.submit": {"base_model": "demo-sd15"},
    "backend.webhooks.service.delete_webhook": {},
    "backend.webhooks.service.deliver": {"attempt": 1, "max_attempts": 1},
    "backend.webhooks.service.update_webhook": {},
}

# Listings filtered by a parent id that answer "nothing" (not NotFound) for another workspace's
# parent. The test gives the parent a child row of the owner and checks none of it is returned.
# (The contract prefers NotFound; these are allowed because they leak nothing.)
SCOPED_FILTERS: dict[str, dict[str, Any]] = {
    "backend.calendar.plans.list_plans": {},
    "backend.calendar.service.gap_warnings": {"at": LATER},
    "backend.calendar.slots.list_slots": {},
    "backend.calendar.slots.next_free_slot": {},
    "backend.calendar.slots.slot_times": {"start": LATER, "end": LATER + timedelta(days=1)},
    "backend.llm.service.list_calls": {},
    "backend.publishing.accounts.list_accounts": {},
    "backend.training.service.lora_for_job": {},
    "backend.webhooks.service.list_deliveries": {},
}

# Functions that take (ctx, x_id) but are not lookups of a workspace object, with the reason.
NOT_LOOKUPS: dict[str, str] = {
    "backend.training.service.record_lora": "worker-side: records a LoRA for the job it is running (job id from its own claim)",
    "backend.generation.comfyui.comfy_lora_name": "formats a file name; callers looked the LoRA up already",
    "backend.publishing.service.instagram_rendition": "worker-side: converts bytes of an asset the job already loaded",
}

# The table holding each kind of object, by the name of the id parameter.
ID_TABLES = {
    "user_id": "users",
    "job_id": "jobs",
    "dataset_id": "datasets",
    "image_id": "dataset_images",
    "influencer_id": "influencers",
    "document_id": "style_documents",
    "post_id": "calendar_posts",
    "target_id": "calendar_post_targets",
    "plan_id": "calendar_plans",
    "lora_id": "loras",
    "asset_id": "assets",
    "webhook_id": "webhooks",
    "delivery_id": "webhook_deliveries",
    "account_id": "calendar_accounts",
}


def _service_functions() -> dict[str, inspect.Signature]:
    """Every public function in backend.<feature>.* whose parameters start (ctx, <something>_id)."""
    found: dict[str, inspect.Signature] = {}
    for pkg in pkgutil.iter_modules(backend.__path__):
        if not pkg.ispkg or pkg.name in ("cli", "migrations"):
            continue
        feature = importlib.import_module(f"backend.{pkg.name}")
        for mod_info in pkgutil.iter_modules(feature.__path__):
            if mod_info.name == "cli":
                continue
            mod = importlib.import_module(f"backend.{pkg.name}.{mod_info.name}")
            for name, fn in inspect.getmembers(mod, inspect.isfunction):
                if name.startswith("_") or fn.__module__ != mod.__name__:
                    continue
                params = list(inspect.signature(fn).parameters)
                # (ctx, x_id, ...) or (ctx, *, x_id, ...)
                if len(params) >= 2 and params[0] == "ctx" and params[1].endswith("_id"):
                    found[f"{mod.__name__}.{name}"] = inspect.signature(fn)
    return found


def _dummy(col: sa.Column) -> Any:  # type: ignore[type-arg]
    t = col.type
    if isinstance(t, sa.JSON):
        return {}
    if isinstance(getattr(t, "impl", t), sa.DateTime):
        return utcnow()
    try:
        py = t.python_type
    except NotImplementedError:
        return "x"
    if py is bool:
        return False
    if py is int:
        return 1
    if py is float:
        return 1.0
    if py is datetime:
        return utcnow()
    if py is bytes:
        return b"x"
    length = getattr(t, "length", None) or 8
    return "x" * min(length, 8)


def _insert_row(s: Any, table: sa.Table, tenant_id: str, **fixed: Any) -> str:
    """A minimal row of ``table`` owned by ``tenant_id`` (parents created first); its id."""
    values: dict[str, Any] = {}
    for col in table.columns:
        if col.name in fixed:
            values[col.name] = fixed[col.name]
        elif col.name == "id":
            values["id"] = new_id()
        elif col.name == "tenant_id":
            values["tenant_id"] = tenant_id
        elif col.foreign_keys:
            parent = next(iter(col.foreign_keys)).column.table
            values[col.name] = _insert_row(s, parent, tenant_id)
        elif not col.nullable and col.default is None and col.server_default is None:
            values[col.name] = _dummy(col)
        elif col.default is not None and col.default.is_scalar:
            values[col.name] = col.default.arg
        elif col.default is not None and col.default.is_callable:
            values[col.name] = col.default.arg({})  # type: ignore[call-arg]
    if table.name == "users":
        values["username"] = f"u{values['id'][:12]}"
    s.execute(table.insert().values(**values))
    return str(values["id"])


def _resolve(path: str) -> Any:
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("path", sorted(CASES))
def test_another_workspace_object_is_not_found(path: str, ctx: Ctx, other_ctx: Ctx) -> None:
    fn = _resolve(path)
    id_param = list(inspect.signature(fn).parameters.values())[1]
    table = Base.metadata.tables[ID_TABLES[id_param.name]]
    with session_scope() as s:
        obj_id = _insert_row(s, table, ctx.tenant_id)  # belongs to acme
    with pytest.raises(NotFound):
        _call(fn, other_ctx, obj_id, CASES[path])  # asked for by globex's admin
    with session_scope() as s:  # and it is still there, untouched by the failed call
        assert s.execute(sa.select(table.c.tenant_id).where(table.c.id == obj_id)).scalar() == ctx.tenant_id


def _call(fn: Any, ctx: Ctx, obj_id: str, kwargs: dict[str, Any]) -> Any:
    id_param = list(inspect.signature(fn).parameters.values())[1]
    if id_param.kind is inspect.Parameter.KEYWORD_ONLY:
        return fn(ctx, **{id_param.name: obj_id}, **kwargs)
    return fn(ctx, obj_id, **kwargs)


@pytest.mark.parametrize("path", sorted(SCOPED_FILTERS))
def test_another_workspace_parent_lists_nothing(path: str, ctx: Ctx, other_ctx: Ctx) -> None:
    fn = _resolve(path)
    id_name = list(inspect.signature(fn).parameters)[1]
    with session_scope() as s:
        parent_id = _insert_row(s, Base.metadata.tables[ID_TABLES[id_name]], ctx.tenant_id)
        # Every table that refers to this kind of parent gets a child row of the owner.
        for table in Base.metadata.sorted_tables:
            if id_name in table.c and table.name != ID_TABLES[id_name] and "tenant_id" in table.c:
                _insert_row(s, table, ctx.tenant_id, **{id_name: parent_id})
    try:
        result = _call(fn, other_ctx, parent_id, SCOPED_FILTERS[path])
    except NotFound:
        return  # the stricter answer is fine too
    assert not result, f"{path} returned another workspace's data: {result!r}"


def test_every_service_function_with_an_id_is_covered() -> None:
    found = _service_functions()
    missing = sorted(set(found) - set(CASES) - set(SCOPED_FILTERS) - set(NOT_LOOKUPS))
    assert not missing, "add these to CASES in tests/platform/test_tenancy.py (one line each):\n" + "\n".join(missing)
    unknown_ids = sorted({list(sig.parameters)[1] for p, sig in found.items() if p in CASES or p in SCOPED_FILTERS} - set(ID_TABLES))
    assert not unknown_ids, f"map these id parameters to their table in ID_TABLES: {unknown_ids}"
    stale = sorted((set(CASES) | set(SCOPED_FILTERS) | set(NOT_LOOKUPS)) - set(found))
    assert not stale, f"these CASES no longer exist: {stale}"
