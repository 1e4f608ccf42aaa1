"""What the command-line tools of ``ml`` share: ``--help`` that shows every default, and
loader workers that fit the machine.

Every tool builds its parser with :func:`cli_parser`; options whose help text is missing
still show their default, and flags (``store_true``) and options without a default show none.
"""

from __future__ import annotations

import argparse
import os

__all__ = ["MAX_DEFAULT_WORKERS", "available_cores", "cli_parser", "default_workers"]

MAX_DEFAULT_WORKERS = 4


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``(default: X)`` after every option that has a default, with or without help text."""

    def add_argument(self, action: argparse.Action) -> None:
        if action.help is None and self._shows_default(action):
            action = _with_help(action, "(default: %(default)s)")
        super().add_argument(action)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or not self._shows_default(action):
            return text
        return f"{text} (default: %(default)s)"

    @staticmethod
    def _shows_default(action: argparse.Action) -> bool:
        return (action.default is not None and action.default is not argparse.SUPPRESS
                and action.nargs != 0 and bool(action.option_strings))


def _with_help(action: argparse.Action, text: str) -> argparse.Action:
    copy = argparse.Action.__new__(type(action))
    copy.__dict__.update(action.__dict__, help=text)
    return copy


def cli_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The parser every ``python -m ml.<tool>`` starts from."""
    return argparse.ArgumentParser(prog=prog, description=description, formatter_class=DefaultsHelpFormatter)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    """Decoding processes for a loader: four, but never more than this process's share of the
    cores (PyTorch warns and the processes only contend beyond that). Under ``torchrun`` the
    cores are shared by the node's ``LOCAL_WORLD_SIZE`` processes."""
    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return min(MAX_DEFAULT_WORKERS, max(1, available_cores() // local))
