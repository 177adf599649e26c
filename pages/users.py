"""Users (admins only): the workspace's users and its settings."""

from __future__ import annotations

import streamlit as st

from backend.accounts import service as accounts
from studio.auth import require_admin, require_ctx
from studio.users import add_user_form, manage_user, users_table, workspace_form

ctx = require_ctx()
require_admin(ctx)
st.title("Users")
users = accounts.list_users(ctx)
users_table(ctx, users)
add_user_form(ctx)
st.subheader("Manage a user")
manage_user(ctx, users)
st.subheader("Workspace settings")
workspace_form(ctx)
