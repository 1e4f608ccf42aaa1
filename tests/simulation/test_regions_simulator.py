"""The whole pipeline on synthetic clips with simulated workers, then the exports read back by
independent readers: a small Broden reader (NetDissect's loader rules) and pycocotools."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from backend.crowd.models import Worker
from backend.regions.models import Drawing, FrameAction, Region
from backend.videos.services import video_import
from backend.videos.synthetic import AUDIO_ACTIONS
from tests.regions.bench import read_broden

# pycocotools' mask decoding predates numpy 2's copy keyword; its warning is not ours to fix
COCO_WARNING = "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.filterwarnings(COCO_WARNING)]

WORKERS = [
    {"name": "careful", "count": 7, "sensitivity": 0.95, "specificity": 0.97},
    {"name": "sloppy", "count": 2, "sensitivity": 0.85, "specificity": 0.9, "box_noise": 0.08, "dropout": 0.1},
    {"name": "random", "count": 1, "sensitivity": 0.5, "specificity": 0.5},
    {"name": "always-yes", "count": 1, "sensitivity": 1.0, "specificity": 0.0},
]


def test_simulated_crowd_runs_the_whole_pipeline_and_exports(dataset, clip_factory, settings, tmp_path, capsys):
    settings.MEDIA_ROOT = tmp_path / "media"
    dataset.eval_answers = 3
    dataset.set_size = 8
    dataset.save()
    settings.MMIT_REGIONS_SET_SIZE = 6
    folder = clip_factory(36, seed=21)
    video_import(dataset=dataset, source=str(folder / "manifest.csv"))
    workers = tmp_path / "workers.json"
    workers.write_text(json.dumps(WORKERS))
    report_path, out = tmp_path / "report.json", tmp_path / "export"
    call_command("simulate_regions", "--dataset", "synthetic", "--truth", str(folder / "truth.csv"),
                 "--boxes", str(folder / "boxes.json"), "--workers", str(workers), "--report", str(report_path),
                 "--export", str(out), "--label-rounds", "1", "--per-action", "6", "--gold-per-action", "4",
                 "--concurrency", "1", "--seed", "3")
    printed = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    boxes = json.loads((folder / "boxes.json").read_text())

    # every frame-action went all the way through, and the figures are the database's
    pipeline = report["pipeline"]
    assert pipeline["stages"]["visibility"] == pipeline["stages"]["drawing"] == pipeline["stages"]["verifying"] == 0
    assert pipeline["frame_actions"] == FrameAction.objects.count() > 10
    verified = FrameAction.objects.filter(stage="verified").select_related("frame__video", "action")
    assert pipeline["stages"]["verified"] == verified.count() > 0
    assert report["tasks"]["drawing"]["drawings"] == Drawing.objects.count()
    # audio actions are never visible in a frame; visible ones get through
    audio = FrameAction.objects.filter(action__name__in=AUDIO_ACTIONS)
    assert set(audio.values_list("reason", flat=True)) <= {"not_visible"}
    for target in verified:
        assert target.action.name in boxes[target.frame.video.name]
    q = report["quality"]
    assert q["verified_precision"] == 1.0 and q["visible_recall"] >= 0.8
    assert q["region_iou_at_0.5"] >= 0.9 and q["region_iou_mean"] >= 0.6
    # spammers are caught, careful workers are not
    blocked = report["workers_blocked"]
    assert blocked["random"]["blocked"] + blocked["always-yes"]["blocked"] == 2
    assert blocked["careful"]["blocked"] == 0
    assert Worker.objects.filter(external_id__contains="@simr-", group="careful", blocked=True).count() == 0
    assert report["http_errors"] == 0
    assert "Action Regions simulation" in printed and "workers blocked" in printed

    # the Broden directory, read back
    broden = read_broden(out / "broden")
    regions = Region.objects.filter(state="verified", target__stage="verified")
    assert len(broden["index"]) == report["dataset"]["images"] == len({r.target.frame_id for r in regions})
    assert list(broden["index"][0]) == ["image", "split", "ih", "iw", "sh", "sw", "action"]
    (action_cat,) = broden["categories"].values()
    assert action_cat["name"] == "action" and int(action_cat["count"]) == len(broden["labels"])
    numbers = sorted(broden["labels"])
    assert numbers == list(range(int(action_cat["first"]), int(action_cat["last"]) + 1)) and numbers[0] == 1
    for number, label in broden["labels"].items():
        assert re.fullmatch(r"action\(\d+\)", label["category"]) and re.fullmatch(r"\d+\.\d+", label["coverage"])
    assert [int(c["code"]) for c in broden["codes"]] == list(range(1, len(numbers) + 1))
    name_of = {n: lab["name"] for n, lab in broden["labels"].items()}
    seen = {}
    for image in broden["images"]:
        assert image["pixels"].shape == (224, 224, 3) and (image["ih"], image["iw"]) == ("224", "224")
        assert image["split"] in ("train", "val")
        for mask in image["masks"]:
            assert mask.shape == (112, 112) and (image["sh"], image["sw"]) == ("112", "112")
            for value in set(np.unique(mask)) - {0}:
                seen[name_of[int(value)]] = seen.get(name_of[int(value)], 0) + 1
    assert seen == {name: int(lab["frequency"]) for name, lab in
                    ((lab["name"], lab) for lab in broden["labels"].values())}
    assert seen == {a: v["images"] for a, v in report["dataset"]["per_action"].items()}

    # the COCO file, read by pycocotools
    coco = COCO(str(out / "coco" / "annotations.json"))
    assert len(coco.getImgIds()) == len(broden["index"]) and len(coco.getAnnIds()) == regions.count()
    assert {c["name"] for c in coco.loadCats(coco.getCatIds())} == set(seen)
    for img in coco.loadImgs(coco.getImgIds()):
        assert (out / "coco" / "images" / img["file_name"]).exists()
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img["id"])):
            mask = coco.annToMask(ann)
            assert mask.shape == (img["height"], img["width"]) and mask.sum() > 0
    # the regions as detections against the ground truth of the exported (frame, action) pairs
    truth = {"images": coco.dataset["images"], "categories": coco.dataset["categories"], "annotations": []}
    cat_id = {c["name"]: c["id"] for c in coco.dataset["categories"]}
    exported = {(a["image_id"], a["category_id"]) for a in coco.dataset["annotations"]}
    for img in coco.dataset["images"]:
        for action, action_boxes in boxes[img["video"]].items():
            if (img["id"], cat_id.get(action)) in exported:
                for x0, y0, x1, y1 in action_boxes:
                    truth["annotations"].append({"id": len(truth["annotations"]) + 1, "image_id": img["id"],
                                                 "category_id": cat_id[action], "bbox": [x0, y0, x1 - x0, y1 - y0],
                                                 "area": (x1 - x0) * (y1 - y0), "iscrowd": 0})
    gt = COCO()
    gt.dataset = truth
    gt.createIndex()
    dt = gt.loadRes([{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
                     for a in coco.dataset["annotations"]])
    evaluation = COCOeval(gt, dt, "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[1] > 0.6  # AP at IoU 0.5

    stats = json.loads((out / "stats.json").read_text())
    assert stats["images"] == len(broden["index"]) and stats["regions"] == regions.count()
    assert stats["regions_per_image"]["mean"] == pytest.approx(regions.count() / len(broden["index"]), abs=1e-3)


def test_bad_simulator_input_is_a_clear_error(dataset, tmp_path, clip_factory, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    folder = clip_factory(36, seed=21)
    workers = tmp_path / "workers.json"
    workers.write_text(json.dumps(WORKERS))
    bad = tmp_path / "boxes.json"
    bad.write_text('{"clip.mp4": [1, 2]}')
    args = ["--dataset", "synthetic", "--truth", str(folder / "truth.csv"), "--workers", str(workers),
            "--report", str(tmp_path / "r.json")]
    with pytest.raises(CommandError, match="expected an object of actions"):
        call_command("simulate_regions", *args, "--boxes", str(bad))
    with pytest.raises(CommandError, match="no verified positive labels"):
        call_command("simulate_regions", *args, "--boxes", str(folder / "boxes.json"))
    assert not (tmp_path / "r.json").exists()
