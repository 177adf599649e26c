"""Turning domain errors into messages instead of tracebacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from backend.errors import DomainError, InvalidInput

T = TypeVar("T")


def attempt(fn: Callable[[], T], *, success: str | None = None) -> T | None:
    """Run ``fn``; show a domain error as a message and return None, else show ``success``."""
    try:
        value = fn()
    except InvalidInput as err:
        st.error(f"{err.args[0].split(':')[0] if err.args else 'Invalid input'}")
        for reason in err.reasons:
            st.caption(f"• {reason}")
        return None
    except DomainError as err:
        st.error(str(err))
        return None
    if success:
        st.toast(success)
    return value
