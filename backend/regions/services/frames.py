"""Step 1, frame selection: the centre frame of up to K videos per action, drawn at random from
the verified positive labels of a dataset, extracted with PyAV and kept with its source video
and timestamp. Each selected (frame, action) pair starts its first visibility round at once."""
from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Callable

from django.core.files.storage import default_storage

from backend.annotation.models import GoldQuestion, Prompt
from backend.common.background import task_enqueue
from backend.common.errors import DomainError
from backend.common.jobs import job_create
from backend.common.models import Job
from backend.labels.models import Label
from backend.regions.conf import regions_conf
from backend.regions.images import centre_frame, encode_image
from backend.regions.models import FrameAction, RegionFrame
from backend.regions.services.advance import visibility_rounds_open
from backend.regions.storage import frame_key, image_store
from backend.videos.models import Dataset, Video
from backend.vocabulary.models import Action

log = logging.getLogger(__name__)

BAD_PER_ACTION = "Frames per action must be at least 1."
UNKNOWN_ACTIONS = "Unknown or inactive action(s): {names}."
FRAME_FAILED = "no frame could be extracted: {error}"


@dataclass
class SelectionReport:
    selected: int = 0
    frames_extracted: int = 0
    frames_reused: int = 0
    per_action: dict[str, int] = field(default_factory=dict)
    failed: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _open_video(video: Video):
    try:
        return open(default_storage.path(video.storage_key), "rb")
    except NotImplementedError:  # remote storage: stream the object
        return default_storage.open(video.storage_key, "rb")


def frame_extract(*, video: Video) -> RegionFrame:
    """The video's centre frame, extracted and stored once (ValueError when it cannot be read)."""
    existing = RegionFrame.objects.filter(video=video).first()
    if existing is not None:
        return existing
    fmt = regions_conf().image_format
    with _open_video(video) as f:
        frame = centre_frame(f)
    key = image_store(key=frame_key(dataset_name=video.dataset.name, video_id=video.pk, fmt=fmt),
                      data=encode_image(frame.pixels, fmt=fmt))
    row, _ = RegionFrame.objects.get_or_create(
        video=video, defaults={"dataset_id": video.dataset_id, "image_key": key, "timestamp": frame.timestamp,
                               "width": frame.width, "height": frame.height})
    return row


def regions_select_frames(
    *, dataset: Dataset, per_action: int | None = None, actions: list[str] | None = None, seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> SelectionReport:
    """Top every action up to `per_action` selected frames (a re-run adds only what is missing).

    The draw is seeded per action, so the same seed picks the same videos whatever else changed.
    """
    k = per_action if per_action is not None else regions_conf().frames_per_action
    if k < 1:
        raise DomainError(BAD_PER_ACTION)
    active = Action.objects.filter(dataset=dataset, status=Action.Status.ACTIVE)
    if actions:
        found = dict(active.filter(name__in=actions).values_list("name", "pk"))
        missing = sorted(set(actions) - set(found))
        if missing:
            raise DomainError(UNKNOWN_ACTIONS.format(names=", ".join(map(repr, missing))))
        active = active.filter(pk__in=found.values())
    names = dict(active.values_list("pk", "name"))

    positives = defaultdict(list)
    for label_id, video_id, action_id in (
        Label.objects.filter(dataset=dataset, state=Label.State.POSITIVE, action_id__in=list(names),
                             video__status=Video.Status.OK)
        .order_by("video_id").values_list("id", "video_id", "action_id")
    ):
        positives[action_id].append((video_id, label_id))
    taken = defaultdict(set)
    for video_id, action_id in FrameAction.objects.filter(dataset=dataset).values_list("frame__video_id", "action_id"):
        taken[action_id].add(video_id)
    # a gold image is never also a frame to annotate for the same action (one set could show both)
    gold = set(GoldQuestion.objects.filter(dataset=dataset, prompt=Prompt.VISIBLE, active=True).values_list(
        "video_id", "action_id"))

    picks: list[tuple[int, int, int]] = []  # (video, action, label)
    for action_id in sorted(positives):
        pool = [(v, lab) for v, lab in positives[action_id]
                if v not in taken[action_id] and (v, action_id) not in gold]
        need = k - len(taken[action_id])
        if need <= 0 or not pool:
            continue
        random.Random(f"{seed}:{names[action_id]}").shuffle(pool)
        picks += [(v, action_id, lab) for v, lab in pool[:need]]

    report = SelectionReport()
    video_ids = sorted({v for v, _, _ in picks})
    have = dict(RegionFrame.objects.filter(video_id__in=video_ids).values_list("video_id", "pk"))
    report.frames_reused = len(have)
    videos = Video.objects.filter(pk__in=[v for v in video_ids if v not in have]).select_related("dataset")
    todo = list(videos)
    for n, video in enumerate(todo, start=1):
        try:
            have[video.pk] = frame_extract(video=video).pk
            report.frames_extracted += 1
        except (ValueError, OSError) as exc:
            log.warning("frame of video %s: %s", video.pk, exc)
            report.failed.append({"video": video.name, "reason": FRAME_FAILED.format(error=exc)})
        if progress:
            progress(n, len(todo))

    FrameAction.objects.bulk_create(
        [FrameAction(dataset=dataset, frame_id=have[v], action_id=a, label_id=lab) for v, a, lab in picks if v in have],
        ignore_conflicts=True,
    )
    # new rows, and any earlier row whose first round never opened (an interrupted run)
    fresh = list(FrameAction.objects.filter(dataset=dataset, stage=FrameAction.Stage.VISIBILITY,
                                            visibility_question__isnull=True).values_list("action_id", flat=True))
    visibility_rounds_open(dataset=dataset)
    report.selected = len(fresh)
    report.per_action = dict(sorted(Counter(names.get(a, str(a)) for a in fresh).items()))
    return report


def regions_select_frames_start(*, dataset: Dataset, per_action: int | None = None, actions: list[str] | None = None,
                                seed: int = 0, user=None) -> Job:
    """Select and extract the frames in a worker (a re-run tops up); the job shows the progress."""
    params = {"dataset": dataset.name, "seed": seed,
              **({"per_action": per_action} if per_action is not None else {}),
              **({"actions": actions} if actions is not None else {})}
    job = job_create(kind="regions_select_frames", user=user, params=params)
    task_enqueue("mmit.regions.select_frames", str(job.id), dataset.id, per_action, actions, seed)
    return job
