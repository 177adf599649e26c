"""Users page widgets (admins): the user list, add user, manage one user, workspace settings.

Every change goes through backend.accounts.service with the admin's context, so a domain error
(duplicate username, last admin, bad password) shows as a message. The login form picks up
changed users by itself (studio.auth rebuilds the authenticator when the users change).
"""

from __future__ import annotations

from zoneinfo import available_timezones

import streamlit as st

from backend.accounts import service as accounts
from backend.accounts.models import UserOut
from backend.context import ROLES, Ctx
from studio.feedback import attempt
from studio.jobs import fmt_time, workspace_tz


def users_table(ctx: Ctx, users: list[UserOut]) -> None:
    """The workspace's users."""
    tz = workspace_tz(ctx)
    st.dataframe(
        [
            {"username": u.username, "role": u.role, "active": u.active, "name": u.name,
             "email": u.email, "created": fmt_time(u.created_at, tz)}
            for u in users
        ],
        hide_index=True,
    )


def add_user_form(ctx: Ctx) -> None:
    """Username, password twice, role."""
    with st.form("add_user", clear_on_submit=True):
        st.markdown("**Add a user**")
        left, right = st.columns(2)
        username = left.text_input("Username", key="new_username")
        role = right.selectbox("Role", ROLES, index=1, key="new_role")
        password = left.text_input("Password", type="password", key="new_password")
        repeat = right.text_input("Repeat password", type="password", key="new_password_repeat")
        if st.form_submit_button("Add user", type="primary"):
            if password != repeat:
                st.error("The passwords do not match.")
            else:
                attempt(
                    lambda: accounts.create_user(ctx, username=username.strip(), password=password, role=role),
                    success=f"User {username.strip()} added.", rerun=True,
                )


def manage_user(ctx: Ctx, users: list[UserOut]) -> None:
    """Change one user's role, (de)activate, reset the password, or delete."""
    by_id = {u.id: u for u in users}
    chosen = st.selectbox("User", list(by_id), format_func=lambda i: f"{by_id[i].username} ({by_id[i].role})",
                          key="manage_user")
    if chosen is None:
        return
    user = by_id[chosen]
    me = " (you)" if user.id == ctx.user_id else ""
    st.markdown(f"**{user.username}**{me} · {user.role} · {'active' if user.active else 'deactivated'}")
    role_col, active_col = st.columns(2)
    with role_col:
        role = st.selectbox("Role", ROLES, index=ROLES.index(user.role), key=f"role_{user.id}")  # type: ignore[arg-type]
        if st.button("Change role", key=f"set_role_{user.id}", disabled=role == user.role):
            attempt(lambda: accounts.update_user(ctx, user.id, role=role),
                    success=f"{user.username} is now {role}.", rerun=True)
    with active_col:
        st.write("")
        label = "Deactivate" if user.active else "Activate"
        if st.button(label, key=f"toggle_active_{user.id}"):
            attempt(lambda: accounts.update_user(ctx, user.id, active=not user.active),
                    success=f"{user.username} {'deactivated' if user.active else 'activated'}.", rerun=True)
    with st.form(f"reset_password_{user.id}", clear_on_submit=True):
        st.markdown("**Reset password**")
        left, right = st.columns(2)
        new = left.text_input("New password", type="password", key=f"reset_pw_{user.id}")
        repeat = right.text_input("Repeat new password", type="password", key=f"reset_pw2_{user.id}")
        if st.form_submit_button("Set password"):
            if new != repeat:
                st.error("The passwords do not match.")
            else:
                attempt(lambda: accounts.update_user(ctx, user.id, password=new),
                        success=f"Password of {user.username} changed.", rerun=True)
    with st.expander("Delete this user"):
        sure = st.checkbox(f"Yes, delete {user.username}", key=f"confirm_delete_{user.id}")
        if st.button("Delete user", key=f"delete_{user.id}", type="primary", disabled=not sure):
            attempt(lambda: accounts.delete_user(ctx, user.id), success=f"{user.username} deleted.", rerun=True)


@st.cache_data
def _time_zones() -> list[str]:
    return sorted(available_timezones())


def workspace_form(ctx: Ctx) -> None:
    """The workspace's display name and time zone."""
    tenant = accounts.get_tenant(ctx)
    zones = _time_zones()
    with st.form("workspace"):
        st.markdown(f"**Workspace** `{tenant.slug}`")
        name = st.text_input("Name", value=tenant.name, key="ws_name")
        tz = st.selectbox("Time zone", zones, index=zones.index(tenant.timezone) if tenant.timezone in zones else None,
                          key="ws_timezone")
        if st.form_submit_button("Save workspace"):
            attempt(lambda: accounts.update_tenant(ctx, name=name.strip() or None, timezone=tz),
                    success="Workspace saved.", rerun=True)
