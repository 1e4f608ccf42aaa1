"""Gold questions: curated pairs with known truth, added one by one or from a CSV."""
from __future__ import annotations

import csv
from pathlib import Path

from django.db import transaction

from backend.annotation.models import GoldQuestion, Prompt
from backend.common.errors import DomainError
from backend.videos.models import Dataset, Video
from backend.vocabulary.selectors import action_lookup

GOLD_COLUMNS = "A gold file needs the columns video,action,truth (truth is yes/no, true/false or 1/0)."
GOLD_BAD_ROW = "Gold file line {line}: {problem}."
_TRUE, _FALSE = {"yes", "y", "true", "1", "positive"}, {"no", "n", "false", "0", "negative"}


def parse_truth(raw: str) -> bool | None:
    value = (raw or "").strip().lower()
    return True if value in _TRUE else False if value in _FALSE else None


def gold_add(*, dataset: Dataset, video: Video, action, truth: bool, prompt: str = Prompt.SEEN_OR_HEARD,
             image_key: str = "", boxes: list | None = None, note: str = "", user=None) -> GoldQuestion:
    gold, _ = GoldQuestion.objects.update_or_create(
        prompt=prompt, video=video, action=action, image_key=image_key,
        defaults={"dataset": dataset, "truth": truth, "boxes": boxes or [], "note": note, "active": True,
                  "created_by": user},
    )
    return gold


@transaction.atomic
def gold_import_csv(*, dataset: Dataset, path: Path, user=None) -> int:
    """Import `video,action,truth` rows; the whole file is validated before anything is stored."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not {"video", "action", "truth"} <= set(reader.fieldnames or []):
            raise DomainError(GOLD_COLUMNS)
        rows = list(reader)
    actions = action_lookup(dataset=dataset)
    videos = {v.name: v for v in Video.objects.filter(dataset=dataset, status=Video.Status.OK)}
    parsed = []
    for n, row in enumerate(rows, start=2):
        name, action, truth = row["video"].strip(), row["action"].strip(), parse_truth(row["truth"])
        if name not in videos:
            raise DomainError(GOLD_BAD_ROW.format(line=n, problem=f"unknown video {name!r}"))
        if action not in actions:
            raise DomainError(GOLD_BAD_ROW.format(line=n, problem=f"unknown action {action!r}"))
        if truth is None:
            raise DomainError(GOLD_BAD_ROW.format(line=n, problem=f"truth must be yes or no, not {row['truth']!r}"))
        parsed.append((videos[name], actions[action], truth))
    for video, action, truth in parsed:
        gold_add(dataset=dataset, video=video, action=action, truth=truth, user=user, note=f"imported from {path.name}")
    return len(parsed)
