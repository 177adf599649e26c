"""The command line: each feature adds its commands from its own ``cli`` module."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from backend.errors import DomainError
from backend.settings import SettingsError

# Modules with a ``register(subparsers)`` function; one per feature.
COMMAND_MODULES = [
    "backend.cli.platform",
    "backend.cli.jobs",
    "backend.training.cli",
    "backend.influencers.cli",
    "backend.generation.cli",
    "backend.calendar.cli",
    "backend.datasets.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend", description="InfluencerAI Studio operator commands")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        from backend.settings import get_settings

        get_settings()  # a wrong setting stops every command with one line naming the variable
        return int(args.func(args) or 0)
    except SettingsError as err:
        print(err.code, file=sys.stderr)
        return 2
    except DomainError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
