"""A dataset whose every free text is an HTML/script payload, entered the way a curator or worker
enters it (shared by the escaping tests, server-side and in the browser)."""
from __future__ import annotations

import shutil
from decimal import Decimal

from backend.annotation.models import GoldQuestion, TaskSet
from backend.annotation.services.assign import taskset_assign
from backend.annotation.services.gold import gold_add
from backend.annotation.services.questions import questions_for_labels
from backend.common.models import Job
from backend.crowd.services import worker_block, worker_get_or_create
from backend.labels.models import Label
from backend.videos.models import Video
from backend.videos.services import video_import
from backend.vocabulary.models import Action

# No ';' or ',' (action names cannot hold them), no '/' in the file-name part. `$&` is what
# String.prototype.replace would expand in a replacement string.
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
PAYLOAD = f"{SCRIPT}\"'{IMG} $&"
# What must never reach a page as it is: either would run in a browser.
RAW = ("<script>alert(", "<img src=x onerror")
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def build_hostile(dataset, clip_factory, tmp_path, staff_client) -> dict:
    """A dataset whose every free text is PAYLOAD, entered the way a curator or worker enters it."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    for n, clip in enumerate(sorted(clip_factory(8, seed=5).glob("*.mp4"))):
        shutil.copy(clip, folder / (f"{IMG}.mp4" if n == 0 else clip.name))
    video_import(dataset=dataset, source=str(folder), split="train")
    hostile_video = Video.objects.get(dataset=dataset, name=f"{IMG}.mp4")

    r = staff_client.post(f"/api/datasets/{dataset.name}/actions/",
                          {"name": PAYLOAD, "display_name": PAYLOAD, "definition": PAYLOAD}, format="json")
    assert r.status_code == 201, r.content
    action = Action.objects.get(pk=r.json()["id"])
    old = staff_client.post(f"/api/datasets/{dataset.name}/actions/", {"name": "to-remove"}, format="json").json()
    r = staff_client.post(f"/api/datasets/{dataset.name}/actions/{old['id']}/rename/", {"name": PAYLOAD + " old"},
                          format="json")
    assert r.status_code == 200, r.content
    r = staff_client.post(f"/api/datasets/{dataset.name}/actions/{old['id']}/remove/", {"reason": PAYLOAD},
                          format="json")
    assert r.status_code == 200, r.content
    r = staff_client.post("/api/datasets/", {"name": "described", "description": PAYLOAD}, format="json")
    assert r.status_code == 201, r.content

    videos = list(Video.objects.filter(dataset=dataset).order_by("name"))
    gold_add(dataset=dataset, video=videos[-1], action=action, truth=True, note=PAYLOAD)
    gold_add(dataset=dataset, video=videos[-2], action=action, truth=False, note=PAYLOAD)
    Label.objects.bulk_create([Label(dataset=dataset, video=v, action=action, asked_action=action,
                                     source=Label.Source.CURATOR) for v in videos[:-2]])
    questions_for_labels(dataset=dataset)
    dataset.set_size = 4
    dataset.save()

    from tests.annotation.bench import WorkerClient

    annotator = WorkerClient(PAYLOAD)
    payload = annotator.assign(dataset.name).json()["set"]
    assert payload["action"]["name"] == PAYLOAD
    assert annotator.submit(payload["id"], {i["id"]: True for i in payload["items"]}).status_code == 200
    worker_block(worker=annotator.worker, reason=PAYLOAD)

    turker = worker_get_or_create(provider="mturk", external_id=PAYLOAD)
    taskset = taskset_assign(dataset=dataset, worker=turker)
    assert taskset is not None
    _mturk_rows(dataset, turker, taskset)
    Job.objects.create(kind="video_import", status=Job.Status.FAILED, params={"dataset": dataset.name},
                       message=PAYLOAD, error=PAYLOAD)
    run = _model_run(dataset, action)
    from backend.crowd.invites import worker_invite

    link = worker_invite(dataset=dataset, label=PAYLOAD, days=3)
    return {"dataset": dataset, "action": action, "video": hostile_video, "annotator": annotator, "turker": turker,
            "run": run, "set": payload, "link": link, "gold": GoldQuestion.objects.filter(dataset=dataset).first(),
            "label": Label.objects.filter(dataset=dataset).first()}


def _mturk_rows(dataset, turker, taskset: TaskSet) -> None:
    from backend.mturk.models import Assignment, Batch, Bonus, Hit, Notice

    batch = Batch.objects.create(
        dataset=dataset, sandbox=True, hits_requested=1, assignments_per_hit=1, reward=Decimal("0.40"),
        budget=Decimal("1"), title=PAYLOAD, description=PAYLOAD, keywords=PAYLOAD, lifetime_seconds=60,
        assignment_duration_seconds=60, auto_approval_delay_seconds=60, status=Batch.Status.FAILED, message=PAYLOAD)
    hit = Hit.objects.create(batch=batch, index=0, token="escaping-hit", hit_id="HIT-ESCAPING", max_assignments=1,
                             reward=Decimal("0.40"), cost_committed=Decimal("0.48"), error=PAYLOAD)
    assignment = Assignment.objects.create(assignment_id="A-ESCAPING", hit=hit, worker=turker, taskset=taskset,
                                           mturk_worker_id=PAYLOAD, feedback=PAYLOAD)
    Bonus.objects.create(assignment=assignment, worker=turker, amount=Decimal("0.10"), cost=Decimal("0.12"),
                         reason=PAYLOAD, token="escaping-bonus", error=PAYLOAD)
    Notice.objects.create(worker=turker, sandbox=True, subject=PAYLOAD, message=PAYLOAD, error=PAYLOAD)


def _model_run(dataset, action):
    from backend.releases.services import release_export
    from backend.training.models import ModelRun
    from backend.training.services import run_for_release

    run, _ = run_for_release(release=release_export(dataset=dataset), config={"model": "i3d_r50", "note": PAYLOAD})
    ModelRun.objects.filter(pk=run.pk).update(status="succeeded", error=PAYLOAD, metrics={"epochs": [], "eval": {
        "splits": {"val": {"top1": 0.5, "top5": 0.9, "micro_map": 0.6, "macro_map": 0.4,
                           "per_class_ap": {action.name: 0.7}}}}})
    return run
