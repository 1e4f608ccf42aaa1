"""Simulated workers for the Action Regions pipeline, acting through the real HTTP API.

The crowd simulator's population (WORKERS.json groups) does all three crowd tasks: the Yes/No
image sets (`visible`, `recognisable`) and the drawing sets. As in the label simulator, a worker
knows what it is shown only from the bytes it downloads: every frame and crop is recognised by
its content hash, which leads to the clip and the pixel box it shows; the truth is then
- visible: the action has a ground-truth box in the clip's centre frame (`boxes.json`); audio
  actions (whistling, drumming) have none, so they are never visible;
- recognisable in a crop: the crop lies mostly inside a true box of the action and covers a fair
  part of it;
- drawing: the true boxes, drawn with noise by group quality.

How a group draws: with probability `sensitivity` each true box is drawn, its edges moved by
Gaussian noise of `box_noise` (optional per-group key in WORKERS.json; default
`0.6 * (1 - sensitivity)`) times the box size; with none drawn the image is skipped. An image
without the action is skipped with probability `specificity`, otherwise a random box is drawn.
Spammers (answers independent of the truth) draw a random box with probability `sensitivity`
and skip otherwise.
"""
from __future__ import annotations

import hashlib
import heapq
import json
import random
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Callable

import urllib3
from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from backend.annotation.models import Answer, Attempt, GoldQuestion, Prompt, TaskSet
from backend.annotation.services.assign import tasksets_expire
from backend.common.errors import DomainError
from backend.crowd.links import worker_link_token
from backend.crowd.models import Worker
from backend.crowd.services import worker_get_or_create
from backend.labels.models import Label
from backend.regions.conf import regions_conf
from backend.regions.geometry import area, intersection, iou
from backend.regions.models import Drawing, DrawingAttempt, DrawingSet, FrameAction, Region, RegionFrame
from backend.regions.services.advance import regions_advance
from backend.regions.services.drawing import drawingsets_expire
from backend.regions.services.export import regions_stats
from backend.regions.services.frames import regions_select_frames
from backend.regions.services.gold import region_gold_add
from backend.regions.storage import image_read
from backend.simulation.client import ApiClient, HttpResult
from backend.simulation.population import Group, SimWorker, make_workers
from backend.videos.models import Dataset, Video
from backend.vocabulary.models import Action

BOXES_BAD = "Boxes file {path}: {problem}."
NO_POSITIVES = (
    "Dataset {name!r} has no verified positive labels to take frames from: verify labels first "
    "(simulate_crowd), or pass --label-rounds."
)
MAX_ITERATIONS = 40

Box = tuple[float, float, float, float]


def load_boxes(path: Path) -> dict[str, dict[str, list[Box]]]:
    """boxes.json: {video: {action: [[x0, y0, x1, y1], ...]}} (centre-frame boxes)."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DomainError(BOXES_BAD.format(path=path, problem=exc)) from exc
    if not isinstance(raw, dict):
        raise DomainError(BOXES_BAD.format(path=path, problem="expected an object of videos"))
    out = {}
    for video, actions in raw.items():
        if not isinstance(actions, dict):
            raise DomainError(BOXES_BAD.format(path=path, problem=f"{video}: expected an object of actions"))
        try:
            out[video] = {a: [tuple(float(v) for v in b) for b in boxes] for a, boxes in actions.items()}
        except (TypeError, ValueError) as exc:
            raise DomainError(BOXES_BAD.format(path=path, problem=f"{video}: {exc}")) from exc
    return out


def load_box_noise(path: Path) -> dict[str, float]:
    """The optional `box_noise` of each group in WORKERS.json (load_groups ignores the key)."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(g["name"]): float(g["box_noise"]) for g in raw if isinstance(g, dict) and "box_noise" in g}


def by_video(dataset: Dataset, mapping: dict[str, object]) -> dict[int, object]:
    """Key a per-video-name mapping by video id (names, or manifest paths ending with the name)."""
    out = {}
    for vid, name, source in Video.objects.filter(dataset=dataset, status=Video.Status.OK).values_list(
            "id", "name", "source"):
        if name in mapping:
            out[vid] = mapping[name]
        else:
            match = next((k for k in mapping if source.endswith("/" + k.lstrip("/"))), None)
            if match is not None:
                out[vid] = mapping[match]
    return out


