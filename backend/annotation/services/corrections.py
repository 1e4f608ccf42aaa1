"""A curator's corrections of labels: a verdict (positive or negative) or more crowd answers.

A verdict pins the label (``Label.corrected``), the way gold is pinned: its question is closed with
the curator's verdict as its decision, so neither consensus (which decides open questions only) nor
``dataset_reaggregate`` (which pins corrected questions to their verdict) changes it again.
Asking for more answers un-pins it: the label goes back to pending and its question reopens needing
N answers more than it has (a label that was never asked gets a question needing N), so the crowd
decides again with the old answers and the new ones.

Answers are never touched. Every correction is a ``LabelCorrection`` row (who, when, why, the state
before and after), one per label, sharing one batch id per request.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from backend.annotation.models import Question
from backend.common.errors import DomainError
from backend.labels.models import Label, LabelCorrection
from backend.videos.models import Dataset, Video

VERDICTS = (Label.State.POSITIVE, Label.State.NEGATIVE)
MAX_REASON = 2000
MAX_MORE_ANSWERS = 20
CHUNK = 2000

REASON_REQUIRED = "Give a reason for the correction: it is kept in the label's history."
REASON_TOO_LONG = f"The reason is too long: at most {MAX_REASON} characters."
BAD_STATE = "The state must be positive or negative, not {state}."
BAD_MORE_ANSWERS = f"Ask for a whole number of more answers, from 1 to {MAX_MORE_ANSWERS}, not {{value}}."
ONE_CORRECTION = "Send either a state (positive or negative) or more_answers, with a reason; not both."
NO_CORRECTION = "Send a state (positive or negative) or more_answers (how many more crowd answers), with a reason."
LABEL_MERGED = ("This label was merged into another one by a vocabulary merge and is no longer used; "
                "correct the label it was merged into.")


@dataclass(frozen=True)
class CorrectionResult:
    """What a correction did: how many labels it recorded (``corrected``) and, of those, how many
    changed state (a verdict equal to the crowd's still pins the label, but changes nothing)."""

    corrected: int
    changed: int
    batch: uuid.UUID


def _reason_clean(reason) -> str:
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise DomainError(REASON_REQUIRED, field="reason")
    if len(reason) > MAX_REASON:
        raise DomainError(REASON_TOO_LONG, field="reason")
    return reason


def _more_clean(value) -> int:
    # bool is an int in Python; `true` is not a number of answers
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MORE_ANSWERS:
        raise DomainError(BAD_MORE_ANSWERS.format(value=repr(value)[:40]), field="more_answers")
    return value


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start:start + CHUNK])


def _who(user) -> dict:
    if user is None or not getattr(user, "is_authenticated", False):
        return {"corrected_by": None, "corrected_by_name": ""}
    return {"corrected_by": user, "corrected_by_name": user.get_username()[:150]}


def _locked(ids: list[int]) -> list[tuple[int, str]]:
    """(id, state) of these labels, locked for the rest of the transaction; merged ones left out.

    Their questions are locked first: a submission updates questions and then the labels that
    follow their decisions, and taking the rows in the same order keeps the two from deadlocking."""
    list(Question.objects.select_for_update().filter(label_id__in=ids).order_by("id").values_list("id", flat=True))
    return list(Label.objects.select_for_update().filter(pk__in=ids).exclude(state=Label.State.MERGED)
                .order_by("id").values_list("id", "state"))


