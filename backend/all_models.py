"""Imports every feature's models so ``Base.metadata`` is complete (Alembic, tests)."""

from backend.accounts import models as accounts_models  # noqa: F401
from backend.jobs import models as jobs_models  # noqa: F401
from backend.training import models as training_models  # noqa: F401
from backend.calendar import models as calendar_models  # noqa: F401
from backend.datasets import models as datasets_models  # noqa: F401
from backend.influencers import models as influencers_models  # noqa: F401
from backend.generation import models as generation_models  # noqa: F401
from backend.llm import models as llm_models  # noqa: F401
from backend.webhooks import models as webhooks_models  # noqa: F401
