"""Typed readers for environment variables.

Every setting that varies between deployments is read here or in ``settings.py`` through these
helpers, so the environment is read in exactly one place.
"""
from __future__ import annotations

import os
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_str_or_recorded(name: str, recorded: Path, default: str) -> str:
    """The variable when set, else the value recorded in the file ``recorded`` (written by a
    command that knows better than the default, e.g. the demo's address), else ``default``."""
    value = os.environ.get(name)
    if value is not None:
        return value
    try:
        return recorded.read_text().strip() or default
    except OSError:
        return default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be one of {sorted(_TRUE | _FALSE)}, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def env_list(name: str, default: list[str], sep: str = ",") -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(sep) if item.strip()]


def env_paths(name: str, default: list[Path]) -> list[Path]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [Path(item).expanduser().resolve() for item in raw.split(os.pathsep) if item.strip()]


def env_required(name: str) -> str:
    """A value the deployment must provide (a secret); refuses to start without it."""
    from django.core.exceptions import ImproperlyConfigured

    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in the environment for this deployment.")
    return value