def labels_correct(*, dataset: Dataset, labels: QuerySet[Label], reason: str, user=None, state: str | None = None,
                   more_answers: int | None = None) -> CorrectionResult:
    """Correct every label of ``labels`` (within ``dataset``; merged labels are left out): set the
    verdict ``state`` (positive or negative) or ask for ``more_answers`` crowd answers.

    Exactly one of ``state`` and ``more_answers`` is given; the reason is required. Nothing changes
    when the request is invalid (DomainError)."""
    if state is not None and more_answers is not None:
        raise DomainError(ONE_CORRECTION)
    if state is None and more_answers is None:
        raise DomainError(NO_CORRECTION)
    if more_answers is not None:
        more_answers = _more_clean(more_answers)
    elif state not in VERDICTS:
        raise DomainError(BAD_STATE.format(state=repr(state)[:40]), field="state")
    reason = _reason_clean(reason)
    ids = list(labels.filter(dataset=dataset).exclude(state=Label.State.MERGED).order_by("id")
               .values_list("id", flat=True))
    batch, now, who = uuid.uuid4(), timezone.now(), _who(user)
    corrected = changed = 0
    with transaction.atomic():
        for chunk in _chunks(ids):
            rows = _locked(chunk)
            if not rows:
                continue
            if more_answers is None:
                events = _verdict(rows, state=state, now=now)
            else:
                events = _reopen(dataset, rows, more_answers=more_answers)
            LabelCorrection.objects.bulk_create([
                LabelCorrection(label_id=pk, state_before=before, reason=reason, corrected_at=now, batch=batch,
                                **event, **who)
                for (pk, before), event in zip(rows, events)
            ])
            corrected += len(rows)
            changed += sum(1 for (_, before), event in zip(rows, events) if before != event["state_after"])
    return CorrectionResult(corrected=corrected, changed=changed, batch=batch)


def _verdict(rows: list[tuple[int, str]], *, state: str, now) -> list[dict]:
    ids = [pk for pk, _ in rows]
    Label.objects.filter(pk__in=ids).update(state=state, corrected=True, confidence=1.0, decided_at=now)
    # The question takes the verdict as its decision: an open one stops being asked (answers still in
    # flight are counted when they come, but decide nothing), and re-aggregation pins it to the verdict.
    Question.objects.filter(label_id__in=ids).exclude(state=Question.State.CANCELLED).update(
        state=Question.State.DECIDED, decision=state, confidence=1.0, decided_at=now)
    return [{"kind": LabelCorrection.Kind.VERDICT, "state_after": state}] * len(rows)


def _reopen(dataset: Dataset, rows: list[tuple[int, str]], *, more_answers: int) -> list[dict]:
    ids = [pk for pk, _ in rows]
    Label.objects.filter(pk__in=ids).update(state=Label.State.PENDING, corrected=False, confidence=None,
                                            decided_at=None)
    questions = Question.objects.filter(label_id__in=ids)
    questions.update(state=Question.State.OPEN, needed=F("answers") + more_answers,
                     max_answers=Greatest(F("max_answers"), F("answers") + more_answers), decision="",
                     confidence=None, decided_at=None)
    asked = set(questions.values_list("label_id", flat=True))
    # A label never asked (imported as verified, or pending before its question was made) gets one;
    # clips that failed their import are never shown, so their labels wait without a question.
    Question.objects.bulk_create([
        Question(dataset=dataset, action_id=action_id, video_id=video_id, label_id=pk, split=split,
                 needed=more_answers, max_answers=max(more_answers, dataset.max_answers))
        for pk, video_id, action_id, split in Label.objects.filter(pk__in=[i for i in ids if i not in asked],
                                                                   video__status=Video.Status.OK)
        .values_list("id", "video_id", "action_id", "video__split")
    ], ignore_conflicts=True)
    return [{"kind": LabelCorrection.Kind.MORE_ANSWERS, "state_after": Label.State.PENDING,
             "more_answers": more_answers}] * len(rows)


def label_correct(*, label: Label, reason: str, user=None, state: str | None = None,
                  more_answers: int | None = None) -> Label:
    """Correct one label (see ``labels_correct``); returns it as it now is."""
    if label.state == Label.State.MERGED:
        raise DomainError(LABEL_MERGED)
    labels_correct(dataset=label.dataset, labels=Label.objects.filter(pk=label.pk), reason=reason, user=user,
                   state=state, more_answers=more_answers)
    label.refresh_from_db()
    return label