def recognisable(crop: Box, truth: list[Box]) -> bool:
    """A crop shows the action when it lies mostly inside one of its true boxes and covers a fair part of it."""
    for box in truth:
        inter = intersection([crop, box])
        if inter and area(inter) >= 0.5 * area(crop) and area(inter) >= 0.3 * area(box):
            return True
    return False


def _random_box(rng: random.Random, width: int, height: int, min_box: float) -> list[float]:
    w = rng.uniform(min_box, max(min_box, width * 0.6))
    h = rng.uniform(min_box, max(min_box, height * 0.6))
    x0, y0 = rng.uniform(0, width - w), rng.uniform(0, height - h)
    return [round(x0, 2), round(y0, 2), round(x0 + w, 2), round(y0 + h, 2)]


def _noisy(box: Box, rng: random.Random, noise: float, width: int, height: int, min_box: float) -> list[float]:
    bw, bh = box[2] - box[0], box[3] - box[1]
    x0 = min(max(0.0, box[0] + rng.gauss(0, noise * bw)), width - min_box)
    y0 = min(max(0.0, box[1] + rng.gauss(0, noise * bh)), height - min_box)
    x1 = max(min(float(width), box[2] + rng.gauss(0, noise * bw)), x0 + min_box)
    y1 = max(min(float(height), box[3] + rng.gauss(0, noise * bh)), y0 + min_box)
    return [round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2)]


def draw(w: SimWorker, truth: list[Box], *, width: int, height: int, min_box: float, max_boxes: int,
         noise: float) -> tuple[bool, list[list[float]]]:
    """(skip, boxes) of a simulated worker for one image (see the module docstring)."""
    g = w.group
    if g.is_spammer:
        if w.rng.random() < g.sensitivity:
            return False, [_random_box(w.rng, width, height, min_box)]
        return True, []
    if not truth:
        if w.rng.random() < g.specificity:
            return True, []
        return False, [_random_box(w.rng, width, height, min_box)]
    boxes = [_noisy(b, w.rng, noise, width, height, min_box) for b in truth if w.rng.random() < g.sensitivity]
    return (not boxes), boxes[:max_boxes]


class RegionsClient(ApiClient):
    """The annotator page's calls plus the drawing page's."""

    def assign_drawing(self, dataset: str) -> HttpResult:
        return self._request("POST", f"/api/regions/work/{dataset}/sets/")

    def submit_drawing(self, set_id: str, regions: list[dict]) -> HttpResult:
        return self._request("POST", f"/api/regions/work/sets/{set_id}/submit/",
                             {"submission_id": str(uuid.uuid4()), "regions": regions})


