"""The Regions pages (Action Regions, Section 3.2 of the paper): frame-actions per stage with the
pipeline's controls, a frame with its consensus and workers' boxes, region gold, exports.

Reads go through ``backend/regions/selectors.py``, writes through the regions services. A refused
control answers its page again with status 400 and the reason, having changed nothing.
"""
from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from backend.common.errors import DomainError
from backend.common.pages import page_id
from backend.common.summaries import summary_read
from backend.common.zip_stream import zip_response
from backend.dashboard.roles import CURATOR, VIEWER, dataset_page
from backend.dashboard.selectors import running_jobs
from backend.dashboard.views import PAGE, _ctx, _dataset
from backend.regions import selectors
from backend.regions.conf import regions_conf
from backend.regions.models import FrameAction
from backend.regions.services.advance import regions_advance_start
from backend.regions.services.export import regions_export_start
from backend.regions.services.frames import regions_select_frames_start
from backend.regions.services.gold import region_gold_add, region_gold_retire
from backend.vocabulary.selectors import action_lookup

BAD_STAGE = "Unknown stage {stage!r}: choose one of " + ", ".join(FrameAction.Stage.values) + "."
BAD_ACTION = "Unknown action {action!r} in dataset {dataset!r}."
BAD_WHOLE = "{what} must be a whole number{hint}."
BAD_BOXES = ("Boxes must be a JSON list of [x0, y0, x1, y1] in pixels of the frame, e.g. [[4, 6, 30, 40]] "
             "(an empty list [] says the action is not visible).")
NO_SUCH_GOLD = "That region gold image is not in this dataset."
PIPELINE_JOBS = ("regions_select_frames", "regions_advance")


