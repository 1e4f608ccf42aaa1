"""The Regions pages: counts per stage, frames by stage, a frame with its boxes, region gold,
exports (started, listed, downloaded as a ZIP) and the pipeline's controls; bad input is a 400
that names the problem and changes nothing."""
from __future__ import annotations

import io
import zipfile

import pytest

from backend.annotation.models import GoldQuestion, Prompt
from backend.common.models import Job
from backend.dashboard.regions_views import BAD_BOXES, BAD_STAGE
from backend.regions.models import Drawing, FrameAction, Region
from backend.regions.selectors import UNKNOWN_VIDEO
from backend.regions.services.export import BAD_SIZE
from backend.regions.services.frames import regions_select_frames
from tests.regions.bench import build_bench, seed_regions

pytestmark = pytest.mark.django_db
BASE = "/dashboard/synthetic/regions/"


@pytest.fixture
def curator(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def seeded(dataset, clip_factory, settings, tmp_path):
    settings.MMIT_REGIONS_EXPORT_DIR = str(tmp_path / "exports")
    bench = build_bench(dataset, clip_factory, settings, tmp_path)
    targets = seed_regions(bench)
    # one frame-action fully verified (its regions exportable), one still to check for visibility
    verified = targets.filter(stage=FrameAction.Stage.VERIFYING).order_by("id").first()
    Region.objects.filter(target=verified).update(state=Region.State.VERIFIED)
    FrameAction.objects.filter(pk=verified.pk).update(stage=FrameAction.Stage.VERIFIED)
    regions_select_frames(dataset=bench["dataset"], per_action=1, actions=["jumping"], seed=0)
    return {**bench, "verified": verified}


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_counts_per_stage_and_frames_of_a_stage(seeded, curator):
    r = curator.get(BASE)
    assert r.status_code == 200
    expected = {s: FrameAction.objects.filter(stage=s).count() for s in FrameAction.Stage.values}
    assert r.context["stages"] == expected
    assert expected["visibility"] == 1 and expected["verified"] == 1 and expected["verifying"] == 3
    assert r.context["region_states"]["verified"] == Region.objects.filter(state="verified").count() >= 1
    assert r.context["stage"] == "visibility"  # the first stage that holds frames
    r = curator.get(BASE + "?stage=verifying")
    rows = r.context["page"].rows
    assert [t.pk for t in rows] == list(FrameAction.objects.filter(stage="verifying").order_by("id")
                                        .values_list("pk", flat=True))
    assert all(t.region_count == Region.objects.filter(target=t).count() >= 1 for t in rows)
    assert f'href="/dashboard/synthetic/regions/frames/{rows[0].pk}/"' in r.content.decode()
    r = curator.get(BASE + "?stage=verifying&action=sliding")
    assert {t.action.name for t in r.context["page"].rows} == {"sliding"}
    # pages by key: one row a page walks every frame once
    from backend.dashboard import regions_views

    seen, after = [], None
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(regions_views, "PAGE", 1)
        while True:
            page = curator.get(BASE + "?stage=verifying" + (f"&after={after}" if after else "")).context["page"]
            seen += [t.pk for t in page.rows]
            if page.next_after is None:
                break
            after = page.next_after
    assert seen == [t.pk for t in rows]


def test_bad_stage_or_action_is_a_400_naming_it(seeded, curator):
    r = curator.get(BASE + "?stage=drawn")
    assert r.status_code == 400 and _messages(r) == [BAD_STAGE.format(stage="drawn")]
    r = curator.get(BASE + "?stage=verifying&action=teleporting")
    assert r.status_code == 400 and "Unknown action 'teleporting'" in _messages(r)[0]


def test_a_frame_shows_its_consensus_and_every_workers_boxes(seeded, curator):
    target = FrameAction.objects.filter(stage="verifying").order_by("id").first()
    r = curator.get(f"{BASE}frames/{target.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    regions = list(Region.objects.filter(target=target))
    drawn = sum(len(d.boxes) for d in Drawing.objects.filter(target=target))
    assert regions and drawn == 3 * len(regions)  # three workers drew each true box
    assert html.count('class="region-box') == len(regions) and html.count('class="drawn-box') == drawn
    for region in regions:
        assert f'data-region="{region.pk}" x="{round(region.x0, 1)}" y="{round(region.y0, 1)}"' in html
    # the frame itself, through the drawing task's signed media URL
    image = r.context["d"].image_url
    assert f'href="{image}"' in html
    media = curator.get(image)
    assert media.status_code == 200 and b"".join(media.streaming_content)[:2] == b"\xff\xd8"
    assert curator.get(f"{BASE}frames/999999/").status_code == 404


def test_region_gold_add_refuse_and_retire(seeded, curator):
    bench = seeded
    name = next(n for n, b in sorted(bench["boxes"].items()) if "sliding" in b)
    box = bench["boxes"][name]["sliding"][0]
    r = curator.post(BASE + "gold/add/", {"video": name, "action": "sliding", "boxes": "[[1, 2, 3"})
    assert r.status_code == 400 and _messages(r) == [BAD_BOXES]
    assert r.context["form"]["video"] == name  # the form keeps what was sent
    r = curator.post(BASE + "gold/add/", {"video": "nope.mp4", "action": "sliding", "boxes": "[]"})
    assert r.status_code == 400 and _messages(r) == [UNKNOWN_VIDEO.format(name="nope.mp4", dataset="synthetic")]
    r = curator.post(BASE + "gold/add/", {"video": name, "action": "sliding", "boxes": "[[0, 0, 99, 9]]"})
    assert r.status_code == 400 and "outside the image" in _messages(r)[0]
    assert not GoldQuestion.objects.exists()
    r = curator.post(BASE + "gold/add/", {"video": name, "action": "sliding", "boxes": str(box)})  # one box, bare
    assert r.status_code == 302
    gold = GoldQuestion.objects.get(prompt=Prompt.VISIBLE)
    assert gold.truth and [round(v) for v in gold.boxes[0]] == [round(v) for v in box]
    page = curator.get(BASE + "gold/")
    assert page.status_code == 200 and [g.pk for g in page.context["page"].rows] == [gold.pk]
    assert f'data-gold="{gold.pk}"' in page.content.decode()
    r = curator.post(f"{BASE}gold/{gold.pk}/retire/")
    assert r.status_code == 302
    assert not GoldQuestion.objects.filter(dataset=bench["dataset"], active=True).exists()  # crops too
    assert curator.post(f"{BASE}gold/999999/retire/").status_code == 404


def test_export_starts_lists_and_downloads(seeded, curator, eager_tasks, django_capture_on_commit_callbacks):
    r = curator.post(BASE + "exports/start/", {"size": "8"})
    assert r.status_code == 400 and _messages(r) == [BAD_SIZE] and not Job.objects.exists()
    r = curator.post(BASE + "exports/start/", {"size": "64", "seg_size": "65"})
    assert r.status_code == 400 and _messages(r) == [BAD_SIZE]
    r = curator.post(BASE + "exports/start/", {"label_offset": "two"})
    assert r.status_code == 400 and "label offset must be a whole number" in _messages(r)[0]
    assert r.context["form"]["label_offset"] == "two" and not Job.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        r = curator.post(BASE + "exports/start/", {"size": "32"})
    assert r.status_code == 302
    job = Job.objects.get(kind="regions_export")
    assert job.status == "succeeded" and job.result["images"] == 1, job.error
    page = curator.get(BASE + "exports/")
    (row,) = page.context["exports"]
    assert row.pk == job.pk and row.downloadable
    link = f"{BASE}exports/{job.pk}/download/"
    assert link in page.content.decode()
    r = curator.get(link)
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content)))
    names = archive.namelist()
    top = names[0].split("/")[0]
    assert {f"{top}/stats.json", f"{top}/broden/index.csv", f"{top}/coco/annotations.json"} <= set(names)
    assert archive.testzip() is None
    assert curator.get(f"{BASE}exports/00000000-0000-0000-0000-000000000000/download/").status_code == 404


