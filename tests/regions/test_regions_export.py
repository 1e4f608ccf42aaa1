"""Exports: the Broden layout (read back with NetDissect's parsing rules), merging with a Broden
directory, COCO read by pycocotools, statistics, and the staff API."""
from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image
from pycocotools.coco import COCO

from backend.common.models import Job
from backend.regions.broden import MERGE_LABEL_CLASH, box_mask, layer_masks, merge_broden
from backend.regions.models import FrameAction, Region
from backend.regions.services.frames import regions_select_frames
from tests.regions.bench import read_broden

# pycocotools' mask decoding predates numpy 2's copy keyword; its warning is not ours to fix
COCO_WARNING = "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings(COCO_WARNING)]


def _verify(target, boxes):
    Region.objects.bulk_create([Region(target=target, x0=b[0], y0=b[1], x1=b[2], y1=b[3], support=3, min_iou=0.8,
                                       state=Region.State.VERIFIED) for b in boxes])
    FrameAction.objects.filter(pk=target.pk).update(stage=FrameAction.Stage.VERIFIED)


@pytest.fixture
def verified(bench):
    """Verified regions for two actions; one frame holds two overlapping actions."""
    regions_select_frames(dataset=bench["dataset"], per_action=3, actions=["sliding", "falling"], seed=0)
    targets = list(FrameAction.objects.select_related("frame__video", "action").order_by("id"))
    for t in targets:
        _verify(t, bench["boxes"][t.frame.video.name][t.action.name])
    # a second action on an existing frame, overlapping the first one's region, with two regions
    first = targets[0]
    shared = FrameAction.objects.create(dataset=first.dataset, frame=first.frame, action=bench["actions"]["jumping"])
    b = bench["boxes"][first.frame.video.name][first.action.name][0]
    _verify(shared, [(b[0] + 2, b[1] + 2, b[2] + 6, b[3] + 6), (0, 0, 6, 6)])
    # a rejected region and a still-open frame-action are not exported
    Region.objects.create(target=targets[1], x0=0, y0=0, x1=9, y1=9, support=2, min_iou=0.5, state="rejected")
    FrameAction.objects.filter(pk=targets[-1].pk).update(stage=FrameAction.Stage.VERIFYING)
    return {**bench, "targets": targets, "shared": shared}


def test_broden_layout_is_what_netdissect_reads(verified, tmp_path):
    out = tmp_path / "out"
    call_command("export_regions", "--dataset", "synthetic", "--out", str(out))
    b = read_broden(out / "broden")
    exported = [t for t in verified["targets"][:-1]]
    assert len(b["index"]) == len({t.frame_id for t in exported})
    # labels: numbered from 1 by image frequency (sliding/falling before the single jumping frame)
    names = {int(n): r["name"] for n, r in b["labels"].items()}
    assert names[max(names)] == "jumping" and set(names.values()) == {"sliding", "falling", "jumping"}
    assert b["labels"][max(names)]["category"] == "action(1)" and b["labels"][max(names)]["frequency"] == "1"
    cat = b["categories"]["action"]
    assert (cat["first"], cat["last"], cat["count"]) == ("1", "3", "3")
    assert int(cat["frequency"]) == sum(int(r["frequency"]) for r in b["labels"].values())
    assert [(c["code"], c["number"], c["name"]) for c in b["codes"]] == [
        (str(i + 1), str(n), names[n]) for i, n in enumerate(sorted(names))]
    header = open(out / "broden" / "label.csv").readline().strip()
    assert header == "number,name,category,frequency,coverage,syns"
    assert open(out / "broden" / "category.csv").readline().strip() == "name,first,last,count,frequency"
    assert open(out / "broden" / "c_action.csv").readline().strip() == "code,number,name,frequency,coverage"
    # the frame with two overlapping actions has two mask layers, the larger region first
    first = verified["targets"][0]
    row = next(r for r in b["images"] if r["image"].endswith(f"-{first.frame.video_id:07d}.jpg"))
    assert row["action"].split(";") == [row["image"][:-4] + "_action_1.png", row["image"][:-4] + "_action_2.png"]
    by_name = {v: k for k, v in names.items()}
    assert [set(np.unique(m)) - {0} for m in row["masks"]] == [{by_name["jumping"]}, {by_name[first.action.name]}]
    # the mask covers the box, scaled from the 64 px frame to the 112 px segmentation
    box = verified["boxes"][first.frame.video.name][first.action.name][0]
    mask = row["masks"][1] == by_name[first.action.name]
    ys, xs = np.nonzero(mask)
    scale = 112 / 64
    assert abs(xs.min() - box[0] * scale) <= 1 and abs(xs.max() + 1 - box[2] * scale) <= 1
    assert abs(ys.min() - box[1] * scale) <= 1 and abs(ys.max() + 1 - box[3] * scale) <= 1
    # coverage is the summed pixel fraction over the label's images
    total = sum((m == n).mean() for r in b["images"] for m in r["masks"] for n in [by_name["sliding"]])
    assert float(b["labels"][by_name["sliding"]]["coverage"]) == pytest.approx(total, abs=1e-5)
    # provenance survives next to the Broden files
    prov = list(csv.DictReader(open(out / "broden" / "regions.csv")))
    assert {r["video"] for r in prov} >= {first.frame.video.name}
    assert all(r["timestamp"] == "1.5" and r["dataset"] == "synthetic" for r in prov)
    assert len(prov) == Region.objects.filter(state="verified", target__stage="verified").count()


