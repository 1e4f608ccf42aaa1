"""Creating questions: from pending labels (initial labels, candidates) or a curator's list."""
from __future__ import annotations

import csv
from pathlib import Path

from django.db import transaction

from backend.annotation.models import Prompt, Question
from backend.common.errors import DomainError
from backend.labels.models import Label
from backend.videos.models import Dataset, Video
from backend.vocabulary.selectors import action_lookup

CURATOR_LIST_COLUMNS = "A curator list needs the columns video,action (video is the file name)."
CURATOR_LIST_UNKNOWN = "Line {line}: unknown {what} {name!r}."
CHUNK = 5000


def questions_for_labels(*, dataset: Dataset, labels=None) -> int:
    """Queue every pending label of the dataset (or of `labels`) that has no question yet."""
    qs = labels if labels is not None else Label.objects.filter(dataset=dataset)
    rows = (
        qs.filter(state=Label.State.PENDING, question__isnull=True, video__status=Video.Status.OK)
        .values_list("id", "video_id", "action_id", "video__split")
        .order_by("id")
    )
    created = 0
    batch: list[Question] = []
    for label_id, video_id, action_id, split in rows.iterator(chunk_size=CHUNK):
        batch.append(Question(
            dataset=dataset, action_id=action_id, video_id=video_id, label_id=label_id, split=split,
            needed=dataset.initial_answers(split), max_answers=max(dataset.max_answers, dataset.answers_needed(split)),
        ))
        if len(batch) >= CHUNK:
            created += len(Question.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    if batch:
        created += len(Question.objects.bulk_create(batch, ignore_conflicts=True))
    return created


@transaction.atomic
def questions_from_curator_list(*, dataset: Dataset, path: Path) -> int:
    """A CSV of (video, action) pairs to ask: creates curator labels and their questions."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not {"video", "action"} <= set(reader.fieldnames or []):
            raise DomainError(CURATOR_LIST_COLUMNS)
        rows = list(reader)
    actions = action_lookup(dataset=dataset)
    videos = dict(Video.objects.filter(dataset=dataset, status=Video.Status.OK).values_list("name", "id"))
    labels = []
    for n, row in enumerate(rows, start=2):
        video, action = row["video"].strip(), row["action"].strip()
        if video not in videos:
            raise DomainError(CURATOR_LIST_UNKNOWN.format(line=n, what="video", name=video))
        if action not in actions:
            raise DomainError(CURATOR_LIST_UNKNOWN.format(line=n, what="action", name=action))
        a = actions[action]
        labels.append(Label(dataset=dataset, video_id=videos[video], action=a, asked_action=a,
                            source=Label.Source.CURATOR))
    Label.objects.bulk_create(labels, ignore_conflicts=True)
    return questions_for_labels(dataset=dataset)


def question_create_image(*, dataset: Dataset, action, video: Video, image_key: str, prompt: str, needed: int,
                          ref: str = "") -> Question:
    """An image question (a frame or a crop) for the Action Regions pipeline."""
    if prompt not in (Prompt.VISIBLE, Prompt.RECOGNISABLE):
        raise DomainError(f"Image questions use the visible or recognisable prompt, not {prompt!r}.")
    return Question.objects.create(dataset=dataset, action=action, video=video, image_key=image_key, prompt=prompt,
                                   split=video.split, needed=needed, max_answers=max(needed, dataset.max_answers),
                                   ref=ref)
