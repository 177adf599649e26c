"""Fixtures of the platform tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from backend.context import Ctx


@pytest.fixture
def make_viewer() -> Callable[[Ctx], Ctx]:
    """A viewer in the same workspace as the admin ``ctx``."""

    def make(admin: Ctx, username: str = "viewer-1") -> Ctx:
        from backend.accounts.service import create_user

        u = create_user(admin, username=username, password="password123", role="viewer")
        return Ctx(tenant_id=u.tenant_id, user_id=u.id, role="viewer", username=u.username)

    return make
