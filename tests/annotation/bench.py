"""The Yes/No engine test bench: a dataset with clips, questions, gold; annotators on the real API."""
from __future__ import annotations

import csv

import pytest
from rest_framework.test import APIClient

from backend.annotation.services.gold import gold_add
from backend.annotation.services.questions import questions_for_labels
from backend.crowd.links import worker_link_token
from backend.crowd.services import worker_get_or_create
from backend.labels.models import Label
from backend.videos.models import Video
from backend.videos.services import video_import
from backend.vocabulary.models import Action


def build_engine(dataset, clip_factory, settings, tmp_path) -> dict:
    """40 clips; every clip asked about `jumping`; gold for `jumping` from the truth file."""
    settings.MEDIA_ROOT = tmp_path / "media"
    folder = clip_factory(40, seed=3)
    video_import(dataset=dataset, source=str(folder), split="train")
    truth = {r["video"]: set(r["actions"].split(";")) for r in csv.DictReader(open(folder / "truth.csv"))}
    jumping = Action.objects.get(dataset=dataset, name="jumping")
    videos = list(Video.objects.filter(dataset=dataset).order_by("name"))
    gold_videos, asked = videos[:10], videos[10:]
    for v in gold_videos:
        gold_add(dataset=dataset, video=v, action=jumping, truth="jumping" in truth[v.name])
    Label.objects.bulk_create([
        Label(dataset=dataset, video=v, action=jumping, asked_action=jumping, source=Label.Source.INITIAL) for v in asked
    ])
    questions_for_labels(dataset=dataset)
    dataset.set_size = 10
    dataset.save()
    return {"dataset": dataset, "truth": truth, "action": jumping, "folder": folder}


class WorkerClient:
    """An annotator talking to the real API with their signed-link token."""

    def __init__(self, name: str):
        self.worker = worker_get_or_create(provider="inhouse", external_id=name)
        self.client = APIClient()
        self.client.credentials(HTTP_X_WORKER_TOKEN=worker_link_token(worker=self.worker))

    def assign(self, dataset="synthetic"):
        return self.client.post(f"/api/work/{dataset}/sets/")

    def submit(self, set_id, answers, submission_id=None, **kw):
        import uuid

        body = {"submission_id": str(submission_id or uuid.uuid4()),
                "answers": [{"item": i, "answer": a, "ms": 800} for i, a in answers.items()]}
        return self.client.post(f"/api/work/sets/{set_id}/submit/", body, format="json", **kw)


def truth_of(item_id, engine) -> bool:
    """What the truth is for an item (test-side knowledge the client never has)."""
    from backend.annotation.models import SetItem

    item = SetItem.objects.select_related("question__video", "question__action", "gold").get(public_id=item_id)
    if item.gold_id:
        return item.gold.truth
    return item.question.action.name in engine["truth"][item.question.video.name]


def is_gold(item_id) -> bool:
    from backend.annotation.models import SetItem

    return SetItem.objects.get(public_id=item_id).gold_id is not None