def _whole(post, field: str, what: str, hint: str = "") -> int | None:
    """A form's optional whole number (None when empty); DomainError naming the field otherwise."""
    raw = post.get(field, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise DomainError(BAD_WHOLE.format(what=what, hint=hint), field=field) from None


def _refused(request, page, dataset, message: str):
    """The page the control is on, again, with the reason and status 400 (its form keeps what was sent)."""
    messages.error(request, message)
    response = page(request, dataset)
    response.status_code = 400
    return response


@dataset_page(VIEWER)
@require_GET
def regions(request, name: str):
    """Counts per stage, the pipeline's controls, and a page of the frame-actions in one stage."""
    return _frames_page(request, _dataset(name))


def _frames_page(request, dataset):
    counted = summary_read("regions", dataset.pk)
    stages = counted.data["stages"]
    stage = request.GET.get("stage", "")
    if not stage:  # the first stage that holds anything, so the list is not empty for nothing
        stage = next((s for s in FrameAction.Stage.values if stages.get(s)), FrameAction.Stage.VISIBILITY)
    action_name = request.GET.get("action", "").strip()
    problem, action, page = None, None, None
    if stage not in FrameAction.Stage.values:
        problem = BAD_STAGE.format(stage=stage)
    elif action_name:
        action = action_lookup(dataset=dataset).get(action_name)
        if action is None:
            problem = BAD_ACTION.format(action=action_name, dataset=dataset.name)
    if problem is None:
        page = selectors.frame_page(dataset=dataset, stage=stage, action=action, limit=PAGE,
                                    after=page_id(request.GET.get("after")), before=page_id(request.GET.get("before")))
    else:
        messages.error(request, problem)
    query = urlencode({k: v for k, v in (("stage", stage), ("action", action_name)) if v})
    response = render(request, "dashboard/regions.html", _ctx(
        request, dataset, "regions", tab="frames", counted=counted, stages=stages,
        rejected=counted.data["rejected"], region_states=counted.data["regions"], stage=stage,
        action=action_name, page=page, query=query, total=sum(stages.values()),
        per_stage=[{"label": s, "value": n} for s, n in stages.items()],
        actions=sorted(action_lookup(dataset=dataset)), per_action=regions_conf().frames_per_action,
        form={k: request.POST.get(k, "") for k in ("per_action", "seed")},
        jobs=[j for j in running_jobs(dataset) if j.kind in PIPELINE_JOBS]))
    if problem is not None:
        response.status_code = 400
    return response


@dataset_page(VIEWER)
@require_GET
def regions_frame(request, name: str, target_id: int):
    """One frame-action: the frame with its consensus regions and each worker's boxes."""
    dataset = _dataset(name)
    detail = selectors.frame_detail(dataset=dataset, target_id=target_id)
    if detail is None:
        raise Http404("No such frame in this dataset.")
    target = detail.target
    return render(request, "dashboard/region_frame.html", _ctx(
        request, dataset, "regions", tab="frames", d=detail, t=target, frame=target.frame,
        back=reverse("dashboard:regions", args=[name]) + "?" + urlencode({"stage": target.stage})))


@dataset_page(CURATOR)
@require_POST
def regions_select(request, name: str):
    """Select centre frames of verified positives (a job): up to N per action, seeded."""
    dataset = _dataset(name)
    try:
        per_action = _whole(request.POST, "per_action", "Frames per action", " from 1 to 100,000")
        seed = _whole(request.POST, "seed", "The seed") or 0
        if per_action is not None and not 1 <= per_action <= 100_000:
            raise DomainError(BAD_WHOLE.format(what="Frames per action", hint=" from 1 to 100,000"))
        regions_select_frames_start(dataset=dataset, per_action=per_action, seed=seed, user=request.user)
    except DomainError as exc:
        return _refused(request, _frames_page, dataset, exc.message)
    messages.success(request, "Frame selection started; progress shows below.")
    return redirect(reverse("dashboard:regions", args=[name]))


@dataset_page(CURATOR)
@require_POST
def regions_advance(request, name: str):
    """One pass of the pipeline now (a job), rather than at the next beat."""
    regions_advance_start(dataset=_dataset(name), user=request.user)
    messages.success(request, "Pipeline pass started: frames move on as their rounds are complete.")
    return redirect(reverse("dashboard:regions", args=[name]))


@dataset_page(VIEWER)
@require_GET
def regions_gold(request, name: str):
    return _gold_page(request, _dataset(name))


def _gold_page(request, dataset):
    page = selectors.region_gold_page(dataset=dataset, after=page_id(request.GET.get("after")),
                                      before=page_id(request.GET.get("before")), limit=PAGE)
    return render(request, "dashboard/regions_gold.html", _ctx(
        request, dataset, "regions", tab="gold", page=page, actions=sorted(action_lookup(dataset=dataset)),
        form={k: request.POST.get(k, "") for k in ("video", "action", "boxes")}))


@dataset_page(CURATOR)
@require_POST
def regions_gold_add(request, name: str):
    """Add (or replace) a gold image: a video's centre frame, an action and its known boxes."""
    dataset = _dataset(name)
    post = request.POST
    try:
        text = post.get("boxes", "").strip()
        try:
            boxes = json.loads(text) if text else []
        except ValueError:
            raise DomainError(BAD_BOXES, field="boxes") from None
        if not isinstance(boxes, list):
            raise DomainError(BAD_BOXES, field="boxes")
        if len(boxes) == 4 and all(isinstance(v, (int, float)) for v in boxes):
            boxes = [boxes]  # one box typed without the outer brackets
        video, action = selectors.region_gold_subject(dataset=dataset, video=post.get("video", "").strip(),
                                                      action=post.get("action", "").strip())
        region_gold_add(dataset=dataset, video=video, action=action, boxes=boxes, user=request.user,
                        note="added on the dashboard")
    except DomainError as exc:
        return _refused(request, _gold_page, dataset, exc.message)
    what = f"{len(boxes)} box{'es' if len(boxes) != 1 else ''}" if boxes else "not visible"
    messages.success(request, f"Gold image added: {action.name} in {video.name} ({what}).")
    return redirect(reverse("dashboard:regions-gold", args=[name]))


@dataset_page(CURATOR)
@require_POST
def regions_gold_retire(request, name: str, gold_id: int):
    dataset = _dataset(name)
    gold = selectors.region_gold_get(dataset=dataset, gold_id=gold_id)
    if gold is None:
        raise Http404(NO_SUCH_GOLD)
    n = region_gold_retire(gold=gold)
    messages.success(request, f"Gold image {gold.action.name} in {gold.video.name} retired ({n} gold question"
                              f"{'s' if n != 1 else ''}): no longer served in new sets; its answers are kept.")
    return redirect(reverse("dashboard:regions-gold", args=[name]))


@dataset_page(VIEWER)
@require_GET
def regions_exports(request, name: str):
    return _exports_page(request, _dataset(name))


def _exports_page(request, dataset):
    exports = selectors.region_exports(dataset=dataset)
    for job in exports:
        job.downloadable = job.status == job.Status.SUCCEEDED and selectors.export_folder(job) is not None
    return render(request, "dashboard/regions_exports.html", _ctx(
        request, dataset, "regions", tab="exports", exports=exports, broden_size=regions_conf().broden_size,
        form={k: request.POST.get(k, "") for k in ("size", "seg_size", "label_offset")}))


@dataset_page(CURATOR)
@require_POST
def regions_export(request, name: str):
    """Export the dataset's verified regions (Broden, COCO, statistics) in a job."""
    dataset = _dataset(name)
    post = request.POST
    try:
        size = _whole(post, "size", "The Broden image size", " of pixels from 16 to 1024")
        seg_size = _whole(post, "seg_size", "The segmentation size", " of pixels")
        offset = _whole(post, "label_offset", "The label offset", ", zero or more") or 0
        regions_export_start(datasets=[dataset], size=size, seg_size=seg_size, label_offset=offset, user=request.user)
    except DomainError as exc:
        return _refused(request, _exports_page, dataset, exc.message)
    messages.success(request, "Export started; progress shows below, and a download link once it is done.")
    return redirect(reverse("dashboard:regions-exports", args=[name]))


@dataset_page(VIEWER)
@require_GET
def regions_export_download(request, name: str, job_id):
    """A finished export's folder (Broden directory, COCO file, statistics) as a ZIP, streamed."""
    dataset = _dataset(name)
    job = selectors.region_export_get(dataset=dataset, job_id=job_id)
    if job is None:
        raise Http404("No finished export of this dataset with that id (or its folder was removed).")
    folder = selectors.export_folder(job)
    return zip_response(folder, filename=f"regions-{folder.name}.zip")
