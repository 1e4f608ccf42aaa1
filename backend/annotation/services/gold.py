"""Gold questions: curated pairs with known truth, added one by one, from a CSV (the command or the
dashboard's upload), promoted from a unanimous crowd label, or retired (never deleted: answers point
at them)."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import IO

from django.db import transaction

from backend.annotation.models import Answer, GoldQuestion, Prompt
from backend.common.errors import DomainError
from backend.labels.models import Label
from backend.videos.models import Dataset, Video
from backend.vocabulary.selectors import action_lookup

GOLD_COLUMNS = "A gold file needs the columns video,action,truth (truth is yes/no, true/false or 1/0)."
GOLD_BAD_ROW = "Gold file line {line}: {problem}."
GOLD_EMPTY = "The gold file has a header but no rows: nothing was imported."
GOLD_NOT_TEXT = "The gold file must be a UTF-8 CSV text file: nothing was imported."
# Promotion: a label becomes gold only when the crowd agreed on it unanimously, with enough answers.
PROMOTE_MIN_ANSWERS = 3
PROMOTE_UNKNOWN = "Dataset {dataset!r} has no label with id {id}."
PROMOTE_UNDECIDED = "Label {id} is {state}: only a positive or negative label can become gold."
PROMOTE_TOO_FEW = ("Label {id} has {n} crowd answer(s): promoting to gold needs at least {min} answers, "
                   "all the same.")
PROMOTE_SPLIT = ("Label {id} is not unanimous ({yes} yes, {no} no): only a label every worker agreed on "
                 "can become gold.")
PROMOTE_DISAGREES = ("Label {id} is {state} but its {n} crowd answers all said {said}: a label whose verdict "
                     "differs from its answers cannot become gold.")
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


def gold_import_csv(*, dataset: Dataset, path: Path, user=None) -> int:
    """Import `video,action,truth` rows from a file on disk (the ``import_gold`` command)."""
    with open(path, "rb") as f:
        return gold_import_file(dataset=dataset, file=f, source=path.name, user=user)


@transaction.atomic
def gold_import_file(*, dataset: Dataset, file: IO[bytes], source: str, user=None) -> int:
    """Import `video,action,truth` rows from a binary file (a path's or an upload's); the whole file
    is validated before anything is stored, so a bad file stores nothing."""
    try:
        text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text)
        if not {"video", "action", "truth"} <= set(reader.fieldnames or []):
            raise DomainError(GOLD_COLUMNS)
        rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DomainError(GOLD_NOT_TEXT) from exc
    if not rows:
        raise DomainError(GOLD_EMPTY)
    actions = action_lookup(dataset=dataset)
    videos = {v.name: v for v in Video.objects.filter(dataset=dataset, status=Video.Status.OK)}
    parsed = []
    for n, row in enumerate(rows, start=2):
        name, action = (row["video"] or "").strip(), (row["action"] or "").strip()
        truth = parse_truth(row["truth"])
        if name not in videos:
            raise DomainError(GOLD_BAD_ROW.format(line=n, problem=f"unknown video {name!r}"))
        if action not in actions:
            raise DomainError(GOLD_BAD_ROW.format(line=n, problem=f"unknown action {action!r}"))
        if truth is None:
            raise DomainError(GOLD_BAD_ROW.format(line=n, problem=f"truth must be yes or no, not {row['truth']!r}"))
        parsed.append((videos[name], actions[action], truth))
    for video, action, truth in parsed:
        gold_add(dataset=dataset, video=video, action=action, truth=truth, user=user, note=f"imported from {source}")
    return len(parsed)


@transaction.atomic
def gold_promote(*, dataset: Dataset, label_id: int, user=None) -> GoldQuestion:
    """Make a verified label gold: its (not excluded) crowd answers must number at least
    ``PROMOTE_MIN_ANSWERS`` and all agree with each other and with the label's verdict."""
    label = Label.objects.filter(dataset=dataset, pk=label_id).select_related("question").first()
    if label is None:
        raise DomainError(PROMOTE_UNKNOWN.format(dataset=dataset.name, id=label_id))
    if label.state not in (Label.State.POSITIVE, Label.State.NEGATIVE):
        raise DomainError(PROMOTE_UNDECIDED.format(id=label.pk, state=label.state))
    question = getattr(label, "question", None)
    values = list(Answer.objects.filter(question=question, excluded=False).values_list("value", flat=True)) \
        if question is not None else []
    yes = sum(values)
    no = len(values) - yes
    if len(values) < PROMOTE_MIN_ANSWERS:
        raise DomainError(PROMOTE_TOO_FEW.format(id=label.pk, n=len(values), min=PROMOTE_MIN_ANSWERS))
    if yes and no:
        raise DomainError(PROMOTE_SPLIT.format(id=label.pk, yes=yes, no=no))
    truth = label.state == Label.State.POSITIVE
    if bool(yes) != truth:
        raise DomainError(PROMOTE_DISAGREES.format(id=label.pk, state=label.state, n=len(values),
                                                   said="yes" if yes else "no"))
    return gold_add(dataset=dataset, video=label.video, action=label.action, truth=truth, prompt=question.prompt,
                    image_key=question.image_key, user=user, note=f"promoted from label {label.pk}")


def gold_retire(*, gold: GoldQuestion) -> GoldQuestion:
    """Stop serving a gold question in new sets; it and its answers are kept."""
    if gold.active:
        gold.active = False
        gold.save(update_fields=["active"])
    return gold