def test_label_offset_and_merge_with_broden(verified, tmp_path):
    broden = tmp_path / "broden1_224"
    (broden / "images" / "ade20k").mkdir(parents=True)
    Image.new("RGB", (224, 224)).save(broden / "images" / "ade20k" / "a.jpg")
    tree = np.full((112, 112, 3), [5, 0, 0], dtype=np.uint8)  # label 5 = R + 256 * G
    Image.fromarray(tree).save(broden / "images" / "ade20k" / "a_object.png")
    (broden / "index.csv").write_text("image,split,ih,iw,sh,sw,color,object,material,part,scene,texture\n"
                                      "ade20k/a.jpg,train,224,224,112,112,,ade20k/a_object.png,,,7,\n")
    (broden / "category.csv").write_text("name,first,last,count,frequency\nobject,5,5,1,1\nscene,7,7,1,1\n")
    (broden / "label.csv").write_text("number,name,category,frequency,coverage,syns\n"
                                      "5,tree,object(1),1,1.000000,\n7,street,scene(1),1,1.000000,\n")
    (broden / "c_object.csv").write_text("code,number,name,frequency,coverage\n1,5,tree,1,1.0\n")
    (broden / "c_scene.csv").write_text("code,number,name,frequency,coverage\n1,7,street,1,1.0\n")
    out = tmp_path / "out"
    call_command("export_regions", "--dataset", "synthetic", "--out", str(out), "--merge-broden", str(broden))
    merged = out / "broden_merged"
    index = list(csv.DictReader(open(merged / "index.csv")))
    assert list(index[0]) == ["image", "split", "ih", "iw", "sh", "sw", "color", "object", "material", "part",
                              "scene", "texture", "action"]
    assert index[0]["object"] == "ade20k/a_object.png" and index[0]["action"] == ""
    assert all(r["action"] and not r["object"] for r in index[1:])
    labels = {int(r["number"]): r["name"] for r in csv.DictReader(open(merged / "label.csv"))}
    assert sorted(labels) == [5, 7, 8, 9, 10]  # the actions come after Broden's largest number
    cats = [r["name"] for r in csv.DictReader(open(merged / "category.csv"))]
    assert cats == ["object", "scene", "action"]
    assert {p.name for p in merged.glob("c_*.csv")} == {"c_object.csv", "c_scene.csv", "c_action.csv"}
    # every file named in the merged index opens through merged/images (links, nothing copied)
    for r in index:
        for column in ("image", "object", "action"):
            for name in filter(None, r[column].split(";")):
                assert (merged / "images" / name).exists()
    assert (merged / "images" / "ade20k").is_symlink()
    masks = [np.asarray(Image.open(merged / "images" / n)).astype(int) for n in index[1]["action"].split(";")]
    assert all(set(np.unique(m[..., 0] + 256 * m[..., 1])) - {0} <= {8, 9, 10} for m in masks)
    # actions exported without the offset would clash with Broden's numbers: refused
    call_command("export_regions", "--dataset", "synthetic", "--out", str(tmp_path / "plain"))
    with pytest.raises(ValueError) as clash:
        merge_broden(broden, tmp_path / "plain" / "broden", tmp_path / "m2")
    assert str(clash.value) == MERGE_LABEL_CLASH.format(broden=7, ours=1)
    with pytest.raises(CommandError, match="not a Broden directory"):
        call_command("export_regions", "--dataset", "synthetic", "--out", str(tmp_path / "o2"),
                     "--merge-broden", str(tmp_path))


