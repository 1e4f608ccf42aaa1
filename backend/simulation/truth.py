"""The truth file (video,actions) and how a simulated worker recognises what it is shown."""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from backend.common.errors import DomainError

TRUTH_BAD = "Truth file {path}: {problem}."


def load_truth(path: Path) -> dict[str, set[str]]:
    """video name (or manifest path) -> the set of true actions."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if not {"video", "actions"} <= set(reader.fieldnames or []):
                raise DomainError(TRUTH_BAD.format(path=path, problem="expected the columns video,actions"))
            truth: dict[str, set[str]] = {}
            for n, row in enumerate(reader, start=2):
                video = (row.get("video") or "").strip()
                if not video:
                    raise DomainError(TRUTH_BAD.format(path=path, problem=f"line {n}: empty video"))
                actions = {a.strip() for a in (row.get("actions") or "").split(";") if a.strip()}
                truth.setdefault(video, set()).update(actions)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DomainError(TRUTH_BAD.format(path=path, problem=exc)) from exc
    if not truth:
        raise DomainError(TRUTH_BAD.format(path=path, problem="no rows"))
    return truth


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
