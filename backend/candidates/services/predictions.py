"""Ingesting a model's predictions: the input of the model top-1 source (Approach 3 of 3.1.1).

The ``ml`` package writes ``path,rank,action,score`` (``python -m ml.predict``): for every
video its top-k actions, rank 1 first, ``path`` as written in the release, which is the
video's storage key. An ingested file is one model run as the model source sees it
(``PredictionSet``); the newest of a dataset replaces the previous one. Rounds then propose,
per video, the best-ranked action the video has no label or question for -- once per run (or
the dataset's ``top_k`` times), each proposal recording its rank and run (``ModelProposal``).
"""
from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from backend.candidates.models import Prediction, PredictionSet
from backend.candidates.sql import copy_rows
from backend.common.background import task_enqueue
from backend.common.errors import DomainError
from backend.common.jobs import job_create
from backend.common.models import Job
from backend.videos.models import Dataset, Video
from backend.videos.sources import check_inside_roots
from backend.vocabulary.selectors import action_lookup

PREDICTION_COLUMNS = ("path", "rank", "action", "score")

PREDICTIONS_MISSING = "Predictions file {path} does not exist."
PREDICTIONS_HEADER = (
    "Predictions file {path} must start with the header path,rank,action,score "
    "(as `python -m ml.predict` writes it); found {found}."
)
PREDICTIONS_UNREADABLE = "Predictions file {path} cannot be read as UTF-8 CSV: {error}."
PREDICTIONS_BAD_ROW = "Predictions file {path}, line {line}: {problem}."
PREDICTIONS_UNKNOWN_VIDEOS = (
    "Predictions file {path} names {count} video(s) that dataset {dataset!r} does not have "
    "(the path must be the video's storage key), e.g. {examples}."
)
PREDICTIONS_UNKNOWN_ACTIONS = (
    "Predictions file {path} names {count} action(s) that are not in the vocabulary of {dataset!r}: {examples}."
)
PREDICTIONS_DUPLICATE_RANK = "Predictions file {path} gives some video the same rank twice."
PREDICTIONS_EMPTY = "Predictions file {path} holds no predictions."
_EXAMPLES = 5

ProgressFn = Callable[[int, int], None]


def predictions_check(*, path: str | Path) -> Path:
    """Cheap checks before queuing an ingestion: the file exists and has the right header."""
    path = Path(path)
    if not path.is_file():
        raise DomainError(PREDICTIONS_MISSING.format(path=path), field="path")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DomainError(PREDICTIONS_UNREADABLE.format(path=path, error=exc), field="path") from exc
    if not set(PREDICTION_COLUMNS) <= {name.strip() for name in header}:
        raise DomainError(PREDICTIONS_HEADER.format(path=path, found=",".join(header) or "nothing"), field="path")
    return path


def predictions_ingest_start(*, dataset: Dataset, path: str | Path, user=None) -> Job:
    """Check the file now (it lies under an import root, has the right header), then ingest it in a
    worker (every row is checked there; any problem fails the job and writes nothing)."""
    path = predictions_check(path=check_inside_roots(Path(path)))
    job = job_create(kind="ingest_predictions", user=user, params={"dataset": dataset.name, "path": str(path)})
    task_enqueue("mmit.candidates.ingest_predictions", str(job.id), dataset.id, str(path))
    return job


def predictions_ingest(
    *, dataset: Dataset, path: str | Path, user: AbstractBaseUser | None = None, model_run_id: int | None = None
) -> PredictionSet:
    """Read a predictions CSV into the dataset; it replaces the predictions ingested before.

    ``model_run_id`` names the training app's run that wrote the file (scheduled retraining
    passes it); the new set is then the model run its proposals record.

    Every row is checked: the path must be the storage key of one of the dataset's videos, the
    action a name of its vocabulary (merged names count as their current class), the rank an
    integer from 1 and the score a finite number. Any problem raises and nothing is written
    (the rows are streamed into the table inside one transaction that is rolled back).

    Returns:
        The new ``PredictionSet`` with its row and video counts.
    """
    path = predictions_check(path=path)
    videos = dict(Video.objects.filter(dataset=dataset).exclude(storage_key="").values_list("storage_key", "id"))
    actions = {name: action.id for name, action in action_lookup(dataset=dataset).items()}
    unknown_videos: dict[str, int] = {}
    unknown_actions: dict[str, int] = {}
    predicted: set[int] = set()

    def rows(prediction_set_id: int) -> Iterator[tuple]:
        for line, row in _read(path):
            problem = None
            try:
                rank = int(row["rank"])
                score = float(row["score"])
            except (TypeError, ValueError):
                problem = f"rank must be an integer and score a number, got {row['rank']!r} and {row['score']!r}"
            else:
                if rank < 1:
                    problem = f"rank must be 1 or more, got {rank}"
                elif not math.isfinite(score):
                    problem = f"score must be finite, got {row['score']!r}"
            if problem:
                raise DomainError(PREDICTIONS_BAD_ROW.format(path=path, line=line, problem=problem), field="path")
            key, name = (row["path"] or "").strip(), (row["action"] or "").strip()
            video_id, action_id = videos.get(key), actions.get(name)
            if video_id is None:
                unknown_videos.setdefault(key, line)
            if action_id is None:
                unknown_actions.setdefault(name, line)
            if video_id is None or action_id is None or unknown_videos or unknown_actions:
                continue  # the transaction fails at the end; keep reading to report everything
            predicted.add(video_id)
            yield prediction_set_id, video_id, action_id, rank, score

    try:
        with transaction.atomic():
            prediction_set = PredictionSet.objects.create(dataset=dataset, path=str(path), created_by=user,
                                                          model_run_id=model_run_id)
            written = copy_rows(
                model=Prediction, fields=["prediction_set", "video", "action", "rank", "score"],
                rows=rows(prediction_set.id),
            )
            if unknown_videos:
                raise DomainError(PREDICTIONS_UNKNOWN_VIDEOS.format(
                    path=path, count=len(unknown_videos), dataset=dataset.name, examples=_examples(unknown_videos),
                ), field="path")
            if unknown_actions:
                raise DomainError(PREDICTIONS_UNKNOWN_ACTIONS.format(
                    path=path, count=len(unknown_actions), dataset=dataset.name, examples=_examples(unknown_actions),
                ), field="path")
            if not written:
                raise DomainError(PREDICTIONS_EMPTY.format(path=path), field="path")
            # The model source reads the newest set only; older rows would just take space.
            Prediction.objects.filter(prediction_set__dataset=dataset).exclude(prediction_set=prediction_set).delete()
            prediction_set.rows, prediction_set.videos = written, len(predicted)
            prediction_set.save(update_fields=["rows", "videos"])
    except IntegrityError as exc:  # the (set, video, rank) unique constraint
        raise DomainError(PREDICTIONS_DUPLICATE_RANK.format(path=path), field="path") from exc
    return prediction_set


def _read(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
            for line, row in enumerate(reader, start=2):
                yield line, row
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DomainError(PREDICTIONS_UNREADABLE.format(path=path, error=exc), field="path") from exc


def _examples(first_lines: dict[str, int]) -> str:
    shown = [f"{name!r} (line {line})" for name, line in list(first_lines.items())[:_EXAMPLES]]
    more = len(first_lines) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