def test_coco_file_reads_in_pycocotools(verified, tmp_path):
    out = tmp_path / "out"
    call_command("export_regions", "--dataset", "synthetic", "--out", str(out), "--label-offset", "100")
    coco = COCO(str(out / "coco" / "annotations.json"))
    regions = Region.objects.filter(state="verified", target__stage="verified").select_related(
        "target__action", "target__frame__video")
    assert len(coco.getAnnIds()) == regions.count()
    labels = {r["name"]: int(r["number"]) for r in csv.DictReader(open(out / "broden" / "label.csv"))}
    assert {c["name"]: c["id"] for c in coco.loadCats(coco.getCatIds())} == labels
    assert min(labels.values()) == 101
    for region in regions:
        img = next(i for i in coco.dataset["images"] if i["video"] == region.target.frame.video.name)
        assert (img["width"], img["height"], img["timestamp"]) == (64, 64, 1.5)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"], catIds=[labels[region.target.action.name]]))
        bbox = [region.x0, region.y0, region.x1 - region.x0, region.y1 - region.y0]
        ann = next(a for a in anns if np.allclose(a["bbox"], bbox, atol=0.01))
        assert ann["area"] == pytest.approx(bbox[2] * bbox[3], abs=0.1)
        assert coco.annToMask(ann).sum() == pytest.approx(bbox[2] * bbox[3], rel=0.3)
        assert Image.open(out / "coco" / "images" / img["file_name"]).size == (64, 64)


def test_statistics(verified, tmp_path, staff_client):
    stats = staff_client.get("/api/regions/synthetic/stats/").json()
    verified_regions = Region.objects.filter(state="verified", target__stage="verified")
    frames = {r.target.frame_id for r in verified_regions}
    assert stats["images"] == len(frames) and stats["regions"] == verified_regions.count()
    assert stats["actions"] == 3 and stats["per_action"]["jumping"] == {"images": 1, "regions": 2}
    assert stats["regions_per_image"]["max"] == 3
    assert stats["regions_per_image"]["mean"] == pytest.approx(verified_regions.count() / len(frames), abs=1e-4)
    funnel = stats["pipeline"]["synthetic"]
    assert funnel["stages"]["verified"] == FrameAction.objects.filter(stage="verified").count()
    assert funnel["stages"]["verifying"] == 1 and funnel["regions"]["rejected"] == 1
    assert staff_client.get("/api/regions/nope/stats/").status_code == 404


def test_export_through_the_api_runs_as_a_job(verified, tmp_path, staff_client, settings, anon_client, eager_tasks,
                                              django_capture_on_commit_callbacks):
    settings.MMIT_REGIONS_EXPORT_DIR = tmp_path / "exports"
    with django_capture_on_commit_callbacks(execute=True):
        r = staff_client.post("/api/regions/exports/", {"datasets": ["synthetic"], "size": 112}, format="json")
    assert r.status_code == 202
    job = Job.objects.get(pk=r.json()["id"])
    assert job.status == "succeeded", job.error
    path = job.result["export"]["broden"]
    assert path.startswith(str(tmp_path / "exports"))
    index = list(csv.DictReader(open(f"{path}/index.csv")))
    assert {(r["ih"], r["sh"]) for r in index} == {("112", "56")}
    bad = staff_client.post("/api/regions/exports/", {"datasets": ["nope"]}, format="json")
    assert bad.status_code == 404
    assert staff_client.post("/api/regions/exports/", {"datasets": []}, format="json").status_code == 400
    anonymous = anon_client.post("/api/regions/exports/", {"datasets": ["synthetic"]}, format="json")
    assert anonymous.status_code in (401, 403)


def test_masks_and_layers():
    mask = box_mask([(0, 0, 32, 16)], width=64, height=64, sw=8, sh=8)
    assert mask.sum() == 8 and mask[:2, :4].all()
    tiny = box_mask([(10, 10, 11, 11)], width=64, height=64, sw=8, sh=8)
    assert tiny.sum() == 1 and tiny[1, 1]
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4), bool)
    b[1:3, :2] = True
    c = np.zeros((4, 4), bool)
    c[3] = True
    layers = layer_masks({1: a, 2: b, 3: c})
    assert len(layers) == 2
    assert set(np.unique(layers[0])) == {0, 1, 3} and set(np.unique(layers[1])) == {0, 2}


def test_bad_export_input(verified, tmp_path):
    with pytest.raises(CommandError, match="between 16 and 1024"):
        call_command("export_regions", "--dataset", "synthetic", "--out", str(tmp_path / "o"), "--size", "8")
    with pytest.raises(CommandError, match="Unknown dataset"):
        call_command("export_regions", "--dataset", "nope", "--out", str(tmp_path / "o"))
    assert not (tmp_path / "o").exists()
    out = tmp_path / "ok"
    call_command("export_regions", "--dataset", "synthetic", "--out", str(out))
    assert re.fullmatch(r"\d+\.\d+", list(csv.DictReader(open(out / "broden" / "label.csv")))[0]["coverage"])
    assert json.loads((out / "stats.json").read_text())["export"]["size"] == 224
