"""``python -m backend``: the operator's command line."""

from backend.cli import main

raise SystemExit(main())