def test_pipeline_controls_start_jobs_or_say_why_not(seeded, curator):
    r = curator.post(BASE + "select/", {"per_action": "0"})
    assert r.status_code == 400 and "Frames per action must be a whole number from 1" in _messages(r)[0]
    r = curator.post(BASE + "select/", {"per_action": "many"})
    assert r.status_code == 400 and not Job.objects.exists()
    assert curator.post(BASE + "select/", {"per_action": "2", "seed": "7"}).status_code == 302
    job = Job.objects.get(kind="regions_select_frames")
    assert job.params == {"dataset": "synthetic", "seed": 7, "per_action": 2}
    assert curator.post(BASE + "advance/").status_code == 302
    assert Job.objects.filter(kind="regions_advance").count() == 1
    assert curator.get(BASE + "advance/").status_code == 405


def test_regions_pages_are_for_staff(seeded, client):
    for url in (BASE, BASE + "gold/", BASE + "exports/"):
        r = client.get(url)
        assert r.status_code == 302 and "/login/" in r["Location"]
    assert client.post(BASE + "advance/").status_code == 302 and not Job.objects.exists()


def test_counts_are_a_summary_once_large(seeded, curator, settings):
    settings.MMIT_SUMMARY_LIVE_ROWS = 1  # every dataset is "large": counted once, then read back
    first = curator.get(BASE).context["counted"]
    second = curator.get(BASE)
    assert first.live and not second.context["counted"].live
    assert second.context["stages"] == first.data["stages"] and "Counted" in second.content.decode()


def test_the_export_api_refuses_what_the_export_would_refuse(seeded, staff_client):
    r = staff_client.post("/api/regions/exports/", {"datasets": ["synthetic"], "size": 64, "seg_size": 65},
                          format="json")
    assert r.status_code == 400 and r.json()["detail"] == BAD_SIZE and not Job.objects.exists()
