"""Turning domain errors into messages instead of tracebacks, and messages that survive a rerun.

Wrap every change a page makes::

    job = attempt(lambda: jobs.cancel(ctx, job_id), success="Cancel requested")
    attempt(lambda: accounts.delete_user(ctx, uid), success="User deleted", rerun=True)

A domain error (NotFound, InvalidInput with its reasons, Conflict, PermissionDenied) becomes an
``st.error``; the return value is None then. ``rerun=True`` reruns the whole app after success and
shows ``success`` on the next run (``show_flashes()``, which Home.py calls before every page).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

import streamlit as st

from backend.errors import DomainError, InvalidInput

T = TypeVar("T")
_FLASH_KEY = "_studio_flashes"
Kind = Literal["success", "info", "warning", "error"]


def flash(message: str, kind: Kind = "success") -> None:
    """Show ``message`` on the next run (after ``st.rerun()``)."""
    st.session_state.setdefault(_FLASH_KEY, []).append((kind, message))


def show_flashes() -> None:
    """Show and forget the messages left by ``flash``."""
    for kind, message in st.session_state.pop(_FLASH_KEY, []):
        getattr(st, kind)(message)


def show_error(err: DomainError) -> None:
    """A domain error as a message: InvalidInput lists its reasons one per line."""
    if isinstance(err, InvalidInput):
        head = str(err).split(": ", 1)[0] if err.reasons and str(err) != err.reasons[0] else str(err)
        st.error(head[:1].upper() + head[1:])
        if str(err) != err.reasons[0] or len(err.reasons) > 1:
            for reason in err.reasons:
                st.caption(f"• {reason}")
        return
    text = str(err)
    st.error(text[:1].upper() + text[1:])


def attempt(fn: Callable[[], T], *, success: str | None = None, rerun: bool = False) -> T | None:
    """Run ``fn``; show a domain error as a message and return None, else report ``success``."""
    try:
        value = fn()
    except DomainError as err:
        show_error(err)
        return None
    if rerun:
        if success:
            flash(success)
        st.rerun()
    if success:
        st.success(success)
    return value
