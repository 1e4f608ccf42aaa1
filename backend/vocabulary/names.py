"""Action-name rules shared by the vocabulary services and file readers."""
from __future__ import annotations

import re
from pathlib import Path

from backend.common.errors import DomainError

# `;` and `,` separate labels in manifests and releases, so they cannot be part of a name.
_FORBIDDEN = re.compile(r"[;,\n\r\t\x00-\x1f\x7f]")
MAX_NAME_LENGTH = 100

INVALID_ACTION_NAME = (
    "Invalid action name {name!r}: use 1 to 100 characters without ';', ',' or control characters."
)
VOCABULARY_FILE_MISSING = "Vocabulary file {path} does not exist."
VOCABULARY_FILE_EMPTY = "Vocabulary file {path} has no action names."
VOCABULARY_FILE_UNREADABLE = "Vocabulary file {path} is not UTF-8 text: {error}."


def clean_action_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH or _FORBIDDEN.search(cleaned):
        raise DomainError(INVALID_ACTION_NAME.format(name=name), field="name")
    return cleaned


def display_name_for(name: str) -> str:
    """`ice+skating` -> `ice skating`; merged names such as `ascending/rising` stay as they are."""
    return name.replace("+", " ")


def read_vocabulary_file(path: str | Path) -> list[str]:
    """One action per line; blank lines and `#` comments are skipped, duplicates kept once."""
    p = Path(path)
    if not p.is_file():
        raise DomainError(VOCABULARY_FILE_MISSING.format(path=p))
    names: list[str] = []
    seen: set[str] = set()
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DomainError(VOCABULARY_FILE_UNREADABLE.format(path=p, error=exc)) from exc
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = clean_action_name(line)
        if name not in seen:
            seen.add(name)
            names.append(name)
    if not names:
        raise DomainError(VOCABULARY_FILE_EMPTY.format(path=p))
    return names
