"""Imports every feature's models so ``Base.metadata`` is complete (Alembic, tests)."""

from backend.accounts import models as accounts_models  # noqa: F401
from backend.jobs import models as jobs_models  # noqa: F401
