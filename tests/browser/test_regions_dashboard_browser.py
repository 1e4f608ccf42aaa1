"""A curator on the Regions pages in Chromium: the counts per stage, a frame with its consensus and
workers' boxes drawn over it, a gold image added and retired, an export started and downloaded."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from backend.annotation.models import GoldQuestion
from backend.common.models import Job
from backend.regions.models import Drawing, FrameAction, Region
from tests.regions.bench import build_bench, seed_regions

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_curator_opens_a_frame_sees_its_boxes_and_exports(dataset, clip_factory, settings, tmp_path, live_server,
                                                         page, django_user_model, eager_tasks):
    settings.MMIT_REGIONS_EXPORT_DIR = str(tmp_path / "exports")
    bench = build_bench(dataset, clip_factory, settings, tmp_path)
    seed_regions(bench)
    first = FrameAction.objects.filter(stage="verifying").order_by("id").first()
    Region.objects.filter(target=first).update(state=Region.State.VERIFIED)
    FrameAction.objects.filter(pk=first.pk).update(stage=FrameAction.Stage.VERIFIED)
    django_user_model.objects.create_user(username="curator", password="draw-the-boxes-1", is_staff=True,
                                          is_superuser=True)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    shots = Path(os.environ.get("MMIT_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_server.url}/dashboard/synthetic/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "draw-the-boxes-1")
    page.click("input[type=submit]")
    page.click("nav a:has-text('Regions')")
    page.wait_for_selector("h1:has-text('Action Regions')")
    assert page.locator("nav a[aria-current=page]").first.inner_text() == "Regions"
    verifying = FrameAction.objects.filter(stage="verifying").count()
    assert page.locator("tr[data-stage=verifying] td.num").inner_text() == str(verifying)
    assert page.locator("tr[data-stage=verified] td.num").inner_text() == "1"
    page.wait_for_selector(".chart svg")  # the bar chart of the stages drew
    page.screenshot(path=str(shots / "regions.png"), full_page=True)

    page.click("tr[data-stage=verifying] a")
    page.wait_for_selector("h2:has-text('Frames in verifying')")
    assert page.locator("table.frames tbody tr").count() == verifying
    target = FrameAction.objects.filter(stage="verifying").order_by("id").first()
    page.click(f"tr[data-target='{target.pk}'] a")
    page.wait_for_selector("svg.frame-overlay")
    page.wait_for_function("document.querySelector('svg.frame-overlay image').getBBox().width > 0")
    regions = Region.objects.filter(target=target).count()
    drawn = sum(len(d.boxes) for d in Drawing.objects.filter(target=target))
    assert page.locator("svg .region-box").count() == regions >= 1
    assert page.locator("svg .drawn-box").count() == drawn == 3 * regions
    # the consensus box lies where the frame's true box is, on screen too
    svg = page.locator("svg.frame-overlay").bounding_box()
    box = page.locator("svg .region-box").first.bounding_box()
    truth = bench["boxes"][target.frame.video.name][target.action.name][0]
    scale = svg["width"] / target.frame.width
    assert abs((box["x"] - svg["x"]) / scale - truth[0]) < 3 and abs((box["y"] - svg["y"]) / scale - truth[1]) < 3
    page.screenshot(path=str(shots / "region_frame.png"), full_page=True)
    page.uncheck(".toggle-drawn")
    assert not page.locator("svg .drawn-box").first.is_visible()
    assert page.locator("svg .region-box").first.is_visible()

    page.click("nav.subnav a:has-text('Gold')")
    page.wait_for_selector("h1:has-text('Region gold')")
    name = next(n for n, b in sorted(bench["boxes"].items()) if "sliding" in b)
    page.fill("input[name=video]", name)
    page.fill("input[name=action]", "sliding")
    page.fill("input[name=boxes]", "[[1, 2, 3")
    page.click("button:has-text('Add gold')")
    page.wait_for_selector(".messages li.error")
    assert "Boxes must be a JSON list" in page.locator(".messages li.error").inner_text()
    assert page.input_value("input[name=video]") == name  # what was typed is kept
    page.fill("input[name=boxes]", str([bench["boxes"][name]["sliding"][0]]))
    page.click("button:has-text('Add gold')")
    page.wait_for_selector(".messages li.success")
    gold = GoldQuestion.objects.get(prompt="visible")
    assert page.locator(f"tr[data-gold='{gold.pk}']").count() == 1
    page.screenshot(path=str(shots / "regions_gold.png"), full_page=True)
    page.click(f"tr[data-gold='{gold.pk}'] button:has-text('Retire')")
    page.wait_for_selector(".messages li.success")
    assert "retired" in page.locator(f"tr[data-gold='{gold.pk}']").inner_text()

    page.click("nav.subnav a:has-text('Exports')")
    page.wait_for_selector("h1:has-text('Region exports')")
    page.fill("input[name=size]", "32")
    page.click("button:has-text('Start export')")
    page.wait_for_selector(".messages li.success")
    job = Job.objects.get(kind="regions_export")
    row = page.locator(f"tr[data-job='{job.pk}']")
    assert row.locator(".job-status").inner_text() == "succeeded"
    with page.expect_download() as download:
        row.locator("a.download").click()
    path = download.value.path()
    assert any(n.endswith("/broden/index.csv") for n in zipfile.ZipFile(path).namelist())
    page.screenshot(path=str(shots / "regions_exports.png"), full_page=True)
    assert errors == []
