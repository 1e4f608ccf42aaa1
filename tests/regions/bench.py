"""The Action Regions test bench: synthetic clips with verified positive labels, workers on the
real API, and test-side knowledge of the truth (the client never has it)."""
from __future__ import annotations

import csv
import json
import uuid

import numpy as np
from PIL import Image
from rest_framework.test import APIClient

from backend.crowd.links import worker_link_token
from backend.crowd.services import worker_get_or_create
from backend.labels.models import Label
from backend.regions.models import DrawingItem, FrameAction
from backend.regions.services.advance import regions_advance
from backend.regions.services.frames import regions_select_frames
from backend.videos.models import Video
from backend.videos.services import video_import
from backend.vocabulary.models import Action


def load_truth(folder):
    truth = {r["video"]: set(r["actions"].split(";")) for r in csv.DictReader(open(folder / "truth.csv"))}
    boxes = json.loads((folder / "boxes.json").read_text())
    return truth, boxes


def build_bench(dataset, clip_factory, settings, tmp_path, *, n_clips=24, seed=5):
    """Clips imported from the manifest; every true (clip, action) pair a verified positive label
    (the state the Yes/No engine would leave after verification)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    dataset.eval_answers = 3  # three answers decide every split, so three test workers suffice
    dataset.save(update_fields=["eval_answers"])
    folder = clip_factory(n_clips, seed=seed)
    video_import(dataset=dataset, source=str(folder / "manifest.csv"))
    truth, boxes = load_truth(folder)
    actions = {a.name: a for a in Action.objects.filter(dataset=dataset)}
    videos = {v.name: v for v in Video.objects.filter(dataset=dataset)}
    Label.objects.bulk_create([
        Label(dataset=dataset, video=videos[name], action=actions[a], asked_action=actions[a],
              source=Label.Source.CURATOR) for name, acts in truth.items() for a in acts
    ], ignore_conflicts=True)
    Label.objects.filter(dataset=dataset).update(state=Label.State.POSITIVE)
    return {"dataset": dataset, "folder": folder, "truth": truth, "boxes": boxes, "videos": videos,
            "actions": actions}


def to_drawing(qs, needed=3):
    """Test setup: frame-actions as if their visibility rounds had confirmed them."""
    qs.update(stage=FrameAction.Stage.DRAWING, drawings_needed=needed)


class Drawer:
    """A worker of the drawing task on the real API, with their signed-link token."""

    def __init__(self, name: str):
        self.worker = worker_get_or_create(provider="inhouse", external_id=name)
        self.client = APIClient()
        self.client.credentials(HTTP_X_WORKER_TOKEN=worker_link_token(worker=self.worker))

    def assign(self, dataset="synthetic", **query):
        suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
        return self.client.post(f"/api/regions/work/{dataset}/sets/{suffix}")

    def yes_no_set(self, prompt, dataset="synthetic"):
        return self.client.post(f"/api/work/{dataset}/sets/?prompt={prompt}")

    def submit(self, set_id, regions, submission_id=None):
        body = {"submission_id": str(submission_id or uuid.uuid4()), "regions": regions}
        return self.client.post(f"/api/regions/work/sets/{set_id}/submit/", body, format="json")


def item_truth(item_id, bench):
    """The boxes an item should get (test-side knowledge): gold boxes, or the clip's true boxes."""
    item = DrawingItem.objects.select_related("target__frame__video", "target__action", "gold").get(public_id=item_id)
    if item.gold_id:
        return [list(b) for b in item.gold.boxes] if item.gold.truth else []
    return bench["boxes"][item.target.frame.video.name].get(item.target.action.name, [])


def correct_regions(payload, bench):
    out = []
    for item in payload["items"]:
        boxes = item_truth(item["id"], bench)
        out.append({"item": item["id"], "skip": not boxes, "boxes": boxes, "ms": 900})
    return out


def read_broden(directory):
    """A reader written from Broden's README (NetDissect loadseg's parsing rules), not our writer."""
    def rows(name):
        with open(directory / name, newline="") as f:
            return list(csv.DictReader(f))

    index = rows("index.csv")
    categories = {r["name"]: r for r in rows("category.csv")}
    labels = {int(r["number"]): r for r in rows("label.csv")}
    images = []
    for r in index:
        masks = []
        for channel in [s for s in r["action"].split(";") if s]:
            rgb = np.asarray(Image.open(directory / "images" / channel)).astype(int)
            masks.append(rgb[:, :, 0] + rgb[:, :, 1] * 256)
        image = np.asarray(Image.open(directory / "images" / r["image"]))
        images.append({**r, "pixels": image, "masks": masks})
    return {"index": index, "categories": categories, "labels": labels, "images": images,
            "codes": rows("c_action.csv")}


def seed_regions(bench, *, actions=("sliding", "falling"), per_action=2, drawers=3, seed=0):
    """Frame-actions with drawings and consensus regions, through the real drawing API: each of
    ``drawers`` workers draws the true boxes with a shaky hand, then one pipeline pass finds the
    consensus (the frame-actions end in `verifying`, their regions pending)."""
    dataset = bench["dataset"]
    regions_select_frames(dataset=dataset, per_action=per_action, actions=list(actions), seed=seed)
    to_drawing(FrameAction.objects.filter(dataset=dataset))
    rng = np.random.default_rng(seed)
    for n in range(drawers):
        worker = Drawer(f"drawer-{n}")
        while (payload := worker.assign(dataset.name).json()["set"]) is not None:
            regions = correct_regions(payload, bench)
            for entry in regions:
                boxes = [[float(v + rng.normal(0, 0.6)) for v in b] for b in entry["boxes"]]
                entry["boxes"] = [[max(0, b[0]), max(0, b[1]), min(64, b[2]), min(64, b[3])] for b in boxes]
            assert worker.submit(payload["id"], regions).status_code == 200
    regions_advance(dataset=dataset)
    return FrameAction.objects.filter(dataset=dataset)
