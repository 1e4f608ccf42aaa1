"""MTurk settings, read through one accessor.

They are read from the environment in ``backend/config/settings.py`` (``MMIT_MTURK_*``). Credentials are never settings: boto3's normal chain supplies them
(environment variables, shared config files, an instance role) and nothing is stored.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings

def mturk_setting(name: str) -> Any:
    return getattr(settings, name)