class RegionsCampaign:
    def __init__(self, *, dataset: Dataset, truth: dict[str, set[str]], boxes: dict[str, dict[str, list[Box]]],
                 groups: list[Group], box_noise: dict[str, float], seed: int, concurrency: int, base_url: str,
                 per_action: int | None, gold_per_action: int = 6, log: Callable[[str], None] = print) -> None:
        self.dataset = dataset
        self.groups = groups
        self.seed = seed
        self.concurrency = max(1, concurrency)
        self.base_url = base_url
        self.per_action = per_action
        self.gold_per_action = gold_per_action
        self.log = log
        self.conf = regions_conf()
        self.noise = {g.name: box_noise.get(g.name, 0.6 * (1 - g.sensitivity)) for g in groups}
        self.truth = by_video(dataset, truth)
        self.boxes = by_video(dataset, boxes)
        self.pool = urllib3.PoolManager(maxsize=self.concurrency * 2, block=True)
        stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
        self.workers = make_workers(groups, seed=seed, run=f"simr-{dataset.name}-{stamp}")
        self.clients: dict[str, RegionsClient] = {}
        self.shows: dict[str, tuple[int, Box | None]] = {}  # content hash -> (video, box shown or None)
        self.hashed: set[str] = set()
        self.errors = 0
        self.lock = threading.Lock()

    # -- what a worker sees -----------------------------------------------------------------------
    def _index(self) -> None:
        """Hash every frame and crop not yet seen: the worker's eye (content -> clip and box)."""
        keys: dict[str, tuple[int, Box | None]] = {}
        for key, vid in RegionFrame.objects.filter(dataset=self.dataset).values_list("image_key", "video_id"):
            keys[key] = (vid, None)
        for r in Region.objects.filter(target__dataset=self.dataset).exclude(crop_key="").values(
                "crop_key", "target__frame__video_id", "x0", "y0", "x1", "y1"):
            keys[r["crop_key"]] = (r["target__frame__video_id"], (r["x0"], r["y0"], r["x1"], r["y1"]))
        crops = GoldQuestion.objects.filter(dataset=self.dataset, prompt=Prompt.RECOGNISABLE)
        for key, vid, gold_boxes in crops.values_list("image_key", "video_id", "boxes"):
            keys[key] = (vid, tuple(gold_boxes[0]) if gold_boxes else None)
        for key, shown in keys.items():
            if key in self.hashed:
                continue
            self.shows[hashlib.sha256(image_read(key)).hexdigest()] = shown
            self.hashed.add(key)

    def _seen(self, data: bytes) -> tuple[int, Box | None] | None:
        return self.shows.get(hashlib.sha256(data).hexdigest())

    def _true_boxes(self, vid: int, action: str) -> list[Box]:
        return list(self.boxes.get(vid, {}).get(action, []))

    def _yes_no_truth(self, prompt: str, action: str, data: bytes) -> bool:
        seen = self._seen(data)
        if seen is None:
            return False
        vid, box = seen
        if prompt == Prompt.VISIBLE:
            return bool(self._true_boxes(vid, action))
        return box is not None and recognisable(box, self._true_boxes(vid, action))

    # -- setup a curator would do ---------------------------------------------------------------
    def register_workers(self) -> None:
        for w in self.workers:
            worker = worker_get_or_create(provider="inhouse", external_id=w.name, group=w.group.name)
            self.clients[w.name] = RegionsClient(base_url=self.base_url, token=worker_link_token(worker=worker),
                                                 pool=self.pool)

    def curate_gold(self) -> int:
        """Gold images per action with verified positives, from the ground truth: boxed frames
        (preferably of clips whose label for the action is not among the verified positives,
        so the frame pool keeps them) and frames without the action."""
        in_play = set(Label.objects.filter(dataset=self.dataset, state=Label.State.POSITIVE).values_list(
            "action_id", flat=True))
        verified = set(Label.objects.filter(dataset=self.dataset, state=Label.State.POSITIVE).values_list(
            "video_id", "action_id"))
        have = Counter(GoldQuestion.objects.filter(dataset=self.dataset, prompt=Prompt.VISIBLE, active=True)
                       .values_list("action_id", flat=True))
        videos = {v.pk: v for v in Video.objects.filter(pk__in=list(self.truth))}
        created = 0
        for action in Action.objects.filter(pk__in=in_play).order_by("name"):
            need = self.gold_per_action - have.get(action.pk, 0)
            if need <= 0:
                continue
            rng = random.Random(f"{self.seed}-gold-{action.name}")
            boxed = [v for v in sorted(videos) if self._true_boxes(v, action.name)]
            rng.shuffle(boxed)
            boxed.sort(key=lambda v: (v, action.pk) in verified)
            empty = [v for v in sorted(videos) if action.name not in self.truth[v]]
            rng.shuffle(empty)
            picks = [(v, self._true_boxes(v, action.name)) for v in boxed[: (need + 1) // 2]]
            picks += [(v, []) for v in empty[: need - len(picks)]]
            for vid, known in picks:
                region_gold_add(dataset=self.dataset, video=videos[vid], action=action, boxes=[list(b) for b in known],
                                note="simulator: from the ground-truth boxes")
                created += 1
        return created

    # -- one simulated worker doing one set -------------------------------------------------------
    def _yes_no_set(self, w: SimWorker, prompt: str) -> str:
        client = self.clients[w.name]
        r = client.assign(self.dataset.name, prompt=prompt)
        if r.status == 403:
            return "blocked"
        if r.status != 200 or not r.data or not r.data.get("set"):
            self.errors += r.status != 200
            return "idle"
        payload = r.data["set"]
        action = payload["action"]["name"]
        truths = {i["id"]: self._yes_no_truth(prompt, action, client.media(i["media_url"])) for i in payload["items"]}
        durations = {k: int(w.seconds_per_answer() * 1000 * w.rng.uniform(0.6, 1.4)) for k in truths}
        w.clock += len(truths) * w.seconds_per_answer() / 60
        if w.abandons():
            return "abandoned"
        while True:
            res = client.submit(payload["id"], {k: w.answer(t) for k, t in truths.items()}, durations)
            if res.status == 422 and (res.data or {}).get("status") == "refused":
                continue  # review: every image is looked at again
            return "blocked" if res.status == 403 else "done"

    def _drawing_set(self, w: SimWorker) -> str:
        client = self.clients[w.name]
        r = client.assign_drawing(self.dataset.name)
        if r.status == 403:
            return "blocked"
        if r.status != 200 or not r.data or not r.data.get("set"):
            self.errors += r.status != 200
            return "idle"
        payload = r.data["set"]
        action = payload["action"]["name"]
        limits = payload["limits"]
        shown = {}
        for item in payload["items"]:
            seen = self._seen(client.media(item["media_url"]))
            shown[item["id"]] = (self._true_boxes(seen[0], action) if seen else [], item["width"], item["height"])
        w.clock += len(shown) * 3 * w.seconds_per_answer() / 60  # boxes take longer than a click
        if w.abandons():
            return "abandoned"
        while True:
            regions = []
            for item_id, (truth, width, height) in shown.items():
                skip, boxes = draw(w, truth, width=width, height=height, min_box=limits["min_box"],
                                   max_boxes=limits["max_boxes"], noise=self.noise[w.group.name])
                regions.append({"item": item_id, "skip": skip, "boxes": boxes,
                                "ms": int(3000 * w.rng.uniform(0.6, 1.4))})
            res = client.submit_drawing(payload["id"], regions)
            if res.status == 422 and (res.data or {}).get("status") == "refused":
                continue
            if res.status == 400:
                self.errors += 1
            return "blocked" if res.status == 403 else "done"

    def _until_idle(self, work: Callable[[SimWorker], str]) -> int:
        """Workers take sets (K at a time, the least busy first) until no one gets more."""
        heap = [(w.clock, i) for i, w in enumerate(self.workers)]
        heapq.heapify(heap)
        done = [0]

        def run():
            try:
                while True:
                    with self.lock:
                        if not heap:
                            return
                        _, i = heapq.heappop(heap)
                    w = self.workers[i]
                    outcome = work(w)
                    with self.lock:
                        if outcome in ("done", "abandoned"):
                            done[0] += outcome == "done"
                            heapq.heappush(heap, (w.clock, i))
            finally:
                close_old_connections()
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(self.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return done[0]

    # -- the whole pipeline -----------------------------------------------------------------------
    def run(self) -> dict:
        started = time.monotonic()
        if not Label.objects.filter(dataset=self.dataset, state=Label.State.POSITIVE).exists():
            raise DomainError(NO_POSITIVES.format(name=self.dataset.name))
        self.register_workers()
        gold = self.curate_gold()
        selection = regions_select_frames(dataset=self.dataset, per_action=self.per_action, seed=self.seed)
        self.log(f"{selection.selected} frame-actions selected, {gold} gold images")
        sets = Counter()
        iterations = 0
        for iterations in range(1, MAX_ITERATIONS + 1):
            moved = 0
            for task, work in (("visible", lambda w: self._yes_no_set(w, Prompt.VISIBLE)),
                               ("drawing", self._drawing_set),
                               ("recognisable", lambda w: self._yes_no_set(w, Prompt.RECOGNISABLE))):
                self._index()
                n = self._until_idle(work)
                sets[task] += n
                report = regions_advance(dataset=self.dataset)
                moved += n + report.changed
            # the clock moves on: abandoned sets time out and their work comes back
            later = timezone.now() + timedelta(days=1)
            expired = tasksets_expire(now=later) + drawingsets_expire(now=later)
            self.log(f"pass {iterations}: {dict(sets)} sets so far, {expired} expired")
            if not moved and not expired:
                break
        return self.report(selection=selection.as_dict(), gold=gold, sets=dict(sets), iterations=iterations,
                           seconds=round(time.monotonic() - started, 2))

    # -- what came out ----------------------------------------------------------------------------
    def quality(self) -> dict:
        passed_stages = {FrameAction.Stage.DRAWING, FrameAction.Stage.VERIFYING, FrameAction.Stage.VERIFIED}
        rows = FrameAction.objects.filter(dataset=self.dataset).values_list(
            "frame__video_id", "action__name", "stage", "reason")
        passed = visible_passed = visible_total = invisible_total = invisible_rejected = 0
        verified = verified_visible = 0
        for vid, action, stage, reason in rows:
            is_visible = bool(self._true_boxes(vid, action))
            went_on = stage in passed_stages or reason in (FrameAction.Reason.NO_REGION,
                                                           FrameAction.Reason.NOT_RECOGNISABLE)
            passed += went_on
            visible_passed += went_on and is_visible
            visible_total += is_visible
            invisible_total += not is_visible
            invisible_rejected += (not is_visible) and reason == FrameAction.Reason.NOT_VISIBLE
            verified += stage == FrameAction.Stage.VERIFIED
            verified_visible += stage == FrameAction.Stage.VERIFIED and is_visible
        ious = []
        for r in Region.objects.filter(target__dataset=self.dataset, state=Region.State.VERIFIED).values(
                "target__frame__video_id", "target__action__name", "x0", "y0", "x1", "y1"):
            truth = self._true_boxes(r["target__frame__video_id"], r["target__action__name"])
            box = (r["x0"], r["y0"], r["x1"], r["y1"])
            ious.append(max((iou(box, t) for t in truth), default=0.0))
        return {
            "visible_precision": visible_passed / passed if passed else None,
            "visible_recall": visible_passed / visible_total if visible_total else None,
            "not_visible_rejected": invisible_rejected / invisible_total if invisible_total else None,
            "verified_precision": verified_visible / verified if verified else None,
            "verified_regions": len(ious),
            "region_iou_mean": round(sum(ious) / len(ious), 4) if ious else None,
            "region_iou_at_0.5": sum(v >= 0.5 for v in ious) / len(ious) if ious else None,
        }

    def workers_report(self) -> dict:
        by_name = {w.name: w.group.name for w in self.workers}
        per_group = {g.name: {"workers": g.count, "blocked": 0} for g in self.groups}
        for w in Worker.objects.filter(provider="inhouse", external_id__in=list(by_name)):
            per_group[by_name[w.external_id]]["blocked"] += w.blocked
        return per_group

    def tasks_report(self) -> dict:
        out = {}
        ours = Q(worker__external_id__in=[w.name for w in self.workers])
        for prompt in (Prompt.VISIBLE, Prompt.RECOGNISABLE):
            sets = TaskSet.objects.filter(ours, dataset=self.dataset, prompt=prompt)
            out[str(prompt)] = {
                "sets_accepted": sets.filter(status="accepted").count(),
                "attempts_refused": Attempt.objects.filter(taskset__in=sets, accepted=False).count(),
                "answers": Answer.objects.filter(taskset__in=sets).count(),
            }
        drawing_sets = DrawingSet.objects.filter(ours, dataset=self.dataset)
        out["drawing"] = {
            "sets_accepted": drawing_sets.filter(status="accepted").count(),
            "attempts_refused": DrawingAttempt.objects.filter(drawing_set__in=drawing_sets, accepted=False).count(),
            "drawings": Drawing.objects.filter(drawing_set__in=drawing_sets).count(),
            "skipped": Drawing.objects.filter(drawing_set__in=drawing_sets, skipped=True).count(),
        }
        return out

    def report(self, **extra) -> dict:
        stats = regions_stats(datasets=[self.dataset])
        return {
            **extra,
            "tasks": self.tasks_report(),
            "workers_blocked": self.workers_report(),
            "pipeline": stats["pipeline"][self.dataset.name],
            "dataset": {k: stats[k] for k in ("images", "actions", "regions", "regions_per_image", "per_action")},
            "quality": self.quality(),
            "http_errors": self.errors,
        }


def format_report(report: dict) -> str:
    def fmt(v):
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["== Action Regions simulation =="]
    p = report["pipeline"]
    lines.append(f"frames {p['frames']}, frame-actions {p['frame_actions']}: " +
                 ", ".join(f"{k} {v}" for k, v in p["stages"].items()))
    lines.append("rejected: " + ", ".join(f"{k} {v}" for k, v in p["rejected"].items()))
    for task, t in report["tasks"].items():
        lines.append(f"{task:13s} " + ", ".join(f"{k} {v}" for k, v in t.items()))
    lines.append("quality: " + ", ".join(f"{k} {fmt(v)}" for k, v in report["quality"].items()))
    lines.append("workers blocked: " + ", ".join(f"{g} {v['blocked']}/{v['workers']}"
                                                 for g, v in report["workers_blocked"].items()))
    d = report["dataset"]
    lines.append(f"dataset: {d['images']} images, {d['actions']} actions, {d['regions']} regions, "
                 f"{fmt(d['regions_per_image']['mean'])} regions per image")
    return "\n".join(lines)

